"""Experiment designs, their lifecycle, assignment and sample-size planning."""

import io
import math

import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import experiment_body
from scipy.stats import norm
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import proportion_effectsize

from experiments import services
from experiments.models import Exposure
from proving_ground.audit.models import AuditEvent
from proving_ground.db import db


def test_issue_example_creates_a_draft(manager_api, make_metrics):
    make_metrics()
    client, auth = manager_api
    response = client.post(
        "/api/v1/experiments",
        json={
            "key": "price-objection-script",
            "name": "价格异议话术",
            "hypothesis": "If reps use the value script, then more leads convert, "
            "because price is reframed as value.",
            "unit_type": "lead",
            "variants": [
                {"key": "control", "weight": 0.5},
                {"key": "new_script", "weight": 0.5},
            ],
            "primary_metrics": ["converted"],
            "secondary_metrics": ["deal_value"],
            "guardrail_metrics": [],
            "analysis": {"alpha": 0.05, "cuped": True, "sequential": False},
        },
        headers=auth,
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["status"] == "draft" and body["planned_duration_days"] == 14
    assert body["hypothesis"] == {
        "if": "reps use the value script",
        "then": "more leads convert",
        "because": "price is reframed as value",
    }
    assert [v["control"] for v in body["variants"]] == [True, False]
    failing = {
        i["key"] for i in body["launch_checklist"] if i["required"] and not i["ok"]
    }
    assert failing == {"success_criteria", "early_stop_criteria"}


def test_chinese_hypothesis_sentence_is_parsed():
    from proving_ground.validation import Problems

    parts = services.parse_hypothesis(
        "如果销售使用新话术，那么转化率提升，因为价格被重构为价值。", Problems()
    )
    assert parts == {
        "if": "销售使用新话术",
        "then": "转化率提升",
        "because": "价格被重构为价值",
    }


@pytest.mark.parametrize(
    ("variants", "field"),
    [
        ([{"key": "a", "weight": 0.5}, {"key": "b", "weight": 0.5}], "variants"),
        ([{"key": "control", "weight": 0.6}, {"key": "b", "weight": 0.6}], "variants"),
        (
            [{"key": "control", "weight": 0.5}, {"key": "control", "weight": 0.5}],
            "variants.1.key",
        ),
        (
            [{"key": "control", "weight": 1.5}, {"key": "b", "weight": -0.5}],
            "variants.0.weight",
        ),
        ([{"key": "control", "weight": 1.0}], "variants"),
        ("control", "variants"),
    ],
)
def test_variant_rules(manager_api, make_metrics, variants, field):
    make_metrics()
    client, auth = manager_api
    response = client.post(
        "/api/v1/experiments", json=experiment_body(variants=variants), headers=auth
    )
    assert response.status_code == 422, response.json
    assert field in response.json["error"]["fields"]


def test_explicit_control_flag(manager_api, make_metrics):
    make_metrics()
    client, auth = manager_api
    variants = [
        {"key": "current", "weight": 0.4, "control": True},
        {"key": "new", "weight": 0.6},
    ]
    response = client.post(
        "/api/v1/experiments", json=experiment_body(variants=variants), headers=auth
    )
    assert response.status_code == 201
    assert [v["control"] for v in response.json["variants"]] == [True, False]


def test_unknown_metric_and_bad_analysis(manager_api, make_metrics):
    make_metrics()
    client, auth = manager_api
    response = client.post(
        "/api/v1/experiments",
        json=experiment_body(
            primary_metrics=["nope"], analysis={"alpha": 2, "power": 0.1, "mde": -1}
        ),
        headers=auth,
    )
    fields = response.json["error"]["fields"]
    assert {
        "primary_metrics",
        "analysis.alpha",
        "analysis.power",
        "analysis.mde",
    } <= set(fields)


def test_lifecycle_is_audited(app, manager_api, make_experiment):
    client, auth = manager_api
    make_experiment(start=False)
    key = "price-objection-script"
    assert (
        client.post(f"/api/v1/experiments/{key}/stop", headers=auth).status_code == 409
    )
    for action, status in [
        ("start", "running"),
        ("pause", "paused"),
        ("start", "running"),
        ("stop", "stopped"),
        ("archive", "archived"),
    ]:
        response = client.post(f"/api/v1/experiments/{key}/{action}", headers=auth)
        assert response.status_code == 200, (action, response.json)
        assert response.json["status"] == status
    with app.app_context():
        actions = db.session.scalars(
            sa.select(AuditEvent.action)
            .where(AuditEvent.target == f"experiment:{key}")
            .order_by(AuditEvent.id)
        ).all()
    assert actions == [
        "experiment.created",
        "experiment.start",
        "experiment.pause",
        "experiment.start",
        "experiment.stop",
        "experiment.archive",
    ]


def test_design_locks_once_running_and_restart_unlocks(
    app, manager_api, make_experiment
):
    client, auth = manager_api
    make_experiment()
    key = "price-objection-script"
    locked = client.patch(
        f"/api/v1/experiments/{key}",
        json={
            "variants": [
                {"key": "control", "weight": 0.3},
                {"key": "new_script", "weight": 0.7},
            ]
        },
        headers=auth,
    )
    assert locked.status_code == 409 and "variants" in locked.json["error"]["fields"]
    renamed = client.patch(
        f"/api/v1/experiments/{key}", json={"name": "新名字"}, headers=auth
    )
    assert renamed.status_code == 200
    no_reason = client.post(f"/api/v1/experiments/{key}/restart", headers=auth)
    assert no_reason.status_code == 422
    restarted = client.post(
        f"/api/v1/experiments/{key}/restart",
        json={"reason": "weights were wrong"},
        headers=auth,
    )
    assert restarted.json["status"] == "draft" and restarted.json["run"] == 2
    changed = client.patch(
        f"/api/v1/experiments/{key}",
        json={
            "variants": [
                {"key": "control", "weight": 0.3},
                {"key": "new_script", "weight": 0.7},
            ]
        },
        headers=auth,
    )
    assert changed.status_code == 200


def test_only_owner_or_admin_changes_an_experiment(
    app, make_experiment, make_user, make_token
):
    make_experiment(start=False)
    client = app.test_client()
    other = {"Authorization": f"Bearer {make_token(make_user('manager'))}"}
    admin = {"Authorization": f"Bearer {make_token(make_user('admin'))}"}
    url = "/api/v1/experiments/price-objection-script"
    assert client.patch(url, json={"name": "x"}, headers=other).status_code == 403
    assert client.post(f"{url}/start", headers=other).status_code == 403
    assert client.patch(url, json={"name": "x"}, headers=admin).status_code == 200


def test_assignment_is_deterministic_sticky_and_recorded_once(
    app, manager_api, make_experiment
):
    client, auth = manager_api
    make_experiment()
    url = "/api/v1/experiments/price-objection-script/assign"
    first = [
        client.post(url, json={"unit_id": f"lead-{i}"}, headers=auth).json["variant"]
        for i in range(200)
    ]
    again = [
        client.post(url, json={"unit_id": f"lead-{i}"}, headers=auth).json["variant"]
        for i in range(200)
    ]
    assert first == again
    assert set(first) == {"control", "new_script"}
    with app.app_context():
        experiment = services.get_experiment("price-objection-script")
        assert first == [
            services.splitter(experiment).variant(f"lead-{i}") for i in range(200)
        ]
        assert (
            db.session.scalar(sa.select(sa.func.count()).select_from(Exposure)) == 200
        )


def test_assign_refused_unless_running(manager_api, make_experiment):
    client, auth = manager_api
    make_experiment(start=False)
    response = client.post(
        "/api/v1/experiments/price-objection-script/assign",
        json={"unit_id": "l1"},
        headers=auth,
    )
    assert response.status_code == 409
    missing = client.post(
        "/api/v1/experiments/price-objection-script/assign", json={}, headers=auth
    )
    assert missing.status_code == 422 and "unit_id" in missing.json["error"]["fields"]


def test_cluster_randomisation_gives_a_rep_one_variant(manager_api, make_experiment):
    client, auth = manager_api
    make_experiment(randomisation="cluster", cluster_attribute="rep_id")
    url = "/api/v1/experiments/price-objection-script/assign"
    by_rep: dict[str, set[str]] = {}
    for i in range(300):
        rep = f"rep-{i % 6}"
        response = client.post(
            url,
            json={"unit_id": f"lead-{i}", "attributes": {"rep_id": rep}},
            headers=auth,
        )
        by_rep.setdefault(rep, set()).add(response.json["variant"])
    assert all(len(v) == 1 for v in by_rep.values())
    missing = client.post(url, json={"unit_id": "lead-x"}, headers=auth)
    assert (
        missing.status_code == 422
        and "attributes.rep_id" in missing.json["error"]["fields"]
    )


def test_bulk_assignment_csv(app, manager_api, make_experiment):
    client, auth = manager_api
    make_experiment()
    csv = "unit_id,region\nlead-1,华东\nlead-2,华南\n,华北\nlead-1,华东\n"
    response = client.post(
        "/api/v1/experiments/price-objection-script/assignments.csv",
        data={"file": (io.BytesIO(csv.encode()), "leads.csv")},
        headers=auth,
    )
    assert response.status_code == 200 and response.mimetype == "text/csv"
    frame = pd.read_csv(
        io.StringIO(response.get_data(as_text=True)), dtype=str, keep_default_na=False
    )
    assert list(frame.columns) == ["unit_id", "region", "variant", "error"]
    assert frame["variant"][0] == frame["variant"][3] != ""
    assert frame["variant"][2] == "" and frame["error"][2]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Exposure)) == 2


