"""The AI-coaching simulation pages: list, taking, result, grading of coaching
notes and HR authoring."""

import io
import json
import re

import pytest
from support import csrf_token, post_form

from assessments import simulations
from assessments.models import SimulationAttempt
from proving_ground.db import db

KEY = "sim-renewal"
EXPLANATIONS = {
    "s1": "Asking first is the right move here",
    "s2": "Thirty percent breaks the ten percent limit",
    "s3": "There is no such award anywhere",
    "s4": "A reference customer is a real proof",
    "s5": "Escalating is allowed and useful",
    "s6": "A guaranteed uptime of 100 percent is not in the contract",
}


def _text(en: str) -> dict:
    return {"zh": f"中文：{en}", "en": en}


def _suggestion(sid: str, text: str, sound: bool, flaws=()) -> dict:
    out = {
        "id": sid,
        "text": _text(text),
        "sound": sound,
        "explanation": _text(EXPLANATIONS[sid]),
    }
    if not sound:
        out["flaws"] = list(flaws)
    return out


def scenario_data(key: str = KEY) -> dict:
    """Three turns: accepting the flawed s2 branches to t3, otherwise t2."""
    levels = [{"points": p, "description": _text(f"{p} points")} for p in (0, 1, 2)]
    return {
        "key": key,
        "title": _text("SaaS renewal"),
        "time_limit_minutes": 20,
        "max_attempts": 2,
        "content": {
            "persona": {
                "industry": "saas",
                "name": _text("Ms Li"),
                "role": _text("IT procurement manager"),
                "situation": _text("The contract ends next month."),
            },
            "start": "t1",
            "turns": [
                {
                    "id": "t1",
                    "customer": _text("Your price is too high."),
                    "context": _text("At most 10% off on renewal."),
                    "suggestions": [
                        _suggestion("s1", "Ask which features she compares.", True),
                        _suggestion("s2", "Offer her 30% off.", False, ["wrong_price"]),
                    ],
                    "next": "t2",
                    "branches": [
                        {"suggestion": "s2", "decision": "accept", "next": "t3"}
                    ],
                },
                {
                    "id": "t2",
                    "customer": _text("Who else uses you?"),
                    "suggestions": [
                        _suggestion(
                            "s3",
                            "Say we won a national award.",
                            False,
                            ["invented_fact"],
                        ),
                        _suggestion("s4", "Name the reference customer.", True),
                    ],
                },
                {
                    "id": "t3",
                    "customer": _text("Can you guarantee uptime?"),
                    "suggestions": [
                        _suggestion("s5", "Offer to escalate to support.", True),
                        _suggestion(
                            "s6",
                            "Guarantee 100% uptime.",
                            False,
                            ["non_compliant_promise"],
                        ),
                    ],
                },
            ],
            "note_rubric": {
                "criteria": [
                    {"id": "clarity", "name": _text("Clarity"), "levels": levels}
                ]
            },
        },
    }


@pytest.fixture
def scenario(app) -> str:
    with app.app_context():
        created = simulations.create_scenario(scenario_data(), actor=None)
        simulations.set_scenario_status(created, "published", actor=None)
        db.session.commit()
    return KEY


def start(client, key: str = KEY) -> int:
    response = post_form(client, f"/assessments/simulations/{key}/start")
    assert response.status_code == 302, response.get_data(as_text=True)
    match = re.search(r"/simulations/attempts/(\d+)$", response.location)
    assert match, response.location
    return int(match.group(1))


def answer(client, attempt_id: int, turn: str, answers: dict, expect: int = 302):
    """Post a turn: answers = {sid: (decision, flaws, note[, edited])}."""
    data: dict = {"turn": turn}
    for sid, (decision, flaws, note, *edited) in answers.items():
        if decision:
            data[f"decision-{sid}"] = decision
        data[f"flaws-{sid}"] = list(flaws)
        data[f"note-{sid}"] = note
        data[f"edited-{sid}"] = edited[0] if edited else ""
    response = post_form(
        client, f"/assessments/simulations/attempts/{attempt_id}", data
    )
    assert response.status_code == expect, response.get_data(as_text=True)[:2000]
    return response


def truth_leaks(html: str) -> list[str]:
    """Anything on a taking page that gives a suggestion's truth away."""
    found = [text for text in EXPLANATIONS.values() if text in html]
    found += [
        marker
        for marker in ("is-sound", "is-flawed", "verdict-", ">Sound<", ">Flawed<")
        if marker in html
    ]
    return found


def test_list_shows_open_simulations_and_starts_one(scenario, login_as):
    client = login_as("member")
    page = client.get("/assessments/simulations")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "SaaS renewal" in html or "中文：SaaS renewal" in html
    assert "Ms Li" in html
    attempt_id = start(client)
    assert start(client) == attempt_id  # the one in progress is continued
    html = client.get("/assessments/simulations").get_data(as_text=True)
    assert f"/simulations/attempts/{attempt_id}" in html


