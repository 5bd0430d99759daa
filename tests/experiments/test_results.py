"""Results end to end: events in the database → sufficient statistics → engine →
API, checked against scipy on the same unit-level data; recommendation rules,
the cache, decisions and action items."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import sqlalchemy as sa
from conftest import experiment_body
from scipy import stats as scipy_stats

from experiments import ingest, results, services
from experiments.models import ExperimentDecision
from proving_ground.actions.models import ActionItem
from proving_ground.audit.models import AuditEvent
from proving_ground.db import db
from proving_ground.signals import experiment_decided

START = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


def _load(app, key, *, n, p_control, p_treatment, deal_mean=80_000.0, seed=1):
    """Expose ``n`` units, convert them with the given rates, return unit data."""
    rng = np.random.default_rng(seed)
    data = {"control": [], "new_script": []}
    with app.app_context():
        experiment = services.get_experiment(key)
        # A fixed salt: the same units land in the same variants on every run.
        experiment.salt = f"test-{seed}"
        events = []
        for i in range(n):
            unit = f"{key}-u{i}"
            at = START + timedelta(minutes=int(rng.integers(0, 20_000)))
            variant = services.assign(experiment, unit, at=at)
            rate = p_control if variant == "control" else p_treatment
            won = rng.random() < rate
            value = float(rng.lognormal(np.log(deal_mean), 0.8)) if won else 0.0
            data[variant].append((float(won), value))
            if won:
                events.append(
                    {
                        "event_id": f"{unit}-won",
                        "type": "deal_won",
                        "unit_id": unit,
                        "value": value,
                        "occurred_at": (at + timedelta(days=3)).isoformat(),
                    }
                )
        for start in range(0, len(events), 1000):
            ingest.ingest(events[start : start + 1000], now=START + timedelta(days=90))
        db.session.commit()
    return {k: np.array(v) for k, v in data.items()}


def _variant(payload, metric, variant="new_script"):
    block = next(m for m in payload["metrics"] if m["metric"] == metric)
    return next(v for v in block["variants"] if v["variant"] == variant)


def test_results_match_scipy_on_the_unit_data(app, make_experiment, manager_api):
    make_experiment(analysis={"alpha": 0.05, "cuped": False, "sequential": False})
    data = _load(
        app, "price-objection-script", n=1500, p_control=0.12, p_treatment=0.16
    )
    client, auth = manager_api
    response = client.get(
        "/api/v1/experiments/price-objection-script/results?correction=none",
        headers=auth,
    )
    assert response.status_code == 200, response.json
    payload = response.json
    for metric, column in (("converted", 0), ("deal_value", 1)):
        control, treatment = data["control"][:, column], data["new_script"][:, column]
        welch = scipy_stats.ttest_ind(treatment, control, equal_var=False)
        interval = welch.confidence_interval(0.95)
        entry = _variant(payload, metric)
        assert entry["n"] == len(treatment)
        assert entry["mean"] == pytest.approx(treatment.mean(), rel=1e-9)
        assert entry["absolute"]["estimate"] == pytest.approx(
            treatment.mean() - control.mean(), rel=1e-9
        )
        assert entry["absolute"]["p_value"] == pytest.approx(welch.pvalue, rel=1e-6)
        assert entry["absolute"]["ci_low"] == pytest.approx(interval.low, rel=1e-6)
        assert entry["absolute"]["ci_high"] == pytest.approx(interval.high, rel=1e-6)
        assert entry["adjusted_p_value"] == pytest.approx(welch.pvalue, rel=1e-6)
    assert payload["srm"]["flag"] is False
    assert set(payload) >= {"experiment", "computed_at", "srm", "metrics", "warnings"}
    assert payload["recommendation"]["decision"] in {"adopt", "keep_running"}


def test_recommendation_adopts_a_clear_win_and_abandons_harm(
    app, make_experiment, manager_api
):
    client, auth = manager_api
    make_experiment()
    _load(app, "price-objection-script", n=3000, p_control=0.10, p_treatment=0.20)
    payload = client.get(
        "/api/v1/experiments/price-objection-script/results", headers=auth
    ).json
    assert payload["recommendation"]["decision"] == "adopt"
    assert payload["recommendation"]["rule"] == "primary_better"
    # The same data with conversion as a guardrail that must not rise: harm.
    with app.app_context():
        metric = services.get_metric("converted")
        metric.direction = "decrease"
        experiment = services.get_experiment("price-objection-script")
        link = next(m for m in experiment.metric_links if m.metric.key == "converted")
        link.role = "guardrail"
        db.session.commit()
        payload = results.compute(experiment, results.Options.of(experiment))
    assert payload["recommendation"]["rule"] == "guardrail_harmed"
    assert payload["recommendation"]["decision"] == "abandon"


def test_srm_is_flagged(app, make_experiment, manager_api):
    make_experiment()
    with app.app_context():
        experiment = services.get_experiment("price-objection-script")
        rows = [
            {
                "unit_id": f"u{i}",
                "variant_key": "control" if i % 3 else "new_script",
                "first_exposed_at": START,
            }
            for i in range(3000)
        ]
        services.record_exposures(experiment, rows, source="event")
        db.session.commit()
        payload = results.compute(experiment, results.Options.of(experiment))
    assert payload["srm"]["flag"] is True and payload["srm"]["p_value"] < 1e-10
    assert "SRM" in payload["warnings"]
    assert payload["recommendation"]["rule"] == "srm"


def test_results_are_cached_until_new_data(
    app, make_experiment, manager_api, write_key
):
    client, auth = manager_api
    make_experiment()
    _load(app, "price-objection-script", n=300, p_control=0.1, p_treatment=0.1)
    url = "/api/v1/experiments/price-objection-script/results"
    first = client.get(url, headers=auth).json
    assert client.get(url, headers=auth).json["computed_at"] == first["computed_at"]
    client.post(
        "/api/v1/events",
        json=[
            {
                "event_id": "late",
                "type": "deal_won",
                "unit_id": "x",
                "occurred_at": START.isoformat(),
            }
        ],
        headers={"Authorization": f"Bearer {write_key}"},
    )
    assert client.get(url, headers=auth).json["computed_at"] != first["computed_at"]
    other = client.get(url + "?cuped=0&sequential=1&correction=bh", headers=auth).json
    assert other["options"] == {
        "cuped": False,
        "sequential": True,
        "sequential_tuning": None,
        "planned_units": None,
        "alpha": 0.05,
        "correction": "bh",
    }
    bad = client.get(url + "?correction=bonferroni&alpha=2", headers=auth)
    assert bad.status_code == 422
    assert set(bad.json["error"]["fields"]) == {"correction", "alpha"}


def test_sequential_intervals_are_wider(app, make_experiment, manager_api):
    client, auth = manager_api
    make_experiment()
    _load(app, "price-objection-script", n=800, p_control=0.1, p_treatment=0.13)
    url = "/api/v1/experiments/price-objection-script/results?correction=none"
    fixed = _variant(client.get(url, headers=auth).json, "converted")
    always = _variant(client.get(url + "&sequential=1", headers=auth).json, "converted")
    width = lambda e: e["absolute"]["ci_high"] - e["absolute"]["ci_low"]  # noqa: E731
    assert width(always) > width(fixed)
    assert always["absolute"]["p_value"] >= fixed["absolute"]["p_value"]
    assert always["sequential_tuning"] > 0


def test_sequential_tuning_is_the_planned_sample_size(
    app, make_experiment, manager_api
):
    client, auth = manager_api
    make_experiment(analysis={"mde": 0.2, "sequential": True, "planned_units": 1234})
    _load(app, "price-objection-script", n=300, p_control=0.1, p_treatment=0.12)
    url = "/api/v1/experiments/price-objection-script"
    payload = client.get(f"{url}/results", headers=auth).json
    assert payload["options"]["planned_units"] == 1234
    for metric in ("converted", "deal_value"):
        assert _variant(payload, metric)["sequential_tuning"] == 2 * 1234
    # without it, N* falls back to the MDE and the control's observed rate:
    # 2 (z₀.₉₇₅ + z₀.₈)² (p(1 − p) + q(1 − q)) / (p × MDE)², q = p (1 + MDE)
    make_experiment("no-plan", analysis={"mde": 0.2, "sequential": True})
    _load(app, "no-plan", n=300, p_control=0.1, p_treatment=0.12)
    url = "/api/v1/experiments/no-plan"
    payload = client.get(f"{url}/results", headers=auth).json
    assert payload["options"]["planned_units"] is None
    control = _variant(payload, "converted", "control")["mean"]
    treated = control * 1.2
    z = scipy_stats.norm.ppf(0.975) + scipy_stats.norm.ppf(0.8)
    variance = control * (1 - control) + treated * (1 - treated)
    expected = 2 * int(np.ceil(z * z * variance / (control * 0.2) ** 2))
    assert _variant(payload, "converted")["sequential_tuning"] == expected


@pytest.mark.parametrize("planned", [0, -5, 2.5, "100", True])
def test_planned_units_must_be_a_positive_whole_number(
    manager_api, make_metrics, planned
):
    make_metrics()
    client, auth = manager_api
    response = client.post(
        "/api/v1/experiments",
        json=experiment_body(analysis={"planned_units": planned}),
        headers=auth,
    )
    assert response.status_code == 422
    assert "analysis.planned_units" in response.json["error"]["fields"]


def test_decision_is_recorded_audited_and_signalled(app, make_experiment, manager_api):
    client, auth = manager_api
    make_experiment()
    _load(app, "price-objection-script", n=400, p_control=0.1, p_treatment=0.2)
    url = "/api/v1/experiments/price-objection-script"
    body = {"decision": "adopt", "rationale": "主要指标显著提升 Primary metric up"}
    early = client.post(f"{url}/decision", json=body, headers=auth)
    assert early.status_code == 409  # still running
    client.post(f"{url}/stop", headers=auth)
    received = []

    def listener(sender, **kwargs):
        received.append(kwargs)

    experiment_decided.connect(listener)
    try:
        bad = client.post(
            f"{url}/decision", json={"decision": "ship", "rationale": ""}, headers=auth
        )
        assert bad.status_code == 422
        response = client.post(f"{url}/decision", json=body, headers=auth)
    finally:
        experiment_decided.disconnect(listener)
    assert response.status_code == 201, response.json
    assert client.get(url, headers=auth).json["status"] == "decided"
    assert received and received[0]["decision"] == "adopt"
    evidence = received[0]["evidence"]
    assert (
        evidence[0]["metric"] == "converted" and evidence[0]["relative"]["estimate"] > 0
    )
    with app.app_context():
        row = db.session.scalars(sa.select(ExperimentDecision)).one()
        assert row.results["metrics"][0]["metric"] == "converted"
        assert (
            db.session.scalar(
                sa.select(AuditEvent).where(AuditEvent.action == "experiment.decided")
            ).details["decision"]
            == "adopt"
        )


def test_action_items_reach_the_assignee(app, make_experiment, manager_api, make_user):
    from support import login

    client, auth = manager_api
    make_experiment()
    rep = make_user("member", name="张伟")
    response = client.post(
        "/api/v1/experiments/price-objection-script/action-items",
        json={
            "title": "培训华东团队使用新话术",
            "assignee": rep.email,
            "due_on": "2026-12-15",
        },
        headers=auth,
    )
    assert response.status_code == 201, response.json
    missing = client.post(
        "/api/v1/experiments/price-objection-script/action-items",
        json={"title": "", "assignee": "nobody@example.com"},
        headers=auth,
    )
    assert missing.status_code == 422
    assert set(missing.json["error"]["fields"]) == {"title", "assignee"}
    with app.app_context():
        item = db.session.scalars(sa.select(ActionItem)).one()
        assert (
            item.assignee_id == rep.id
            and item.source == "experiment:price-objection-script"
        )
    browser = app.test_client()
    login(browser, rep.email)
    assert "培训华东团队使用新话术" in browser.get("/").get_data(as_text=True)


def test_results_csv(app, make_experiment, manager_api):
    client, auth = manager_api
    make_experiment()
    _load(app, "price-objection-script", n=200, p_control=0.1, p_treatment=0.1)
    response = client.get(
        "/api/v1/experiments/price-objection-script/results.csv", headers=auth
    )
    assert response.mimetype == "text/csv"
    lines = response.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("metric,role,kind,variant,n,mean")
    assert len(lines) == 1 + 2 * 2  # two metrics × two variants


def test_aa_end_to_end_through_the_database(app, make_metrics, manager):
    """25 A/A experiments through exposures, events, SQL and the engine: every
    p-value is scipy's on the same unit data, and false positives stay rare."""
    make_metrics()
    p_values = []
    for k in range(25):
        key = f"aa-{k:02d}"
        with app.app_context():
            experiment = services.create_experiment(
                experiment_body(key, secondary_metrics=[]), actor=manager
            )
            services.transition(experiment, "start", actor=manager)
            db.session.commit()
        data = _load(app, key, n=240, p_control=0.3, p_treatment=0.3, seed=100 + k)
        with app.app_context():
            experiment = services.get_experiment(key)
            payload = results.compute(
                experiment, results.Options.of(experiment, {"correction": "none"})
            )
        entry = _variant(payload, "converted")
        welch = scipy_stats.ttest_ind(
            data["new_script"][:, 0], data["control"][:, 0], equal_var=False
        )
        assert entry["absolute"]["p_value"] == pytest.approx(welch.pvalue, rel=1e-6)
        p_values.append(entry["absolute"]["p_value"])
    assert sum(p < 0.05 for p in p_values) <= 4
