"""The audit log: the service, the admin page and the API."""

import sqlalchemy as sa
from support import post_form

from proving_ground.audit.models import AuditEvent
from proving_ground.audit.services import record
from proving_ground.auth.models import User
from proving_ground.db import db


def test_record_stores_actor_action_target_details(app, make_user):
    user = make_user("hr")
    with app.test_request_context(environ_base={"REMOTE_ADDR": "10.1.2.3"}):
        actor = db.session.get(User, user.id)
        event = record(actor, "certificate.issued", "certificate:7", {"score": 0.82})
        db.session.commit()
        stored = db.session.get(AuditEvent, event.id)
        assert (stored.actor_id, stored.actor_label) == (user.id, user.email)
        assert (stored.action, stored.target) == ("certificate.issued", "certificate:7")
        assert stored.details == {"score": 0.82}
        assert stored.ip_address == "10.1.2.3"
        assert stored.occurred_at.tzinfo is not None
        # A model instance as target becomes type:id.
        assert record(None, "user.viewed", actor).target == f"user:{user.id}"


def test_audit_rows_are_rolled_back_with_a_failed_request(app, login_as):
    """One unit of work: a request that fails writes nothing, audit included."""
    client = login_as("admin")
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    response = post_form(
        client,
        "/admin/users/new",
        {
            "email": "new@example.com",
            "display_name": "N",
            "password": "short",
            "roles": "member",
        },
    )
    assert response.status_code == 200  # form error
    with app.app_context():
        after = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
        assert after == before
        assert (
            db.session.scalar(sa.select(User).where(User.email == "new@example.com"))
            is None
        )


def test_admin_creates_user_and_it_is_audited(app, login_as):
    client = login_as("admin")
    response = post_form(
        client,
        "/admin/users/new",
        {
            "email": "Wu.Hao@Example.com",
            "display_name": "吴昊",
            "password": "amber-falcon-tundra-61",
            "roles": ["manager", "member"],
            "team": "华北",
            "locale": "zh_CN",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get("/admin/audit?action=user.").get_data(as_text=True)
    assert "user.created" in page and "manager" in page
    listing = client.get("/admin/users?q=wu.hao").get_data(as_text=True)
    assert "吴昊" in listing


def test_audit_page_filters(app, login_as, make_user):
    admin = login_as("admin")
    member = make_user("member")
    post_form(
        app.test_client(),
        "/login",
        {"email": member.email, "password": "nope-nope-nope"},
    )
    page = admin.get("/admin/audit?action=auth.login_failed").get_data(as_text=True)
    assert member.email in page
    page = admin.get(f"/admin/audit?target=user:{member.id}&action=user.").get_data(
        as_text=True
    )
    rows = page.split("<tbody>")[1]
    assert "user.created" in rows and "auth.login_failed" not in rows
    assert (
        admin.get("/admin/audit?since=2000-01-01&until=2000-01-02").status_code == 200
    )
    assert (
        "auth.login"
        not in admin.get("/admin/audit?since=2000-01-01&until=2000-01-02")
        .get_data(as_text=True)
        .split("<tbody>")[1]
    )


def test_audit_api(client, make_user, make_token):
    admin = make_user("admin")
    auth = {"Authorization": f"Bearer {make_token(admin)}"}
    response = client.get("/api/v1/audit-events?action=token.&per_page=1", headers=auth)
    assert response.status_code == 200
    body = response.json
    assert body["total"] == 1 and body["items"][0]["action"] == "token.created"
    assert body["items"][0]["occurred_at"].endswith("+00:00")
    bad = client.get("/api/v1/audit-events?since=yesterday", headers=auth)
    assert bad.status_code == 422 and "since" in bad.json["error"]["fields"]
