"""Action items: data → action. What, who, by when; any pillar creates them."""

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from proving_ground.db import Base, UTCDateTime, utcnow


class ActionItem(Base):
    __tablename__ = "action_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: What to do, in the words of whoever created it.
    title: Mapped[str] = mapped_column(sa.String(300), nullable=False)
    assignee_id: Mapped[int] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    due_on: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    #: Where it came from, as ``type:key`` (e.g. ``experiment:price-objection``).
    source: Mapped[str | None] = mapped_column(sa.String(120), index=True)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    assignee = relationship("User", foreign_keys=[assignee_id], lazy="joined")
    created_by = relationship("User", foreign_keys=[created_by_id], lazy="joined")

    @property
    def is_done(self) -> bool:
        return self.done_at is not None
