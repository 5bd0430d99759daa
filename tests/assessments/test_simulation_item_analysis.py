"""Item analysis of a simulation's suggestions: each suggestion an item scored 1
for the right decision (a flawed one edited or rejected, a sound one accepted)
and 0 otherwise, suggestions not reached or unanswered missing; first, last,
best (highest d′) or all attempts; the API, the HR page and its CSV.

The matrices below are written by hand from the decisions each test makes; the
figures are then pinned to ``psychometrics.analyse`` on that hand matrix, and α
on a complete matrix to pingouin."""

import copy
from datetime import timedelta

import numpy as np
import pandas as pd
import pingouin
import pytest
from support import Caller

from assessments import item_analysis, psychometrics
from assessments import simulations as sim
from proving_ground.auth.models import User
from proving_ground.db import db, utcnow

from .test_coaching import scenario_content
from .test_simulations import answers

NAN = np.nan
PAGE = "/assessments/hr/simulations/{key}/item-analysis"
EN = {"Accept-Language": "en"}


def straight_content() -> dict:
    """The test scenario without its branch (t1 → t2 → t3): every coach who
    finishes sees the same six suggestions, so the matrix is complete."""
    content = copy.deepcopy(scenario_content())
    content["turns"] = [t for t in content["turns"] if t["id"] != "t2b"]
    del content["turns"][0]["branches"]
    return content


def create(key: str, content: dict) -> None:
    scenario = sim.create_scenario(
        {"key": key, "title": {"zh": key, "en": key}, "content": content},
        actor=None,
    )
    sim.set_scenario_status(scenario, "published", actor=None)


def sit(key: str, user_id: int, turns, *, finish: bool = True):
    """An attempt answering ``turns`` [(turn id, [(suggestion, decision)…])…];
    handed in early unless the path ends there (``finish=False``: left in
    progress)."""
    me = db.session.get(User, user_id)
    start = utcnow() - timedelta(minutes=5)
    attempt = sim.start_attempt(sim.scenario_by_key(key), me, language="en", now=start)
    now = start
    for turn_id, pairs in turns:
        now += timedelta(seconds=30)
        sim.answer_turn(attempt, turn_id, answers(*pairs), now=now)
    if finish and attempt.status == "in_progress":
        sim.submit_attempt(attempt, now=now + timedelta(seconds=5))
    return attempt


ALL_RIGHT = [
    ("t1", [("s1", "accept"), ("s2", "reject")]),
    ("t2", [("s3", "accept"), ("s4", "edit")]),
    ("t3", [("s7", "accept"), ("s8", "reject")]),
]
#: Wrong everywhere but s2, where the only wrong decision (accept) branches.
MOSTLY_WRONG = [
    ("t1", [("s1", "reject"), ("s2", "edit")]),
    ("t2", [("s3", "edit"), ("s4", "accept")]),
    ("t3", [("s7", "reject"), ("s8", "accept")]),
]
#: Five coaches on the branching scenario; accepting the flawed s2 leads to t2b
#: (s5, s6) instead of t2 (s3, s4). P5 hands in before t3.
SITTINGS = {
    "P1": ALL_RIGHT,
    "P2": [
        ("t1", [("s1", "reject"), ("s2", "accept")]),
        ("t2b", [("s5", "accept"), ("s6", "accept")]),
        ("t3", [("s7", "reject"), ("s8", "accept")]),
    ],
    "P3": [
        ("t1", [("s1", "accept"), ("s2", "accept")]),
        ("t2b", [("s5", "reject"), ("s6", "edit")]),
        ("t3", [("s7", "accept"), ("s8", "edit")]),
    ],
    "P4": [
        ("t1", [("s1", "edit"), ("s2", "reject")]),
        ("t2", [("s3", "accept"), ("s4", "accept")]),
        ("t3", [("s7", "accept"), ("s8", "accept")]),
    ],
    "P5": [
        ("t1", [("s1", "accept"), ("s2", "edit")]),
        ("t2", [("s3", "reject"), ("s4", "reject")]),
    ],
}
ITEMS = ["s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8"]
#: The 0/1 matrix of those first attempts, by hand (NaN: not reached).
FIRST = {
    "P1": [1, 1, 1, 1, NAN, NAN, 1, 1],
    "P2": [0, 0, NAN, NAN, 0, 1, 0, 0],
    "P3": [1, 0, NAN, NAN, 1, 0, 1, 1],
    "P4": [0, 1, 1, 0, NAN, NAN, 1, 0],
    "P5": [1, 1, 0, 1, NAN, NAN, NAN, NAN],
}
SOUND = {"s1", "s3", "s6", "s7"}


