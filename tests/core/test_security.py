"""CSRF on forms and the security headers."""

from support import PASSWORD


def test_form_post_without_csrf_token_is_rejected(client, make_user):
    user = make_user("member")
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302  # not signed in


def test_form_post_with_a_forged_csrf_token_is_rejected(login_as):
    client = login_as("admin")
    response = client.post(
        "/admin/users/new",
        data={"csrf_token": "forged", "email": "x@example.com", "display_name": "X"},
    )
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)


def test_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_pages_have_no_inline_script_or_external_assets(login_as):
    client = login_as("admin")
    for url in ("/", "/account", "/admin/users", "/admin/audit", "/docs/api", "/login"):
        page = client.get(url, follow_redirects=True).get_data(as_text=True)
        assert "<script>" not in page and "onclick=" not in page, url
        assert "http://" not in page.replace("http://localhost", ""), url
        assert "//cdn" not in page, url


def test_session_cookie_flags(make_app, make_user):
    app = make_app(SESSION_COOKIE_SECURE=True)
    user = make_user("member")
    client = app.test_client()
    from support import login

    response = login(client, user.email)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie


def test_session_api_writes_accept_the_csrf_header(login_as):
    from support import csrf_token

    client = login_as("member")
    response = client.post(
        "/api/v1/tokens",
        json={"name": "from the page"},
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert response.status_code == 201
