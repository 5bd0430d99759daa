"""The audit log: who did what to which thing, and when."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from proving_ground.db import Base, UTCDateTime, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, index=True
    )
    #: The acting user; None for the system or an anonymous caller.
    actor_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    #: How the actor was known when the user row is gone or there was none
    #: (e.g. the e-mail typed in a failed sign-in).
    actor_label: Mapped[str | None] = mapped_column(sa.String(254), nullable=True)
    #: Dotted verb, e.g. ``auth.login_failed`` or ``experiment.decided``.
    action: Mapped[str] = mapped_column(sa.String(80), nullable=False, index=True)
    #: What was acted on, as ``type:id`` (e.g. ``user:12``); None if nothing.
    target: Mapped[str | None] = mapped_column(
        sa.String(120), nullable=True, index=True
    )
    details: Mapped[dict[str, Any]] = mapped_column(
        sa.JSON, nullable=False, default=dict
    )
    ip_address: Mapped[str | None] = mapped_column(sa.String(45), nullable=True)
