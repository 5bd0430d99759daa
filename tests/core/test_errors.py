"""Unexpected errors: a 500 page or the API's error shape, and nothing saved."""

import pytest
import sqlalchemy as sa

from proving_ground.access import ANY_ROLE, public, roles_required
from proving_ground.audit.models import AuditEvent
from proving_ground.audit.services import record
from proving_ground.db import db


@pytest.fixture
def failing_app(make_app):
    app = make_app(PROPAGATE_EXCEPTIONS=False)

    @app.route("/boom")
    @roles_required(ANY_ROLE)
    def boom():
        record(None, "should.not.persist")
        raise RuntimeError("boom")

    @app.route("/api/v1/boom")
    @public
    def api_boom():
        raise RuntimeError("boom")

    return app


def test_500_page_in_both_languages_and_rolled_back(failing_app, make_user):
    from support import login

    user = make_user("member")
    client = failing_app.test_client()
    login(client, user.email)
    en = client.get("/boom")
    assert en.status_code == 500
    assert "Something went wrong" in en.get_data(as_text=True)
    zh = client.get("/boom", headers={"Accept-Language": "zh-CN"})
    assert zh.status_code == 500
    with failing_app.app_context():
        actions = db.session.scalars(sa.select(AuditEvent.action)).all()
    assert "should.not.persist" not in actions


def test_500_in_the_api_shape(failing_app):
    response = failing_app.test_client().get("/api/v1/boom")
    assert response.status_code == 500
    assert response.json["error"]["code"] == "internal_error"
    assert "boom" not in response.get_data(as_text=True)  # no internals leak
