"""The assessments JSON API: items, exams, attempts, grading, cut scores and
certificates, with role checks and the integrity scan the issue asks for."""

import io
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from support import Caller, login

from assessments import services
from assessments.models import Attempt, AttemptItem, ItemVersion
from proving_ground.audit.models import AuditEvent
from proving_ground.db import db, utcnow

from .conftest import long_text, single_choice

API = "/api/v1/assessments"
NO_RUBRIC = {"interpretation": 2, "attribution": 2}


@pytest.fixture
def api(app, make_user, make_token):
    """``api(*roles, **user_fields)``: a new user and a Caller acting as them."""

    def make(*roles, **fields) -> Caller:
        user = make_user(*roles, **fields)
        return Caller(app.test_client(), make_token(user), user, API)

    return make


def contents(app, attempt_id) -> dict[int, dict]:
    """Position → the item version content the attempt was given (with its key)."""
    with app.app_context():
        rows = db.session.scalars(
            sa.select(AttemptItem).where(AttemptItem.attempt_id == attempt_id)
        )
        return {row.position: row.version.content for row in rows}


def right_answer(content: dict):
    key = content.get("key") or {}
    return {
        "single": lambda: key["option"],
        "multiple": lambda: key["options"],
        "true_false": lambda: key["value"],
        "numeric": lambda: key["value"],
        "ordering": lambda: key["order"],
        "matching": lambda: key["pairs"],
    }.get(content["type"], lambda: "Yes: the evidence is strong.")()


def answer_all(app, caller: Caller, attempt_id: int, *, right: bool = True) -> None:
    for position, content in contents(app, attempt_id).items():
        answer = right_answer(content)
        if not right and content["type"] == "single":
            answer = "a"
        elif not right and content["type"] == "numeric":
            answer = answer + 100
        response = caller.put(
            f"/attempts/{attempt_id}/answers/{position}", json={"answer": answer}
        )
        assert response.status_code == 200, response.json


def take(app, caller: Caller, exam_key: str, *, right: bool = True) -> dict:
    """Start, answer every question and submit; the submitted attempt's JSON."""
    response = caller.post(f"/exams/{exam_key}/attempts")
    assert response.status_code == 201, response.json
    attempt_id = response.json["id"]
    answer_all(app, caller, attempt_id, right=right)
    response = caller.post(f"/attempts/{attempt_id}/submit")
    assert response.status_code == 200, response.json
    return response.json


def item_body(key: str, **overrides) -> dict:
    return {
        "key": key,
        "competency": "interpretation",
        "tags": ["funnel"],
        "difficulty": 2,
        "status": "active",
        "content": single_choice(1),
        **overrides,
    }


# --- items ------------------------------------------------------------------------


def test_hr_creates_reads_edits_and_filters_items(api, bank):
    hr = api("hr")
    response = hr.post("/items", json=item_body("new-001"))
    assert response.status_code == 201, response.json
    assert response.json["content"]["key"] == {"option": "b"}
    assert response.json["version"] == 1

    listed = hr.get("/items?competency=interpretation&tag=funnel&status=active").json
    assert [i["key"] for i in listed["items"]] == ["new-001"]
    assert "content" not in listed["items"][0]
    assert hr.get("/items?per_page=2&page=2").json["total"] == 17

    changed = hr.patch("/items/new-001", json={"content": single_choice(1, "c")})
    assert changed.json["content"]["key"] == {"option": "c"}
    assert changed.json["version"] == 1  # never answered: edited in place
    retired = hr.post("/items/new-001/status", json={"status": "retired"})
    assert retired.json["status"] == "retired"
    assert hr.get("/items/nope").status_code == 404


def test_members_and_managers_cannot_touch_the_bank(api, bank):
    for role in ("member", "manager"):
        caller = api(role)
        assert caller.post("/items", json=item_body("x-1")).status_code == 403
        assert caller.get("/items").status_code == 403
        assert caller.get("/items/int-000").status_code == 403


def test_bad_item_input_names_the_fields(api, bank):
    hr = api("hr")
    bad = item_body("Bad Key", difficulty=9)
    bad["content"] = {**single_choice(1), "key": {"option": "z"}}
    response = hr.post("/items", json=bad)
    assert response.status_code == 422
    fields = response.json["error"]["fields"]
    assert {"key", "difficulty", "content.key.option"} <= set(fields)
    assert hr.post("/items/int-000/status", json={}).status_code == 422
    assert "status" in hr.post("/items/int-000/status", json={}).json["error"]["fields"]
    assert hr.get("/items?competency=nope").json["error"]["fields"] == {
        "competency": ["No competency has this key."]
    }


