"""The JSON API's error shape, pagination and OpenAPI document."""

import pytest


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin_auth(make_user, make_token):
    return _bearer(make_token(make_user("admin")))


def _assert_error_shape(response, status, code):
    assert response.status_code == status
    assert response.mimetype == "application/json"
    error = response.json["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    return error


def test_400_malformed_json(client, admin_auth):
    response = client.post(
        "/api/v1/users",
        data="{not json",
        headers={**admin_auth, "Content-Type": "application/json"},
    )
    _assert_error_shape(response, 400, "bad_request")


def test_401_shape(client):
    _assert_error_shape(client.get("/api/v1/users"), 401, "unauthorized")


def test_403_shape(client, make_user, make_token):
    response = client.get(
        "/api/v1/users", headers=_bearer(make_token(make_user("member")))
    )
    _assert_error_shape(response, 403, "forbidden")


def test_404_shape(client, admin_auth):
    _assert_error_shape(
        client.get("/api/v1/nothing-here", headers=admin_auth), 404, "not_found"
    )


def test_405_shape(client, admin_auth):
    _assert_error_shape(
        client.put("/api/v1/users", headers=admin_auth), 405, "method_not_allowed"
    )


def test_422_names_each_field(client, admin_auth):
    response = client.post(
        "/api/v1/users",
        json={"email": "not-an-email", "roles": ["wizard"], "display_name": ""},
        headers=admin_auth,
    )
    error = _assert_error_shape(response, 422, "validation_failed")
    assert set(error["fields"]) == {"email", "roles.0", "display_name", "password"}
    assert all(isinstance(p, list) and p for p in error["fields"].values())


def test_422_from_the_password_policy(client, admin_auth):
    response = client.post(
        "/api/v1/users",
        json={
            "email": "new@example.com",
            "display_name": "New",
            "password": "password1234",
            "roles": ["member"],
        },
        headers=admin_auth,
    )
    error = _assert_error_shape(response, 422, "validation_failed")
    assert list(error["fields"]) == ["password"]


def test_409_duplicate_email(client, admin_auth, make_user):
    existing = make_user("member")
    response = client.post(
        "/api/v1/users",
        json={
            "email": existing.email.upper(),
            "display_name": "Dup",
            "password": "amber-falcon-tundra-61",
            "roles": ["member"],
        },
        headers=admin_auth,
    )
    error = _assert_error_shape(response, 409, "conflict")
    assert list(error["fields"]) == ["email"]


def test_create_user_through_the_api(client, admin_auth):
    response = client.post(
        "/api/v1/users",
        json={
            "email": "Zhao.Lei@Example.com",
            "display_name": "赵磊",
            "password": "amber-falcon-tundra-61",
            "roles": ["manager", "member"],
            "team": "华北",
        },
        headers=admin_auth,
    )
    assert response.status_code == 201
    assert response.json["email"] == "zhao.lei@example.com"
    assert response.json["roles"] == ["manager", "member"]
    assert "password" not in response.json and "password_hash" not in response.json
    assert "赵磊" in response.get_data(as_text=True)  # not \\u-escaped


def test_pagination(client, admin_auth, make_user):
    for _ in range(4):
        make_user("member")
    page = client.get("/api/v1/users?per_page=2&page=2", headers=admin_auth).json
    assert (page["page"], page["per_page"], page["total"], page["pages"]) == (
        2,
        2,
        5,
        3,
    )
    assert len(page["items"]) == 2
    beyond = client.get("/api/v1/users?per_page=2&page=9", headers=admin_auth).json
    assert beyond["items"] == []


def test_per_page_is_capped(client, admin_auth):
    page = client.get("/api/v1/users?per_page=100000", headers=admin_auth).json
    assert page["per_page"] == 200


def test_bad_pagination_is_a_422(client, admin_auth):
    response = client.get("/api/v1/users?page=0&per_page=x", headers=admin_auth)
    error = _assert_error_shape(response, 422, "validation_failed")
    assert set(error["fields"]) == {"page", "per_page"}


def test_openapi_document(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json
    assert spec["openapi"].startswith("3.")
    for path in ("/api/v1/health", "/api/v1/me", "/api/v1/users", "/api/v1/tokens"):
        assert path in spec["paths"], path
    assert "bearerAuth" in spec["components"]["securitySchemes"]
    error = spec["components"]["schemas"]["Error"]
    assert "error" in error["properties"]


def test_api_reference_page(client):
    response = client.get("/docs/api")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "/api/v1/users" in page and "<script" not in page
