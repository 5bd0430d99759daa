"""Administrators browse and filter the audit log."""

from datetime import datetime, time, timedelta

from flask import render_template, request
from flask_babel import get_timezone

from proving_ground.access import Role, roles_required
from proving_ground.audit import bp
from proving_ground.audit.services import action_names, search_events
from proving_ground.db import db


def _local_day(value: str | None, *, end: bool = False) -> datetime | None:
    """A ``YYYY-MM-DD`` day in the user's timezone as an aware datetime, or None."""
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        return None
    if end:
        day += timedelta(days=1)
    return datetime.combine(day, time.min, tzinfo=get_timezone())


@bp.route("/admin/audit")
@roles_required(Role.ADMIN)
def events():
    filters = {
        "action": request.args.get("action", "").strip(),
        "actor": request.args.get("actor", "").strip(),
        "target": request.args.get("target", "").strip(),
        "since": request.args.get("since", "").strip(),
        "until": request.args.get("until", "").strip(),
    }
    stmt = search_events(
        action=filters["action"] or None,
        actor=filters["actor"] or None,
        target=filters["target"] or None,
        since=_local_day(filters["since"]),
        until=_local_day(filters["until"], end=True),
    )
    page = db.paginate(stmt, per_page=50, max_per_page=200)
    return render_template(
        "audit/events.html", page=page, filters=filters, actions=action_names()
    )
