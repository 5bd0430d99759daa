"""Users, passwords, sign-in and API tokens: the rules, callable without HTTP."""

import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

from proving_ground.access import Role
from proving_ground.audit.services import record
from proving_ground.auth.models import ApiToken, User, UserRole
from proving_ground.db import db, utcnow, write_intent

TOKEN_PREFIX = "pg_"  # noqa: S105 (a marker, not a secret)
#: A last-used time this fresh is not written again (saves a write per request).
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)
#: zxcvbn scores 0-4; below this a password is refused as too guessable.
MIN_PASSWORD_SCORE = 3
#: zxcvbn's cost grows with length; it sees this many characters.
ZXCVBN_MAX_LENGTH = 72

# A well-formed hash of a random password, checked when the e-mail is unknown so
# that a failed sign-in takes as long whether or not the account exists.
_DUMMY_HASH: dict[str, str] = {}


class ServiceError(ValueError):
    """A rule was broken; ``field`` names the input at fault."""

    def __init__(self, field: str, message: str, *, status: int = 422):
        super().__init__(message)
        self.field = field
        self.message = message
        #: The HTTP status an API reports: 422 invalid, 409 conflicts with data.
        self.status = status


def normalise_email(email: str) -> str:
    return email.strip().lower()


def password_problems(password: str, *, user_inputs: Iterable[str] = ()) -> list[str]:
    """Why a password is unacceptable, as translated messages; empty when it is fine.

    NIST SP 800-63B: a minimum length, no composition rules, long passphrases
    accepted, and commonly used or easily guessed passwords refused (zxcvbn's
    dictionaries of leaked passwords, names and patterns).
    """
    config = current_app.config
    if len(password) < config["PASSWORD_MIN_LENGTH"]:
        return [
            str(_l("Use at least %(n)d characters.", n=config["PASSWORD_MIN_LENGTH"]))
        ]
    if len(password) > config["PASSWORD_MAX_LENGTH"]:
        return [
            str(_l("Use at most %(n)d characters.", n=config["PASSWORD_MAX_LENGTH"]))
        ]
    result = zxcvbn(password[:ZXCVBN_MAX_LENGTH], user_inputs=list(user_inputs))
    if result["score"] < MIN_PASSWORD_SCORE:
        return [
            str(
                _l(
                    "This password is too common or easy to guess. "
                    "A few unrelated words make a strong one."
                )
            )
        ]
    return []


def hash_password(password: str) -> str:
    return generate_password_hash(
        password, method=current_app.config["PASSWORD_HASH_METHOD"]
    )


def get_user_by_email(email: str) -> User | None:
    return db.session.scalar(
        sa.select(User).where(User.email == normalise_email(email))
    )


def create_user(
    *,
    email: str,
    display_name: str,
    password: str,
    roles: Iterable[Role | str],
    locale: str | None = None,
    team: str | None = None,
    region: str | None = None,
    rep_id: str | None = None,
    actor: User | None = None,
    check_password: bool = True,
) -> User:
    """Create and return a user (flushed). Raises ServiceError naming the bad field."""
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise ServiceError("email", str(_l("Enter a valid e-mail address.")))
    if get_user_by_email(email):
        raise ServiceError(
            "email", str(_l("A user with this e-mail already exists.")), status=409
        )
    if not display_name.strip():
        raise ServiceError("display_name", str(_l("Enter a name.")))
    if check_password:
        problems = password_problems(password, user_inputs=[email, display_name])
        if problems:
            raise ServiceError("password", problems[0])
    role_values = sorted({Role(r) for r in roles})
    user = User(
        email=email,
        display_name=display_name.strip(),
        password_hash=hash_password(password),
        locale=locale,
        team=team,
        region=region,
        rep_id=rep_id or None,
        role_rows=[UserRole(role=r.value) for r in role_values],
    )
    db.session.add(user)
    db.session.flush()
    record(actor, "user.created", user, {"roles": [r.value for r in role_values]})
    return user


def set_roles(user: User, roles: Iterable[Role | str], *, actor: User | None) -> None:
    """Replace a user's roles, auditing the change."""
    new = {Role(r) for r in roles}
    old = user.roles
    if new == old:
        return
    user.role_rows = [UserRole(role=r.value) for r in sorted(new)]
    db.session.flush()
    record(
        actor,
        "user.roles_changed",
        user,
        {"from": sorted(r.value for r in old), "to": sorted(r.value for r in new)},
    )


