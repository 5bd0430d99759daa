"""The examinee, grader and verification pages of the assessments pillar."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from support import login, post_form

from assessments import services
from assessments.models import Attempt, AttemptItem, Certificate, Exam
from proving_ground.auth.models import User
from proving_ground.db import db, utcnow

EXAM = "data-literacy-exam"


def start(client, key: str = EXAM) -> int:
    response = post_form(client, f"/assessments/exams/{key}/start")
    assert response.status_code == 302, response.get_data(as_text=True)
    match = re.search(r"/assessments/attempts/(\d+)$", response.location)
    assert match, response.location
    return int(match.group(1))


def right_answers(app, attempt_id: int) -> dict[str, object]:
    """Form fields answering every automatically scored question right and every
    written one with some text (read from the key: test code only)."""
    data: dict[str, object] = {}
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        data["shown"] = [str(row.position) for row in attempt.items]
        for row in attempt.items:
            content = row.version.content
            name = f"q{row.position}"
            if content["type"] == "single":
                data[name] = content["key"]["option"]
            elif content["type"] == "numeric":
                data[name] = str(content["key"]["value"])
            else:
                data[name] = "Yes: the lift is large and the risk is small."
    return data


def grade_everything(app, grader, attempt_id: int) -> None:
    """Mark every written answer of the attempt with the top levels, via the page."""
    with app.app_context():
        ids = [
            row.id
            for row in db.session.get(Attempt, attempt_id).items
            if row.needs_grading
        ]
    for answer_id in ids:
        page = grader.get(f"/assessments/grading/{answer_id}")
        assert page.status_code == 200
        response = post_form(
            grader,
            f"/assessments/grading/{answer_id}",
            {"level-evidence": "2", "level-risk": "2", "comment": "Well argued."},
        )
        assert response.status_code == 302, response.get_data(as_text=True)


@pytest.fixture
def certified(app, make_exam):
    """The exam, and a certification that requires it."""
    make_exam()
    with app.app_context():
        services.create_certification(
            {
                "key": "data-literacy",
                "name": {"zh": "数据素养认证", "en": "Data literacy certification"},
                "exams": [EXAM],
            },
            actor=None,
        )
        db.session.commit()
    return EXAM


# --- landing and intro --------------------------------------------------------------


def test_landing_lists_open_exams(login_as, make_exam):
    make_exam()
    client = login_as("member")
    html = client.get("/assessments/").get_data(as_text=True)
    assert "Data literacy exam" in html
    assert f'href="/assessments/exams/{EXAM}"' in html
    assert "Grading queue" not in html  # not a grader


def test_landing_links_hr_to_grading(login_as):
    html = login_as("hr").get("/assessments/").get_data(as_text=True)
    assert 'href="/assessments/grading"' in html


def test_exam_intro_and_start(login_as, make_exam):
    make_exam()
    client = login_as("manager")
    page = client.get(f"/assessments/exams/{EXAM}")
    assert page.status_code == 200
    assert "Start the exam" in page.get_data(as_text=True)
    attempt_id = start(client)
    # Starting again continues the same attempt.
    assert start(client) == attempt_id
    html = client.get("/assessments/").get_data(as_text=True)
    assert f"/assessments/attempts/{attempt_id}" in html and "Continue" in html


def test_start_needs_csrf(login_as, make_exam):
    make_exam()
    client = login_as("member")
    assert client.post(f"/assessments/exams/{EXAM}/start").status_code == 400


def test_unknown_or_draft_exam_is_404(app, login_as, bank):
    with app.app_context():
        services.create_exam(
            {
                "key": "draft-exam",
                "title": {"zh": "草稿", "en": "Draft"},
                "sections": [
                    {
                        "title": {"zh": "一", "en": "One"},
                        "tag": "strategy",
                        "item_count": 1,
                    }
                ],
            },
            actor=None,
        )
        db.session.commit()
    client = login_as("member")
    assert client.get("/assessments/exams/draft-exam").status_code == 404
    assert client.get("/assessments/exams/nope").status_code == 404


def test_locked_exam_shows_reason(login_as, make_exam):
    make_exam(max_attempts=1, counts={"interpretation": 1})
    client = login_as("member")
    attempt_id = start(client)
    post_form(client, f"/assessments/attempts/{attempt_id}", {"action": "submit"})
    html = client.get("/assessments/").get_data(as_text=True)
    assert "You have used all 1 attempts." in html
    assert "Locked" in html


# --- taking -------------------------------------------------------------------------


def test_taking_page_renders_every_question_without_the_key(app, login_as, make_exam):
    make_exam()
    client = login_as("member")
    attempt_id = start(client)
    response = client.get(f"/assessments/attempts/{attempt_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count('class="card question"') == 16
    assert 'data-seconds-left="' in html
    assert "March figures" in html  # the stimulus, in the attempt's language
    assert "<table>" in html  # the stimulus table
    for secret in (
        "12.5",
        "解析",
        "Explanation",
        "分标准",
        "point standard",
        "tolerance",
    ):
        assert secret not in html, secret
    # No option is flagged: nothing is checked before an answer is saved.
    assert "checked" not in html


def test_others_cannot_see_an_attempt(app, login_as, client, make_exam):
    make_exam()
    owner = login_as("member")
    attempt_id = start(owner)
    assert (
        login_as("member").get(f"/assessments/attempts/{attempt_id}").status_code == 403
    )
    assert (
        login_as("manager")
        .get(f"/assessments/attempts/{attempt_id}/result")
        .status_code
        == 403
    )
    assert client.get(f"/assessments/attempts/{attempt_id}").location.startswith(
        "/login"
    )
    assert login_as("member").get("/assessments/attempts/999999").status_code == 404


def test_saved_answers_survive_a_reload(app, login_as, make_exam):
    make_exam(counts={"interpretation": 5})
    client = login_as("member")
    attempt_id = start(client)
    with app.app_context():
        rows = db.session.get(Attempt, attempt_id).items
        single = next(r for r in rows if r.version.type == "single")
        numeric = next(r for r in rows if r.version.type == "numeric")
        positions = (single.position, numeric.position)
    response = post_form(
        client,
        f"/assessments/attempts/{attempt_id}",
        {
            "shown": [str(p) for p in positions],
            f"q{positions[0]}": "c",
            f"q{positions[1]}": "7.5",
            "action": "save",
        },
    )
    assert response.status_code == 302
    assert response.location.endswith(f"/assessments/attempts/{attempt_id}")
    html = client.get(f"/assessments/attempts/{attempt_id}").get_data(as_text=True)
    assert f'name="q{positions[0]}" value="c" checked' in html
    assert 'value="7.5"' in html
    assert "Your answers are saved." in html


def test_invalid_answer_is_flashed(app, login_as, make_exam):
    make_exam(counts={"interpretation": 5})
    client = login_as("member")
    attempt_id = start(client)
    with app.app_context():
        rows = db.session.get(Attempt, attempt_id).items
        position = next(r.position for r in rows if r.version.type == "numeric")
    response = post_form(
        client,
        f"/assessments/attempts/{attempt_id}",
        {"shown": str(position), f"q{position}": "twelve", "action": "submit"},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert f"Question {position}:" in html
    with app.app_context():
        assert db.session.get(Attempt, attempt_id).status == "in_progress"


def test_overdue_attempt_goes_to_its_result(app, login_as, make_exam):
    make_exam(counts={"interpretation": 2})
    client = login_as("member")
    attempt_id = start(client)
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        attempt.deadline_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    response = client.get(f"/assessments/attempts/{attempt_id}")
    assert response.location.endswith(f"/assessments/attempts/{attempt_id}/result")
    html = client.get(response.location).get_data(as_text=True)
    assert "Not passed" in html
    assert "The time ran out" in html


# --- results and grading ------------------------------------------------------------


def test_submit_grade_release_and_certificate(app, login_as, client, certified):
    examinee = login_as("manager", name="Wang Fang")
    attempt_id = start(examinee)
    data = right_answers(app, attempt_id)
    response = post_form(
        examinee, f"/assessments/attempts/{attempt_id}", {**data, "action": "submit"}
    )
    assert response.location.endswith(f"/assessments/attempts/{attempt_id}/result")
    waiting = examinee.get(response.location).get_data(as_text=True)
    assert "waiting for grading" in waiting
    assert "Explanation" not in waiting  # no feedback before release

    assert login_as("member").get("/assessments/grading").status_code == 403
    grader = login_as("hr")
    queue = grader.get("/assessments/grading").get_data(as_text=True)
    assert "1 answer to mark" in queue
    assert "Wang Fang" not in queue
    with app.app_context():
        row = db.session.scalar(
            sa.select(AttemptItem).where(AttemptItem.needs_grading.is_(True))
        )
        answer_id = row.id
    form = grader.get(f"/assessments/grading/{answer_id}").get_data(as_text=True)
    assert "2-point standard" in form and "Wang Fang" not in form
    incomplete = post_form(
        grader, f"/assessments/grading/{answer_id}", {"level-evidence": "2"}
    )
    assert incomplete.status_code == 200
    assert "Choose a level for every criterion." in incomplete.get_data(as_text=True)
    grade_everything(app, grader, attempt_id)
    done = grader.get("/assessments/grading").get_data(as_text=True)
    assert "The grading queue is empty." in done

    result = examinee.get(f"/assessments/attempts/{attempt_id}/result")
    html = result.get_data(as_text=True)
    assert "Passed" in html and "100%" in html
    assert "Correct answer" in html and "Well argued." in html
    assert "解析" in html or "Explanation" in html

    with app.app_context():
        certificate = db.session.scalar(sa.select(Certificate))
        code = certificate.code
    assert f"/assessments/certificates/{code}" in html
    page = examinee.get(f"/assessments/certificates/{code}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "<svg" in body and "Wang Fang" in body
    assert (
        login_as("member").get(f"/assessments/certificates/{code}").status_code == 403
    )
    assert grader.get(f"/assessments/certificates/{code}").status_code == 200

    profile = examinee.get("/assessments/").get_data(as_text=True)
    assert "Competency interpretation" in profile
    assert "Data literacy certification" in profile

    # Anyone can verify, signed out.
    public = client.get(f"/assessments/verify/{code}")
    assert public.status_code == 200
    text = public.get_data(as_text=True)
    assert "Wang Fang" in text and "This certificate is valid." in text
    assert f"/api/v1/assessments/certificates/{code}/badge" in text
    typed = client.get("/assessments/verify", query_string={"code": code.lower()})
    assert typed.location.endswith(f"/assessments/verify/{code}")

    with app.app_context():
        services.revoke_certificate(
            db.session.scalar(sa.select(Certificate)), "Copied answers.", actor=None
        )
        db.session.commit()
    revoked = client.get(f"/assessments/verify/{code}").get_data(as_text=True)
    assert "revoked" in revoked and "Copied answers." in revoked


def test_named_grader_sees_the_queue(app, login_as, make_user, make_exam):
    make_exam(counts={"strategy": 6})
    grader_user = make_user("member")
    with app.app_context():
        services.set_graders(
            db.session.scalar(sa.select(Exam).where(Exam.key == EXAM)),
            [db.session.get(User, grader_user.id)],
            actor=None,
        )
        db.session.commit()
    examinee = login_as("member")
    attempt_id = start(examinee)
    post_form(
        examinee,
        f"/assessments/attempts/{attempt_id}",
        {**right_answers(app, attempt_id), "action": "submit"},
    )
    grader = app.test_client()
    login(grader, grader_user.email)
    assert grader.get("/assessments/grading").status_code == 200
    grade_everything(app, grader, attempt_id)
    html = examinee.get(f"/assessments/attempts/{attempt_id}/result").get_data(
        as_text=True
    )
    assert "Passed" in html


def test_examinee_cannot_grade_their_own_answer(app, login_as, make_exam):
    make_exam(counts={"strategy": 6})
    examinee = login_as("hr")
    attempt_id = start(examinee)
    post_form(
        examinee,
        f"/assessments/attempts/{attempt_id}",
        {**right_answers(app, attempt_id), "action": "submit"},
    )
    with app.app_context():
        answer_id = next(
            r.id for r in db.session.get(Attempt, attempt_id).items if r.needs_grading
        )
    assert examinee.get(f"/assessments/grading/{answer_id}").status_code == 403
    assert "Nothing to mark" in examinee.get("/assessments/grading").get_data(
        as_text=True
    )


# --- verification -------------------------------------------------------------------


def test_verification_form_is_public(client):
    page = client.get("/assessments/verify")
    assert page.status_code == 200
    assert "Verification code" in page.get_data(as_text=True)
    bad = client.get("/assessments/verify", query_string={"code": "hello"})
    assert bad.status_code == 200
    assert "This is not a verification code" in bad.get_data(as_text=True)
    missing = client.get("/assessments/verify/ABCD-EFGH-JKMN-PQRS")
    assert missing.status_code == 404
    assert "No certificate has this code." in missing.get_data(as_text=True)


def test_verification_in_chinese(client):
    page = client.get("/assessments/verify", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200
    assert 'lang="zh-CN"' in page.get_data(as_text=True)


def test_static_assets_are_public(client):
    assert client.get("/assessments/static/assessments.css").status_code == 200


def test_a_manager_sees_the_released_results_of_their_team(
    app, make_exam, make_user, login_as
):
    make_exam(counts={"interpretation": 2})
    hidden = make_exam("private-exam", counts={"interpretation": 2})
    member = make_user("member", team="华东 East")
    outsider = make_user("member", team="华南 South")
    attempts = {}
    with app.app_context():
        for user, key in ((member, EXAM), (member, hidden), (outsider, EXAM)):
            exam = db.session.scalar(sa.select(Exam).where(Exam.key == key))
            exam.team_results_visible = key == EXAM
            attempt = services.start_attempt(
                exam, db.session.get(User, user.id), language="zh_CN"
            )
            services.submit_attempt(attempt)
            attempts[(user.id, key)] = attempt.id
        db.session.commit()
    manager = login_as("manager", team="华东 East")
    page = manager.get("/assessments/").get_data(as_text=True)
    shown = attempts[(member.id, EXAM)]
    assert f"/assessments/attempts/{shown}/result" in page
    assert manager.get(f"/assessments/attempts/{shown}/result").status_code == 200
    for other in (attempts[(member.id, hidden)], attempts[(outsider.id, EXAM)]):
        assert f"/assessments/attempts/{other}/result" not in page
        assert manager.get(f"/assessments/attempts/{other}/result").status_code == 403