@pytest.fixture
def coaches(app, make_user):
    """The branching scenario with the five first attempts of ``SITTINGS``, a
    second attempt for P1 (mostly wrong) and P4 (all right), and an attempt left in
    progress by a sixth coach. Returns name → user id."""
    ids = {name: make_user("manager").id for name in [*SITTINGS, "P6"]}
    with app.app_context():
        create("hospital", scenario_content())
        for name, turns in SITTINGS.items():
            sit("hospital", ids[name], turns)
        sit("hospital", ids["P1"], MOSTLY_WRONG)
        sit("hospital", ids["P4"], ALL_RIGHT)
        sit("hospital", ids["P6"], ALL_RIGHT[:1], finish=False)
        db.session.commit()
    return ids


def hand_matrix(rows: dict[str, list], ids: dict[str, int], items=ITEMS, **kw):
    """The hand-written matrix with the service's row labels (u<user id>), in
    the service's row order (by label), which decides how ties fall into score
    quarters."""
    frame = pd.DataFrame(
        list(rows.values()),
        index=[f"u{ids[name]}" for name in rows],
        columns=items,
        **kw,
    )
    return frame.sort_index()


def decisions(turns) -> dict[str, str]:
    """Suggestion → decision of a sitting."""
    return {item: choice for _turn, pairs in turns for item, choice in pairs}


def right_decisions(item: str) -> set[str]:
    return {"accept"} if item in SOUND else {"edit", "reject"}


