"""Flask-Login wiring: sessions with idle and absolute timeouts, bearer tokens."""

import time

from flask import Flask, current_app, flash, g, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, login_user, logout_user

from proving_ground.access import is_api_request
from proving_ground.auth import services
from proving_ground.auth.models import User
from proving_ground.db import db, request_writes
from proving_ground.errors import api_error

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please sign in to continue.")
login_manager.login_message_category = "info"
login_manager.session_protection = "basic"

#: Seconds between refreshes of the session's last-seen time.
SEEN_RESOLUTION = 60


def init_app(app: Flask) -> None:
    login_manager.init_app(app)


@login_manager.user_loader
def load_session_user(session_id: str) -> User | None:
    """The user of a session id ``<user id>:<session version>``, if still valid."""
    try:
        user_id, version = (int(part) for part in session_id.split(":"))
    except ValueError:
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.active or user.session_version != version:
        return None
    now = int(time.time())
    idle = current_app.config["SESSION_IDLE_MINUTES"] * 60
    absolute = current_app.config["SESSION_ABSOLUTE_HOURS"] * 3600
    seen_at = session.get("seen_at", 0)
    if now - seen_at > idle or now - session.get("auth_at", 0) > absolute:
        g.session_expired = True
        return None
    if now - seen_at >= SEEN_RESOLUTION:
        session["seen_at"] = now
    return user


@login_manager.request_loader
def load_token_user(req) -> User | None:
    """The user of an ``Authorization: Bearer`` token, on API routes only."""
    header = req.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret or not is_api_request():
        return None
    found = services.user_for_token(secret.strip())
    if found is None:
        g.bad_token = True
        return None
    user, token = found
    if token.kind == "ingest":
        g.write_key = token  # acts for nobody; the guard admits it to ingest views
        user = None
    else:
        g.token = token
    if services.token_needs_touch(token):
        services.touch_token(token, in_write_transaction=request_writes())
    return user


@login_manager.unauthorized_handler
def unauthorized():
    if is_api_request():
        message = (
            _l("The API token is invalid or revoked.")
            if g.get("bad_token")
            else _l("Authentication required: sign in or send a bearer token.")
        )
        response = api_error(401, str(message))
        response.headers["WWW-Authenticate"] = 'Bearer realm="proving-ground"'
        return response
    if g.get("session_expired"):
        session.clear()
        flash(_l("Your session has expired. Please sign in again."), "info")
    else:
        flash(login_manager.login_message, login_manager.login_message_category)
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def start_session(user: User) -> None:
    """Sign ``user`` in on this browser, with fresh timeouts."""
    session.clear()
    login_user(user)
    now = int(time.time())
    session["auth_at"] = now
    session["seen_at"] = now
    session.permanent = True


def end_session() -> None:
    logout_user()
    session.clear()
