"""Sign-in, sign-out, sessions and the password policy."""

import time

import pytest
import sqlalchemy as sa
from support import PASSWORD, login, post_form

from proving_ground.audit.models import AuditEvent
from proving_ground.auth import services
from proving_ground.auth.models import User
from proving_ground.db import db


def _audit_actions(app) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id))
        )


def test_login_page_renders(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert 'name="password"' in response.get_data(as_text=True)


def test_login_right_password(app, client, make_user):
    user = make_user("manager")
    response = login(client, user.email.upper())  # e-mail is case-insensitive
    assert response.status_code == 302
    assert response.location == "/"
    assert client.get("/").status_code == 200
    assert _audit_actions(app)[-1] == "auth.login"


def test_login_wrong_password(app, client, make_user):
    user = make_user("manager")
    response = login(client, user.email, "not-the-password-at-all")
    assert response.status_code == 200
    assert "wrong" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    with app.app_context():
        event = db.session.scalars(
            sa.select(AuditEvent).order_by(AuditEvent.id.desc())
        ).first()
        assert event.action == "auth.login_failed"
        assert event.details == {"reason": "wrong_password"}


def test_login_unknown_email_is_audited(app, client):
    login(client, "nobody@example.com")
    with app.app_context():
        event = db.session.scalars(
            sa.select(AuditEvent).order_by(AuditEvent.id.desc())
        ).first()
    assert (event.action, event.actor_label) == (
        "auth.login_failed",
        "nobody@example.com",
    )


def test_inactive_user_cannot_login(client, make_user):
    user = make_user("member")
    with client.application.app_context():
        row = db.session.get(User, user.id)
        row.active = False
        db.session.commit()
    assert login(client, user.email).status_code == 200
    assert client.get("/").status_code == 302


def test_failed_logins_are_rate_limited(client, make_user):
    user = make_user("member")
    for _ in range(5):
        assert login(client, user.email, "wrong-password-123").status_code == 200
    response = login(client, user.email, "wrong-password-123")
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.get_data(as_text=True)
    # Even the right password is refused while the limit holds.
    assert login(client, user.email).status_code == 429


def test_successful_logins_do_not_count_towards_the_limit(app, make_user):
    user = make_user("member")
    for _ in range(8):
        client = app.test_client()
        assert login(client, user.email).status_code == 302


def test_next_parameter_is_followed_only_within_the_site(client, make_user):
    user = make_user("member")
    response = post_form(
        client,
        "/login?next=/experiments/",
        {"email": user.email, "password": PASSWORD},
    )
    assert response.location == "/experiments/"
    client2 = client.application.test_client()
    response = post_form(
        client2,
        "/login?next=//evil.example.com/",
        {"email": user.email, "password": PASSWORD},
    )
    assert response.location == "/"


def test_logout_ends_every_session_of_the_user(app, make_user):
    user = make_user("member")
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, user.email)
    login(phone, user.email)
    assert phone.get("/").status_code == 200
    response = post_form(laptop, "/logout")
    assert response.status_code == 302
    assert laptop.get("/").status_code == 302
    assert phone.get("/").status_code == 302  # ended server-side
    assert "auth.logout" in _audit_actions(app)


def test_logout_requires_csrf_token(login_as):
    client = login_as("member")
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200


