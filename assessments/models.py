"""Assessments: the capability map, the item bank, exams and their cut scores,
attempts and grading, certifications, certificates and promotion tracks.

An item's authored content (stem, options, answer key, rubric, stimulus) is one
JSON document per version, in the format ``assessments.scoring`` validates and
scores; what an examinee may see is derived from it by ``scoring.public_content``.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from proving_ground.db import Base, UTCDateTime, utcnow


class Bilingual:
    """Columns ``<name>_zh`` and ``<name>_en``; ``text(name, language)`` picks one,
    falling back to the other language when it is empty."""

    def text(self, name: str, language: str) -> str:
        zh, en = getattr(self, f"{name}_zh") or "", getattr(self, f"{name}_en") or ""
        return (en or zh) if language == "en" else (zh or en)


class Framework(Bilingual, Base):
    """A capability map (能力图谱): a tree of competencies."""

    __tablename__ = "assessment_frameworks"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    name_zh: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    name_en: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    description_zh: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    description_en: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")

    competencies: Mapped[list["Competency"]] = relationship(
        back_populates="framework",
        cascade="all, delete-orphan",
        order_by="Competency.position",
    )


class Competency(Bilingual, Base):
    __tablename__ = "competencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    framework_id: Mapped[int] = mapped_column(
        sa.ForeignKey("assessment_frameworks.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    parent_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("competencies.id", ondelete="CASCADE"), nullable=True
    )
    #: Unique across frameworks, e.g. ``data-interpretation``.
    key: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    name_zh: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    name_en: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    #: Proficiency levels, lowest first: [{"level": 1, "zh": …, "en": …}, …].
    levels: Mapped[list[dict[str, Any]]] = mapped_column(
        sa.JSON, nullable=False, default=list
    )
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)

    framework: Mapped[Framework] = relationship(back_populates="competencies")
    parent: Mapped["Competency | None"] = relationship(remote_side=[id])


class ItemStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    RETIRED = "retired"


class Item(Base):
    """A question in the bank. Its content lives in versions: editing an item
    that has been answered creates a new version, and attempts keep the version
    they were given."""

    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stable reference used by imports and exports, e.g. ``di-012``.
    key: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    status: Mapped[str] = mapped_column(
        sa.String(10), nullable=False, default=ItemStatus.DRAFT, index=True
    )
    competency_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("competencies.id", ondelete="SET NULL"), nullable=True, index=True
    )
    tags: Mapped[list[str]] = mapped_column(sa.JSON, nullable=False, default=list)
    #: As authored: 1 (easy) to 5 (hard).
    difficulty: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=3)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow
    )

    versions: Mapped[list["ItemVersion"]] = relationship(
        back_populates="item",
        cascade="all, delete-orphan",
        order_by="ItemVersion.number",
    )
    competency: Mapped[Competency | None] = relationship(lazy="joined")

    __table_args__ = (
        sa.CheckConstraint(
            sa.column("status").in_([s.value for s in ItemStatus]), name="status"
        ),
        sa.CheckConstraint(sa.column("difficulty").between(1, 5), name="difficulty"),
    )

    @property
    def current(self) -> "ItemVersion":
        return self.versions[-1]


class ItemVersion(Base):
    __tablename__ = "item_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(
        sa.ForeignKey("items.id", ondelete="CASCADE"), nullable=False
    )
    number: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    #: The item type, copied out of ``content`` for queries.
    type: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    #: Stem, options, answer key, rubric, stimulus, feedback (``scoring`` format).
    content: Mapped[dict[str, Any]] = mapped_column(sa.JSON, nullable=False)
    max_points: Mapped[float] = mapped_column(sa.Float, nullable=False)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    item: Mapped[Item] = relationship(back_populates="versions")

    __table_args__ = (sa.UniqueConstraint("item_id", "number"),)


class ExamStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CLOSED = "closed"


class Exam(Bilingual, Base):
    __tablename__ = "exams"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    title_zh: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    title_en: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    description_zh: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    description_en: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(
        sa.String(10), nullable=False, default=ExamStatus.DRAFT
    )
    time_limit_minutes: Mapped[int] = mapped_column(
        sa.Integer, nullable=False, default=60
    )
    opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    max_attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=3)
    #: Hours an examinee waits after an attempt before the next one.
    wait_hours: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=24)
    shuffle_items: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, default=True
    )
    shuffle_options: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, default=True
    )
    #: Share of the maximum score needed to pass (0.7 = 70 %).
    cut_score: Mapped[float] = mapped_column(sa.Float, nullable=False, default=0.7)
    #: Rubric items are marked twice; marks further apart than this many points
    #: go to HR to resolve.
    second_marking: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, default=False
    )
    marking_tolerance: Mapped[float] = mapped_column(
        sa.Float, nullable=False, default=1.0
    )
    #: Holds only responses collected elsewhere (no sections, never sat here).
    external: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    #: A manager may see the results of members of their team.
    team_results_visible: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, default=True
    )
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    #: Named graders besides HR.
    graders = relationship("User", secondary="exam_graders")
    sections: Mapped[list["ExamSection"]] = relationship(
        back_populates="exam",
        cascade="all, delete-orphan",
        order_by="ExamSection.position",
        lazy="select",
    )

    __table_args__ = (
        sa.CheckConstraint(
            sa.column("status").in_([s.value for s in ExamStatus]), name="status"
        ),
        sa.CheckConstraint(sa.column("cut_score").between(0, 1), name="cut_score"),
    )


class ExamSection(Bilingual, Base):
    """A part of an exam: ``item_count`` items drawn at random from the active
    items of a competency and/or carrying a tag."""

    __tablename__ = "exam_sections"

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(
        sa.ForeignKey("exams.id", ondelete="CASCADE"), nullable=False, index=True
    )
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    title_zh: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    title_en: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    competency_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("competencies.id", ondelete="SET NULL"), nullable=True
    )
    tag: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    item_count: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    #: Optional minimum share of this section's points needed to pass.
    min_score: Mapped[float | None] = mapped_column(sa.Float, nullable=True)

    exam: Mapped[Exam] = relationship(back_populates="sections")
    competency: Mapped[Competency | None] = relationship(lazy="joined")


class AngoffJudge(Base):
    """A judge invited to rate an exam's items for a modified-Angoff cut score."""

    __tablename__ = "angoff_judges"

    exam_id: Mapped[int] = mapped_column(
        sa.ForeignKey("exams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user = relationship("User", lazy="joined")


class AngoffRating(Base):
    """A judge's probability that a minimally competent manager answers an item
    correctly."""

    __tablename__ = "angoff_ratings"

    exam_id: Mapped[int] = mapped_column(
        sa.ForeignKey("exams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[int] = mapped_column(
        sa.ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    probability: Mapped[float] = mapped_column(sa.Float, nullable=False)
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.CheckConstraint(sa.column("probability").between(0, 1), name="probability"),
    )


class AttemptStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    #: Submitted; rubric items wait for grading.
    GRADING = "grading"
    #: Every item scored; results visible to the examinee.
    RELEASED = "released"


class Attempt(Base):
    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(
        sa.ForeignKey("exams.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    #: 1 for a user's first attempt at this exam, 2 for the next …
    number: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    status: Mapped[str] = mapped_column(
        sa.String(12), nullable=False, default=AttemptStatus.IN_PROGRESS, index=True
    )
    #: The UI language the attempt was started in.
    language: Mapped[str] = mapped_column(sa.String(10), nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    #: Set by the server at start; answers after it are refused.
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: ``examinee`` or ``timeout`` (submitted by the server with what was saved).
    submitted_by: Mapped[str | None] = mapped_column(sa.String(10))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    points: Mapped[float | None] = mapped_column(sa.Float)
    max_points: Mapped[float | None] = mapped_column(sa.Float)
    #: points / max_points once released.
    score: Mapped[float | None] = mapped_column(sa.Float)
    passed: Mapped[bool | None] = mapped_column(sa.Boolean)
    #: Per section: [{"section_id", "points", "max_points", "share", "min_score"}].
    section_scores: Mapped[list[dict[str, Any]] | None] = mapped_column(sa.JSON)

    exam: Mapped[Exam] = relationship(lazy="joined")
    user = relationship("User")
    items: Mapped[list["AttemptItem"]] = relationship(
        back_populates="attempt",
        cascade="all, delete-orphan",
        order_by="AttemptItem.position",
    )

    __table_args__ = (
        sa.UniqueConstraint("exam_id", "user_id", "number"),
        sa.CheckConstraint(
            sa.column("status").in_([s.value for s in AttemptStatus]), name="status"
        ),
    )


class AttemptItem(Base):
    """One question of an attempt's form: the item version it was given, the order
    its options were shown in, the saved answer and its score."""

    __tablename__ = "attempt_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(
        sa.ForeignKey("attempts.id", ondelete="CASCADE"), nullable=False
    )
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    section_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("exam_sections.id", ondelete="SET NULL"), nullable=True
    )
    item_version_id: Mapped[int] = mapped_column(
        sa.ForeignKey("item_versions.id", ondelete="RESTRICT"), nullable=False
    )
    #: Option ids in the order shown (matching: the right-hand column's order).
    option_order: Mapped[list[str] | None] = mapped_column(sa.JSON)
    answer: Mapped[Any | None] = mapped_column(sa.JSON(none_as_null=True))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Bumped by every save, so a client can tell its save landed.
    revision: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    points: Mapped[float | None] = mapped_column(sa.Float)
    max_points: Mapped[float] = mapped_column(sa.Float, nullable=False)
    correct: Mapped[bool | None] = mapped_column(sa.Boolean)
    #: A rubric item waiting for a grader (or for HR to resolve two marks).
    needs_grading: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, default=False, index=True
    )

    attempt: Mapped[Attempt] = relationship(back_populates="items")
    version: Mapped[ItemVersion] = relationship(lazy="joined")
    section: Mapped[ExamSection | None] = relationship()
    grades: Mapped[list["Grade"]] = relationship(
        back_populates="attempt_item",
        cascade="all, delete-orphan",
        order_by="Grade.id",
    )

    __table_args__ = (sa.UniqueConstraint("attempt_id", "position"),)


class Grade(Base):
    """A grader's marks for one rubric answer."""

    __tablename__ = "grades"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_item_id: Mapped[int] = mapped_column(
        sa.ForeignKey("attempt_items.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    grader_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    #: ``first``, ``second`` or ``resolution`` (HR settling two marks).
    kind: Mapped[str] = mapped_column(sa.String(12), nullable=False)
    #: Criterion id → chosen level index.
    levels: Mapped[dict[str, int]] = mapped_column(sa.JSON, nullable=False)
    points: Mapped[float] = mapped_column(sa.Float, nullable=False)
    comment: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    attempt_item: Mapped[AttemptItem] = relationship(back_populates="grades")
    grader = relationship("User", lazy="joined")


class AttemptEvent(Base):
    """The attempt's log: start, answer, submit, timeout, grade, release, regrade."""

    __tablename__ = "attempt_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(
        sa.ForeignKey("attempts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(12), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    details: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)


exam_graders = sa.Table(
    "exam_graders",
    Base.metadata,
    sa.Column(
        "exam_id", sa.ForeignKey("exams.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column(
        "user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
)

certification_exams = sa.Table(
    "certification_exams",
    Base.metadata,
    sa.Column(
        "certification_id",
        sa.ForeignKey("certifications.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "exam_id", sa.ForeignKey("exams.id", ondelete="CASCADE"), primary_key=True
    ),
)


class Certification(Bilingual, Base):
    """A credential earned by passing every one of its exams."""

    __tablename__ = "certifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    name_zh: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    name_en: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    description_zh: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    description_en: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    validity_months: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=12)
    #: Recertification opens this many days before a certificate expires.
    renewal_window_days: Mapped[int] = mapped_column(
        sa.Integer, nullable=False, default=60
    )
    competency_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("competencies.id", ondelete="SET NULL"), nullable=True
    )

    exams: Mapped[list[Exam]] = relationship(
        secondary=certification_exams, order_by="Exam.id", lazy="selectin"
    )
    #: Simulations to pass as well (see Scenario.pass_d_prime).
    scenarios: Mapped[list["Scenario"]] = relationship(
        secondary="certification_scenarios", order_by="Scenario.id", lazy="selectin"
    )


class Certificate(Base):
    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Printed on the certificate and in the public verification link.
    code: Mapped[str] = mapped_column(sa.String(32), unique=True, nullable=False)
    certification_id: Mapped[int] = mapped_column(
        sa.ForeignKey("certifications.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    #: The attempts that earned it.
    attempt_ids: Mapped[list[int]] = mapped_column(sa.JSON, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(sa.Text)

    certification: Mapped[Certification] = relationship(lazy="joined")
    user = relationship("User", lazy="joined")


promotion_track_certifications = sa.Table(
    "promotion_track_certifications",
    Base.metadata,
    sa.Column(
        "track_id",
        sa.ForeignKey("promotion_tracks.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "certification_id",
        sa.ForeignKey("certifications.id", ondelete="CASCADE"),
        primary_key=True,
    ),
)


class PromotionTrack(Bilingual, Base):
    """A promotion (e.g. to regional sales director) and the certifications it
    requires."""

    __tablename__ = "promotion_tracks"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    name_zh: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    name_en: Mapped[str] = mapped_column(sa.String(200), nullable=False)

    certifications: Mapped[list[Certification]] = relationship(
        secondary=promotion_track_certifications,
        order_by="Certification.id",
        lazy="selectin",
    )


# --- AI-coaching simulations -------------------------------------------------


class ScenarioStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    RETIRED = "retired"


class Scenario(Bilingual, Base):
    """An AI-coaching simulation: a customer persona, the customer's turns and,
    at each turn, AI-assistant suggestions authored as sound or flawed. The
    authored content lives in versions (``assessments.coaching`` format); a
    version that has been attempted is never edited."""

    __tablename__ = "sim_scenarios"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    title_zh: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    title_en: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    status: Mapped[str] = mapped_column(
        sa.String(10), nullable=False, default=ScenarioStatus.DRAFT
    )
    #: Facet key of the persona's industry (asset-library vocabulary), for lists.
    industry: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    competency_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("competencies.id", ondelete="SET NULL"), nullable=True
    )
    time_limit_minutes: Mapped[int] = mapped_column(
        sa.Integer, nullable=False, default=30
    )
    max_attempts: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=3)
    #: An attempt passes with d′ at least this and over-reliance at most
    #: ``max_over_reliance`` (used when the scenario is part of a certification).
    pass_d_prime: Mapped[float] = mapped_column(sa.Float, nullable=False, default=1.0)
    max_over_reliance: Mapped[float] = mapped_column(
        sa.Float, nullable=False, default=0.25
    )
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow
    )

    versions: Mapped[list["ScenarioVersion"]] = relationship(
        back_populates="scenario",
        cascade="all, delete-orphan",
        order_by="ScenarioVersion.number",
    )
    competency: Mapped[Competency | None] = relationship(lazy="joined")

    __table_args__ = (
        sa.CheckConstraint(
            sa.column("status").in_([s.value for s in ScenarioStatus]), name="status"
        ),
    )

    @property
    def current(self) -> "ScenarioVersion":
        return self.versions[-1]


class ScenarioVersion(Base):
    __tablename__ = "sim_scenario_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[int] = mapped_column(
        sa.ForeignKey("sim_scenarios.id", ondelete="CASCADE"), nullable=False
    )
    number: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    #: Persona, turns, suggestions with their truth, branches, note rubric.
    content: Mapped[dict[str, Any]] = mapped_column(sa.JSON, nullable=False)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    scenario: Mapped[Scenario] = relationship(back_populates="versions")

    __table_args__ = (sa.UniqueConstraint("scenario_id", "number"),)


class SimulationAttempt(Base):
    """A manager working through a scenario as the rep's coach. The server keeps
    the path (the turns reached, which depend on the choices made) and the
    deadline; the truth of each suggestion is shown only after submission."""

    __tablename__ = "sim_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[int] = mapped_column(
        sa.ForeignKey("sim_scenarios.id", ondelete="CASCADE"), nullable=False
    )
    version_id: Mapped[int] = mapped_column(
        sa.ForeignKey("sim_scenario_versions.id", ondelete="RESTRICT"), nullable=False
    )
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    number: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    #: ``in_progress``, ``grading`` (coaching notes wait for a grader) or
    #: ``released`` (as for exams).
    status: Mapped[str] = mapped_column(
        sa.String(12), nullable=False, default=AttemptStatus.IN_PROGRESS, index=True
    )
    language: Mapped[str] = mapped_column(sa.String(10), nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: ``examinee`` or ``timeout``.
    submitted_by: Mapped[str | None] = mapped_column(sa.String(10))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Turn ids reached so far, in order; the last one is the current turn until
    #: the scenario ends.
    path: Mapped[list[str]] = mapped_column(sa.JSON, nullable=False, default=list)
    #: Signal-detection counts and rates, reliance, flaw accuracy and style,
    #: computed at submission (``coaching.score`` output).
    scores: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON(none_as_null=True))
    #: Share of the coaching-note rubric's points, once graded.
    note_score: Mapped[float | None] = mapped_column(sa.Float)
    passed: Mapped[bool | None] = mapped_column(sa.Boolean)

    scenario: Mapped[Scenario] = relationship(lazy="joined")
    version: Mapped[ScenarioVersion] = relationship()
    user = relationship("User")
    responses: Mapped[list["SimulationResponse"]] = relationship(
        back_populates="attempt",
        cascade="all, delete-orphan",
        order_by="SimulationResponse.id",
    )
    note_grades: Mapped[list["SimulationNoteGrade"]] = relationship(
        back_populates="attempt",
        cascade="all, delete-orphan",
        order_by="SimulationNoteGrade.id",
    )

    __table_args__ = (
        sa.UniqueConstraint("scenario_id", "user_id", "number"),
        sa.CheckConstraint(
            sa.column("status").in_([s.value for s in AttemptStatus]), name="status"
        ),
    )


class SimulationDecision(StrEnum):
    ACCEPT = "accept"
    EDIT = "edit"
    REJECT = "reject"


class SimulationResponse(Base):
    """The coach's decision on one suggestion: accept, edit or reject; for what
    is not accepted as is, the flaw types seen; an optional note to the rep."""

    __tablename__ = "sim_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(
        sa.ForeignKey("sim_attempts.id", ondelete="CASCADE"), nullable=False
    )
    turn_id: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    suggestion_id: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    decision: Mapped[str] = mapped_column(sa.String(8), nullable=False)
    #: The coach's rewrite when the decision is ``edit``.
    edited_text: Mapped[str | None] = mapped_column(sa.Text)
    flaws: Mapped[list[str]] = mapped_column(sa.JSON, nullable=False, default=list)
    note: Mapped[str | None] = mapped_column(sa.Text)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    attempt: Mapped[SimulationAttempt] = relationship(back_populates="responses")

    __table_args__ = (
        sa.UniqueConstraint("attempt_id", "suggestion_id"),
        sa.CheckConstraint(
            sa.column("decision").in_([s.value for s in SimulationDecision]),
            name="decision",
        ),
    )


class SimulationNoteGrade(Base):
    """A grader's rubric marks for an attempt's coaching notes, taken together."""

    __tablename__ = "sim_note_grades"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(
        sa.ForeignKey("sim_attempts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    grader_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    #: Criterion id → chosen level index.
    levels: Mapped[dict[str, int]] = mapped_column(sa.JSON, nullable=False)
    points: Mapped[float] = mapped_column(sa.Float, nullable=False)
    max_points: Mapped[float] = mapped_column(sa.Float, nullable=False)
    comment: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    attempt: Mapped[SimulationAttempt] = relationship(back_populates="note_grades")
    grader = relationship("User", lazy="joined")


certification_scenarios = sa.Table(
    "certification_scenarios",
    Base.metadata,
    sa.Column(
        "certification_id",
        sa.ForeignKey("certifications.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "scenario_id",
        sa.ForeignKey("sim_scenarios.id", ondelete="CASCADE"),
        primary_key=True,
    ),
)


# --- AI-readiness baseline ---------------------------------------------------


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


class ReadinessCampaign(Bilingual, Base):
    """A quarter's AI-readiness baseline for some teams: tool proficiency and
    division of work from two sections of an exam, adoption of AI output from the
    quarter's tracked events."""

    __tablename__ = "readiness_campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    #: ``2026Q3``: the campaign covers that calendar quarter (UTC).
    quarter: Mapped[str] = mapped_column(sa.String(6), nullable=False, index=True)
    title_zh: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    title_en: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    #: Team names (``User.team``) taking part.
    teams: Mapped[list[str]] = mapped_column(sa.JSON, nullable=False, default=list)
    status: Mapped[str] = mapped_column(
        sa.String(8), nullable=False, default=CampaignStatus.DRAFT
    )
    exam_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("exams.id", ondelete="SET NULL"), nullable=True
    )
    #: The exam sections scored as tool proficiency and as division of work.
    tool_section_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("exam_sections.id", ondelete="SET NULL"), nullable=True
    )
    division_section_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("exam_sections.id", ondelete="SET NULL"), nullable=True
    )
    computed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    exam: Mapped[Exam | None] = relationship()
    tool_section: Mapped[ExamSection | None] = relationship(
        foreign_keys=[tool_section_id]
    )
    division_section: Mapped[ExamSection | None] = relationship(
        foreign_keys=[division_section_id]
    )
    results: Mapped[list["ReadinessResult"]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan"
    )

    __table_args__ = (
        sa.CheckConstraint(
            sa.column("status").in_([s.value for s in CampaignStatus]), name="status"
        ),
    )


class ReadinessResult(Base):
    """One person's baseline in a campaign; each dimension 0–100, None when
    there is nothing to score it from."""

    __tablename__ = "readiness_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        sa.ForeignKey("readiness_campaigns.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    #: The team the person was in when the campaign was computed.
    team: Mapped[str | None] = mapped_column(sa.String(120))
    tool_proficiency: Mapped[float | None] = mapped_column(sa.Float)
    adoption: Mapped[float | None] = mapped_column(sa.Float)
    division_of_work: Mapped[float | None] = mapped_column(sa.Float)
    #: The quarter's ``ai_suggestion_shown`` / ``ai_suggestion_accepted`` counts.
    suggestions_shown: Mapped[int] = mapped_column(
        sa.Integer, nullable=False, default=0
    )
    suggestions_accepted: Mapped[int] = mapped_column(
        sa.Integer, nullable=False, default=0
    )
    #: The exam attempt the two item-based dimensions come from.
    attempt_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("attempts.id", ondelete="SET NULL"), nullable=True
    )
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    campaign: Mapped[ReadinessCampaign] = relationship(back_populates="results")
    user = relationship("User", lazy="joined")

    __table_args__ = (sa.UniqueConstraint("campaign_id", "user_id"),)


# --- Responses collected elsewhere (psychometrics) ---------------------------


class ExternalItem(Base):
    """An item an external exam knows only by its code (history imported from
    another system)."""

    __tablename__ = "external_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(
        sa.ForeignKey("exams.id", ondelete="CASCADE"), nullable=False
    )
    code: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    max_score: Mapped[float] = mapped_column(sa.Float, nullable=False, default=1.0)

    __table_args__ = (sa.UniqueConstraint("exam_id", "code"),)


class ExternalResponse(Base):
    """A score collected outside the platform (a paper sitting, another system):
    one examinee's score on one item. Importing the same examinee and item again
    replaces the score."""

    __tablename__ = "external_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    exam_id: Mapped[int] = mapped_column(
        sa.ForeignKey("exams.id", ondelete="CASCADE"), nullable=False
    )
    #: The examinee as the source names them (an e-mail, an employee number).
    examinee: Mapped[str] = mapped_column(sa.String(128), nullable=False)
    #: An item key of the bank, or an external item's code.
    item_code: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    score: Mapped[float] = mapped_column(sa.Float, nullable=False)
    max_score: Mapped[float] = mapped_column(sa.Float, nullable=False)
    #: The option chosen, for choice items (distractor analysis).
    option: Mapped[str | None] = mapped_column(sa.String(64))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("exam_id", "examinee", "item_code"),)
