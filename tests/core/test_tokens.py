"""API tokens: bearer authentication, revocation, last use, and the CLI."""

import sqlalchemy as sa
from support import post_form

from proving_ground.auth.models import ApiToken, User
from proving_ground.db import db


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_valid_token_acts_as_its_user(client, make_user, make_token):
    user = make_user("manager", "member")
    response = client.get("/api/v1/me", headers=_bearer(make_token(user)))
    assert response.status_code == 200
    assert response.json["email"] == user.email
    assert response.json["roles"] == ["manager", "member"]


def test_missing_token(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json["error"]["code"] == "unauthorized"


def test_unknown_and_malformed_tokens(client):
    for header in (
        "Bearer pg_not-a-real-token",
        "Bearer ",
        "Basic dXNlcjpwdw==",
        "pg_x",
    ):
        response = client.get("/api/v1/me", headers={"Authorization": header})
        assert response.status_code == 401, header


def test_revoked_token_is_refused(app, client, make_user, make_token):
    user = make_user("member")
    token = make_token(user)
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 200
    result = app.test_cli_runner().invoke(
        args=["tokens", "revoke", "--email", user.email, "--name", "test"]
    )
    assert result.exit_code == 0, result.output
    response = client.get("/api/v1/me", headers=_bearer(token))
    assert response.status_code == 401
    assert "revoked" in response.json["error"]["message"]


def test_token_of_deactivated_user_is_refused(app, client, make_user, make_token):
    user = make_user("member")
    token = make_token(user)
    with app.app_context():
        db.session.get(User, user.id).active = False
        db.session.commit()
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 401


def test_token_is_stored_hashed_and_last_use_recorded(
    app, client, make_user, make_token
):
    user = make_user("member")
    token = make_token(user)
    with app.app_context():
        row = db.session.scalars(sa.select(ApiToken)).one()
        assert token not in (row.token_hash, row.prefix)
        assert token.startswith(row.prefix)
        assert row.last_used_at is None
    client.get("/api/v1/me", headers=_bearer(token))
    with app.app_context():
        assert db.session.scalars(sa.select(ApiToken)).one().last_used_at is not None


def test_token_does_not_open_pages(client, make_user, make_token):
    token = make_token(make_user("admin"))
    response = client.get("/admin/users", headers=_bearer(token))
    assert response.status_code == 302


def test_token_requests_need_no_csrf_token(client, make_user, make_token):
    token = make_token(make_user("member"))
    response = client.post(
        "/api/v1/tokens", json={"name": "ci"}, headers=_bearer(token)
    )
    assert response.status_code == 201
    assert response.json["token"].startswith("pg_")


def test_session_api_writes_need_csrf(login_as):
    client = login_as("member")
    response = client.post("/api/v1/tokens", json={"name": "x"})
    assert response.status_code == 400
    assert response.json["error"]["code"] == "csrf_failed"


def test_create_list_and_revoke_through_the_api(client, make_user, make_token):
    user = make_user("member")
    auth = _bearer(make_token(user, "bootstrap"))
    created = client.post("/api/v1/tokens", json={"name": "import"}, headers=auth).json
    listed = client.get("/api/v1/tokens", headers=auth).json
    assert [t["name"] for t in listed] == ["import", "bootstrap"]
    assert all("token" not in t for t in listed)  # secrets are never shown again
    assert (
        client.delete(f"/api/v1/tokens/{created['id']}", headers=auth).status_code
        == 204
    )
    assert (
        client.get("/api/v1/me", headers=_bearer(created["token"])).status_code == 401
    )


def test_cannot_revoke_someone_elses_token(client, make_user, make_token):
    owner, other = make_user("member"), make_user("member")
    make_token(owner)
    response = client.delete("/api/v1/tokens/1", headers=_bearer(make_token(other)))
    assert response.status_code == 404


def test_cli_prints_the_token_alone_on_the_last_line(app, client, make_user):
    user = make_user("member")
    result = app.test_cli_runner().invoke(
        args=["tokens", "create", "--email", user.email, "--name", "crm"]
    )
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert secret.startswith("pg_") and " " not in secret
    assert client.get("/api/v1/me", headers=_bearer(secret)).json["email"] == user.email


def test_account_page_shows_a_new_token_once(login_as):
    client = login_as("member")
    response = post_form(client, "/account/tokens", {"token-name": "Excel macro"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "pg_" in page and "Excel macro" in page
    again = client.get("/account").get_data(as_text=True)
    secret = page.split('<code class="secret-value">')[1].split("<")[0]
    assert secret not in again