def test_sample_size_for_proportions_matches_statsmodels(app):
    with app.test_request_context():
        plan = services.plan_sample_size(
            baseline=0.12, mde=0.15, alpha=0.05, power=0.8, weekly_units=1000
        )
    effect = proportion_effectsize(0.138, 0.12)
    expected = NormalIndPower().solve_power(effect_size=effect, alpha=0.05, power=0.8)
    assert plan.per_variant == int(-(-expected // 1))
    # Independently: Cohen's h = 2·asin√p₂ − 2·asin√p₁, whose estimate has variance
    # 1/n, so each group needs n = 2·((z₀.₉₇₅ + z₀.₈) / h)² (Cohen 1988, ch. 6).
    h = 2 * math.asin(math.sqrt(0.138)) - 2 * math.asin(math.sqrt(0.12))
    textbook = 2 * ((norm.ppf(0.975) + norm.ppf(0.8)) / h) ** 2
    assert plan.effect_size == pytest.approx(0.0537295, abs=1e-7)
    assert textbook == pytest.approx(5437.65595, abs=1e-3)
    assert plan.per_variant == math.ceil(textbook) == 5438
    assert plan.total == 10876 and plan.weeks == pytest.approx(10.876)


def test_sample_size_for_means_matches_statsmodels(app):
    with app.test_request_context():
        plan = services.plan_sample_size(
            baseline=80_000, mde=0.1, sd=60_000, variants=3
        )
    expected = TTestIndPower().solve_power(
        effect_size=8_000 / 60_000, alpha=0.05, power=0.8
    )
    assert plan.per_variant == int(-(-expected // 1)) == 884
    assert plan.total == 3 * 884 and plan.weeks is None


def test_sample_size_rejects_nonsense(app):
    from proving_ground.validation import Invalid

    with app.test_request_context(), pytest.raises(Invalid) as caught:
        services.plan_sample_size(baseline=0.95, mde=0.1)
    assert "mde" in caught.value.fields
