"""Segments: results broken down by a unit attribute or an event property.

Checked against independent references on the same unit-level data: Welch's
t-test (scipy) on each segment's units, the χ² SRM test (scipy), and the
multiple-testing corrections of statsmodels' ``multipletests``; and against the
main analysis itself: one level reproduces it exactly, and the segments' units
add up to its units.
"""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests

from experiments import ingest, results, segments, services
from proving_ground.db import db

START = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
KEY = "price-objection-script"
URL = f"/api/v1/experiments/{KEY}/results"
REGIONS = ("east", "south", "north")


def _load(app, n, attributes, *, seed=7, rates=None, properties=None):
    """Expose ``n`` units with ``attributes(i)``; a unit converts (one deal_won
    three days after exposure, lognormal value) with its region's rate, and
    some had a deal in the 30 days before (the CUPED covariate). ``properties(i)``
    returns events ``(hours after exposure, properties)`` of type ``call``.
    Returns per unit: variant, attributes, converted (0/1), deal value."""
    rng = np.random.default_rng(seed)
    rates = rates or {}
    units = []
    with app.app_context():
        experiment = services.get_experiment(KEY)
        experiment.salt = f"segments-{seed}"
        events = []
        for i in range(n):
            unit = f"u{i}"
            at = START + timedelta(minutes=int(rng.integers(0, 20_000)))
            attrs = attributes(i)
            variant = services.assign(experiment, unit, attrs, at=at)
            base = rates.get(attrs.get("region"), 0.12)
            rate = base * (1.4 if variant == "new_script" else 1.0)
            won = rng.random() < rate
            value = float(np.round(rng.lognormal(11.0, 0.8), 2)) if won else 0.0
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
            if rng.random() < 0.3:
                events.append(
                    {
                        "event_id": f"{unit}-before",
                        "type": "deal_won",
                        "unit_id": unit,
                        "value": float(np.round(rng.lognormal(10.5, 0.5), 2)),
                        "occurred_at": (at - timedelta(days=10)).isoformat(),
                    }
                )
            for j, (hours, props) in enumerate(properties(i) if properties else []):
                events.append(
                    {
                        "event_id": f"{unit}-call{j}",
                        "type": "call",
                        "unit_id": unit,
                        "occurred_at": (at + timedelta(hours=hours)).isoformat(),
                        "properties": props,
                    }
                )
            units.append((variant, attrs, float(won), value))
        for start in range(0, len(events), 1000):
            ingest.ingest(events[start : start + 1000], now=START + timedelta(days=90))
        db.session.commit()
    return units


def _entry(payload, metric, variant="new_script"):
    block = next(m for m in payload["metrics"] if m["metric"] == metric)
    return next(v for v in block["variants"] if v["variant"] == variant)


def _segment(payload, level):
    return next(s for s in payload["segments"] if s["level"] == level)


@pytest.mark.parametrize("query", ["", "&sequential=1&correction=bh", "&cuped=0"])
def test_one_level_reproduces_the_main_results(
    app, make_experiment, manager_api, query
):
    make_experiment()
    _load(app, 900, lambda i: {"team": "all"})
    client, auth = manager_api
    main = client.get(f"{URL}?x=1{query}", headers=auth).json
    response = client.get(f"{URL}?dimension=team{query}", headers=auth)
    assert response.status_code == 200, response.json
    payload = response.json
    assert [s["level"] for s in payload["segments"]] == ["all"]
    only = payload["segments"][0]
    assert only["units"] == sum(main["units"]["per_variant"].values())
    assert only["results"]["metrics"] == main["metrics"]
    assert only["srm"] == main["srm"]
    assert only["results"]["units"]["per_variant"] == main["units"]["per_variant"]
    assert only["results"]["options"] == main["options"]


