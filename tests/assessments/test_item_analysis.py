"""External exams, imported responses and item analysis, through the services and
the API: bad CSV rows reported while good ones are kept, external items created,
first/last/best/all attempts, role checks."""

import io

import numpy as np
import pingouin
import pytest
from support import Caller, post_form

from assessments import item_analysis, services
from assessments.models import Attempt, Exam, ExternalItem, ExternalResponse
from proving_ground.auth.models import User
from proving_ground.db import db
from proving_ground.validation import Invalid

CSV = (
    "\ufeffexaminee,item,score,max_score,option\n"
    "E1,q1,1,,b\n"
    "E1,q2,2,3,\n"
    "E2,q1,0,,c\n"
    "E2,q2,4,,\n"  # 4 > 3
    ",q1,1,,\n"  # no examinee
    "E3,q1,x,,\n"  # not a number
    "E3,q2,1,2,\n"  # q2's maximum is 3
    "E3,q1,1,,b\n"
)


def get_exam(key: str) -> Exam:
    return db.session.scalar(db.select(Exam).where(Exam.key == key))


def external_exam(key: str = "paper-2025") -> Exam:
    return item_analysis.create_exam_api(
        {"key": key, "title": "Paper sitting 2025", "external": True}, actor=None
    )


def test_an_import_keeps_good_rows_and_reports_each_bad_one(app):
    with app.app_context():
        exam = external_exam()
        report = item_analysis.import_responses(exam, CSV.encode(), actor=None)
        assert report.accepted == 4 and report.replaced == 0
        assert report.created_items == ["q1", "q2"]
        errors = {error["row"]: error["fields"] for error in report.errors}
        assert sorted(errors) == [4, 5, 6, 7]
        assert list(errors[4]) == ["score"]
        assert list(errors[5]) == ["examinee"]
        assert list(errors[6]) == ["score"]
        assert list(errors[7]) == ["max_score"]
        items = {
            i.code: i.max_score
            for i in db.session.scalars(
                db.select(ExternalItem).where(ExternalItem.exam_id == exam.id)
            )
        }
        assert items == {"q1": 1.0, "q2": 3.0}  # 1 when the CSV gives none
        rows = db.session.scalars(db.select(ExternalResponse)).all()
        assert {(r.examinee, r.item_code, r.score, r.option) for r in rows} == {
            ("E1", "q1", 1.0, "b"),
            ("E1", "q2", 2.0, None),
            ("E2", "q1", 0.0, "c"),
            ("E3", "q1", 1.0, "b"),
        }
        again = item_analysis.import_responses(
            exam, "examinee,item,score\nE1,q1,0\nE4,q3,1\n", actor=None
        )
        assert (again.accepted, again.replaced, again.created_items) == (2, 1, ["q3"])
        assert (
            db.session.scalar(
                db.select(ExternalResponse.score).where(
                    ExternalResponse.examinee == "E1",
                    ExternalResponse.item_code == "q1",
                )
            )
            == 0
        )
        assert item_analysis.response_count(exam) == (5, 4)


@pytest.mark.parametrize(
    "body",
    [
        "E1,q1,1\n",  # no header
        "examinee,item,points\nE1,q1,1\n",
        "examinee,item,score\nE1,q1,-1\n,q2,1\n",
        "",
    ],
)
def test_nothing_usable_is_a_400_naming_the_problem(app, body):
    with app.app_context():
        exam = external_exam()
        with pytest.raises(Invalid) as raised:
            item_analysis.import_responses(exam, body, actor=None)
        assert raised.value.status == 400
        assert raised.value.fields


def test_an_external_exam_is_never_published(app):
    with app.app_context():
        exam = external_exam()
        assert exam.external and exam.sections == []
        with pytest.raises(Invalid) as raised:
            services.set_exam_status(exam, "published", actor=None)
        assert raised.value.status == 409
        with pytest.raises(Invalid):
            item_analysis.create_exam_api(
                {"key": "paper-2025", "title": "Again", "external": True}, actor=None
            )


def test_an_exam_of_the_bank_takes_only_its_own_items(app, make_exam, bank):
    key = make_exam(counts={"interpretation": 5})
    with app.app_context():
        exam = get_exam(key)
        numeric = bank["interpretation"][4]  # 2 points
        body = (
            "examinee,item,score,option\n"
            f"P1,{bank['interpretation'][0]},1,b\n"
            f"P1,{numeric},2,\n"
            f"P1,{bank['strategy'][0]},1,\n"  # not drawn by this exam
            f"P2,{numeric},3,\n"  # above its 2 points
            "P2,nope,1,\n"
        )
        report = item_analysis.import_responses(exam, body, actor=None)
        assert report.accepted == 2 and report.created_items == []
        assert [e["row"] for e in report.errors] == [3, 4, 5]
        assert list(report.errors[1]["fields"]) == ["score"]
        assert db.session.scalar(db.select(db.func.count(ExternalItem.id))) == 0


def _right(content):
    return content["key"].get("option", content["key"].get("value"))


