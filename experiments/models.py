"""Experiments: the metric catalogue, designs, exposures and tracked events."""

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from proving_ground.db import Base, UTCDateTime, utcnow

#: Integer primary keys that are 64-bit on PostgreSQL and SQLite's rowid on SQLite.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class MetricKind(StrEnum):
    PROPORTION = "proportion"  #: did the unit do X at least once (0/1 per unit)
    MEAN = "mean"  #: per-unit count or sum of an event's values
    RATIO = "ratio"  #: per-unit numerator over per-unit denominator


class Aggregate(StrEnum):
    COUNT = "count"
    SUM = "sum"


class Direction(StrEnum):
    INCREASE = "increase"
    DECREASE = "decrease"


class CapKind(StrEnum):
    ABSOLUTE = "absolute"  #: values above ``cap_value`` become ``cap_value``
    PERCENTILE = "percentile"  #: values above that quantile (0-1) of units are capped


class Metric(Base):
    __tablename__ = "metrics"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    name_zh: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    name_en: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    description_zh: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    description_en: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    kind: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    #: Event types whose events the metric (its numerator for ratios) reads.
    event_types: Mapped[list[str]] = mapped_column(sa.JSON, nullable=False)
    aggregate: Mapped[str] = mapped_column(sa.String(10), nullable=False)
    #: Ratio metrics only: the denominator's event types and aggregate.
    denominator_event_types: Mapped[list[str] | None] = mapped_column(
        sa.JSON(none_as_null=True), nullable=True
    )
    denominator_aggregate: Mapped[str | None] = mapped_column(sa.String(10))
    #: Days after the unit's first exposure during which events count.
    window_days: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=30)
    direction: Mapped[str] = mapped_column(sa.String(10), nullable=False)
    cap_kind: Mapped[str | None] = mapped_column(sa.String(12), nullable=True)
    cap_value: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    #: Days before exposure whose same aggregation is the CUPED covariate.
    cuped_lookback_days: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow
    )

    __table_args__ = (
        sa.CheckConstraint(
            sa.column("kind").in_([k.value for k in MetricKind]), name="kind"
        ),
        sa.CheckConstraint(
            sa.column("window_days").between(1, 365), name="window_days"
        ),
    )

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_zh

    def description(self, language: str) -> str:
        return self.description_en if language == "en" else self.description_zh


class ExperimentStatus(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    DECIDED = "decided"
    ARCHIVED = "archived"


class UnitType(StrEnum):
    LEAD = "lead"
    CUSTOMER = "customer"
    ACCOUNT = "account"
    REP = "rep"
    STORE = "store"


class MetricRole(StrEnum):
    PRIMARY = "primary"
    SECONDARY = "secondary"
    GUARDRAIL = "guardrail"


class Experiment(Base):
    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    #: If we do X …
    hypothesis_if: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    #: … then Y changes …
    hypothesis_then: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    #: … because Z.
    hypothesis_because: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    owner_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    team: Mapped[str | None] = mapped_column(sa.String(120), nullable=True)
    unit_type: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    #: None randomises units; otherwise the unit attribute all of whose units share
    #: a variant (e.g. ``rep_id``: cluster randomisation by rep).
    cluster_attribute: Mapped[str | None] = mapped_column(sa.String(64))
    #: Mixed into the assignment hash so experiments split independently.
    salt: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    status: Mapped[str] = mapped_column(
        sa.String(12), nullable=False, default=ExperimentStatus.DRAFT, index=True
    )
    #: Bumped by an audited restart; exposures of earlier runs are not analysed.
    run: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)
    alpha: Mapped[float] = mapped_column(sa.Float, nullable=False, default=0.05)
    power: Mapped[float] = mapped_column(sa.Float, nullable=False, default=0.8)
    #: Minimum detectable effect, relative to control (0.05 = +5 %).
    mde: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    sequential: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    cuped: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    planned_duration_days: Mapped[int] = mapped_column(
        sa.Integer, nullable=False, default=14
    )
    #: Planned sample size, units per variant; N* of the sequential intervals is
    #: twice it. None: derived from the MDE (see results._tuning).
    planned_units: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    #: Pre-registered: what result counts as success.
    success_criteria: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    #: Pre-registered: what triggers an early stop (e.g. a guardrail breach).
    early_stop_criteria: Mapped[str] = mapped_column(
        sa.Text, nullable=False, default=""
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow
    )
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    variants: Mapped[list["Variant"]] = relationship(
        back_populates="experiment",
        cascade="all, delete-orphan",
        order_by="Variant.position",
        lazy="selectin",
    )
    metric_links: Mapped[list["ExperimentMetric"]] = relationship(
        back_populates="experiment",
        cascade="all, delete-orphan",
        order_by="(ExperimentMetric.role, ExperimentMetric.position)",
        lazy="selectin",
    )
    owner = relationship("User", lazy="joined")

    __table_args__ = (
        sa.CheckConstraint(
            sa.column("status").in_([s.value for s in ExperimentStatus]),
            name="status",
        ),
    )

    @property
    def control(self) -> "Variant | None":
        return next((v for v in self.variants if v.is_control), None)

    def metrics(self, role: MetricRole) -> list[Metric]:
        return [link.metric for link in self.metric_links if link.role == role]


