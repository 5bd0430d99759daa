"""Languages: zh-CN and English through Flask-Babel.

The locale is, in order: the signed-in user's choice, the choice remembered in the
session (the switcher on every page, also before sign-in), the browser's
Accept-Language, then ``BABEL_DEFAULT_LOCALE``.
"""

from flask import Flask, current_app, has_request_context, request, session
from flask_babel import Babel, get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from proving_ground.access import Role

babel = Babel()


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    if current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    if session.get("locale") in languages:
        return session["locale"]
    # Werkzeug falls back to the primary tag, so zh-TW or zh pick zh_CN.
    return request.accept_languages.best_match(
        languages, default=current_app.config["BABEL_DEFAULT_LOCALE"]
    )


def current_language() -> str:
    """The active language as one of ``config.LANGUAGES``: ``zh_CN`` or ``en``."""
    return "en" if get_locale().language == "en" else "zh_CN"


def html_lang() -> str:
    """The BCP 47 tag for ``<html lang>``: zh-CN or en."""
    return current_language().replace("_", "-")


ROLE_LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.HR: _l("HR"),
    Role.MANAGER: _l("Manager"),
    Role.MEMBER: _l("Member"),
}


def role_label(role: Role | str) -> str:
    return str(ROLE_LABELS[Role(role)])


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals.update(
        html_lang=html_lang, current_language=current_language, role_label=role_label
    )
