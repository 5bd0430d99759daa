"""The metric catalogue through the API."""

import pytest
from conftest import METRICS


def test_create_and_read_the_issue_example(manager_api):
    client, auth = manager_api
    body = {
        "key": "deal_value",
        "name": {"zh": "成交金额", "en": "Deal value"},
        "kind": "mean",
        "event_type": "deal_won",
        "aggregate": "sum",
        "window_days": 30,
        "cuped_lookback_days": 30,
    }
    created = client.post("/api/v1/metrics", json=body, headers=auth)
    assert created.status_code == 201, created.json
    metric = client.get("/api/v1/metrics/deal_value", headers=auth).json
    assert metric["event_types"] == ["deal_won"]
    assert metric["direction"] == "increase" and metric["capping"] is None
    assert metric["name"] == {"zh": "成交金额", "en": "Deal value"}
    listing = client.get("/api/v1/metrics", headers=auth).json
    assert listing["total"] == 1 and listing["items"][0]["key"] == "deal_value"


def test_ratio_and_capping(manager_api):
    client, auth = manager_api
    response = client.post(
        "/api/v1/metrics",
        json={
            "key": "ai_acceptance",
            "name": {"zh": "AI 建议采纳率", "en": "AI acceptance"},
            "kind": "ratio",
            "event_types": ["ai_suggestion_accepted"],
            "denominator": {"event_type": "ai_suggestion_shown"},
            "capping": {"kind": "percentile", "value": 0.99},
        },
        headers=auth,
    )
    assert response.status_code == 201, response.json
    assert response.json["denominator"] == {
        "event_types": ["ai_suggestion_shown"],
        "aggregate": "count",
    }
    assert response.json["capping"] == {"kind": "percentile", "value": 0.99}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"key": "Bad Key"}, "key"),
        ({"kind": "median"}, "kind"),
        ({"window_days": 400}, "window_days"),
        ({"window_days": "30"}, "window_days"),
        ({"aggregate": "max"}, "aggregate"),
        ({"name": {"zh": "只有中文"}}, "name.en"),
        ({"event_type": ""}, "event_type"),
        ({"capping": {"kind": "percentile", "value": 99}}, "capping.value"),
        ({"cuped_lookback_days": 0}, "cuped_lookback_days"),
        ({"kind": "ratio"}, "denominator"),
        ({"direction": "up"}, "direction"),
    ],
)
def test_validation_names_the_field(manager_api, change, field):
    client, auth = manager_api
    body = {"key": "converted", **METRICS["converted"], **change}
    response = client.post("/api/v1/metrics", json=body, headers=auth)
    assert response.status_code == 422, response.json
    assert field in response.json["error"]["fields"]


def test_duplicate_key_is_a_conflict(manager_api, make_metrics):
    make_metrics("converted")
    client, auth = manager_api
    body = {"key": "converted", **METRICS["converted"]}
    assert client.post("/api/v1/metrics", json=body, headers=auth).status_code == 409


def test_patch_and_lock_while_running(manager_api, make_experiment):
    client, auth = manager_api
    make_experiment(start=False)
    ok = client.patch(
        "/api/v1/metrics/converted", json={"window_days": 60}, headers=auth
    )
    assert ok.status_code == 200 and ok.json["window_days"] == 60
    client.post("/api/v1/experiments/price-objection-script/start", headers=auth)
    locked = client.patch(
        "/api/v1/metrics/converted", json={"window_days": 90}, headers=auth
    )
    assert locked.status_code == 409
    assert "window_days" in locked.json["error"]["fields"]
    renamed = client.patch(
        "/api/v1/metrics/converted",
        json={"name": {"zh": "转化率", "en": "Conversion"}},
        headers=auth,
    )
    assert renamed.status_code == 200  # names may change, definitions may not


def test_members_read_but_cannot_write(app, make_user, make_token, make_metrics):
    make_metrics("converted")
    auth = {"Authorization": f"Bearer {make_token(make_user('member'))}"}
    client = app.test_client()
    assert client.get("/api/v1/metrics/converted", headers=auth).status_code == 200
    body = {"key": "x_metric", **METRICS["converted"]}
    assert client.post("/api/v1/metrics", json=body, headers=auth).status_code == 403
