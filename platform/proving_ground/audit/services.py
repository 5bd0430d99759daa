"""Record and query audit events."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import has_request_context, request

from proving_ground.audit.models import AuditEvent
from proving_ground.db import db


def target_key(target: Any) -> str | None:
    """``type:id`` for a model instance, the string itself, or None."""
    if target is None or isinstance(target, str):
        return target
    table = getattr(target, "__tablename__", type(target).__name__.lower())
    return f"{table.removesuffix('s')}:{target.id}"


def record(
    actor: Any,
    action: str,
    target: Any = None,
    details: dict[str, Any] | None = None,
    *,
    actor_label: str | None = None,
) -> AuditEvent:
    """Add an audit event to the current unit of work and return it (flushed).

    ``actor`` is a user (or None for the system/anonymous); ``target`` a model
    instance or a ``type:id`` string; ``details`` any JSON-serialisable mapping.
    """
    actor_id = (
        getattr(actor, "id", None) if getattr(actor, "is_authenticated", 1) else None
    )
    event = AuditEvent(
        actor_id=actor_id,
        actor_label=actor_label or getattr(actor, "email", None),
        action=action,
        target=target_key(target),
        details=details or {},
        ip_address=request.remote_addr if has_request_context() else None,
    )
    db.session.add(event)
    db.session.flush()
    return event


def search_events(
    *,
    action: str | None = None,
    actor: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> sa.Select:
    """A query for audit events, newest first, filtered by the given criteria.

    ``action`` matches a prefix (``auth.`` finds every sign-in event); ``actor``
    matches a substring of the actor's e-mail; ``target`` matches exactly.
    """
    stmt = sa.select(AuditEvent).order_by(
        AuditEvent.occurred_at.desc(), AuditEvent.id.desc()
    )
    if action:
        stmt = stmt.where(AuditEvent.action.startswith(action, autoescape=True))
    if actor:
        stmt = stmt.where(
            sa.func.lower(AuditEvent.actor_label).contains(
                actor.lower(), autoescape=True
            )
        )
    if target:
        stmt = stmt.where(AuditEvent.target == target)
    if since:
        stmt = stmt.where(AuditEvent.occurred_at >= since)
    if until:
        stmt = stmt.where(AuditEvent.occurred_at < until)
    return stmt


def action_names() -> list[str]:
    """Every action that occurs in the log, for the filter's choices."""
    return list(
        db.session.scalars(
            sa.select(AuditEvent.action).distinct().order_by(AuditEvent.action)
        )
    )
