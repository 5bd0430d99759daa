"""Create, list and complete action items."""

from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from proving_ground.actions.models import ActionItem
from proving_ground.audit.services import record
from proving_ground.auth.models import User
from proving_ground.db import db, utcnow
from proving_ground.validation import Problems


def create_action_item(
    *, title: str, assignee: User | None, due_on: date | None, source: str | None, actor
) -> ActionItem:
    """Add an action item (flushed); audited."""
    problems = Problems()
    title = (title or "").strip()
    if not title:
        problems.add("title", _l("Say what is to be done."))
    elif len(title) > 300:
        problems.add("title", _l("At most %(n)d characters.", n=300))
    if assignee is None or not assignee.active:
        problems.add("assignee", _l("Choose an active user."))
    problems.raise_if_any()
    item = ActionItem(
        title=title,
        assignee_id=assignee.id,
        due_on=due_on,
        source=source,
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(item)
    db.session.flush()
    record(
        actor,
        "action_item.created",
        f"action_item:{item.id}",
        {"assignee": assignee.email, "source": source, "title": title},
    )
    return item


def open_items_for(user: User) -> list[ActionItem]:
    """The user's open action items, soonest due first."""
    return list(
        db.session.scalars(
            sa.select(ActionItem)
            .where(ActionItem.assignee_id == user.id, ActionItem.done_at.is_(None))
            .order_by(ActionItem.due_on.is_(None), ActionItem.due_on, ActionItem.id)
        )
    )


def items_from(source: str) -> list[ActionItem]:
    return list(
        db.session.scalars(
            sa.select(ActionItem)
            .where(ActionItem.source == source)
            .order_by(ActionItem.id)
        )
    )


def complete(item: ActionItem, *, actor) -> None:
    if item.done_at is None:
        item.done_at = utcnow()
        record(actor, "action_item.done", f"action_item:{item.id}")