def test_password_change_ends_other_sessions(app, make_user):
    user = make_user("member")
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, user.email)
    login(phone, user.email)
    new = "quiet-otter-mountain-river-9"
    response = post_form(
        laptop,
        "/account/password",
        {
            "password-current_password": PASSWORD,
            "password-new_password": new,
            "password-confirm_password": new,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert laptop.get("/").status_code == 200  # this session goes on
    assert phone.get("/").status_code == 302
    assert login(app.test_client(), user.email, new).status_code == 302
    assert login(app.test_client(), user.email, PASSWORD).status_code == 200


def test_password_change_refuses_a_common_password(login_as):
    client = login_as("member")
    response = post_form(
        client,
        "/account/password",
        {
            "password-current_password": PASSWORD,
            "password-new_password": "password1234",
            "password-confirm_password": "password1234",
        },
    )
    assert response.status_code == 200
    assert "too common" in response.get_data(as_text=True)


def test_deactivation_ends_sessions(app, make_user, login_as):
    user = make_user("member")
    member = app.test_client()
    login(member, user.email)
    admin = login_as("admin")
    response = post_form(
        admin,
        f"/admin/users/{user.id}",
        {"display_name": "X", "roles": ["member"], "active": ""},
    )
    assert response.status_code == 302
    assert member.get("/").status_code == 302
    assert "user.deactivated" in _audit_actions(app)


def test_idle_timeout(make_app, make_user):
    app = make_app(SESSION_IDLE_MINUTES=1)
    user = make_user("member")
    client = app.test_client()
    login(client, user.email)
    assert client.get("/").status_code == 200
    with client.session_transaction() as session:
        session["seen_at"] = int(time.time()) - 61
    response = client.get("/")
    assert response.status_code == 302
    assert response.location.startswith("/login")
    assert "expired" in client.get("/login").get_data(as_text=True)


def test_absolute_timeout(make_app, make_user):
    app = make_app(SESSION_ABSOLUTE_HOURS=1)
    user = make_user("member")
    client = app.test_client()
    login(client, user.email)
    with client.session_transaction() as session:
        session["auth_at"] = int(time.time()) - 3601
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("short-pw", False),  # under 12 characters
        ("password1234", False),  # common
        ("qwertyuiop123", False),  # keyboard walk
        ("aaaaaaaaaaaaaaaa", False),  # repetition
        ("violet harbour lantern", True),  # a passphrase, no composition rules
        ("correct-horse-battery-staple", True),
        ("河边的灯塔照亮了回家的路", True),  # Chinese passphrases are fine
        ("x" * 3 + "-pale-orchid-quarry-" + "7" * 105, True),  # 128 characters
        ("pale-orchid-quarry-" * 7, False),  # 133 characters: over the maximum
    ],
)
def test_password_policy(app, password, ok):
    with app.test_request_context():
        assert (services.password_problems(password) == []) is ok


def test_password_hash_is_a_library_hash(app, make_user):
    user = make_user("member")
    with app.app_context():
        stored = db.session.get(User, user.id).password_hash
    assert stored.startswith("pbkdf2:sha256:")  # the cheap test method
    assert PASSWORD not in stored
    with app.app_context():
        assert app.config["PASSWORD_HASH_METHOD"] != "scrypt"
    from proving_ground.config import Defaults

    assert Defaults.PASSWORD_HASH_METHOD == "scrypt"


REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_reachable() -> bool:
    import redis

    try:
        return redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        return False


@pytest.mark.skipif(not _redis_reachable(), reason=f"no Redis server at {REDIS_URL}")
def test_rate_limit_shared_through_redis(make_app, make_user):
    """Two app instances (two workers) share one count of failed sign-ins."""
    import uuid

    config = {
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "LOGIN_RATE_LIMIT": "3 per minute",
        # The per-address count lives in Redis across runs; keep it out of the way.
        "LOGIN_RATE_LIMIT_PER_ADDRESS": "100000 per hour",
    }
    worker_a, worker_b = make_app(**config), make_app(**config)
    user = make_user("member", email=f"redis-{uuid.uuid4().hex}@example.com")
    for worker in (worker_a, worker_b, worker_a):
        assert (
            login(worker.test_client(), user.email, "wrong-password-x").status_code
            == 200
        )
    assert (
        login(worker_b.test_client(), user.email, "wrong-password-x").status_code == 429
    )
    import redis

    server = redis.Redis.from_url(REDIS_URL)
    keys = server.keys(f"*{user.email}*")
    assert keys  # the count really lives in Redis
    server.delete(*keys)