def test_segment_lift_is_welch_on_the_subset_and_units_add_up(
    app, make_experiment, manager_api
):
    make_experiment(analysis={"alpha": 0.05, "cuped": False, "sequential": False})
    units = _load(
        app,
        2400,
        # every 7th unit has no region: the "(none)" segment
        lambda i: {} if i % 7 == 0 else {"region": REGIONS[i % 3]},
        rates={"east": 0.10, "south": 0.15, "north": 0.20},
    )
    client, auth = manager_api
    payload = client.get(f"{URL}?dimension=region&correction=none", headers=auth).json
    main = client.get(URL, headers=auth).json
    assert payload["dimension"] == "region" and payload["source"] == "attribute"
    assert payload["warning"] == "SEGMENTS_EXPLORATORY"
    assert payload["units"] == sum(main["units"]["per_variant"].values()) == 2400
    assert sum(s["units"] for s in payload["segments"]) == 2400
    levels = [s["level"] for s in payload["segments"]]
    # by units, then "(none)"; no "(other)" segment as there are only three levels
    assert levels[-1] == "(none)" and set(levels[:-1]) == set(REGIONS)
    sizes = [s["units"] for s in payload["segments"][:-1]]
    assert sizes == sorted(sizes, reverse=True)
    for region in (*REGIONS, None):
        level = region or "(none)"
        segment = _segment(payload, level)
        mine = [u for u in units if u[1].get("region") == region]
        assert segment["units"] == len(mine)
        for metric, column in (("converted", 2), ("deal_value", 3)):
            control = np.array([u[column] for u in mine if u[0] == "control"])
            treatment = np.array([u[column] for u in mine if u[0] == "new_script"])
            welch = scipy_stats.ttest_ind(treatment, control, equal_var=False)
            interval = welch.confidence_interval(0.95)
            entry = _entry(segment["results"], metric)
            assert entry["n"] == treatment.size
            assert entry["absolute"]["estimate"] == pytest.approx(
                treatment.mean() - control.mean(), rel=1e-9
            )
            assert entry["absolute"]["ci_low"] == pytest.approx(interval.low, rel=1e-6)
            assert entry["absolute"]["ci_high"] == pytest.approx(
                interval.high, rel=1e-6
            )
            assert entry["absolute"]["p_value"] == pytest.approx(welch.pvalue, rel=1e-6)
            assert entry["adjusted_p_value"] == pytest.approx(welch.pvalue, rel=1e-6)
        counts = [sum(1 for u in mine if u[0] == v) for v in ("control", "new_script")]
        chi2 = scipy_stats.chisquare(counts)
        assert segment["srm"]["p_value"] == pytest.approx(chi2.pvalue, rel=1e-9)


@pytest.mark.parametrize("method,reference", [("holm", "holm"), ("bh", "fdr_bh")])
def test_correction_runs_across_all_segments_shown(
    app, make_experiment, manager_api, method, reference
):
    make_experiment(analysis={"alpha": 0.05, "cuped": False, "sequential": False})
    _load(app, 1500, lambda i: {"region": REGIONS[i % 3]}, rates={"north": 0.2})
    client, auth = manager_api
    raw = client.get(f"{URL}?dimension=region&correction=none", headers=auth).json
    adjusted = client.get(
        f"{URL}?dimension=region&correction={method}", headers=auth
    ).json
    assert adjusted["correction"] == method
    cells = [
        (s["level"], m["metric"])
        for s in raw["segments"]
        for m in s["results"]["metrics"]
    ]
    p_raw = [
        _entry(_segment(raw, level)["results"], metric)["absolute"]["p_value"]
        for level, metric in cells
    ]
    expected = multipletests(p_raw, method=reference)[1]
    got = [
        _entry(_segment(adjusted, level)["results"], metric)["adjusted_p_value"]
        for level, metric in cells
    ]
    assert len(got) == 6
    assert got == pytest.approx(list(expected), rel=1e-9)


def test_top_twenty_levels_and_the_rest_pooled(app, make_experiment, manager_api):
    make_experiment(analysis={"alpha": 0.05, "cuped": False, "sequential": False})

    def rep(i):
        # rep-00 … rep-24 with 25 … 1 units each (325 units), then 30 without
        if i >= 325:
            return {"region": "east"}
        seen = 0
        for r in range(25):
            seen += 25 - r
            if i < seen:
                return {"rep_id": f"rep-{r:02d}"}

    _load(app, 355, rep)
    client, auth = manager_api
    payload = client.get(f"{URL}?dimension=rep_id", headers=auth).json
    levels = [(s["level"], s["kind"], s["units"]) for s in payload["segments"]]
    assert levels[:20] == [(f"rep-{r:02d}", "level", 25 - r) for r in range(20)]
    assert levels[20:] == [
        ("(other)", "other", 5 + 4 + 3 + 2 + 1),
        ("(none)", "none", 30),
    ]
    assert payload["levels"] == 25
    assert "SEGMENT_LEVELS_POOLED" in payload["notes"]
    assert sum(s["units"] for s in payload["segments"]) == 355