def authenticate(email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None; audits the attempt."""
    user = get_user_by_email(email)
    if user is None:
        check_password_hash(_dummy_hash(), password)
        record(
            None,
            "auth.login_failed",
            None,
            {"reason": "unknown_email"},
            actor_label=normalise_email(email)[:254],
        )
        return None
    if not check_password_hash(user.password_hash, password):
        record(user, "auth.login_failed", user, {"reason": "wrong_password"})
        return None
    if not user.active:
        record(user, "auth.login_failed", user, {"reason": "inactive"})
        return None
    user.last_login_at = utcnow()
    record(user, "auth.login", user)
    return user


def _dummy_hash() -> str:
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _DUMMY_HASH:
        _DUMMY_HASH[method] = generate_password_hash(
            secrets.token_urlsafe(16), method=method
        )
    return _DUMMY_HASH[method]


def end_sessions(user: User) -> None:
    """Invalidate every session of this user, everywhere (flushed)."""
    user.session_version += 1
    db.session.flush()


def change_password(user: User, current: str, new: str) -> None:
    """Check the current password, set the new one and end all other sessions."""
    if not check_password_hash(user.password_hash, current):
        raise ServiceError(
            "current_password", str(_l("The current password is wrong."))
        )
    problems = password_problems(new, user_inputs=[user.email, user.display_name])
    if problems:
        raise ServiceError("new_password", problems[0])
    user.password_hash = hash_password(new)
    end_sessions(user)
    record(user, "auth.password_changed", user)


def set_active(user: User, active: bool, *, actor: User | None) -> None:
    """Activate or deactivate a user; deactivation ends their sessions and tokens."""
    if user.active == active:
        return
    user.active = active
    if not active:
        end_sessions(user)
    record(actor, "user.activated" if active else "user.deactivated", user)


def set_locale(user: User, locale: str | None) -> None:
    user.locale = locale
    db.session.flush()


# --- API tokens -------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    user: User | None, name: str, *, actor: User | None = None, kind: str = "user"
) -> tuple[ApiToken, str]:
    """Create a token for ``user`` (a ``user`` token) or an ingest-only write key
    (``kind="ingest"``, ``user`` its creator); returns the row and the secret,
    which is shown only once."""
    name = name.strip()
    if not name:
        raise ServiceError("name", str(_l("Give the token a name.")))
    if len(name) > 100:
        raise ServiceError("name", str(_l("Use at most %(n)d characters.", n=100)))
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user, name=name, kind=kind, token_hash=_digest(secret), prefix=secret[:10]
    )
    db.session.add(token)
    db.session.flush()
    action = "write_key.created" if kind == "ingest" else "token.created"
    owner = user.email if user else None
    record(actor or user, action, token, {"user": owner, "name": name})
    return token, secret


def revoke_token(token: ApiToken, *, actor: User | None) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        action = "write_key.revoked" if token.kind == "ingest" else "token.revoked"
        owner = token.user.email if token.user else None
        record(actor, action, token, {"user": owner, "name": token.name})


def user_for_token(secret: str) -> tuple[User | None, ApiToken] | None:
    """The active user (None for a write key) and live token for a bearer secret."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    token = db.session.scalar(
        sa.select(ApiToken).where(ApiToken.token_hash == _digest(secret))
    )
    if token is None or token.revoked_at is not None:
        return None
    if token.kind == "user" and not token.user.active:
        return None
    return token.user, token


def token_needs_touch(token: ApiToken) -> bool:
    return (
        token.last_used_at is None
        or utcnow() - token.last_used_at > TOKEN_TOUCH_INTERVAL
    )


def touch_token(token: ApiToken, *, in_write_transaction: bool) -> None:
    """Record that a token was used.

    A request that writes anyway updates the row in its own unit of work (on SQLite
    it already holds the write lock, so a second connection would wait for it
    forever). A read-only request writes in a short transaction of its own, so that
    reads never upgrade to writes.
    """
    now = utcnow()
    if in_write_transaction:
        token.last_used_at = now
        return
    with write_intent(), db.engine.begin() as conn:
        conn.execute(
            sa.update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now)
        )


def list_write_keys() -> list[ApiToken]:
    return list(
        db.session.scalars(
            sa.select(ApiToken)
            .where(ApiToken.kind == "ingest")
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )


def list_tokens(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(
            sa.select(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.kind == "user")
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )
