"""Who may use which endpoint.

Every view declares its audience with :func:`public` or :func:`roles_required`;
:func:`guard_request` runs before every request and enforces the declaration, so a
view that forgets to declare is refused (fail closed) rather than left open.

Browsers authenticate with the Flask-Login session (and must send a CSRF token on
unsafe methods); the JSON API also accepts ``Authorization: Bearer <token>``, which
carries no ambient authority and therefore needs no CSRF token.
"""

from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import TypeVar

from flask import Flask, abort, current_app, g, request
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect

F = TypeVar("F", bound=Callable)

csrf = CSRFProtect()

ACCESS_ATTRIBUTE = "_pg_access"
INGEST_ATTRIBUTE = "_pg_ingest"
PUBLIC = "public"

#: Endpoints of extensions and Flask itself that serve public material.
PUBLIC_ENDPOINTS = frozenset({"static", "api-docs.openapi_json"})


class Role(StrEnum):
    """What a user may do; a user may hold several. The README documents each."""

    ADMIN = "admin"
    HR = "hr"
    MANAGER = "manager"
    MEMBER = "member"


#: Any signed-in user holding at least one role.
ANY_ROLE = frozenset(Role)


def public(view: F) -> F:
    """Declare that anyone, signed in or not, may use this view."""
    setattr(view, ACCESS_ATTRIBUTE, PUBLIC)
    return view


def roles_required(*roles: Role | Iterable[Role]) -> Callable[[F], F]:
    """Declare the roles that may use this view; holding any one of them suffices."""
    allowed: set[Role] = set()
    for role in roles:
        allowed.update([role] if isinstance(role, Role) else role)
    if not allowed:
        raise ValueError("roles_required needs at least one role")

    def decorate(view: F) -> F:
        setattr(view, ACCESS_ATTRIBUTE, frozenset(allowed))
        return view

    return decorate


def write_key_allowed(view: F) -> F:
    """Declare that an ingest-only write key may also use this view (besides the
    roles declared with roles_required)."""
    setattr(view, INGEST_ATTRIBUTE, True)
    return view


def endpoint_accepts_write_keys(app: Flask, endpoint: str | None) -> bool:
    view = app.view_functions.get(endpoint or "")
    return bool(view is not None and getattr(view, INGEST_ATTRIBUTE, False))


def endpoint_access(app: Flask, endpoint: str | None) -> frozenset[Role] | str | None:
    """The declared audience of an endpoint: ``PUBLIC``, a set of roles, or None."""
    if endpoint is None:
        return None
    if endpoint in PUBLIC_ENDPOINTS or endpoint.endswith(".static"):
        return PUBLIC
    view = app.view_functions.get(endpoint)
    if view is None:
        return None
    declared = getattr(view, ACCESS_ATTRIBUTE, None)
    if declared is None and hasattr(view, "view_class"):
        declared = getattr(view.view_class, ACCESS_ATTRIBUTE, None)
    return declared


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def guard_request():
    """Enforce the endpoint's declaration; registered as the first before_request."""
    if request.endpoint is None:  # 404 and 405 are raised by routing
        return None
    declared = endpoint_access(current_app, request.endpoint)
    if declared is None:
        current_app.logger.error("endpoint %s declares no access", request.endpoint)
        abort(403)
    if declared != PUBLIC:
        authenticated = current_user.is_authenticated  # runs the token loader
        if g.get("write_key") is not None:
            if not endpoint_accepts_write_keys(current_app, request.endpoint):
                abort(403, description="write keys may only send events")
            return None  # a write key carries no ambient authority: no CSRF
        if not authenticated:
            return current_app.login_manager.unauthorized()
        if not current_user.has_any_role(declared):
            abort(403)
    if request.method not in ("GET", "HEAD", "OPTIONS", "TRACE") and not g.get("token"):
        csrf.protect()
    return None
