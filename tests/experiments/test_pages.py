"""The experiments pages: rendering, forms, roles and the lifecycle through HTML."""

import io
import re

from support import csrf_token

from experiments import services
from proving_ground.db import db


def make_metric(app, key="quote_rate", **extra):
    with app.app_context():
        services.create_metric(
            {
                "key": key,
                "name": {"zh": "报价率", "en": "Quote rate"},
                "kind": "proportion",
                "event_types": ["quote_sent"],
                **extra,
            },
            actor=None,
        )
        db.session.commit()


def form_page(client, url):
    r = client.get(url)
    assert r.status_code == 200, (url, r.status_code, r.get_data(as_text=True)[:2000])
    return r.get_data(as_text=True)


def test_pages_render(app, login_as):
    client = login_as("manager")
    make_metric(app)
    for url in [
        "/experiments/",
        "/experiments/new",
        "/experiments/metrics",
        "/experiments/metrics/new",
        "/experiments/metrics/quote_rate/edit",
        "/experiments/power",
        "/experiments/power?calculate=1&metric_type=proportion&baseline_rate=12&mde=5&alpha=0.05&power=0.8&variants=2&weekly_units=500",
        "/experiments/power?calculate=1&metric_type=mean&baseline_mean=1000&sd=3000&mde=10&alpha=0.05&power=0.8&variants=3",
        "/experiments/events/import",
        "/experiments/write-keys",
    ]:
        page = form_page(client, url)
        assert "<script>" not in page
        assert 'style="' not in page, url
    page = form_page(
        client,
        "/experiments/power?calculate=1&metric_type=proportion&baseline_rate=12&mde=5&alpha=0.05&power=0.8&variants=2&weekly_units=500",
    )
    assert "Units per variant" in page and "days" in page
    page = form_page(
        client,
        "/experiments/power?calculate=1&metric_type=proportion&baseline_rate=&mde=-5",
    )
    assert "Give the baseline rate." in page, page
    page = form_page(
        client,
        "/experiments/power?calculate=1&metric_type=proportion&baseline_rate=99&mde=5",
    )
    assert "100%" in page  # service Invalid: treatment rate would exceed 100%
    # member: read-only pages
    member = login_as("member")
    assert member.get("/experiments/new").status_code == 403
    assert member.get("/experiments/power").status_code == 200
    assert member.get("/experiments/metrics").status_code == 200
    assert member.get("/experiments/assets/experiments.css").status_code == 200
    r = member.get("/vendor/plotly.min.js")
    assert r.status_code == 200 and r.mimetype == "text/javascript"


