"""Users, their roles and their API tokens."""

from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from proving_ground.access import Role
from proving_ground.db import Base, UTCDateTime, utcnow


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stored lower-cased; unique regardless of the case it was typed in.
    email: Mapped[str] = mapped_column(sa.String(254), unique=True, nullable=False)
    display_name: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    password_hash: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    #: A Babel locale of ``config.LANGUAGES``; None follows the browser.
    locale: Mapped[str | None] = mapped_column(sa.String(10), nullable=True)
    team: Mapped[str | None] = mapped_column(sa.String(120), nullable=True)
    region: Mapped[str | None] = mapped_column(sa.String(120), nullable=True)
    #: The id tracked events carry for this person as a rep (``Event.rep_id``).
    rep_id: Mapped[str | None] = mapped_column(
        sa.String(128), unique=True, nullable=True
    )
    active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    #: Bumped to end every session of this user (logout, password change,
    #: deactivation); sessions carry the version they were created with.
    session_version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow
    )
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    role_rows: Mapped[list["UserRole"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )
    tokens: Mapped[list["ApiToken"]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.active

    def get_id(self) -> str:  # Flask-Login: the session remembers id and version
        return f"{self.id}:{self.session_version}"

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(Role(row.role) for row in self.role_rows)

    @property
    def role_names(self) -> list[str]:
        return sorted(role.value for role in self.roles)

    def has_role(self, role: Role) -> bool:
        return role in self.roles

    def has_any_role(self, roles) -> bool:
        return not self.roles.isdisjoint(roles)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(sa.String(20), primary_key=True)

    user: Mapped[User] = relationship(back_populates="role_rows")

    __table_args__ = (
        sa.CheckConstraint(
            sa.column("role").in_([r.value for r in Role]), name="role_known"
        ),
    )


class ApiToken(Base):
    """A bearer token acting for one user with that user's roles.

    Only a SHA-256 digest is stored: tokens carry 256 bits of randomness, so a fast
    hash is safe and lets each request find its token by an index lookup.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The user a token acts for; for a write key, who created it (None when
    #: created from the command line).
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    #: ``user`` acts with the user's roles; ``ingest`` (write keys, a later issue)
    #: may only send events.
    kind: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="user")
    token_hash: Mapped[str] = mapped_column(sa.String(64), nullable=False, unique=True)
    #: The first characters of the token, shown so users can tell tokens apart.
    prefix: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow
    )
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    user: Mapped[User | None] = relationship(back_populates="tokens")

    __table_args__ = (
        sa.CheckConstraint(sa.column("kind").in_(["user", "ingest"]), name="kind"),
    )

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
