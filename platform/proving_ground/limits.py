"""Rate limits (Flask-Limiter). Storage: ``PG_RATELIMIT_STORAGE_URI``, in memory by
default (per process); set ``redis://host:6379/0`` when running several workers."""

from flask import Flask, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address, default_limits=[])


def init_app(app: Flask) -> None:
    limiter.init_app(app)


def failed_login_key() -> str:
    """Failed sign-ins are counted per client address and e-mail typed."""
    email = (request.form.get("email") or "").strip().lower()
    return f"login:{get_remote_address()}:{email}"


def counts_as_failed_login(_response) -> bool:
    return bool(g.get("login_failed"))
