"""The simulations JSON API: role checks, authoring, import/export, an attempt
walked through the API with every response scanned for ground truth before
submission, scores, review, grading, people summaries and the OpenAPI
document."""

import json

import pytest
from support import Caller

from .test_coaching import scenario_content

API = "/api/v1/simulations"

#: Fields that carry the truth of a suggestion.
TRUTH_FIELDS = ('"sound"', '"flaws"', '"explanation"', '"verdict"')


def truth_texts(content: dict) -> list[str]:
    """Every explanation text (both languages) of the scenario."""
    return [
        s["explanation"][language]
        for t in content["turns"]
        for s in t["suggestions"]
        for language in ("zh", "en")
    ]


def leaks(body: str, content: dict) -> list[str]:
    """What of the truth a response body gives away."""
    found = [field for field in TRUTH_FIELDS if field in body]
    decoded = json.dumps(json.loads(body), ensure_ascii=False) if body else ""
    found += [text for text in truth_texts(content) if text in decoded]
    return found


@pytest.fixture
def callers(app, make_user, make_token):
    def make(*roles, **fields):
        user = make_user(*roles, **fields)
        return Caller(app.test_client(), make_token(user), user, API)

    return make


@pytest.fixture
def published(callers):
    hr = callers("hr")
    body = {
        "key": "hospital",
        "title": {"zh": "医院采购", "en": "Hospital procurement"},
        "content": scenario_content(rubric=True),
    }
    response = hr.post("", json=body)
    assert response.status_code == 201, response.json
    assert hr.post("/hospital/status", json={"status": "published"}).status_code == 200
    return hr


def test_authoring_needs_hr(callers):
    manager = callers("manager")
    body = {"key": "x", "title": {"zh": "x", "en": "x"}, "content": {}}
    assert manager.post("", json=body).status_code == 403
    assert manager.get("/export").status_code == 403
    hr = callers("hr")
    response = hr.post("", json=body)
    assert response.status_code == 422
    assert "content.turns" in response.json["error"]["fields"]


def test_drafts_and_truth_stay_with_hr(published, callers):
    published.post(
        "",
        json={
            "key": "draft",
            "title": {"zh": "草稿", "en": "Draft"},
            "content": scenario_content(),
        },
    )
    member = callers("member")
    assert [s["key"] for s in member.get("").json] == ["hospital"]
    assert member.get("/draft").status_code == 404
    view = member.get("/hospital")
    assert view.status_code == 200 and "content" not in view.json
    assert leaks(view.get_data(as_text=True), scenario_content()) == []
    assert view.json["suggestions"] == 8
    assert "content" in published.get("/hospital").json
    assert [s["key"] for s in published.get("?status=draft").json] == ["draft"]


def test_export_and_import(published):
    one = published.get("/hospital/export")
    assert one.status_code == 200 and one.json["content"] == scenario_content(
        rubric=True
    )
    every = published.get("/export").json
    record = every[0] | {"key": "saas", "title": {"zh": "续约", "en": "Renewal"}}
    bad = record | {"key": "bad", "max_attempts": 0}
    response = published.post("/import", json=[record, bad])
    assert response.status_code == 200
    assert response.json["created"] == ["saas"]
    [error] = response.json["errors"]
    assert (error["row"], error["key"], list(error["fields"])) == (
        2,
        "bad",
        ["max_attempts"],
    )
    assert published.post("/import", json={"x": 1}).status_code == 422
    patched = published.patch("/saas", json={"time_limit_minutes": 15})
    assert patched.status_code == 200 and patched.json["time_limit_minutes"] == 15


def walk_through_api(coach, content, *, scan=True):
    """Start, answer every turn (accepting the flawed s2 to take the branch),
    return the final attempt JSON; with ``scan`` assert no response before
    submission gives away any truth."""
    bodies = []
    started = coach.post("/hospital/attempts")
    assert started.status_code == 201, started.json
    bodies.append(started)
    attempt_id = started.json["id"]
    base = f"/hospital/attempts/{attempt_id}"
    plan = {
        "t1": [
            {"suggestion": "s1", "decision": "accept"},
            {"suggestion": "s2", "decision": "accept"},
        ],
        "t2b": [
            {
                "suggestion": "s5",
                "decision": "reject",
                "flaws": ["biased_assumption"],
                "note": "Never assume the budget.",
            },
            {"suggestion": "s6", "decision": "accept"},
        ],
        "t3": [
            {"suggestion": "s7", "decision": "edit", "edited_text": "Better."},
            {"suggestion": "s8", "decision": "reject", "flaws": ["ignores_need"]},
        ],
    }
    turn = started.json["turn"]
    while True:
        got = coach.get(base)
        bodies.append(got)
        assert got.json["turn"] == turn
        early_review = coach.get(f"{base}/review")
        assert early_review.status_code == 409
        bodies.append(early_review)
        answered = coach.post(
            f"{base}/turns/{turn['id']}", json={"responses": plan[turn["id"]]}
        )
        assert answered.status_code == 200, answered.json
        if answered.json["status"] != "in_progress":
            final = answered
            break
        bodies.append(answered)
        turn = answered.json["turn"]
    if scan:
        for response in bodies:
            assert leaks(response.get_data(as_text=True), content) == []
    return final, attempt_id, bodies


