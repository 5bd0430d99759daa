"""The audit log over the JSON API."""

import marshmallow as ma
from flask_smorest import Blueprint

from proving_ground.access import Role, roles_required
from proving_ground.api import PaginationArgs, page_schema, paginate
from proving_ground.audit.services import search_events

audit_api = Blueprint(
    "audit_api",
    __name__,
    url_prefix="/api/v1/audit-events",
    description="The audit log (administrators).",
)


class AuditEventSchema(ma.Schema):
    id = ma.fields.Integer()
    occurred_at = ma.fields.AwareDateTime()
    actor_id = ma.fields.Integer(allow_none=True)
    actor_label = ma.fields.String(allow_none=True)
    action = ma.fields.String()
    target = ma.fields.String(allow_none=True)
    details = ma.fields.Dict()
    ip_address = ma.fields.String(allow_none=True)


class AuditFilterArgs(PaginationArgs):
    action = ma.fields.String(metadata={"description": "Action prefix, e.g. auth."})
    actor = ma.fields.String(metadata={"description": "Part of the actor's e-mail"})
    target = ma.fields.String(metadata={"description": "Exact target, e.g. user:3"})
    since = ma.fields.AwareDateTime(metadata={"description": "From (inclusive)"})
    until = ma.fields.AwareDateTime(metadata={"description": "Until (exclusive)"})


@audit_api.route("")
@roles_required(Role.ADMIN)
@audit_api.arguments(AuditFilterArgs, location="query")
@audit_api.response(200, page_schema(AuditEventSchema))
def list_events(args):
    """Audit events, newest first."""
    stmt = search_events(
        action=args.get("action"),
        actor=args.get("actor"),
        target=args.get("target"),
        since=args.get("since"),
        until=args.get("until"),
    )
    return paginate(stmt, args)