def test_json_import_keeps_good_rows_and_reports_bad_ones(api, bank):
    hr = api("hr")
    rows = [
        item_body("imp-001"),
        item_body("imp-002", content={"type": "single"}),
        "not an object",
        {"key": "int-000", "difficulty": 5},
    ]
    response = hr.post("/items/import", json=rows)
    assert response.status_code == 200
    assert response.json["created"] == ["imp-001"]
    assert response.json["updated"] == ["int-000"]
    errors = response.json["errors"]
    assert [e["row"] for e in errors] == [2, 3]
    assert errors[0]["key"] == "imp-002"
    assert any(f.startswith("content.") for f in errors[0]["fields"])
    assert hr.get("/items/imp-001").status_code == 200
    assert hr.get("/items/imp-002").status_code == 404
    assert hr.get("/items/int-000").json["difficulty"] == 5


def test_csv_export_and_import_round_trip_with_bad_rows(api, bank):
    hr = api("hr")
    exported = hr.get("/items/export?format=csv&competency=attribution")
    assert exported.status_code == 200
    assert exported.mimetype == "text/csv"
    text = exported.get_data(as_text=True)
    assert text.startswith("\ufeffkey,competency,tags,difficulty,status,content")
    lines = text.lstrip("\ufeff").splitlines()
    assert len(lines) == 1 + len(bank["attribution"])
    new_row = lines[1].replace("att-000", "csv-001", 1)
    bad_json = 'csv-002,attribution,x,3,draft,"{not json"'
    bad_content = 'csv-003,attribution,x,3,draft,"{""type"": ""single""}"'
    upload = "\n".join([lines[0], new_row, bad_json, bad_content, lines[2]])
    response = hr.post(
        "/items/import",
        data={"file": (io.BytesIO(upload.encode()), "items.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.json
    assert response.json["created"] == ["csv-001"]
    assert response.json["updated"] == ["att-001"]
    assert [(e["row"], e["key"]) for e in response.json["errors"]] == [
        (2, "csv-002"),
        (3, "csv-003"),
    ]
    assert "content" in response.json["errors"][0]["fields"]
    created = hr.get("/items/csv-001").json
    assert created["competency"] == "attribution"
    assert created["content"]["key"] == {"option": "b"}

    as_json = hr.get("/items/export?format=json&tag=strategy")
    assert as_json.status_code == 200
    assert {r["key"] for r in json.loads(as_json.data)} == set(bank["strategy"])
    assert hr.get("/items/export?format=xml").status_code == 422


def test_key_correction_regrades_released_attempts(app, api, make_exam):
    exam_key = make_exam(counts=NO_RUBRIC)
    member, hr = api("member"), api("hr")
    attempt = take(app, member, exam_key)
    assert attempt["passed"] is True
    with app.app_context():
        row = db.session.scalar(
            sa.select(AttemptItem)
            .join(AttemptItem.version)
            .where(AttemptItem.attempt_id == attempt["id"])
            .where(ItemVersion.type == "single")
            .limit(1)
        )
        position, item_key = row.position, row.version.item.key
    fixed = {**hr.get(f"/items/{item_key}").json["content"], "key": {"option": "d"}}
    response = hr.post(
        f"/items/{item_key}/correct-key", json={"content": fixed, "reason": "typo"}
    )
    assert response.status_code == 200, response.json
    assert response.json["regraded"] >= 1
    again = member.get(f"/attempts/{attempt['id']}").json
    question = next(q for q in again["questions"] if q["position"] == position)
    assert question["correct"] is False
    assert again["points"] < attempt["points"]
    missing = hr.post(f"/items/{item_key}/correct-key", json={"content": fixed})
    assert missing.status_code == 422
    assert "reason" in missing.json["error"]["fields"]


# --- exams ------------------------------------------------------------------------


def exam_body(key: str = "api-exam", **overrides) -> dict:
    return {
        "key": key,
        "title": {"zh": "接口考试", "en": "API exam"},
        "time_limit_minutes": 20,
        "max_attempts": 1,
        "wait_hours": 0,
        "sections": [
            {
                "title": {"zh": "解读", "en": "Interpretation"},
                "competency": "interpretation",
                "item_count": 3,
            }
        ],
        **overrides,
    }


def test_exam_lifecycle_and_visibility(api, bank):
    hr, member = api("hr"), api("member")
    response = hr.post("/exams", json=exam_body(graders=[member.user.email]))
    assert response.status_code == 201, response.json
    assert response.json["status"] == "draft"
    assert response.json["graders"] == [member.user.email]
    assert member.get("/exams/api-exam").status_code == 404
    assert member.get("/exams").json["total"] == 0
    assert member.post("/exams", json=exam_body("x")).status_code == 403

    too_many = hr.patch(
        "/exams/api-exam",
        json={"sections": [{**exam_body()["sections"][0], "item_count": 50}]},
    )
    assert too_many.status_code == 200
    refused = hr.post("/exams/api-exam/status", json={"status": "published"})
    assert refused.status_code == 409
    hr.patch("/exams/api-exam", json={"sections": exam_body()["sections"]})
    published = hr.post("/exams/api-exam/status", json={"status": "published"})
    assert published.status_code == 200, published.json

    listed = member.get("/exams").json["items"]
    assert [e["key"] for e in listed] == ["api-exam"]
    assert listed[0]["availability"] == {
        "allowed": True,
        "reason": "",
        "next_at": None,
        "in_progress": None,
        "attempts_used": 0,
    }
    assert "graders" not in listed[0]


def test_bad_exam_input_names_the_fields(api, bank):
    hr = api("hr")
    body = exam_body(
        "Bad", max_attempts=0, graders=["nobody@example.com"], sections=[{}]
    )
    response = hr.post("/exams", json=body)
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"graders.0"}
    del body["graders"]
    fields = hr.post("/exams", json=body).json["error"]["fields"]
    assert {"key", "max_attempts", "sections.0.title", "sections.0.item_count"} <= set(
        fields
    )


# --- attempts ---------------------------------------------------------------------


def test_attempt_start_save_submit_release(app, api, make_exam):
    exam_key = make_exam(counts=NO_RUBRIC)
    member = api("member")
    started = member.post(f"/exams/{exam_key}/attempts")
    assert started.status_code == 201
    attempt = started.json
    assert attempt["status"] == "in_progress"
    assert 0 < attempt["seconds_left"] <= 30 * 60
    assert len(attempt["questions"]) == 4
    assert {"score", "passed", "sections"}.isdisjoint(attempt)
    question = attempt["questions"][0]
    assert question["revision"] == 0 and question["answer"] is None
    assert "key" not in question["content"]

    resumed = member.post(f"/exams/{exam_key}/attempts")
    assert resumed.status_code == 200 and resumed.json["id"] == attempt["id"]
    listed = member.get(f"/exams/{exam_key}").json["availability"]
    assert listed["in_progress"] == attempt["id"]

    single = next(q for q in attempt["questions"] if q["type"] == "single")
    index = attempt["questions"].index(single)
    path = f"/attempts/{attempt['id']}/answers/{single['position']}"
    first = member.put(path, json={"answer": "a"})
    assert first.status_code == 200
    assert first.json["revision"] == 1
    again = member.put(path, json={"answer": "a"})
    assert again.json["revision"] == 1  # idempotent
    assert again.json["answered_at"] == first.json["answered_at"]
    assert member.put(path, json={"answer": "c"}).json["revision"] == 2
    assert (
        member.get(f"/attempts/{attempt['id']}").json["questions"][index]["answer"]
        == "c"
    )

    bad = member.put(path, json={"answer": ["zzz"]})
    assert bad.status_code == 422 and "answer" in bad.json["error"]["fields"]
    missing = member.put(path, json={})
    assert missing.status_code == 422 and "answer" in missing.json["error"]["fields"]
    assert (
        member.put(
            f"/attempts/{attempt['id']}/answers/99", json={"answer": "a"}
        ).status_code
        == 404
    )

    answer_all(app, member, attempt["id"])
    submitted = member.post(f"/attempts/{attempt['id']}/submit")
    assert submitted.status_code == 200
    result = submitted.json
    assert result["status"] == "released"
    assert result["score"] == 1.0 and result["passed"] is True
    assert {s["title"]["en"] for s in result["sections"]} == {
        "Section interpretation",
        "Section attribution",
    }
    assert {c["key"] for c in result["competencies"]} == {
        "interpretation",
        "attribution",
    }
    for q in result["questions"]:
        assert q["correct"] is True and q["points"] == q["max_points"]
        assert q["correct_answer"] is not None
    single = next(q for q in result["questions"] if q["type"] == "single")
    assert single["feedback"] == {"zh": "解析", "en": "Explanation"}
    again = member.post(f"/attempts/{attempt['id']}/submit")
    assert again.status_code == 409
    late = member.put(path, json={"answer": "a"})
    assert late.status_code == 409


def test_save_after_the_deadline_is_refused_and_submits(app, api, make_exam):
    exam_key = make_exam(counts=NO_RUBRIC)
    member = api("member")
    started = member.post(f"/exams/{exam_key}/attempts").json
    attempt_id = started["id"]
    first, second = [
        q["position"] for q in started["questions"] if q["type"] == "single"
    ][:2]
    assert (
        member.put(
            f"/attempts/{attempt_id}/answers/{first}", json={"answer": "b"}
        ).status_code
        == 200
    )
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        attempt.deadline_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    response = member.put(
        f"/attempts/{attempt_id}/answers/{second}", json={"answer": "b"}
    )
    assert response.status_code == 409
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        assert attempt.status == "released"
        assert attempt.submitted_by == "timeout"
        answers = {row.position: row.answer for row in attempt.items}
        assert (answers[first], answers[second]) == ("b", None)
    shown = member.get(f"/attempts/{attempt_id}").json
    assert shown["seconds_left"] == 0 and shown["submitted_by"] == "timeout"


def test_attempt_limit_and_waiting_period(app, api, make_exam):
    limited = make_exam("limited", counts=NO_RUBRIC, max_attempts=1)
    waiting = make_exam("waiting", counts=NO_RUBRIC, wait_hours=24)
    member = api("member")
    take(app, member, limited)
    refused = member.post(f"/exams/{limited}/attempts")
    assert refused.status_code == 409
    assert "attempts" in refused.json["error"]["message"]
    take(app, member, waiting)
    refused = member.post(f"/exams/{waiting}/attempts")
    assert refused.status_code == 409
    availability = member.get(f"/exams/{waiting}").json["availability"]
    assert availability["allowed"] is False and availability["next_at"]


def test_someone_elses_attempt_is_not_found(app, api, make_exam):
    exam_key = make_exam(counts=NO_RUBRIC)
    alice, bob, hr = api("member"), api("member"), api("hr")
    attempt_id = alice.post(f"/exams/{exam_key}/attempts").json["id"]
    assert bob.get(f"/attempts/{attempt_id}").status_code == 404
    assert (
        bob.put(f"/attempts/{attempt_id}/answers/1", json={"answer": "a"}).status_code
        == 404
    )
    assert bob.post(f"/attempts/{attempt_id}/submit").status_code == 404
    assert bob.get("/attempts").json["total"] == 0
    assert hr.get(f"/attempts/{attempt_id}").status_code == 200
    assert (
        hr.put(f"/attempts/{attempt_id}/answers/1", json={"answer": "a"}).status_code
        == 403
    )
    assert hr.get("/attempts").json["total"] == 1


def test_manager_sees_released_team_results_only(app, api, make_exam):
    shared = make_exam("shared", counts=NO_RUBRIC)
    private = make_exam("private", counts=NO_RUBRIC, team_results_visible=False)
    manager = api("manager", team="East")
    teammate = api("member", team="East")
    stranger = api("member", team="West")
    seen = take(app, teammate, shared)
    hidden = take(app, teammate, private)
    other = take(app, stranger, shared)
    running = teammate.post(f"/exams/{make_exam('later', counts=NO_RUBRIC)}/attempts")

    listed = manager.get("/attempts").json
    assert [a["id"] for a in listed["items"]] == [seen["id"]]
    assert listed["items"][0]["examinee"]["email"] == teammate.user.email
    assert manager.get(f"/attempts/{seen['id']}").json["score"] == 1.0
    for attempt_id in (hidden["id"], other["id"], running.json["id"]):
        assert manager.get(f"/attempts/{attempt_id}").status_code == 404
    assert api("manager").get("/attempts").json["total"] == 0  # no team


# --- grading ----------------------------------------------------------------------


def rubric_position(app, attempt_id) -> int:
    return next(
        p for p, c in contents(app, attempt_id).items() if c["type"] == "long_text"
    )


def test_rubric_answers_wait_for_blind_grading(app, api, make_exam):
    exam_key = make_exam(counts={"strategy": 6})
    member = api("member", name="Zhang Wei")
    grader = api("hr")
    submitted = take(app, member, exam_key)
    assert submitted["status"] == "grading"
    assert {"score", "passed"}.isdisjoint(submitted)

    queue = grader.get("/grading")
    assert queue.status_code == 200
    assert len(queue.json) == 1
    task = queue.json[0]
    body = queue.get_data(as_text=True)
    assert "Zhang Wei" not in body and member.user.email not in body
    assert task["answer"] == "Yes: the evidence is strong."
    assert task["kind"] == "first"
    assert [len(c["levels"]) for c in task["criteria"]] == [3, 3]
    assert task["criteria"][0]["levels"][2]["description"]["en"] == "2-point standard"
    assert member.get("/grading").json == []
    assert grader.get("/attempts").json["items"][0]["status"] == "grading"

    bad = grader.post(f"/grading/{task['id']}", json={"levels": {"evidence": 2}})
    assert bad.status_code == 422 and "levels" in bad.json["error"]["fields"]
    assert grader.post(f"/grading/{task['id']}", json={}).status_code == 422
    assert (
        member.post(
            f"/grading/{task['id']}", json={"levels": {"evidence": 2, "risk": 2}}
        ).status_code
        == 403
    )
    graded = grader.post(
        f"/grading/{task['id']}",
        json={"levels": {"evidence": 2, "risk": 1}, "comment": "Good evidence."},
    )
    assert graded.status_code == 201, graded.json
    assert graded.json["points"] == 3 and graded.json["needs_grading"] is False
    result = member.get(f"/attempts/{submitted['id']}").json
    assert result["status"] == "released"
    rubric = next(q for q in result["questions"] if q["type"] == "long_text")
    assert rubric["points"] == 3
    assert rubric["marks"][0]["comment"] == "Good evidence."
    assert rubric["rubric"]["criteria"][0]["levels"]
    assert grader.get("/grading").json == []


def test_second_marking_and_resolution(app, api, make_exam):
    first, second = api("member"), api("manager")
    hr = api("hr")
    exam_key = make_exam(
        counts={"strategy": 6}, second_marking=True, marking_tolerance=1.0
    )
    hr.patch(
        f"/exams/{exam_key}", json={"graders": [first.user.email, second.user.email]}
    )
    examinee = api("member")
    attempt = take(app, examinee, exam_key)
    task = first.get("/grading").json[0]
    assert (
        first.post(
            f"/grading/{task['id']}", json={"levels": {"evidence": 2, "risk": 2}}
        ).json["needs_grading"]
        is True
    )
    assert first.get("/grading").json == []  # marked already
    task = second.get("/grading").json[0]
    assert task["kind"] == "second" and task["marks"] == []  # blind to the first mark
    assert (
        second.post(
            f"/grading/{task['id']}", json={"levels": {"evidence": 0, "risk": 0}}
        ).json["needs_grading"]
        is True
    )
    assert examinee.get(f"/attempts/{attempt['id']}").json["status"] == "grading"
    task = hr.get("/grading").json[0]
    assert task["kind"] == "resolution"
    assert sorted(m["points"] for m in task["marks"]) == [0, 4]
    resolved = hr.post(
        f"/grading/{task['id']}", json={"levels": {"evidence": 1, "risk": 1}}
    )
    assert resolved.json["kind"] == "resolution"
    assert examinee.get(f"/attempts/{attempt['id']}").json["status"] == "released"


# --- cut scores -------------------------------------------------------------------


def test_angoff_panel_and_adopted_cut(app, api, make_exam):
    exam_key = make_exam(counts={"interpretation": 5})
    hr, judge_a, judge_b, outsider = (
        api("hr"),
        api("member"),
        api("manager"),
        api("member"),
    )
    for judge in (judge_a, judge_b):
        response = hr.post(
            f"/exams/{exam_key}/angoff/judges", json={"email": judge.user.email}
        )
        assert response.status_code == 201
    assert hr.post(
        f"/exams/{exam_key}/angoff/judges", json={"email": "nobody@example.com"}
    ).json["error"]["fields"] == {"email": ["No user has this e-mail address."]}
    panel = hr.get(f"/exams/{exam_key}/angoff").json
    keys = [item["key"] for item in panel["items"]]
    assert len(keys) == 5 and len(panel["judges"]) == 2

    rated = judge_a.put(
        f"/exams/{exam_key}/angoff/ratings", json=dict.fromkeys(keys, 0.6)
    )
    assert rated.json == {"rated": 5, "cut": pytest.approx(0.6)}
    judge_b.put(f"/exams/{exam_key}/angoff/ratings", json=dict.fromkeys(keys, 0.8))
    bad = judge_b.put(
        f"/exams/{exam_key}/angoff/ratings", json={keys[0]: 2, "nope": 0.5}
    )
    assert bad.status_code == 422
    assert set(bad.json["error"]["fields"]) == {"nope"}
    bad = judge_b.put(f"/exams/{exam_key}/angoff/ratings", json={keys[0]: 2})
    assert set(bad.json["error"]["fields"]) == {keys[0]}
    assert (
        outsider.put(
            f"/exams/{exam_key}/angoff/ratings", json={keys[0]: 0.5}
        ).status_code
        == 403
    )
    assert outsider.get(f"/exams/{exam_key}/angoff").status_code == 404
    own = judge_a.get(f"/exams/{exam_key}/angoff").json
    assert [j["email"] for j in own["judges"]] == [judge_a.user.email]
    assert "panel_cut" not in own

    panel = hr.get(f"/exams/{exam_key}/angoff").json
    assert panel["panel_cut"] == pytest.approx(0.7)
    assert panel["standard_error"] == pytest.approx(0.1)  # sd 0.1414 / √2
    assert sorted(j["cut"] for j in panel["judges"]) == pytest.approx([0.6, 0.8])
    adopted = hr.post(f"/exams/{exam_key}/cut-score", json={"cut_score": 0.7})
    assert adopted.status_code == 200 and adopted.json["cut_score"] == 0.7
    assert (
        hr.post(f"/exams/{exam_key}/cut-score", json={"cut_score": 1.5}).status_code
        == 422
    )
    assert (
        judge_a.post(
            f"/exams/{exam_key}/cut-score", json={"cut_score": 0.5}
        ).status_code
        == 403
    )
    with app.app_context():
        event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "exam.cut_score_adopted")
        )
        assert event.details["panel_cut"] == pytest.approx(0.7)


