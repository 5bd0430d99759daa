"""Core pages: the home page, the language switch and the API reference."""

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_babel import to_user_timezone
from flask_login import current_user

from proving_ground.access import ANY_ROLE, public, roles_required
from proving_ground.actions import services as action_services
from proving_ground.api import api
from proving_ground.auth import services as auth_services
from proving_ground.db import utcnow

bp = Blueprint("core", __name__)


@bp.route("/")
@roles_required(ANY_ROLE)
def home():
    """The pillars, and the signed-in user's open action items."""
    return render_template(
        "core/home.html",
        action_items=action_services.open_items_for(current_user),
        today=to_user_timezone(utcnow()).date(),
    )


@bp.route("/locale", methods=["POST"])
@public
def set_locale():
    """Switch the language; remembered in the session and on the user's profile."""
    locale = request.form.get("locale", "")
    if locale in current_app.config["LANGUAGES"]:
        session["locale"] = locale
        if current_user.is_authenticated:
            auth_services.set_locale(current_user, locale)
    target = request.form.get("next", "")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("core.home")
    return redirect(target)


@bp.route("/docs/api")
@public
def api_docs():
    """The OpenAPI document rendered as a page (no JavaScript, no CDN)."""
    return render_template(
        "core/api_docs.html", spec=api.spec.to_dict(), tag_titles=API_TAG_TITLES
    )


#: Readable headings for the API's groups (flask-smorest names them by blueprint).
API_TAG_TITLES = {
    "api": _l("Health and the current user"),
    "users_api": _l("Users"),
    "tokens_api": _l("API tokens"),
    "audit_api": _l("Audit log"),
    "metrics_api": _l("Metrics"),
    "experiments_api": _l("Experiments"),
    "events_api": _l("Tracking: events, imports and write keys"),
}
