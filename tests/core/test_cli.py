"""The proving-ground command: users, tokens, demo data."""

import sqlalchemy as sa

from proving_ground.auth.models import User
from proving_ground.db import db
from proving_ground.demo import DEMO_USERS


def test_users_create_and_list(runner):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "Sun.Li@Example.com",
            "--role",
            "hr",
            "--role",
            "manager",
            "--password",
            "amber-falcon-tundra-61",
            "--name",
            "孙丽",
        ]
    )
    assert result.exit_code == 0, result.output
    listing = runner.invoke(args=["users", "list"]).output
    assert (
        "sun.li@example.com" in listing
        and "hr,manager" in listing
        and "孙丽" in listing
    )


def test_users_create_prompts_for_the_password(app, runner):
    secret = "amber-falcon-tundra-61"
    result = runner.invoke(
        args=["users", "create", "--email", "p@example.com", "--role", "member"],
        input=f"{secret}\n{secret}\n",
    )
    assert result.exit_code == 0, result.output
    assert secret not in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(User).where(User.email == "p@example.com"))


def test_users_create_reports_bad_input(runner):
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "x@example.com",
            "--role",
            "member",
            "--password",
            "123456789012",
        ]
    )
    assert result.exit_code != 0
    assert "password" in result.output
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "x@example.com",
            "--role",
            "wizard",
            "--password",
            "amber-falcon-tundra-61",
        ]
    )
    assert result.exit_code != 0


def test_tokens_revoke_needs_one_selector(runner, make_user):
    user = make_user("member")
    result = runner.invoke(args=["tokens", "revoke", "--email", user.email])
    assert result.exit_code != 0
    assert "exactly one" in result.output


def test_demo_load_is_idempotent_and_bilingual(app, runner):
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    assert DEMO_USERS[0]["email"] in first.output
    second = runner.invoke(args=["demo", "load"])
    assert "0 new records" in second.output
    with app.app_context():
        users = db.session.scalars(sa.select(User)).all()
        # The pillars may add people of their own (the readiness demo's teams).
        assert {u["email"] for u in DEMO_USERS} <= {u.email for u in users}
        roles = set().union(*(u.roles for u in users))
        assert {r.value for r in roles} == {"admin", "hr", "manager", "member"}
        assert {u.locale for u in users} == {"zh_CN", "en"}


def test_demo_load_if_empty_skips_a_used_database(runner, make_user):
    make_user("admin")
    result = runner.invoke(args=["demo", "load", "--if-empty"])
    assert "not loaded" in result.output


def test_demo_admin_can_sign_in(app, runner):
    from support import login

    runner.invoke(args=["demo", "load"])
    client = app.test_client()
    response = login(client, DEMO_USERS[0]["email"], app.config["DEMO_PASSWORD"])
    assert response.status_code == 302
    assert client.get("/admin/users").status_code == 200