def _sit(exam: Exam, user: User, wrong: int) -> Attempt:
    """An attempt answering every question right except ``wrong`` single-choice
    ones (answered "a")."""
    attempt = services.start_attempt(exam, user, language="en")
    for row in attempt.items:
        answer = _right(row.version.content)
        if wrong and row.version.type == "single":
            answer, wrong = "a", wrong - 1
        services.save_answer(attempt, row.position, answer)
    services.submit_attempt(attempt)
    return attempt


def test_attempts_first_last_best_and_all(app, make_exam, make_user):
    key = make_exam(counts={"interpretation": 5})
    users = [make_user("manager") for _ in range(3)]
    plans = {users[0].id: (2, 0), users[1].id: (0, 3), users[2].id: (1,)}
    with app.app_context():
        exam = get_exam(key)
        points = {}
        for user in users:
            for number, wrong in enumerate(plans[user.id], start=1):
                attempt = _sit(exam, db.session.get(User, user.id), wrong)
                points[(user.id, number)] = attempt.points
        db.session.commit()

        def totals(mode):
            matrix = item_analysis.response_matrix(exam, mode)
            return dict(matrix.scores.sum(axis=1)), matrix

        first, matrix = totals("first")
        assert first == {f"u{u.id}": points[(u.id, 1)] for u in users}
        assert sorted(matrix.max_scores.values()) == [1, 1, 1, 1, 2]
        single = [k for k, v in matrix.keys.items() if v == {"b"}]
        assert len(single) == 4
        assert matrix.options.loc[f"u{users[0].id}", single].tolist().count("a") == 2
        last, _ = totals("last")
        assert last[f"u{users[0].id}"] == points[(users[0].id, 2)] == 6
        assert last[f"u{users[1].id}"] == points[(users[1].id, 2)] == 3
        best, _ = totals("best")
        assert best[f"u{users[0].id}"] == 6 and best[f"u{users[1].id}"] == 6
        assert best[f"u{users[2].id}"] == 5
        every, _ = totals("all")
        assert len(every) == 5
        assert every[f"u{users[1].id}#2"] == 3

        analysis = item_analysis.item_analysis(exam, "all")
        assert analysis["attempts"] == "all" and analysis["test"]["n"] == 5
        scores = item_analysis.response_matrix(exam, "all").scores
        assert analysis["test"]["alpha"] == pytest.approx(
            pingouin.cronbach_alpha(scores)[0], abs=1e-9
        )
        by_item = {i["item"]: i for i in analysis["items"]}
        assert by_item[single[0]]["options"] is not None
        assert all(
            flag["reason"] and flag["code"]
            for item in analysis["items"]
            for flag in item["flags"]
        )
        with pytest.raises(Invalid):
            item_analysis.response_matrix(exam, "median")


def test_attempts_and_imports_analysed_together(app):
    with app.app_context():
        exam = external_exam()
        rng = np.random.default_rng(3)
        ability = rng.normal(size=40)
        lines = ["examinee,item,score"]
        for i, theta in enumerate(ability):
            for j, b in enumerate(np.linspace(-1, 1, 6)):
                right = rng.random() < 1 / (1 + np.exp(-(theta - b)))
                lines.append(f"E{i:03d},i{j},{int(right)}")
        item_analysis.import_responses(exam, "\n".join(lines), actor=None)
        analysis = item_analysis.item_analysis(exam)
        matrix = item_analysis.response_matrix(exam).scores
        assert matrix.shape == (40, 6)
        alpha, ci = pingouin.cronbach_alpha(matrix)
        assert analysis["test"]["alpha"] == pytest.approx(alpha, abs=1e-9)
        assert analysis["test"]["kr20"] == pytest.approx(alpha, abs=1e-9)
        assert analysis["test"]["alpha_ci"] == pytest.approx(list(ci), abs=5e-4)
        assert item_analysis.analysis_csv(analysis).startswith("item,n,max_score")


# --- the API ------------------------------------------------------------------


@pytest.fixture
def hr_api(app, make_user, make_token):
    user = make_user("hr")
    return Caller(app.test_client(), make_token(user), user, "/api/v1/exams")