def test_event_property_level_is_the_earliest_in_the_window(
    app, make_experiment, manager_api
):
    make_experiment()

    def calls(i):
        if i % 4 == 0:  # no call: "(none)"
            return []
        if i % 4 == 1:  # the earliest call in the window carries "inbound"
            return [(30, {"channel": "outbound"}), (2, {"channel": "inbound"})]
        if i % 4 == 2:  # a call before exposure and one after the window are out
            return [(-5, {"channel": "inbound"}), (24 * 31, {"channel": "inbound"})]
        return [(1, {"other": 1}), (3, {"channel": "outbound"})]

    _load(app, 400, lambda i: {}, properties=calls)
    client, auth = manager_api
    dimensions = client.get(f"{URL}/dimensions", headers=auth).json
    assert {"name": "event.channel", "source": "event", "key": "channel"} in (
        dimensions
    )
    payload = client.get(f"{URL}?dimension=event.channel", headers=auth).json
    assert payload["source"] == "event"
    assert "SEGMENT_AFTER_EXPOSURE" in payload["notes"]
    units = {s["level"]: s["units"] for s in payload["segments"]}
    assert units == {"inbound": 100, "outbound": 100, "(none)": 200}


def test_unknown_dimension_is_refused_and_dimensions_are_listed(
    app, make_experiment, manager_api
):
    make_experiment()
    _load(app, 50, lambda i: {"region": REGIONS[i % 3], "big": i % 2 == 0})
    client, auth = manager_api
    for name in ("nope", "", "event.nope"):
        response = client.get(f"{URL}?dimension={name}", headers=auth)
        assert response.status_code == 400, name
        assert set(response.json["error"]["fields"]) == {"dimension"}
    listed = client.get(f"{URL}/dimensions", headers=auth).json
    assert [d["name"] for d in listed] == ["big", "region"]
    # booleans read alike on both databases
    payload = client.get(f"{URL}?dimension=big", headers=auth).json
    assert {s["level"] for s in payload["segments"]} == {"true", "false"}
    # the plain results are unchanged by the new argument's existence
    assert "segments" not in client.get(URL, headers=auth).json


def test_pre_registered_dimension_is_said_so(app, make_experiment, manager_api):
    make_experiment(
        decision_criteria={
            "success": "Conversion +2 points overall and in every region",
            "early_stop": "Deal value down 10% or more",
        }
    )
    _load(app, 60, lambda i: {"region": REGIONS[i % 3], "industry": "retail"})
    client, auth = manager_api
    region = client.get(f"{URL}?dimension=region", headers=auth).json
    assert region["warning"] == "SEGMENTS_PRE_REGISTERED"
    assert region["pre_registered_in"] == ["success_criteria"]
    industry = client.get(f"{URL}?dimension=industry", headers=auth).json
    assert industry["warning"] == "SEGMENTS_EXPLORATORY"
    with app.app_context():
        experiment = services.get_experiment(KEY)
        dimension = segments.dimension_of(experiment, "region")
        assert segments.pre_registered_in(experiment, dimension) == ["success_criteria"]


def test_segments_are_cached_until_new_data(app, make_experiment, manager_api):
    make_experiment()
    _load(app, 100, lambda i: {"region": REGIONS[i % 3]})
    with app.app_context():
        experiment = services.get_experiment(KEY)
        options = results.Options.of(experiment)
        first = segments.segment_results(experiment, options, "region")
        again = segments.segment_results(experiment, options, "region")
        assert again["computed_at"] == first["computed_at"]
        db.session.commit()


def test_results_page_shows_segments(app, make_experiment, login_as):
    make_experiment()
    _load(app, 300, lambda i: {"region": REGIONS[i % 3]})
    client = login_as("manager")
    page = client.get(f"/experiments/{KEY}/results?dimension=region")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="segments"' in html and "south" in html
    assert "flash-warning" in html.split('id="segments"')[1]
    bad = client.get(f"/experiments/{KEY}/results?dimension=nope")
    assert bad.status_code == 200
    assert "No unit attribute or event property" in bad.get_data(as_text=True)