def test_no_truth_before_submission_then_scores(published, callers):
    coach = callers("manager", team="east")
    final, attempt_id, bodies = walk_through_api(coach, scenario_content())
    assert len(bodies) >= 7
    attempt = final.json
    assert attempt["status"] == "grading"  # a note waits for a grader
    for name in ("hits", "misses", "false_alarms", "correct_rejections"):
        assert name in attempt
    assert (attempt["hits"], attempt["misses"]) == (2, 1)
    assert (attempt["false_alarms"], attempt["correct_rejections"]) == (1, 2)
    for name in ("d_prime", "criterion", "over_reliance", "under_reliance", "style"):
        assert attempt[name] is not None
    assert attempt["style"] == "disengaged"  # answered in a blink
    assert attempt["style_label"] == "Disengaged"
    review = coach.get(f"/hospital/attempts/{attempt_id}/review")
    assert review.status_code == 200
    assert [t["id"] for t in review.json["turns"]] == ["t1", "t2b", "t3"]
    assert review.json["turns"][0]["suggestions"][1]["verdict"] == "miss"
    # After submission the truth is there: the scan sees it.
    assert leaks(review.get_data(as_text=True), scenario_content())


def test_the_scan_catches_a_leak(published, callers):
    """Control: a body carrying the truth is flagged by ``leaks``."""
    content = scenario_content()
    hr_view = published.get("/hospital")
    assert '"sound"' in leaks(hr_view.get_data(as_text=True), content)
    turn = {"id": "t1", "suggestions": [{"id": "s1", "text": "x"}]}
    assert leaks(json.dumps(turn), content) == []
    turn["suggestions"][0]["note"] = content["turns"][0]["suggestions"][0][
        "explanation"
    ]["zh"]
    secret = content["turns"][0]["suggestions"][0]["explanation"]["zh"]
    assert secret in leaks(json.dumps(turn, ensure_ascii=False), content)
    assert leaks(json.dumps({"flaws": []}), content) == ['"flaws"']


def test_someone_elses_attempt_is_not_found(published, callers):
    coach = callers("member", team="east")
    attempt_id = coach.post("/hospital/attempts").json["id"]
    manager, stranger = callers("manager", team="east"), callers("member")
    assert stranger.get(f"/hospital/attempts/{attempt_id}").status_code == 404
    assert manager.get(f"/hospital/attempts/{attempt_id}").status_code == 404
    answer = {"responses": [{"suggestion": "s1", "decision": "accept"}]}
    assert (
        stranger.post(f"/hospital/attempts/{attempt_id}/turns/t1", json=answer)
    ).status_code == 404
    assert coach.post(f"/hospital/attempts/{attempt_id}/submit").status_code == 200
    seen = manager.get(f"/hospital/attempts/{attempt_id}")
    assert seen.status_code == 200 and seen.json["status"] == "released"
    assert manager.post(f"/hospital/attempts/{attempt_id}/submit").status_code == 403
    assert published.get(f"/hospital/attempts/{attempt_id}").status_code == 200


def test_answer_errors_name_fields(published, callers):
    coach = callers("member")
    attempt_id = coach.post("/hospital/attempts").json["id"]
    base = f"/hospital/attempts/{attempt_id}"
    bad = {
        "responses": [
            {"suggestion": "s1", "decision": "accept"},
            {"suggestion": "s2", "decision": "reject", "flaws": ["rude"]},
        ]
    }
    response = coach.post(f"{base}/turns/t1", json=bad)
    assert response.status_code == 422
    assert list(response.json["error"]["fields"]) == ["responses.1.flaws"]
    assert coach.post(f"{base}/turns/t3", json=bad).status_code == 409
    assert coach.post("/hospital/attempts").status_code == 200  # resumed


def test_grading_and_people(published, callers):
    coach = callers("manager", team="east")
    _final, attempt_id, _ = walk_through_api(coach, scenario_content(), scan=False)
    member = callers("member", team="east")
    assert member.get("/grading").json == []
    queue = published.get("/grading").json
    assert [task["attempt_id"] for task in queue] == [attempt_id]
    assert queue[0]["notes"][0]["note"] == "Never assume the budget."
    assert coach.user.email not in json.dumps(queue)  # blind marking
    assert member.post(f"/grading/{attempt_id}", json={"levels": {}}).status_code == 404
    marked = published.post(
        f"/grading/{attempt_id}", json={"levels": {"specific": 2, "kind": 2}}
    )
    assert marked.status_code == 201, marked.json
    assert marked.json["note_score"] == 1.0 and marked.json["status"] == "released"
    mine = coach.get("/people/me")
    assert mine.json["attempts"] == 1 and mine.json["note_score"] == 1.0
    assert mine.json["hits"] == 2
    user_id = coach.user.id
    assert published.get(f"/people/{user_id}").status_code == 200
    assert callers("manager", team="east").get(f"/people/{user_id}").status_code == 200
    assert callers("manager", team="west").get(f"/people/{user_id}").status_code == 404
    assert member.get(f"/people/{user_id}").status_code == 404


def test_every_route_is_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in (
        "/api/v1/simulations",
        "/api/v1/simulations/{key}/attempts/{attempt_id}",
        "/api/v1/simulations/{key}/attempts/{attempt_id}/turns/{turn_id}",
        "/api/v1/simulations/grading/{attempt_id}",
        "/api/v1/simulations/people/me",
    ):
        assert path in paths, path
