"""unit metric values: the analysis rollup, exposure changes, exposures index,
planned units

Revision ID: 4e1d2c3b5a60
Revises: 7a3c5e9b1d20
Create Date: 2026-11-27 07:30:00.000000+00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "4e1d2c3b5a60"
down_revision = "7a3c5e9b1d20"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "analysis_rollups",
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("design", sa.String(length=64), nullable=False),
        sa.Column("event_watermark", sa.BigInteger(), nullable=False),
        sa.Column("last_change_id", sa.BigInteger(), nullable=False),
        sa.Column("unit_counts", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_analysis_rollups_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("experiment_id", name=op.f("pk_analysis_rollups")),
    )
    op.create_table(
        "exposure_changes",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("run", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_exposure_changes_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exposure_changes")),
    )
    with op.batch_alter_table("exposure_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exposure_changes_experiment_id"),
            ["experiment_id"],
            unique=False,
        )

    op.create_table(
        "rollup_units",
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.String(length=128), nullable=False),
        sa.Column("variant", sa.String(length=64), nullable=False),
        sa.Column("exposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("multiple", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_rollup_units_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "experiment_id", "unit_id", name=op.f("pk_rollup_units")
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "unit_metric_values",
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("metric_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.String(length=128), nullable=False),
        sa.Column("variant", sa.String(length=64), nullable=False),
        sa.Column("exposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_unit_metric_values_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["metric_id"],
            ["metrics.id"],
            name=op.f("fk_unit_metric_values_metric_id_metrics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "experiment_id", "metric_id", "unit_id", name=op.f("pk_unit_metric_values")
        ),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("exposures", schema=None) as batch_op:
        batch_op.create_index(
            "ix_exposures_experiment_id_id", ["experiment_id", "id"], unique=False
        )
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("planned_units", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.drop_column("planned_units")
    with op.batch_alter_table("exposures", schema=None) as batch_op:
        batch_op.drop_index("ix_exposures_experiment_id_id")
    op.drop_table("unit_metric_values")
    op.drop_table("rollup_units")
    with op.batch_alter_table("exposure_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exposure_changes_experiment_id"))
    op.drop_table("exposure_changes")
    op.drop_table("analysis_rollups")