def test_api_external_exam_import_and_analysis(hr_api):
    created = hr_api.post(
        "",
        json={
            "key": "legacy-2024",
            "title": {"zh": "旧系统", "en": "Legacy"},
            "external": True,
        },
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["external"] is True
    assert created.get_json()["title"] == {"zh": "旧系统", "en": "Legacy"}
    imported = hr_api.post(
        "/legacy-2024/responses", data=CSV.encode(), content_type="text/csv"
    )
    assert imported.status_code == 200, imported.get_json()
    body = imported.get_json()
    assert body["accepted"] == 4 and [e["row"] for e in body["errors"]] == [4, 5, 6, 7]
    assert body["errors"][0]["fields"]["score"]
    bad = hr_api.post(
        "/legacy-2024/responses", data="who,what\n1,2\n", content_type="text/csv"
    )
    assert bad.status_code == 400
    assert "header" in bad.get_json()["error"]["fields"]
    analysis = hr_api.get("/legacy-2024/item-analysis?attempts=best")
    assert analysis.status_code == 200
    data = analysis.get_json()
    assert data["test"]["n"] == 3 and {i["item"] for i in data["items"]} == {
        "q1",
        "q2",
    }
    assert 0 <= data["test"]["mean"] <= 1
    assert hr_api.get("/legacy-2024/item-analysis?attempts=median").status_code == 422
    assert hr_api.get("/nope/item-analysis").status_code == 404
    status = hr_api.client.post(
        "/api/v1/assessments/exams/legacy-2024/status",
        json={"status": "published"},
        headers=hr_api.headers,
    )
    assert status.status_code == 409


def test_api_delegates_an_ordinary_exam(hr_api, bank):
    body = {
        "key": "ordinary",
        "title": {"zh": "考试", "en": "Exam"},
        "sections": [
            {
                "title": {"zh": "一", "en": "One"},
                "competency": "interpretation",
                "item_count": 2,
            }
        ],
    }
    created = hr_api.post("", json=body)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["external"] is False
    assert len(created.get_json()["sections"]) == 1
    missing = hr_api.post("", json={"key": "no-sections", "title": body["title"]})
    assert missing.status_code == 422
    assert "sections" in missing.get_json()["error"]["fields"]


@pytest.mark.parametrize("role", ["manager", "member"])
def test_api_is_for_hr_and_admins(app, make_user, make_token, role):
    user = make_user(role)
    caller = Caller(app.test_client(), make_token(user), user, "/api/v1/exams")
    with app.app_context():
        external_exam()
        db.session.commit()
    assert (
        caller.post("", json={"key": "x", "title": "X", "external": True}).status_code
        == 403
    )
    assert (
        caller.post(
            "/paper-2025/responses",
            data="examinee,item,score\nE,q,1\n",
            content_type="text/csv",
        ).status_code
        == 403
    )
    assert caller.get("/paper-2025/item-analysis").status_code == 403


def test_admin_may_and_the_routes_are_in_openapi(app, make_user, make_token):
    admin = make_user("admin")
    caller = Caller(app.test_client(), make_token(admin), admin, "/api/v1/exams")
    assert (
        caller.post("", json={"key": "x1", "title": "X", "external": True}).status_code
        == 201
    )
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    assert "post" in paths["/api/v1/exams"]
    assert (
        "text/csv"
        in paths["/api/v1/exams/{key}/responses"]["post"]["requestBody"]["content"]
    )
    assert "get" in paths["/api/v1/exams/{key}/item-analysis"]


# --- the pages ----------------------------------------------------------------

PAGE = "/assessments/hr/exams/paper-2025/item-analysis"


def _with_responses(app):
    with app.app_context():
        exam = external_exam()
        item_analysis.import_responses(exam, CSV, actor=None)
        db.session.commit()


def test_the_item_analysis_page_imports_and_exports(app, login_as):
    _with_responses(app)
    hr = login_as("hr")
    page = hr.get(PAGE)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "q1" in text and "q2" in text and "Cronbach" in text
    upload = post_form(
        hr,
        PAGE,
        {"file": (io.BytesIO(b"examinee,item,score\nE9,q1,1\nE9,q2,7\n"), "r.csv")},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 200
    body = upload.get_data(as_text=True)
    # Row 2 (E9, q2: 7 above its maximum 3) is refused and listed.
    assert '<td class="num">2</td><td>E9</td>' in body
    with app.app_context():
        assert (
            db.session.scalar(
                db.select(db.func.count(ExternalResponse.id)).where(
                    ExternalResponse.examinee == "E9"
                )
            )
            == 1
        )
    refused = post_form(
        hr,
        PAGE,
        {"file": (io.BytesIO(b"who,what\n1,2\n"), "bad.csv")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    exported = hr.get(PAGE + ".csv?attempts=all")
    assert exported.status_code == 200
    assert exported.mimetype == "text/csv"
    assert exported.get_data(as_text=True).lstrip("\ufeff").startswith("item,n,")


def test_hr_creates_an_external_exam_in_a_page(app, login_as):
    hr = login_as("hr")
    assert hr.get("/assessments/hr/exams/external").status_code == 200
    created = post_form(
        hr,
        "/assessments/hr/exams/external",
        {"key": "paper-2026", "title_zh": "纸笔考试", "title_en": "Paper sitting"},
    )
    assert created.status_code == 302
    assert created.headers["Location"].endswith(
        "/assessments/hr/exams/paper-2026/item-analysis"
    )
    again = post_form(
        hr,
        "/assessments/hr/exams/external",
        {"key": "paper-2026", "title_zh": "再来", "title_en": "Again"},
    )
    assert again.status_code == 422
    with app.app_context():
        assert get_exam("paper-2026").external


def test_the_pages_are_for_hr_and_admins(app, login_as):
    _with_responses(app)
    manager = login_as("manager")
    assert manager.get(PAGE).status_code == 403
    assert manager.get(PAGE + ".csv").status_code == 403
    assert manager.get("/assessments/hr/exams/external").status_code == 403
    assert login_as("admin").get(PAGE).status_code == 200
