"""Attribution end to end: exposures and events in the database → the attribution
service → API and page, pinned to the pure statistics (stats.attribution,
stats.multilevel) run on the same data as the test generated it: the paths
the test knows each unit walked, its outcome, rep and customer."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from experiments import analysis, attribution, ingest, services
from experiments.stats import SampleStats, messages, multilevel
from experiments.stats import attribution as touch_stats
from experiments.stats.attribution import METHODS, attribute, path_from_events
from proving_ground.db import db

START = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
KEY = "price-objection-script"
URL = f"/api/v1/experiments/{KEY}/attribution"
WINDOW = timedelta(days=30)
REPS = [f"rep-{i}" for i in range(1, 7)]


def _load(app, *, units=360, seed=7):
    """Expose ``units`` leads of 120 customers (each served by one of six reps)
    with touchpoints before, inside and after the 30-day window, some of them
    converting; returns what the test knows of every unit."""
    rng = np.random.default_rng(seed)
    customers = [
        (f"cust-{c:03d}", REPS[c % 6], "Key account" if c % 4 == 0 else "SMB")
        for c in range(120)
    ]
    truth = []
    with app.app_context():
        experiment = services.get_experiment(KEY)
        experiment.salt = f"attribution-{seed}"
        events = []
        for i in range(units):
            unit = f"lead-{i:04d}"
            customer, rep, kind = customers[int(rng.integers(0, len(customers)))]
            at = START + timedelta(seconds=int(rng.integers(0, 20 * 86400)))
            variant = services.assign(
                experiment,
                unit,
                {"rep_id": rep, "rep_name": f"Rep {rep}", "customer_type": kind},
                at=at,
            )
            touches = [("call", at + timedelta(hours=1), None)]
            for _ in range(int(rng.integers(0, 6))):
                kind_of = ["call", "email", "visit", "note"][int(rng.integers(0, 4))]
                offset = timedelta(seconds=int(rng.integers(-5 * 86400, 36 * 86400)))
                flag = None
                if kind_of == "visit" and rng.random() < 0.4:
                    flag = "follow_up_visit"
                elif kind_of == "email" and rng.random() < 0.2:
                    flag = False
                elif kind_of == "note":
                    flag = bool(rng.random() < 0.5)
                touches.append((kind_of, at + offset, flag))
            visits = sum(k == "visit" for k, _, _ in touches)
            rate = 0.15 + 0.1 * visits + (0.1 if variant == "new_script" else 0.0)
            won_at = None
            if rng.random() < rate:
                won_at = at + timedelta(seconds=int(rng.integers(86400, 28 * 86400)))
                events.append(_event(f"{unit}-won", "deal_won", unit, won_at, rep))
                events[-1].update(customer_id=customer, value=50_000.0)
            for number, (kind_of, when, flag) in enumerate(touches):
                event = _event(f"{unit}-t{number}", kind_of, unit, when, rep)
                event["customer_id"] = customer
                if flag is not None:
                    event["properties"] = {"touchpoint": flag}
                events.append(event)
            end = won_at or at + WINDOW
            path = [
                (flag if isinstance(flag, str) else kind_of, when)
                for kind_of, when, flag in touches
                if at <= when < end
                and flag is not False
                and (kind_of != "note" or flag is True)
            ]
            truth.append(
                {
                    "unit": unit,
                    "variant": variant,
                    "rep": rep,
                    "customer": customer,
                    "segment": kind,
                    "won": won_at is not None,
                    "path": path_from_events(
                        path, converted=won_at is not None, end=end
                    ),
                }
            )
        rng.shuffle(events)  # the service must order each path by time itself
        result = ingest.ingest(
            [{**e, "occurred_at": e["occurred_at"].isoformat()} for e in events],
            now=START + timedelta(days=90),
        )
        assert not result.rejected, result.rejected[:3]
        db.session.commit()
    return truth


def _event(event_id, kind, unit, at, rep):
    return {
        "event_id": event_id,
        "type": kind,
        "unit_id": unit,
        "rep_id": rep,
        "occurred_at": at,
    }


@pytest.fixture
def loaded(app, make_experiment):
    make_experiment()
    return _load(app)


def test_api_shares_equal_the_pure_functions_on_the_same_paths(loaded, manager_api):
    client, auth = manager_api
    response = client.get(f"{URL}?half_life=3", headers=auth)
    assert response.status_code == 200, response.json
    payload = response.json
    assert payload["half_life"] == 3.0
    for variant in ("control", "new_script"):
        expected = attribute(
            [u["path"] for u in loaded if u["variant"] == variant], half_life=3.0
        )
        got = payload["touchpoints"][variant]
        assert set(got) == set(METHODS)
        for method in METHODS:
            assert got[method] == pytest.approx(expected.methods[method].shares, 1e-12)
            assert sum(got[method].values()) == pytest.approx(1.0, abs=1e-12)
        details = payload["touchpoint_details"][variant]
        assert details["conversions"] == sum(
            u["won"] for u in loaded if u["variant"] == variant
        )
    # The property ``touchpoint`` names a type, or keeps an event in or out.
    types = set(payload["touchpoint_details"]["control"]["types"])
    types |= set(payload["touchpoint_details"]["new_script"]["types"])
    assert types == {"call", "email", "visit", "follow_up_visit", "note"}


def test_a_units_path_respects_the_window_and_time_order(app, make_experiment):
    make_experiment()
    at = START
    events = [
        ("before", "visit", at - timedelta(days=1)),
        ("second", "email", at + timedelta(days=3)),
        ("first", "call", at + timedelta(days=1)),
        ("won", "deal_won", at + timedelta(days=5)),
        ("after-won", "visit", at + timedelta(days=6)),
        ("later-win", "deal_won", at + timedelta(days=8)),
        ("outside", "call", at + timedelta(days=31)),
    ]
    open_events = [
        ("o1", "visit", at + timedelta(days=29, hours=23)),
        ("o2", "call", at + timedelta(days=30, minutes=1)),
        ("o0", "wechat", at + timedelta(hours=2)),
    ]
    with app.app_context():
        experiment = services.get_experiment(KEY)
        services.assign(experiment, "won-lead", {"rep_id": "rep-1"}, at=at)
        services.assign(experiment, "open-lead", {"rep_id": "rep-1"}, at=at)
        rows = [
            _event(name, kind, "won-lead", when, "rep-1") for name, kind, when in events
        ] + [
            _event(name, kind, "open-lead", when, "rep-1")
            for name, kind, when in open_events
        ]
        ingest.ingest(
            [{**e, "occurred_at": e["occurred_at"].isoformat()} for e in rows],
            now=START + timedelta(days=90),
        )
        experiment = services.get_experiment(KEY)
        data = {
            u.unit_id: u
            for u in attribution.units(experiment, attribution.Options.of(experiment))
        }
        won = data["won-lead"].path(30)
        assert won.touches == ("call", "email") and won.converted
        assert won.ages == pytest.approx((4.0, 2.0))
        still_open = data["open-lead"].path(30)
        assert still_open.touches == ("wechat", "visit") and not still_open.converted
        assert still_open.ages == pytest.approx((30 - 2 / 24, 1 / 24))
        assert data["won-lead"].rep == "rep-1" and data["won-lead"].outcome == 1.0


def test_variance_decomposition_and_per_rep_effects_match_the_pure_functions(
    app, loaded, manager_api
):
    client, auth = manager_api
    payload = client.get(URL, headers=auth).json
    outcome = [float(u["won"]) for u in loaded]
    cells = multilevel.cells_from_units(
        outcome,
        [u["variant"] for u in loaded],
        [u["rep"] for u in loaded],
        [u["customer"] for u in loaded],
    )
    fit = multilevel.variance_decomposition(cells, "control", linear_probability=True)
    assert payload["levels"] == pytest.approx(fit.levels, rel=1e-9)
    assert sum(payload["levels"].values()) == pytest.approx(1.0)
    effect = fit.treatment_effects["new_script"]
    assert payload["treatment_effect"]["new_script"]["estimate"] == pytest.approx(
        effect.estimate, rel=1e-9
    )
    assert payload["variance"]["nested"] is True
    assert messages.LINEAR_PROBABILITY_MODEL in payload["notes"]

    def arms(key):
        pairs = {}
        for group in sorted({u[key] for u in loaded}):
            values = [
                [
                    float(u["won"])
                    for u in loaded
                    if u[key] == group and u["variant"] == v
                ]
                for v in ("control", "new_script")
            ]
            pairs[group] = tuple(SampleStats.from_values(v) for v in values)
        return multilevel.shrink_effects(pairs)

    reps = arms("rep")
    assert [r["rep"] for r in payload["reps"]] == [g.group for g in reps.groups]
    for entry, group in zip(payload["reps"], reps.groups, strict=True):
        assert entry["name"] == f"Rep {group.group}"
        assert entry["raw"]["estimate"] == pytest.approx(group.raw.estimate, rel=1e-9)
        assert entry["shrunk"]["estimate"] == pytest.approx(
            group.shrunk.estimate, rel=1e-9
        )
        assert entry["shrunk"]["ci_low"] == pytest.approx(group.shrunk.ci_low, rel=1e-9)
    segments = arms("segment")
    assert payload["segments"]["dimension"] == "customer_type"
    assert [g["segment"] for g in payload["segments"]["groups"]] == [
        g.group for g in segments.groups
    ]
    # The outcomes are the rollup's: the same per-variant sums as the results.
    with app.app_context():
        experiment = services.get_experiment(KEY)
        metric = experiment.metrics("primary")[0]
        stats = analysis.variant_stats(experiment, metric)
    for variant in ("control", "new_script"):
        won = [u["won"] for u in loaded if u["variant"] == variant]
        assert (stats[variant].n, stats[variant].sum) == (len(won), sum(won))


def test_results_are_cached_until_new_data(app, loaded, manager_api):
    client, auth = manager_api
    first = client.get(URL, headers=auth).json
    assert client.get(URL, headers=auth).json["computed_at"] == first["computed_at"]
    other = client.get(f"{URL}?half_life=2", headers=auth).json
    assert other["computed_at"] != first["computed_at"]
    late = _event("late", "call", loaded[0]["unit"], START + timedelta(days=2), "r")
    with app.app_context():
        ingest.ingest(
            [{**late, "occurred_at": late["occurred_at"].isoformat()}],
            now=START + timedelta(days=90),
        )
        db.session.commit()
    assert client.get(URL, headers=auth).json["computed_at"] != first["computed_at"]


@pytest.mark.parametrize(
    "query, field",
    [("metric=nope", "metric"), ("half_life=0", "half_life"), ("segment=x", "segment")],
)
def test_bad_arguments_name_their_field(make_experiment, manager_api, query, field):
    make_experiment()
    client, auth = manager_api
    response = client.get(f"{URL}?{query}", headers=auth)
    assert response.status_code == 422
    assert field in response.json["error"]["fields"]


def test_any_role_may_read_it_and_it_is_documented(app, loaded, login_as):
    assert app.test_client().get(URL).status_code == 401
    member = login_as("member")
    assert member.get(URL).status_code == 200
    paths = app.test_client().get("/api/v1/openapi.json").json["paths"]
    assert "/api/v1/experiments/{key}/attribution" in paths


def test_without_data_the_payload_says_why(make_experiment, manager_api):
    make_experiment()
    client, auth = manager_api
    payload = client.get(URL, headers=auth).json
    assert payload["levels"] is None and payload["units"] == 0
    assert messages.NO_UNITS in payload["notes"]
    assert messages.NO_CONVERSIONS in payload["notes"]
    assert payload["touchpoints"]["control"]["markov"] == {}


@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_the_attribution_tab_renders(app, loaded, login_as, language):
    member = login_as("member", locale=language)
    page = member.get(f"/experiments/{KEY}/results?tab=attribution")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for chart in ("variance-chart", "reps-chart", "touchpoints-chart"):
        assert f'id="{chart}"' in html
    assert "attribution.js" in html
    # The notes come from stats.messages in the reader's language.
    note = messages.message(messages.LINEAR_PROBABILITY_MODEL, language)
    assert note.split("：")[0].split(":")[0] in html


def test_every_reason_code_has_both_sentences():
    codes = [
        touch_stats.NO_CONVERSIONS,
        touch_stats.NO_TOUCHPOINTS,
        touch_stats.NO_TIMESTAMPS,
        touch_stats.TOO_MANY_TYPES,
        multilevel.LINEAR_PROBABILITY_MODEL,
        multilevel.CUSTOMERS_SPLIT_BY_REP,
        multilevel.CUSTOMER_LEVEL_NOT_IDENTIFIED,
        multilevel.MODEL_NOT_CONVERGED,
        multilevel.TOO_FEW_GROUPS,
        messages.RATIO_NUMERATOR,
        messages.NO_UNITS,
        messages.UNITS_WITHOUT_REP,
    ]
    for code in codes:
        assert set(messages.MESSAGES[code]) == {"en", "zh_CN"}
        assert messages.message(code, "zh_CN") != messages.message(code, "en")