def design(token, **over):
    data = {
        "csrf_token": token,
        "key": "roi-calc",
        "name": "ROI calculator",
        "team": "East",
        "hypothesis_if": "reps send the ROI calculator",
        "hypothesis_then": "quote rate rises",
        "hypothesis_because": "buyers need numbers",
        "unit_type": "lead",
        "randomisation": "unit",
        "cluster_attribute": "",
        "variants-0-key": "control",
        "variants-0-name": "Control",
        "variants-0-share": "50",
        "variants-1-key": "roi",
        "variants-1-name": "ROI",
        "variants-1-share": "50",
        "control": "0",
        "primary_metrics": ["quote_rate"],
        "alpha": "0.05",
        "power": "0.8",
        "mde_percent": "5",
        "cuped": "y",
        "planned_duration_days": "14",
        "planned_units": "2500",
        "success_criteria": "quote rate up",
        "early_stop_criteria": "complaints up",
    }
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def test_create_edit_lifecycle(app, login_as):
    client = login_as("manager")
    make_metric(app)
    token = csrf_token(client)
    # add a variant: re-render with 3 rows, nothing saved
    r = client.post("/experiments/new", data=design(token, add_variant="Add a variant"))
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "variants-2-key" in page
    # shares that do not total 100
    r = client.post(
        "/experiments/new", data=design(token, **{"variants-1-share": "40"})
    )
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "must total 100" in page, page
    # service-level error: bad key, duplicate variant keys
    r = client.post(
        "/experiments/new",
        data=design(token, key="Bad Key!", **{"variants-1-key": "control"}),
    )
    page = r.get_data(as_text=True)
    assert "Use 2-64 lower-case letters, digits and -." in page
    assert "Variant keys must differ." in page
    # cluster without attribute
    r = client.post("/experiments/new", data=design(token, randomisation="cluster"))
    assert "Name the unit attribute to cluster by" in r.get_data(as_text=True)
    # ok
    r = client.post("/experiments/new", data=design(token))
    assert r.status_code == 302, r.get_data(as_text=True)
    assert r.location == "/experiments/roi-calc"
    page = form_page(client, "/experiments/roi-calc")
    assert "ROI calculator" in page and "Quote rate" in page
    assert "2,500 units per variant" in page
    page = form_page(client, "/experiments/roi-calc/edit")
    assert 'value="roi"' in page and 'value="50"' in page
    assert 'value="2500"' in page
    r = client.post(
        "/experiments/roi-calc/edit", data=design(token, name="ROI calculator v2")
    )
    assert r.status_code == 302
    # index lists it
    page = form_page(client, "/experiments/?owner=mine&status=draft&q=roi")
    assert "ROI calculator v2" in page
    # start
    r = client.post(
        "/experiments/roi-calc/start", data={"csrf_token": token}, follow_redirects=True
    )
    page = r.get_data(as_text=True)
    assert "The experiment is running." in page, page
    # edit is now locked
    page = form_page(client, "/experiments/roi-calc/edit")
    assert "locked" in page and "hypothesis_if" not in page
    r = client.post(
        "/experiments/roi-calc/edit",
        data={"csrf_token": token, "name": "Renamed", "team": "South"},
    )
    assert r.status_code == 302
    # tracking + assign
    page = form_page(client, "/experiments/roi-calc/tracking")
    assert "No exposures yet" in page
    csv = b"unit_id,rep_id\nlead-1,r1\nlead-2,r1\nlead-3,r2\n"
    r = client.post(
        "/experiments/roi-calc/assign",
        data={"csrf_token": token, "file": (io.BytesIO(csv), "units.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200 and r.mimetype == "text/csv", r.get_data(as_text=True)[
        :3000
    ]
    body = r.get_data(as_text=True)
    assert body.startswith("\ufeffunit_id,rep_id,variant")
    r = client.post(
        "/experiments/roi-calc/assign",
        data={"csrf_token": token, "file": (io.BytesIO(b"x,y\n1,2\n"), "units.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200 and "unit_id column" in r.get_data(as_text=True)
    page = form_page(client, "/experiments/roi-calc/tracking")
    assert 'id="exposure-chart-data"' in page and "3" in page
    # restart without a reason is refused
    r = client.post(
        "/experiments/roi-calc/restart",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "Say why the experiment restarts." in r.get_data(as_text=True)
    r = client.post(
        "/experiments/roi-calc/restart",
        data={"csrf_token": token, "reason": "bug in CRM"},
        follow_redirects=True,
    )
    assert "back to draft" in r.get_data(as_text=True)
    # another manager may not change it
    other = login_as("manager")
    assert (
        other.post(
            "/experiments/roi-calc/start", data={"csrf_token": csrf_token(other)}
        ).status_code
        == 403
    )
    assert other.get("/experiments/roi-calc/edit").status_code == 403
    assert other.get("/experiments/roi-calc").status_code == 200
    # unknown action
    assert (
        client.post(
            "/experiments/roi-calc/explode", data={"csrf_token": token}
        ).status_code
        == 404
    )


def test_checklist_refusal(app, login_as):
    client = login_as("manager")
    make_metric(app)
    token = csrf_token(client)
    r = client.post(
        "/experiments/new",
        data=design(token, success_criteria="", hypothesis_because=""),
    )
    assert r.status_code == 302
    r = client.post(
        "/experiments/roi-calc/start", data={"csrf_token": token}, follow_redirects=True
    )
    page = r.get_data(as_text=True)
    assert (
        "The launch checklist is not complete." in page and "Success criteria" in page
    ), page


def test_metric_forms(app, login_as):
    client = login_as("manager")
    token = csrf_token(client)
    base = {
        "csrf_token": token,
        "key": "deal_value",
        "name_zh": "成交额",
        "name_en": "Deal value",
        "kind": "mean",
        "event_types": "deal_won",
        "aggregate": "sum",
        "window_days": "30",
        "direction": "increase",
        "cap_kind": "percentile",
        "cap_value": "0.99",
        "denominator_aggregate": "count",
        "cuped_lookback_days": "30",
    }
    r = client.post(
        "/experiments/metrics/new", data={**base, "name_en": "", "cap_value": "5"}
    )
    page = r.get_data(as_text=True)
    assert "Give the name in both languages." in page and "percentile cap" in page, page
    r = client.post("/experiments/metrics/new", data={**base, "kind": "ratio"})
    assert "A ratio metric needs a denominator." in r.get_data(
        as_text=True
    ) or "Name at least one event type" in r.get_data(as_text=True)
    r = client.post("/experiments/metrics/new", data=base)
    assert r.status_code == 302
    r = client.post("/experiments/metrics/new", data=base)
    assert "A metric with this key exists." in r.get_data(as_text=True)
    page = form_page(client, "/experiments/metrics")
    assert "deal_value" in page and "成交额" in page
    r = client.post(
        "/experiments/metrics/deal_value/edit",
        data={**base, "event_types": "deal_won, deal_upsell"},
    )
    assert r.status_code == 302
    page = form_page(client, "/experiments/metrics/deal_value/edit")
    assert "deal_won, deal_upsell" in page


def test_import_and_write_keys(app, login_as):
    client = login_as("manager")
    token = csrf_token(client)
    csv = (
        b"event_id,type,unit_id,occurred_at,value\n"
        b"e1,call,lead-1,2026-03-01T09:30:00+08:00,\n"
        b"e2,call,lead-1,2026-03-01T09:30:00,\n"
        b"e3,deal,lead-2,2026-03-01T09:30:00+08:00,abc\n"
    )
    r = client.post(
        "/experiments/events/import",
        data={"csrf_token": token, "file": (io.BytesIO(csv), "ev.csv")},
        content_type="multipart/form-data",
    )
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "Give the time zone" in page, page
    m = re.search(r"/experiments/events/imports/(\d+)/errors.csv", page)
    assert m
    r = client.get(m.group(0))
    assert r.status_code == 200 and "errors" in r.get_data(as_text=True)
    r = client.post(
        "/experiments/events/import",
        data={"csrf_token": token, "file": (io.BytesIO(b"a,b\n1,2\n"), "bad.csv")},
        content_type="multipart/form-data",
    )
    assert "Missing columns" in r.get_data(as_text=True)
    r = client.post(
        "/experiments/events/import",
        data={"csrf_token": token},
        content_type="multipart/form-data",
    )
    assert "Choose a CSV file." in r.get_data(as_text=True)
    # write keys
    r = client.post(
        "/experiments/write-keys", data={"csrf_token": token, "name": "CRM"}
    )
    page = r.get_data(as_text=True)
    secret = re.search(r'<code class="secret-value">([^<]+)</code>', page).group(1)
    assert "pg_" in secret or len(secret) > 20
    assert "Set-Cookie" not in r.headers or secret not in r.headers.get(
        "Set-Cookie", ""
    )
    key_id = re.search(r"/experiments/write-keys/(\d+)/revoke", page).group(1)
    # the write key may post events but not see pages
    r = app.test_client().get(
        "/experiments/", headers={"Authorization": f"Bearer {secret}"}
    )
    assert r.status_code in (302, 403)
    r = client.post(
        f"/experiments/write-keys/{key_id}/revoke",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "is revoked" in r.get_data(as_text=True)