# --- certificates -----------------------------------------------------------------


def certify(app, exam_key: str) -> None:
    with app.app_context():
        services.create_certification(
            {
                "key": "data-literacy",
                "name": {"zh": "数据素养认证", "en": "Data literacy certification"},
                "exams": [exam_key],
            },
            actor=None,
        )
        db.session.commit()


def test_certificate_on_pass_verified_and_revoked(app, api, make_exam, client):
    exam_key = make_exam(counts=NO_RUBRIC)
    certify(app, exam_key)
    member, hr = api("member", name="Li Na"), api("hr")
    failed = take(app, api("member"), exam_key, right=False)
    assert failed["passed"] is False
    take(app, member, exam_key)

    mine = member.get("/certificates").json
    assert mine["total"] == 1
    code = mine["items"][0]["code"]
    assert hr.get("/certificates").json["total"] == 1

    loose = code.lower().replace("-", " ")
    verified = client.get(f"{API}/certificates/{loose}")
    assert verified.status_code == 200
    assert verified.json["holder"] == "Li Na"
    assert verified.json["status"] == "valid"
    assert verified.json["certification"]["name"]["en"] == "Data literacy certification"
    assert "holder_email" not in verified.json
    assert client.get(f"{API}/certificates/AAAA-BBBB-CCCC-DDDD").status_code == 404

    badge = client.get(f"{API}/certificates/{code}/badge")
    assert badge.status_code == 200
    assert badge.mimetype == "application/ld+json"
    document = json.loads(badge.data)
    for field in ("@context", "id", "type", "issuer", "validFrom", "validUntil"):
        assert field in document, field
    assert "OpenBadgeCredential" in document["type"]
    assert document["id"].endswith(f"/assessments/verify/{code}")
    achievement = document["credentialSubject"]["achievement"]
    assert achievement["name"] == "Data literacy certification"
    assert document["credentialSubject"]["identifier"][0]["identityHash"] == "Li Na"

    assert (
        member.post(f"/certificates/{code}/revoke", json={"reason": "x"}).status_code
        == 403
    )
    assert hr.post(f"/certificates/{code}/revoke", json={}).status_code == 422
    revoked = hr.post(
        f"/certificates/{code}/revoke", json={"reason": "Cheating found."}
    )
    assert revoked.status_code == 200 and revoked.json["status"] == "revoked"
    verified = client.get(f"{API}/certificates/{code}").json
    assert verified["status"] == "revoked"
    assert verified["revoked_reason"] == "Cheating found."
    gone = client.get(f"{API}/certificates/{code}/badge")
    assert gone.status_code == 410 and gone.json["error"]["code"] == "gone"
    again = hr.post(f"/certificates/{code}/revoke", json={"reason": "again"})
    assert again.status_code == 409