def test_list_needs_a_sign_in(client):
    response = client.get("/assessments/simulations")
    assert response.status_code in (302, 401)


def test_full_sitting_through_a_branch_shows_the_style(app, scenario, login_as):
    client = login_as("manager")
    client.get("/", headers={"Accept-Language": "en"})
    attempt_id = start(client)
    url = f"/assessments/simulations/attempts/{attempt_id}"
    page = client.get(url).get_data(as_text=True)
    assert "Your price is too high." in page or "中文：Your price is too high." in page
    assert "Turn 1" in page or "第 1 轮" in page
    assert not truth_leaks(page)
    # accepting the flawed s2 leads to t3 (the branch)
    answer(
        client,
        attempt_id,
        "t1",
        {"s1": ("accept", [], ""), "s2": ("accept", [], "Check the price list")},
    )
    page = client.get(url).get_data(as_text=True)
    assert "Can you guarantee uptime?" in page
    assert "Who else uses you?" not in page
    assert "Offer her 30% off." in page  # the conversation so far
    assert not truth_leaks(page)
    response = answer(
        client,
        attempt_id,
        "t3",
        {
            "s5": ("accept", [], ""),
            "s6": ("edit", ["non_compliant_promise"], "", "We aim for 99.9%."),
        },
    )
    assert response.location.endswith(f"{url}/result")
    result = client.get(f"{url}/result")
    html = result.get_data(as_text=True)
    assert result.status_code == 200
    with app.app_context():
        attempt = db.session.get(SimulationAttempt, attempt_id)
        scores = simulations.scores(attempt)
        assert attempt.path == ["t1", "t3"]
    # 1 hit, 1 miss, 2 correct rejections: H = 1.5/3, F = 0.5/3
    assert (scores["hits"], scores["misses"]) == (1, 1)
    label = str(simulations.style_text(scores["style"])["label"])
    assert label in html
    assert EXPLANATIONS["s6"] in html or "中文：" + EXPLANATIONS["s6"] in html
    assert "We aim for 99.9%." in html
    assert "waiting for a grader" in html or "等待" in html


def test_a_form_error_keeps_what_was_typed(scenario, login_as):
    client = login_as("manager")
    attempt_id = start(client)
    response = answer(
        client,
        attempt_id,
        "t1",
        {
            "s1": (None, ["ignores_need"], "A note I wrote"),
            "s2": ("edit", ["wrong_price"], "Second note", ""),
        },
        expect=422,
    )
    html = response.get_data(as_text=True)
    assert "A note I wrote" in html and "Second note" in html
    assert re.search(r'name="flaws-s2" value="wrong_price" checked', html)
    assert re.search(r'name="decision-s2" value="edit" checked', html)
    # each problem sits on its suggestion
    s1 = html[html.index('id="suggestion-s1"') : html.index('id="suggestion-s2"')]
    s2 = html[html.index('id="suggestion-s2"') :]
    assert 'class="errors"' in s1 and 'class="errors"' in s2
    assert not truth_leaks(html)


def test_someone_else_cannot_take_or_see_an_attempt(scenario, login_as):
    owner = login_as("member")
    attempt_id = start(owner)
    other = login_as("member")
    url = f"/assessments/simulations/attempts/{attempt_id}"
    assert other.get(url).status_code == 403
    assert other.get(f"{url}/result").status_code == 403
    # the owner's result page sends them back while in progress
    assert owner.get(f"{url}/result").status_code == 302


def _finish_with_note(client) -> int:
    attempt_id = start(client)
    answer(
        client,
        attempt_id,
        "t1",
        {"s1": ("accept", [], ""), "s2": ("reject", ["wrong_price"], "Never 30%.")},
    )
    answer(
        client,
        attempt_id,
        "t2",
        {"s3": ("reject", ["invented_fact"], ""), "s4": ("accept", [], "")},
    )
    return attempt_id