class Variant(Base):
    __tablename__ = "experiment_variants"

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("experiments.id", ondelete="CASCADE"), nullable=False
    )
    key: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    description: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    #: Share of units assigned here; the weights of an experiment sum to 1.
    weight: Mapped[float] = mapped_column(sa.Float, nullable=False)
    is_control: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)

    experiment: Mapped[Experiment] = relationship(back_populates="variants")

    __table_args__ = (sa.UniqueConstraint("experiment_id", "key"),)


class ExperimentMetric(Base):
    __tablename__ = "experiment_metrics"

    experiment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    metric_id: Mapped[int] = mapped_column(
        sa.ForeignKey("metrics.id", ondelete="RESTRICT"), primary_key=True
    )
    role: Mapped[str] = mapped_column(sa.String(12), nullable=False)
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)

    experiment: Mapped[Experiment] = relationship(back_populates="metric_links")
    metric: Mapped[Metric] = relationship(lazy="joined")


class Exposure(Base):
    """A unit met a variant. A unit with rows for two variants of one experiment
    is a multiple exposure and is kept out of the analysis."""

    __tablename__ = "exposures"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    experiment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("experiments.id", ondelete="CASCADE"), nullable=False
    )
    #: The experiment's run (see Experiment.run) during which the exposure happened.
    run: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)
    unit_id: Mapped[str] = mapped_column(sa.String(128), nullable=False)
    variant_key: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    #: The cluster value hashed for cluster-randomised experiments (e.g. a rep id).
    cluster_id: Mapped[str | None] = mapped_column(sa.String(128))
    first_exposed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    #: ``assign`` (the API), ``bulk`` (a CSV of units) or ``event`` (an exposure
    #: event from a system that assigns outside the platform).
    source: Mapped[str] = mapped_column(sa.String(10), nullable=False)
    attributes: Mapped[dict[str, Any] | None] = mapped_column(
        sa.JSON(none_as_null=True)
    )

    __table_args__ = (
        sa.UniqueConstraint("experiment_id", "run", "unit_id", "variant_key"),
        #: The results cache's data version reads the experiment's last exposure id.
        sa.Index("ix_exposures_experiment_id_id", "experiment_id", "id"),
    )


class Event(Base):
    """A tracked interaction or outcome.

    ``event_id`` is the client's idempotency key. Duplicates are detected on
    (occurred_at, event_id): the index is then nearly time-ordered, so inserts
    append to its end instead of touching random pages (about ten times faster on
    SQLite), and a retried event, which is resent unchanged, still collides.
    """

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str] = mapped_column(sa.String(128), nullable=False)
    type: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    unit_id: Mapped[str] = mapped_column(sa.String(128), nullable=False)
    rep_id: Mapped[str | None] = mapped_column(sa.String(128))
    customer_id: Mapped[str | None] = mapped_column(sa.String(128))
    value: Mapped[float | None] = mapped_column(sa.Float)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    properties: Mapped[dict[str, Any] | None] = mapped_column(
        sa.JSON(none_as_null=True)
    )
    #: Exposure events assigned outside the platform name their experiment/variant.
    experiment_key: Mapped[str | None] = mapped_column(sa.String(64))
    variant_key: Mapped[str | None] = mapped_column(sa.String(64))
    #: ``api``, ``csv`` or ``demo``.
    source: Mapped[str] = mapped_column(sa.String(8), nullable=False)

    __table_args__ = (sa.UniqueConstraint("occurred_at", "event_id"),)


