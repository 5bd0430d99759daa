"""Helpers for tests: sign in and post forms as a browser does."""

import re

from flask.testing import FlaskClient

#: A password every test user has; long and uncommon enough for the policy.
PASSWORD = "violet-harbour-lantern-42"

_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_token(client: FlaskClient) -> str:
    """The CSRF token of the client's session, read from a rendered page."""
    response = client.get("/login", follow_redirects=True)
    match = _CSRF_META.search(response.get_data(as_text=True))
    assert match, "no CSRF meta tag on the page"
    return match.group(1)


def post_form(client: FlaskClient, url: str, data: dict | None = None, **kwargs):
    """POST a form as a browser would, with the session's CSRF token."""
    return client.post(
        url, data={"csrf_token": csrf_token(client), **(data or {})}, **kwargs
    )


def login(client: FlaskClient, email: str, password: str = PASSWORD):
    return post_form(client, "/login", {"email": email, "password": password})


class Caller:
    """A test client calling a JSON API under ``base`` with a user's bearer token."""

    def __init__(self, client, token, user, base: str = ""):
        self.client, self.user, self.base = client, user, base
        self.headers = {"Authorization": f"Bearer {token}"}

    def _call(self, method, path, **kwargs):
        return self.client.open(
            self.base + path, method=method, headers=self.headers, **kwargs
        )

    def get(self, path, **kwargs):
        return self._call("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self._call("POST", path, **kwargs)

    def put(self, path, **kwargs):
        return self._call("PUT", path, **kwargs)

    def patch(self, path, **kwargs):
        return self._call("PATCH", path, **kwargs)

    def delete(self, path, **kwargs):
        return self._call("DELETE", path, **kwargs)