def test_grading_flow(app, scenario, login_as):
    coach = login_as("manager")
    attempt_id = _finish_with_note(coach)
    assert coach.get("/assessments/simulations/grading").status_code == 403
    hr = login_as("hr")
    queue = hr.get("/assessments/simulations/grading").get_data(as_text=True)
    assert f"/simulations/grading/{attempt_id}" in queue
    page = hr.get(f"/assessments/simulations/grading/{attempt_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Never 30%." in html
    missing = post_form(hr, f"/assessments/simulations/grading/{attempt_id}", {})
    assert missing.status_code == 422
    done = post_form(
        hr,
        f"/assessments/simulations/grading/{attempt_id}",
        {"level-clarity": "1", "comment": "Say why."},
    )
    assert done.status_code == 302
    with app.app_context():
        attempt = db.session.get(SimulationAttempt, attempt_id)
        assert attempt.status == "released"
        assert attempt.note_score == pytest.approx(0.5)
    result = coach.get(f"/assessments/simulations/attempts/{attempt_id}/result")
    assert "50%" in result.get_data(as_text=True)
    assert "Say why." in result.get_data(as_text=True)


def test_trend_appears_after_two_attempts(scenario, login_as):
    client = login_as("manager")
    first = _finish_with_note(client)
    second = _finish_with_note(client)
    html = client.get(f"/assessments/simulations/attempts/{second}/result").get_data(
        as_text=True
    )
    assert f"/simulations/attempts/{first}/result" in html
    one = client.get(f"/assessments/simulations/attempts/{first}/result")
    assert one.status_code == 200
    # both attempts used: no start button
    listing = client.get("/assessments/simulations").get_data(as_text=True)
    assert f"/simulations/{KEY}/start" not in listing


@pytest.mark.parametrize(
    "path",
    [
        "/assessments/hr/simulations",
        "/assessments/hr/simulations/new",
        "/assessments/hr/simulations/import",
        f"/assessments/hr/simulations/{KEY}",
        f"/assessments/hr/simulations/{KEY}/edit",
        "/assessments/hr/simulations/export.json",
    ],
)
def test_hr_pages_are_for_hr_only(scenario, login_as, path):
    assert login_as("hr").get(path).status_code == 200
    assert login_as("admin").get(path).status_code == 200
    assert login_as("manager").get(path).status_code == 403


def test_hr_preview_shows_the_truth_and_branches(scenario, login_as):
    html = (
        login_as("hr").get(f"/assessments/hr/simulations/{KEY}").get_data(as_text=True)
    )
    assert "is-flawed" in html and "is-sound" in html
    assert "t3" in html and "s2" in html


def _scenario_form(data: dict) -> dict:
    return {
        "key": data["key"],
        "title_zh": data["title"]["zh"],
        "title_en": data["title"]["en"],
        "industry": "",
        "competency": "",
        "time_limit_minutes": "15",
        "max_attempts": "3",
        "pass_d_prime": "1",
        "max_over_reliance": "0.25",
        "content": json.dumps(data["content"]),
    }


def test_hr_creates_and_edits_a_scenario(app, login_as):
    hr = login_as("hr")
    data = scenario_data("sim-new")
    broken = json.loads(json.dumps(data))
    broken["content"]["turns"][1]["suggestions"][0]["flaws"] = []
    refused = post_form(hr, "/assessments/hr/simulations/new", _scenario_form(broken))
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "turns.1.suggestions.0.flaws" in html
    assert 'value="sim-new"' in html  # what was typed stays
    bad_json = post_form(
        hr,
        "/assessments/hr/simulations/new",
        {**_scenario_form(data), "content": "{nope"},
    )
    assert bad_json.status_code == 422 and "Not valid JSON" in bad_json.get_data(
        as_text=True
    )
    created = post_form(hr, "/assessments/hr/simulations/new", _scenario_form(data))
    assert created.status_code == 302, created.get_data(as_text=True)
    form = _scenario_form(data)
    form["title_en"] = "SaaS renewal, revised"
    form["time_limit_minutes"] = "25"
    edited = post_form(hr, "/assessments/hr/simulations/sim-new/edit", form)
    assert edited.status_code == 302, edited.get_data(as_text=True)
    published = post_form(
        hr, "/assessments/hr/simulations/sim-new/status", {"status": "published"}
    )
    assert published.status_code == 302
    with app.app_context():
        scenario = simulations.scenario_by_key("sim-new")
        assert scenario.title_en == "SaaS renewal, revised"
        assert scenario.time_limit_minutes == 25
        assert scenario.status == "published"


def test_hr_imports_and_exports(app, scenario, login_as):
    hr = login_as("hr")
    exported = hr.get(f"/assessments/hr/simulations/{KEY}/export.json")
    assert exported.status_code == 200
    record = exported.get_json()
    assert record["key"] == KEY and record["content"]["start"] == "t1"
    good = {**record, "key": "sim-imported"}
    bad = {**record, "key": "sim-bad", "content": {"turns": []}}
    body = json.dumps({"scenarios": [good, bad]}).encode()
    response = hr.post(
        "/assessments/hr/simulations/import",
        data={"csrf_token": csrf_token(hr), "file": (io.BytesIO(body), "s.json")},
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "sim-bad" in html and "content.turns" in html
    with app.app_context():
        assert simulations.scenario_by_key("sim-imported") is not None
        assert simulations.scenario_by_key("sim-bad") is None
    everything = hr.get("/assessments/hr/simulations/export.json").get_json()
    keys = {s["key"] for s in everything["scenarios"]}
    assert {KEY, "sim-imported"} <= keys
