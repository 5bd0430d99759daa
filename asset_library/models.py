"""Asset library: reusable methods, templates, checklists, playbooks and scripts,
their versions and evidence, usage, the managed facet vocabularies and the
bilingual synonym table that search expands queries with."""

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from proving_ground.db import Base, UTCDateTime, utcnow


class AssetKind(StrEnum):
    METHOD = "method"
    TEMPLATE = "template"
    CHECKLIST = "checklist"
    PLAYBOOK = "playbook"
    SCRIPT = "script"


class AssetStatus(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"
    #: Published, but its verification interval has lapsed.
    NEEDS_REVERIFICATION = "needs_reverification"
    ARCHIVED = "archived"


class Facet(StrEnum):
    INDUSTRY = "industry"
    CUSTOMER_TYPE = "customer_type"
    SCENARIO = "scenario"


LANGUAGES = ("zh", "en", "mixed")


class FacetValue(Base):
    """One value of a managed facet vocabulary, with bilingual labels."""

    __tablename__ = "asset_facet_values"

    id: Mapped[int] = mapped_column(primary_key=True)
    facet: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    key: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    label_zh: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    label_en: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    #: Retired values stay on old assets but are no longer offered.
    active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)

    __table_args__ = (
        sa.UniqueConstraint("facet", "key"),
        sa.CheckConstraint(
            sa.column("facet").in_([f.value for f in Facet]), name="facet"
        ),
    )

    def label(self, language: str) -> str:
        return self.label_en if language == "en" else self.label_zh


class SynonymGroup(Base):
    """Terms that mean the same thing, in any language (话术 ↔ script ↔ pitch)."""

    __tablename__ = "asset_synonym_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    terms: Mapped[list[str]] = mapped_column(sa.JSON, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow
    )


class Asset(Base):
    """An asset; its text lives in versions (the last is current)."""

    __tablename__ = "assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The id an import gave it; importing the same id again adds a version.
    external_id: Mapped[str | None] = mapped_column(sa.String(100), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(12), nullable=False)
    status: Mapped[str] = mapped_column(
        sa.String(24), nullable=False, default=AssetStatus.DRAFT, index=True
    )
    language: Mapped[str] = mapped_column(sa.String(5), nullable=False, default="zh")
    industry: Mapped[str | None] = mapped_column(sa.String(64))
    customer_type: Mapped[str | None] = mapped_column(sa.String(64))
    scenario: Mapped[str | None] = mapped_column(sa.String(64))
    owner_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    verifier_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    verification_interval_days: Mapped[int] = mapped_column(
        sa.Integer, nullable=False, default=90
    )
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the current verification lapses (published assets only).
    verification_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    views: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    copies: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow
    )
    #: The search generation of its last change (see services.search_index).
    search_generation: Mapped[int] = mapped_column(
        sa.BigInteger, nullable=False, default=0, index=True
    )

    versions: Mapped[list["AssetVersion"]] = relationship(
        back_populates="asset",
        cascade="all, delete-orphan",
        order_by="AssetVersion.number",
    )
    evidence: Mapped["AssetEvidence | None"] = relationship(
        back_populates="asset", cascade="all, delete-orphan", lazy="joined"
    )
    owner = relationship("User", foreign_keys=[owner_id], lazy="joined")
    verifier = relationship("User", foreign_keys=[verifier_id], lazy="joined")

    __table_args__ = (
        sa.CheckConstraint(
            sa.column("kind").in_([k.value for k in AssetKind]), name="kind"
        ),
        sa.CheckConstraint(
            sa.column("status").in_([s.value for s in AssetStatus]), name="status"
        ),
        sa.CheckConstraint(sa.column("language").in_(LANGUAGES), name="language"),
    )

    @property
    def current(self) -> "AssetVersion":
        return self.versions[-1]


class AssetVersion(Base):
    """The text of an asset at one edit."""

    __tablename__ = "asset_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(
        sa.ForeignKey("assets.id", ondelete="CASCADE"), nullable=False
    )
    number: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    title: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    summary: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    #: Markdown; rendered and sanitised for display.
    body: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    tags: Mapped[list[str]] = mapped_column(sa.JSON, nullable=False, default=list)
    when_to_use: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    when_not_to_use: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    #: Checklists: the steps, in order.
    steps: Mapped[list[str]] = mapped_column(sa.JSON, nullable=False, default=list)
    #: What changed, in the editor's words.
    note: Mapped[str] = mapped_column(sa.String(300), nullable=False, default="")
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    asset: Mapped[Asset] = relationship(back_populates="versions")
    created_by = relationship("User", lazy="joined")

    __table_args__ = (sa.UniqueConstraint("asset_id", "number"),)


class AssetEvidence(Base):
    """The experiment result behind an asset."""

    __tablename__ = "asset_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(
        sa.ForeignKey("assets.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    #: The experiment's key (it may live outside this platform, for imports).
    experiment_key: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    metric: Mapped[str | None] = mapped_column(sa.String(64))
    variant: Mapped[str | None] = mapped_column(sa.String(64))
    #: Relative lift as a fraction (0.12 = +12 %) with its interval.
    lift: Mapped[float | None] = mapped_column(sa.Float)
    ci_low: Mapped[float | None] = mapped_column(sa.Float)
    ci_high: Mapped[float | None] = mapped_column(sa.Float)
    p_value: Mapped[float | None] = mapped_column(sa.Float)
    #: Confidence level of the interval, or a chance to win (0..1) when given.
    confidence: Mapped[float | None] = mapped_column(sa.Float)
    sample_size: Mapped[int | None] = mapped_column(sa.Integer)
    decision: Mapped[str | None] = mapped_column(sa.String(12))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    details: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)

    asset: Mapped[Asset] = relationship(back_populates="evidence")


class UsageKind(StrEnum):
    VIEW = "view"
    COPY = "copy"
    USED = "used"


class AssetUsage(Base):
    """A "used this" mark (with an optional outcome note), a copy or a view."""

    __tablename__ = "asset_usage"

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(
        sa.ForeignKey("assets.id", ondelete="CASCADE"), nullable=False, index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    kind: Mapped[str] = mapped_column(sa.String(8), nullable=False)
    outcome: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user = relationship("User", lazy="joined")


class AssetRating(Base):
    __tablename__ = "asset_ratings"

    asset_id: Mapped[int] = mapped_column(
        sa.ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    stars: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.CheckConstraint(sa.column("stars").between(1, 5), name="stars"),
    )


class SearchState(Base):
    """One row: the search generation, bumped by every change that search sees,
    so each process knows when its in-memory index is stale."""

    __tablename__ = "asset_search_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    generation: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    #: Bumped when the synonym table or a vocabulary label changes (full rebuild).
    synonyms_generation: Mapped[int] = mapped_column(
        sa.BigInteger, nullable=False, default=0
    )