class EventImport(Base):
    """A CSV import of events, with its per-row error report."""

    __tablename__ = "event_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rows: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    accepted: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    duplicates: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    rejected: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    #: The rejected rows as CSV (their original columns plus ``row`` and
    #: ``errors``), offered for download.
    error_report: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")


class Decision(StrEnum):
    ADOPT = "adopt"
    ITERATE = "iterate"
    ABANDON = "abandon"


class ExperimentDecision(Base):
    """The owner's decision on a stopped experiment, with the evidence it rests on."""

    __tablename__ = "experiment_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("experiments.id", ondelete="CASCADE"), nullable=False, index=True
    )
    run: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    decision: Mapped[str] = mapped_column(sa.String(10), nullable=False)
    rationale: Mapped[str] = mapped_column(sa.Text, nullable=False)
    decided_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The results (API shape) the decision was taken on.
    results: Mapped[dict[str, Any]] = mapped_column(sa.JSON, nullable=False)

    decided_by = relationship("User", lazy="joined")

    __table_args__ = (
        sa.CheckConstraint(
            sa.column("decision").in_([d.value for d in Decision]), name="decision"
        ),
    )


class ResultsCache(Base):
    """Computed results, reused until the experiment's data or settings change."""

    __tablename__ = "experiment_results_cache"

    experiment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    #: The analysis options, e.g. ``cuped=1&sequential=0&alpha=0.05&…``.
    options: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    #: What the data looked like: last event id, last exposure id, design version.
    data_version: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON, nullable=False)


class ExposureChange(Base):
    """A unit whose exposures changed (a new row, an earlier first exposure, a
    second variant): the analysis rollup recomputes the unit and deletes the row.
    Written by services.record_exposures in the same transaction as the change."""

    __tablename__ = "exposure_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    experiment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("experiments.id", ondelete="CASCADE"), nullable=False, index=True
    )
    run: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    unit_id: Mapped[str] = mapped_column(sa.String(128), nullable=False)


class AnalysisRollup(Base):
    """What the per-unit values of an experiment (RollupUnit, UnitMetricValue)
    cover: one run, one set of metric definitions, the events up to a watermark."""

    __tablename__ = "analysis_rollups"

    experiment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    #: A digest of the run and of the definitions of the experiment's metrics; the
    #: rollup is rebuilt when it no longer matches.
    design: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    #: Every event with an id up to this one is folded into the values.
    event_watermark: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    #: The last ExposureChange applied (part of the results' data version).
    last_change_id: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    #: The units' counts, kept from the last refresh that changed the units:
    #: {"per_variant": {variant: n}, "multiple": n, "per_day": [[day, variant, n]]}
    #: (analysed units; days of first exposure in the display time zone).
    unit_counts: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)


class RollupUnit(Base):
    """A unit exposed in the rollup's run: its variant and first exposure."""

    __tablename__ = "rollup_units"

    experiment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    unit_id: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    #: The smallest variant key of the unit (its only one unless ``multiple``).
    variant: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    exposed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    #: Exposed to more than one variant: left out of the analysis.
    multiple: Mapped[bool] = mapped_column(sa.Boolean, nullable=False)

    __table_args__ = {"sqlite_with_rowid": False}


class UnitMetricValue(Base):
    """A unit's raw metric value in the rollup, stored only when not both zero:
    ``x`` the sum or count of the metric's events in its window (a ratio's
    numerator), ``y`` the same over the CUPED lookback or a ratio's denominator.
    Proportions, CUPED on/off and caps are applied when the values are read."""

    __tablename__ = "unit_metric_values"

    experiment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    metric_id: Mapped[int] = mapped_column(
        sa.ForeignKey("metrics.id", ondelete="CASCADE"), primary_key=True
    )
    unit_id: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    #: Copied from RollupUnit so that reads need no join.
    variant: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    exposed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    x: Mapped[float] = mapped_column(sa.Float, nullable=False)
    y: Mapped[float] = mapped_column(sa.Float, nullable=False)

    __table_args__ = {"sqlite_with_rowid": False}
