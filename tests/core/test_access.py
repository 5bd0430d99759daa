"""The role matrix: every endpoint declares who may use it, and nobody else can.

Walks ``app.url_map``: each endpoint must be public or declare roles. For every
non-public endpoint and method, an anonymous caller is sent to sign in (pages) or
gets 401 (API); a signed-in user without any declared role gets 403, through the
session and through a bearer token; a user holding a declared role gets through.
"""

import pytest
from support import csrf_token, login

from proving_ground.access import (
    PUBLIC,
    Role,
    endpoint_accepts_write_keys,
    endpoint_access,
)

#: Pages anyone may use, by design.
EXPECTED_PUBLIC = {
    "static",
    "auth.login",
    "core.set_locale",
    "core.api_docs",
    "api.health",
    "api-docs.openapi_json",
    # Anyone may check a certificate (no sign-in), and its page needs its assets.
    "assessments.verify",
    "assessments.verify_code",
    "assessments.static",
    "assessments_api.verify_certificate",
    "assessments_api.certificate_badge",
    "asset_library.static",
}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _rules(app):
    for rule in app.url_map.iter_rules():
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        values = dict.fromkeys(rule.arguments, 1)
        if rule.endpoint == "static":
            values = {"filename": "css/app.css"}
        with app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **values)
        yield rule.endpoint, url, methods


def _request(client, method, url, *, token=None, csrf=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = {"csrf_token": csrf} if csrf else None
    return client.open(url, method=method, headers=headers, data=data)


def test_every_endpoint_declares_access(app):
    undeclared = [e for e, _, _ in _rules(app) if endpoint_access(app, e) is None]
    assert undeclared == []


def test_public_endpoints_are_exactly_the_expected_ones(app):
    public = {e for e, _, _ in _rules(app) if endpoint_access(app, e) == PUBLIC}
    assert public == EXPECTED_PUBLIC


def test_undeclared_view_is_refused(app):
    @app.route("/forgotten")
    def forgotten():  # no @public, no @roles_required
        return "should never be served"

    assert app.test_client().get("/forgotten").status_code == 403


def test_role_matrix(app, make_user, make_token, write_key):
    users = {role: make_user(role.value) for role in Role}
    users[None] = make_user()  # signed in, but holding no role
    tokens = {key: make_token(user) for key, user in users.items()}
    sessions = {}
    for key, user in users.items():
        sessions[key] = app.test_client()
        assert login(sessions[key], user.email).status_code == 302
    csrf = {key: csrf_token(client) for key, client in sessions.items()}
    anonymous = app.test_client()

    checked = 0
    for endpoint, url, methods in _rules(app):
        declared = endpoint_access(app, endpoint)
        if declared == PUBLIC:
            continue
        is_api = url.startswith("/api/")
        outsider = next((r for r in Role if r not in declared), None)
        insider = next(r for r in Role if r in declared)
        for method in methods:
            where = f"{method} {url} ({endpoint})"
            # Anonymous: sign in first.
            response = _request(anonymous, method, url)
            if is_api:
                assert response.status_code == 401, where
                assert response.json["error"]["code"] == "unauthorized", where
            else:
                assert response.status_code == 302, where
                assert response.location.startswith("/login"), where
            # Signed in without a declared role: forbidden, by session and token.
            response = _request(sessions[outsider], method, url, csrf=csrf[outsider])
            assert response.status_code == 403, where
            response = _request(anonymous, method, url, token=tokens[outsider])
            if is_api:
                assert response.status_code == 403, where
                assert response.json["error"]["code"] == "forbidden", where
            else:  # tokens are for the API only; pages want a session
                assert response.status_code == 302, where
            # A write key opens only the endpoints that declare it (sending events).
            response = _request(anonymous, method, url, token=write_key)
            if endpoint_accepts_write_keys(app, endpoint):
                assert response.status_code not in (401, 403), where
            elif is_api:
                assert response.status_code == 403, where
            else:
                assert response.status_code == 302, where
            # A declared role gets through (safe methods: no side effects here).
            if method in UNSAFE:
                checked += 1
                continue
            response = _request(sessions[insider], method, url)
            assert response.status_code not in (401, 403), where
            assert not (response.location or "").startswith("/login"), where
            if is_api:
                response = _request(anonymous, method, url, token=tokens[insider])
                assert response.status_code not in (401, 403), where
            checked += 1
    assert checked >= 20  # the walk really covered the app


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_admin_pages_only_for_admins(login_as, role):
    client = login_as(role)
    expected = 200 if role == "admin" else 403
    assert client.get("/admin/users").status_code == expected
    assert client.get("/admin/audit").status_code == expected
    assert client.get("/").status_code == 200