def same(actual, expected) -> bool:
    """Equal to 1e-12, recursively; None only against None."""
    if isinstance(expected, dict):
        return set(actual) >= set(expected) and all(
            same(actual[k], v) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return len(actual) == len(expected) and all(
            same(a, e) for a, e in zip(actual, expected, strict=True)
        )
    if isinstance(expected, float):
        return actual is not None and abs(actual - expected) <= 1e-12
    return actual == expected


# --- the matrix and its figures -------------------------------------------------


def test_the_matrix_is_the_hand_written_one_with_missing_cells(app, coaches):
    with app.app_context():
        matrix = item_analysis.scenario_matrix(sim.scenario_by_key("hospital"))
    expected = hand_matrix(FIRST, coaches, dtype=float)
    assert list(matrix.scores.columns) == ITEMS
    pd.testing.assert_frame_equal(
        matrix.scores.loc[expected.index], expected, check_names=False
    )
    assert sorted(matrix.scores.index) == sorted(expected.index)  # not P6
    assert matrix.keys == {item: right_decisions(item) for item in ITEMS}
    p2 = f"u{coaches['P2']}"
    assert matrix.options.loc[p2, "s2"] == "accept"
    assert pd.isna(matrix.options.loc[p2, "s3"])  # not reached


def test_the_figures_are_psychometrics_on_the_hand_matrix(app, coaches):
    with app.app_context():
        out = item_analysis.scenario_item_analysis(sim.scenario_by_key("hospital"))
    scores = hand_matrix(FIRST, coaches, dtype=float)
    options = hand_matrix(
        {
            name: [decisions(SITTINGS[name]).get(item) for item in ITEMS]
            for name in FIRST
        },
        coaches,
        dtype=object,
    )
    expected = psychometrics.analyse(
        scores,
        dict.fromkeys(ITEMS, 1.0),
        options,
        {item: right_decisions(item) for item in ITEMS},
    ).to_dict()
    assert same(out["test"], expected["test"])
    for got, want in zip(out["items"], expected["items"], strict=True):
        flags = want.pop("flags")
        assert same(got, want), got["item"]
        assert [f["code"] for f in got["flags"]] == [f["code"] for f in flags]
    # A few by hand: s1 right for P1, P3, P5 of five; s5 reached by P2 and P3.
    items = {item["item"]: item for item in out["items"]}
    assert items["s1"]["facility"] == pytest.approx(3 / 5, abs=1e-12)
    assert items["s5"]["n"] == 2 and items["s5"]["facility"] == 0.5
    assert out["test"]["n"] == 5
    assert out["test"]["mean"] == pytest.approx(
        np.mean([6 / 6, 1 / 6, 4 / 6, 3 / 6, 3 / 4]), abs=1e-12
    )
    assert {item: items[item]["sound"] for item in ITEMS} == {
        item: item in SOUND for item in ITEMS
    }
    assert items["s4"]["flaws"] == ["invented_fact", "non_compliant_promise"]
    assert items["s5"]["turn"] == "t2b"


def test_first_last_best_and_all_attempts(app, coaches):
    p1, p4 = f"u{coaches['P1']}", f"u{coaches['P4']}"
    with app.app_context():
        scenario = sim.scenario_by_key("hospital")

        def row(mode, label):
            frame = item_analysis.scenario_matrix(scenario, mode).scores
            return frame.loc[label, ["s1", "s2", "s3", "s4", "s7", "s8"]].tolist()

        assert row("first", p1) == [1.0] * 6
        assert row("last", p1) == [0, 1, 0, 0, 0, 0]
        assert row("best", p1) == [1.0] * 6  # the first had the higher d′
        assert row("first", p4) == [0, 1, 1, 0, 1, 0]
        assert row("best", p4) == [1.0] * 6  # the second had the higher d′
        assert row("last", p4) == [1.0] * 6
        everything = item_analysis.scenario_matrix(scenario, "all").scores
        assert len(everything) == 7
        assert everything.loc[f"{p1}#2"].tolist()[:4] == [0, 1, 0, 0]
        assert item_analysis.scenario_item_analysis(scenario, "all")["test"]["n"] == 7
        with pytest.raises(item_analysis.Invalid):
            item_analysis.scenario_matrix(scenario, "median")


def test_alpha_on_a_complete_matrix_matches_pingouin(app, make_user):
    rows = {
        "A": ALL_RIGHT,
        "B": [
            ("t1", [("s1", "reject"), ("s2", "accept")]),
            ("t2", [("s3", "accept"), ("s4", "accept")]),
            ("t3", [("s7", "accept"), ("s8", "edit")]),
        ],
        "C": [
            ("t1", [("s1", "accept"), ("s2", "edit")]),
            ("t2", [("s3", "reject"), ("s4", "reject")]),
            ("t3", [("s7", "reject"), ("s8", "accept")]),
        ],
        "D": [
            ("t1", [("s1", "edit"), ("s2", "accept")]),
            ("t2", [("s3", "edit"), ("s4", "accept")]),
            ("t3", [("s7", "accept"), ("s8", "accept")]),
        ],
        "E": [
            ("t1", [("s1", "accept"), ("s2", "reject")]),
            ("t2", [("s3", "accept"), ("s4", "edit")]),
            ("t3", [("s7", "reject"), ("s8", "reject")]),
        ],
        "F": MOSTLY_WRONG,
    }
    by_hand = {
        "A": [1, 1, 1, 1, 1, 1],
        "B": [0, 0, 1, 0, 1, 1],
        "C": [1, 1, 0, 1, 0, 0],
        "D": [0, 0, 0, 0, 1, 0],
        "E": [1, 1, 1, 1, 0, 1],
        "F": [0, 1, 0, 0, 0, 0],
    }
    items = ["s1", "s2", "s3", "s4", "s7", "s8"]
    ids = {name: make_user("manager").id for name in rows}
    with app.app_context():
        create("straight", straight_content())
        for name, turns in rows.items():
            sit("straight", ids[name], turns)
        db.session.commit()
        out = item_analysis.scenario_item_analysis(sim.scenario_by_key("straight"))
    matrix = hand_matrix(by_hand, ids, items, dtype=float)
    alpha, _ci = pingouin.cronbach_alpha(matrix)
    assert out["test"]["alpha"] == pytest.approx(alpha, abs=1e-9)
    assert out["test"]["kr20"] == pytest.approx(alpha, abs=1e-9)
    assert [item["item"] for item in out["items"]] == items
    assert [item["n"] for item in out["items"]] == [6] * 6


def test_a_scenario_without_submissions_has_an_empty_analysis(app):
    with app.app_context():
        create("quiet", scenario_content())
        db.session.commit()
        out = item_analysis.scenario_item_analysis(sim.scenario_by_key("quiet"))
    assert out["test"]["n"] == 0 and out["items"] == []


# --- API ------------------------------------------------------------------------


def test_the_api_is_for_hr_and_in_openapi(app, coaches, make_user, make_token):
    def caller(role):
        user = make_user(role)
        return Caller(app.test_client(), make_token(user), user, "/api/v1/simulations")

    hr = caller("hr")
    response = hr.get("/hospital/item-analysis?attempts=best")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["attempts"] == "best" and body["test"]["n"] == 5
    s2 = next(item for item in body["items"] if item["item"] == "s2")
    assert s2["sound"] is False and s2["turn"] == "t1"
    assert {o["option"]: o["key"] for o in s2["options"]} == {
        "accept": False,
        "edit": True,
        "reject": True,
    }
    assert hr.get("/hospital/item-analysis?attempts=median").status_code == 422
    assert hr.get("/nowhere/item-analysis").status_code == 404
    assert caller("admin").get("/hospital/item-analysis").status_code == 200
    assert caller("manager").get("/hospital/item-analysis").status_code == 403
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/simulations/{key}/item-analysis"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    name = schema["$ref"].rsplit("/", 1)[-1]
    schemas = spec["components"]["schemas"]
    item = schemas[name]["properties"]["items"]["items"]["$ref"].rsplit("/", 1)[-1]
    properties = schemas[item]["properties"]
    assert {"facility", "discrimination_index", "options", "sound"} <= set(properties)


# --- the page -------------------------------------------------------------------


def test_the_page_shows_suggestions_with_their_truth(app, coaches, login_as):
    hr = login_as("hr")
    response = hr.get(PAGE.format(key="hospital") + "?attempts=all", headers=EN)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<code>s5</code>" in html and "Flawed" in html and "Sound" in html
    assert "Decisions on s2 by score quarter" in html
    assert '<option value="all" selected>' in html
    detail = hr.get("/assessments/hr/simulations/hospital").get_data(as_text=True)
    assert PAGE.format(key="hospital") in detail
    csv = hr.get(PAGE.format(key="hospital") + ".csv?attempts=last")
    assert csv.status_code == 200
    assert "hospital-item-analysis-last.csv" in csv.headers["Content-Disposition"]
    lines = csv.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("item,turn,sound,n,")
    assert lines[1].startswith("s1,t1,true,5,")
    assert login_as("manager").get(PAGE.format(key="hospital")).status_code == 403
    assert hr.get(PAGE.format(key="nowhere")).status_code == 404


def test_the_page_before_any_submission(app, login_as):
    with app.app_context():
        create("quiet", scenario_content())
        db.session.commit()
    response = login_as("hr").get(PAGE.format(key="quiet"), headers=EN)
    assert response.status_code == 200
    assert "No decisions to analyse yet" in response.get_data(as_text=True)