def test_openapi_documents_the_assessments_api(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in (
        "/api/v1/assessments/items",
        "/api/v1/assessments/items/import",
        "/api/v1/assessments/exams/{key}/attempts",
        "/api/v1/assessments/attempts/{attempt_id}/answers/{position}",
        "/api/v1/assessments/grading",
        "/api/v1/assessments/exams/{key}/angoff/ratings",
        "/api/v1/assessments/certificates/{code}/badge",
    ):
        assert path in paths, path


# --- integrity --------------------------------------------------------------------

FEEDBACK = {"zh": "反馈密文-{n}", "en": "FEEDBACK-SECRET-{n}"}
INTEGRITY_ITEMS = {
    "multiple": {
        "options": [
            {"id": f"m{i}", "text": {"zh": f"多{i}", "en": f"M{i}"}}
            for i in range(1, 5)
        ],
        "key": {"options": ["m1", "m3"]},
        "scoring": "partial",
    },
    "true_false": {"key": {"value": True}},
    "numeric": {"key": {"value": 7318.25, "tolerance": 0.5}},
    "ordering": {
        "options": [
            {"id": f"o{i}", "text": {"zh": f"步{i}", "en": f"Step {i}"}}
            for i in range(1, 6)
        ],
        "key": {"order": ["o3", "o1", "o5", "o2", "o4"]},
    },
    "matching": {
        "options": {
            "left": [
                {"id": f"l{i}", "text": {"zh": f"左{i}", "en": f"L{i}"}}
                for i in range(1, 4)
            ],
            "right": [
                {"id": f"r{i}", "text": {"zh": f"右{i}", "en": f"R{i}"}}
                for i in range(1, 5)
            ],
        },
        "key": {"pairs": {"l1": "r2", "l2": "r4", "l3": "r1"}},
    },
}
#: Field names that only answer-key material uses.
SECRET_FIELDS = {
    "correct_answer",
    "feedback",
    "correct",
    "levels",
    "tolerance",
    "tolerance_kind",
    "pairs",
    "marks",
    "order",
}


def wrong_answer(content: dict, shown: dict):
    """An answer that repeats none of the key (the scan must not trip on it)."""
    kind = content["type"]
    if kind == "single":
        return "a"
    if kind == "multiple":
        return ["m2"]
    if kind == "true_false":
        return False
    if kind == "numeric":
        return 3
    if kind == "ordering":
        order = [o["id"] for o in shown["options"]]
        return order if order != content["key"]["order"] else order[::-1]
    if kind == "matching":
        return {"l1": "r1", "l2": "r2", "l3": "r3"}
    return "Short reasoning without secrets."


def walk(value):
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def secrets_of(content: dict) -> tuple[list[str], list]:
    """Texts that must not appear in any body, and values no JSON may hold."""
    texts = []
    for language in ("zh", "en"):
        text = (content.get("feedback") or {}).get(language)
        if text:
            texts.append(text)
    for criterion in (content.get("rubric") or {}).get("criteria", []):
        for level in criterion["levels"]:
            texts.extend(level["description"].values())
    values = []
    key = content.get("key") or {}
    if content["type"] == "numeric":
        values.append(key["value"])
    if content["type"] == "ordering":
        values.append(key["order"])
    if content["type"] == "matching":
        values.append(key["pairs"])
    if key:
        texts.append(json.dumps(key))
        texts.append(json.dumps(key, separators=(",", ":")))
    return texts, values


def assert_clean_json(where: str, body, secret_values, own_orders, other_orders):
    for node in walk(body):
        if isinstance(node, dict):
            leaked = SECRET_FIELDS & set(node)
            assert not leaked, f"{where}: {leaked}"
            assert not isinstance(node.get("key"), dict), f"{where}: an answer key"
            options = node.get("options")
            if isinstance(options, dict):  # matching: the right column is shuffled
                options = options.get("right")
            if isinstance(options, list):
                ids = [o["id"] for o in options]
                assert ids in own_orders, f"{where}: options not in the own order"
                assert ids not in secret_values, f"{where}: options in key order"
        if isinstance(node, list) and all(isinstance(i, str) for i in node) and node:
            assert node not in other_orders, f"{where}: another examinee's order"
        for secret in secret_values:
            if isinstance(secret, float):
                assert node != secret, f"{where}: numeric key {secret}"
            else:
                assert node != secret, f"{where}: key {secret}"


def member_pages(app, exam_key: str, attempt_id: int) -> list[str]:
    """The URLs of the assessments pages (GET) a member may reach during an attempt,
    from the app's url_map."""
    values = {"key": exam_key, "attempt_id": attempt_id}
    urls = []
    with app.test_request_context():
        from flask import url_for

        from proving_ground.access import PUBLIC, Role, endpoint_access

        for rule in app.url_map.iter_rules():
            if not rule.rule.startswith("/assessments") or "GET" not in rule.methods:
                continue
            access = endpoint_access(app, rule.endpoint)
            if access != PUBLIC and Role.MEMBER not in (access or ()):
                continue
            if rule.endpoint.endswith("static") or not set(rule.arguments) <= set(
                values
            ):
                continue
            urls.append(
                url_for(rule.endpoint, **{a: values[a] for a in rule.arguments})
            )
    return urls


def test_no_answer_key_reaches_an_examinee_during_an_attempt(app, api, bank):
    hr = api("hr")
    for n, (kind, fields) in enumerate(INTEGRITY_ITEMS.items()):
        content = {
            "type": kind,
            "points": 2,
            "stem": {"zh": f"完整性 {kind}", "en": f"Integrity {kind}"},
            "feedback": {k: v.format(n=n) for k, v in FEEDBACK.items()},
            **fields,
        }
        response = hr.post(
            "/items",
            json=item_body(
                f"int-{kind.replace('_', '-')}", tags=["integrity"], content=content
            ),
        )
        assert response.status_code == 201, response.json
    body = exam_body(
        "integrity",
        max_attempts=2,
        sections=[
            {
                "title": {"zh": "策略", "en": "Strategy"},
                "competency": "strategy",
                "item_count": 6,
            },
            {
                "title": {"zh": "题型", "en": "Types"},
                "tag": "integrity",
                "item_count": 5,
            },
        ],
    )
    assert hr.post("/exams", json=body).status_code == 201
    assert (
        hr.post("/exams/integrity/status", json={"status": "published"}).status_code
        == 200
    )

    other = api("member")
    other_id = other.post("/exams/integrity/attempts").json["id"]
    caller = api("member")  # the examinee through the API …
    examinee = app.test_client()  # … and through a browser session, for the pages
    assert login(examinee, caller.user.email).status_code == 302

    bodies: list[tuple[str, object]] = []
    started = caller.post("/exams/integrity/attempts")
    assert started.status_code == 201
    attempt_id = started.json["id"]
    bodies.append(("start", started.json))
    shown = {q["position"]: q["content"] for q in started.json["questions"]}
    given = contents(app, attempt_id)
    for position, content in given.items():
        response = caller.put(
            f"/attempts/{attempt_id}/answers/{position}",
            json={"answer": wrong_answer(content, shown[position])},
        )
        assert response.status_code == 200, response.json
        bodies.append((f"save {position}", response.json))
    for path in ("/attempts", f"/attempts/{attempt_id}", "/exams", "/exams/integrity"):
        response = caller.get(path)
        assert response.status_code == 200
        bodies.append((path, response.json))
    assert caller.get(f"/attempts/{other_id}").status_code == 404
    pages = member_pages(app, "integrity", attempt_id)
    assert any(str(attempt_id) in url for url in pages)
    html = []
    for url in pages:
        response = examinee.get(url)
        if response.status_code == 200:
            html.append((url, response.get_data(as_text=True)))
    submitted = caller.post(f"/attempts/{attempt_id}/submit")
    assert submitted.json["status"] == "grading"  # the rubric answer waits
    bodies.append(("submit", submitted.json))

    with app.app_context():

        def orders(attempt_id):
            rows = db.session.scalars(
                sa.select(AttemptItem).where(AttemptItem.attempt_id == attempt_id)
            )
            return {
                row.position: (row.version.content, row.option_order) for row in rows
            }

        mine, theirs = orders(attempt_id), orders(other_id)

    def shown_order(content, order):
        if content["type"] == "matching":
            return [[o["id"] for o in content["options"]["left"]], order]
        return [order]

    own_orders = [
        o for c, order in mine.values() if order for o in shown_order(c, order)
    ]
    other_orders = [
        order for c, order in theirs.values() if order and order not in own_orders
    ]
    texts, values = [], []
    for content, _order in mine.values():
        t, v = secrets_of(content)
        texts += t
        values += v
    assert len(values) >= 4 and len(texts) >= 10
    for where, body in bodies:
        assert_clean_json(where, body, values, own_orders, other_orders)
        raw = json.dumps(body, ensure_ascii=False)
        for text in texts:
            assert text not in raw, f"{where}: {text}"
    for url, page in html:
        for text in texts:
            assert text not in page, f"{url}: {text}"
        assert "7318.25" not in page, url
        for order in other_orders:
            assert json.dumps(order) not in page, url
    assert len(html) >= 2


def test_integrity_helpers_would_catch_a_leak():
    content = {**single_choice(1), "type": "single"}
    texts, _values = secrets_of(content)
    with pytest.raises(AssertionError):
        assert_clean_json("leak", {"content": content}, [], [["a", "b", "c", "d"]], [])
    texts, values = secrets_of(long_text())
    assert "2-point standard" in texts
    assert values == []
