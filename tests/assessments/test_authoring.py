"""HR pages of the assessments pillar: access, item authoring, import, exams,
the Angoff panel, eligibility and report downloads."""

import io
import json

import pandas as pd
import pytest
import sqlalchemy as sa
from support import post_form

from assessments import services
from assessments.models import Exam, Item
from proving_ground.audit.models import AuditEvent
from proving_ground.auth.models import User
from proving_ground.db import db

EXAM = "data-literacy-exam"
PAGES = [
    "/assessments/hr/",
    "/assessments/hr/frameworks",
    "/assessments/hr/items",
    "/assessments/hr/items?status=active&type=numeric&competency=strategy",
    "/assessments/hr/items/new",
    "/assessments/hr/items/int-004",
    "/assessments/hr/items/str-005",
    "/assessments/hr/items/int-000/edit",
    "/assessments/hr/items/int-000/correct",
    "/assessments/hr/items/import",
    "/assessments/hr/exams",
    "/assessments/hr/exams/new",
    f"/assessments/hr/exams/{EXAM}",
    f"/assessments/hr/exams/{EXAM}/edit",
    f"/assessments/hr/exams/{EXAM}/angoff",
    "/assessments/hr/certifications",
    "/assessments/hr/tracks",
    "/assessments/hr/certificates",
    "/assessments/hr/reports",
    f"/assessments/hr/reports/{EXAM}",
]


def content(stem: str = "Which is right?") -> dict:
    return {
        "type": "single",
        "stem": {"zh": "哪个正确？", "en": stem},
        "options": [
            {"id": "a", "text": {"zh": "甲", "en": "A"}},
            {"id": "b", "text": {"zh": "乙", "en": "B"}},
        ],
        "key": {"option": "a"},
    }


def _exam(key: str = EXAM) -> Exam:
    return db.session.scalar(sa.select(Exam).where(Exam.key == key))


def _item(key: str) -> Item | None:
    return db.session.scalar(sa.select(Item).where(Item.key == key))


@pytest.fixture
def hr(login_as):
    return login_as("hr", name="HR Person")


def test_every_page_renders_for_hr_and_admin(login_as, make_exam):
    make_exam()
    for role in ("hr", "admin"):
        client = login_as(role)
        for page in PAGES:
            response = client.get(page)
            assert response.status_code == 200, (role, page)
            assert "<h1" in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["member", "manager"])
def test_pages_are_refused_to_members_and_managers(login_as, make_exam, role):
    make_exam()
    client = login_as(role)
    for page in PAGES:
        assert client.get(page).status_code == 403, page
    assert client.get(f"/assessments/hr/exams/{EXAM}/angoff/rate").status_code == 403


def test_pages_render_in_chinese(hr, make_exam):
    make_exam()
    hr.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    for page in PAGES:
        assert hr.get(page).status_code == 200, page


def test_create_an_item_through_the_form(app, hr, bank):
    form = {
        "key": "di-100",
        "content": json.dumps(content()),
        "competency": "interpretation",
        "tags": "interpretation, charts",
        "difficulty": "4",
        "status": "active",
    }
    response = post_form(hr, "/assessments/hr/items/new", form)
    assert response.status_code == 302
    assert response.location.endswith("/assessments/hr/items/di-100")
    with app.app_context():
        item = _item("di-100")
        assert item.tags == ["interpretation", "charts"]
        assert item.difficulty == 4 and item.status == "active"
        assert item.competency.key == "interpretation"
    page = hr.get("/assessments/hr/items/di-100").get_data(as_text=True)
    assert "Which is right?" in page and "Key and rubric" in page


def test_bad_json_is_a_form_error_and_nothing_is_lost(app, hr, bank):
    broken = '{"type": "single", "stem": {"en": "Lost?"'
    form = {
        "key": "di-101",
        "content": broken,
        "competency": "strategy",
        "tags": "a, b",
        "difficulty": "2",
        "status": "draft",
    }
    response = post_form(hr, "/assessments/hr/items/new", form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Not valid JSON" in page
    assert "{&#34;type&#34;: &#34;single&#34;, &#34;stem&#34;" in page  # kept as typed
    assert 'value="di-101"' in page and 'value="a, b"' in page
    assert '<option selected value="strategy">' in page
    with app.app_context():
        assert _item("di-101") is None


def test_invalid_content_shows_per_field_errors(app, hr, bank):
    bad = content()
    bad["key"] = {"option": "z"}
    form = {"key": "int-000", "content": json.dumps(bad), "status": "draft"}
    response = post_form(hr, "/assessments/hr/items/new", form | {"difficulty": "3"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "key.option: must be the id of one of the options" in page
    assert "This key is taken." in page
    response = post_form(hr, "/assessments/hr/items/new", form | {"difficulty": "9"})
    assert "Not a valid choice" in response.get_data(as_text=True)


def test_live_preview_validation_endpoint(hr, bank):
    response = hr.post(
        "/assessments/hr/items/validate",
        json={"type": "single", "stem": {"en": "x"}},
        headers={"X-CSRFToken": _token(hr)},
    )
    assert response.status_code == 200
    assert "options" in response.get_json()["problems"]


def _token(client) -> str:
    page = client.get("/assessments/hr/").get_data(as_text=True)
    return page.split('name="csrf-token" content="')[1].split('"')[0]


def test_edit_status_and_key_correction(app, hr, make_exam):
    make_exam()
    edited = content("Edited stem")
    response = post_form(
        hr,
        "/assessments/hr/items/int-000/edit",
        {"content": json.dumps(edited), "difficulty": "3", "status": "active"},
    )
    assert response.status_code == 302
    response = post_form(
        hr, "/assessments/hr/items/int-000/status", {"status": "retired"}
    )
    assert response.status_code == 302
    with app.app_context():
        item = _item("int-000")
        assert item.status == "retired" and item.current.content == edited
    corrected = {**edited, "key": {"option": "b"}}
    missing_reason = post_form(
        hr,
        "/assessments/hr/items/int-000/correct",
        {"content": json.dumps(corrected), "reason": ""},
    )
    assert missing_reason.status_code == 422
    assert "Say why the key is corrected." in missing_reason.get_data(as_text=True)
    response = post_form(
        hr,
        "/assessments/hr/items/int-000/correct",
        {"content": json.dumps(corrected), "reason": "Option b is right."},
        follow_redirects=True,
    )
    assert "Key corrected; 0 attempts regraded." in response.get_data(as_text=True)


def test_import_keeps_good_rows_and_reports_bad_ones(app, hr, bank):
    records = [
        {"key": "imp-001", "content": content(), "status": "active"},
        {"key": "imp-002", "content": {"type": "single"}},
        {"key": "int-000", "content": content("Updated"), "tags": ["x"]},
    ]
    response = post_form(
        hr,
        "/assessments/hr/items/import",
        {"file": (io.BytesIO(json.dumps(records).encode()), "items.json")},
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "1 created" in page and "1 updated" in page and "1 refused" in page
    assert "imp-002" in page and "content.stem" in page
    cell = json.dumps(content()).replace('"', '""')
    rows = (
        "key,competency,tags,difficulty,status,content\n"
        f'csv-001,strategy,"a,b",2,draft,"{cell}"\n'
        'csv-002,,,,,"{not json"\n'
        f'csv-003,nowhere,,,,"{cell}"\n'
    )
    response = post_form(
        hr,
        "/assessments/hr/items/import",
        {"file": (io.BytesIO(rows.encode()), "items.csv")},
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert "1 created" in page and "2 refused" in page
    assert "Not valid JSON" in page and "No competency has this key." in page
    assert page.index('<td class="num">2</td>') < page.index('<td class="num">3</td>')
    with app.app_context():
        assert _item("imp-001").status == "active"
        assert _item("imp-002") is None
        assert _item("int-000").tags == ["x"]
        assert _item("csv-001").tags == ["a", "b"]
        assert _item("csv-003") is None


def test_export_round_trips(app, hr, bank):
    exported = hr.get("/assessments/hr/items/export.json")
    assert exported.status_code == 200
    items = json.loads(exported.get_data(as_text=True))
    assert {i["key"] for i in items} >= {"int-000", "str-005"}
    frame = pd.read_csv(io.BytesIO(hr.get("/assessments/hr/items/export.csv").data))
    assert list(frame.columns) == [
        "key",
        "competency",
        "tags",
        "difficulty",
        "status",
        "content",
    ]
    assert json.loads(frame.set_index("key").loc["int-004", "content"])["type"] == (
        "numeric"
    )


def exam_form(**overrides) -> dict:
    form = {
        "key": "new-exam",
        "title_zh": "新考试",
        "title_en": "New exam",
        "time_limit_minutes": "45",
        "max_attempts": "2",
        "wait_hours": "12",
        "shuffle_items": "y",
        "cut_score": "65",
        "marking_tolerance": "1",
        "sections-0-title_zh": "数据解读",
        "sections-0-title_en": "Data interpretation",
        "sections-0-competency": "interpretation",
        "sections-0-item_count": "3",
        "sections-1-title_zh": "归因",
        "sections-1-title_en": "Attribution",
        "sections-1-tag": "attribution",
        "sections-1-item_count": "2",
        "sections-1-min_score": "50",
    }
    return form | overrides


def test_create_and_publish_an_exam(app, hr, bank):
    bad = post_form(
        hr,
        "/assessments/hr/exams/new",
        exam_form(**{"title_en": "", "sections-1-item_count": "50"}),
    )
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert "Give the text in both languages." in page
    assert 'value="数据解读"' in page  # nothing lost
    response = post_form(hr, "/assessments/hr/exams/new", exam_form())
    assert response.status_code == 302
    with app.app_context():
        exam = _exam("new-exam")
        assert exam.status == "draft" and exam.cut_score == pytest.approx(0.65)
        assert [s.item_count for s in exam.sections] == [3, 2]
        assert exam.sections[1].min_score == pytest.approx(0.5)
        assert exam.shuffle_items and not exam.shuffle_options
    response = post_form(
        hr,
        "/assessments/hr/exams/new-exam/status",
        {"status": "published"},
        follow_redirects=True,
    )
    assert "The exam is now Published." in response.get_data(as_text=True)
    with app.app_context():
        assert _exam("new-exam").status == "published"


def test_publishing_shows_the_problems(app, hr, bank):
    post_form(
        hr,
        "/assessments/hr/exams/new",
        exam_form(**{"sections-1-item_count": "40"}),
    )
    page = hr.get("/assessments/hr/exams/new-exam").get_data(as_text=True)
    assert "Cannot be published yet" in page
    response = post_form(
        hr,
        "/assessments/hr/exams/new-exam/status",
        {"status": "published"},
        follow_redirects=True,
    )
    assert "draws 40 items but the bank has 5 active ones" in response.get_data(
        as_text=True
    )
    with app.app_context():
        assert _exam("new-exam").status == "draft"


def test_named_graders(app, hr, make_exam, make_user):
    make_exam()
    grader = make_user("member", email="grader@example.com")
    response = post_form(
        hr,
        f"/assessments/hr/exams/{EXAM}/graders",
        {"emails": "nobody@example.com\ngrader@example.com"},
    )
    assert response.status_code == 422
    assert "nobody@example.com" in response.get_data(as_text=True)
    post_form(hr, f"/assessments/hr/exams/{EXAM}/graders", {"emails": grader.email})
    with app.app_context():
        assert [u.email for u in _exam().graders] == ["grader@example.com"]


def test_angoff_panel_two_judges_and_adoption(app, hr, login_as, make_exam):
    make_exam(counts={"interpretation": 2})
    judges = [login_as("manager"), login_as("member")]
    for judge in judges:
        response = post_form(
            hr,
            f"/assessments/hr/exams/{EXAM}/angoff/invite",
            {"email": judge.user.email},
        )
        assert response.status_code == 302
    with app.app_context():
        items = services.angoff_items(_exam())
        ids = [item.id for item in items]
        weights = [item.current.max_points for item in items]
    assert len(ids) == 5  # four single choice (1 point), one numeric (2 points)
    ratings = [[60, 70, 80, 50, 40], [90, 80, 70, 60, 50]]
    bad = post_form(
        judges[0],
        f"/assessments/hr/exams/{EXAM}/angoff/rate",
        {f"rating-{ids[0]}": "120"},
    )
    assert bad.status_code == 422
    assert "A percentage from 0 to 100." in bad.get_data(as_text=True)
    for judge, values in zip(judges, ratings, strict=True):
        page = judge.get(f"/assessments/hr/exams/{EXAM}/angoff/rate")
        assert page.status_code == 200
        response = post_form(
            judge,
            f"/assessments/hr/exams/{EXAM}/angoff/rate",
            {f"rating-{i}": str(v) for i, v in zip(ids, values, strict=True)},
        )
        assert response.status_code == 302
    cuts = [
        sum(w * v / 100 for w, v in zip(weights, values, strict=True)) / sum(weights)
        for values in ratings
    ]
    panel_cut = sum(cuts) / 2
    page = hr.get(f"/assessments/hr/exams/{EXAM}/angoff").get_data(as_text=True)
    for cut in (*cuts, panel_cut):
        assert f"{cut * 100:.1f}%" in page
    assert "2 / 2" in page
    response = post_form(
        hr, f"/assessments/hr/exams/{EXAM}/angoff/adopt", {"use": "panel"}
    )
    assert response.status_code == 302
    with app.app_context():
        assert _exam().cut_score == pytest.approx(round(panel_cut, 4))
        event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "exam.cut_score_adopted")
        )
        assert event is not None
        assert event.details["panel_cut"] == pytest.approx(panel_cut)
        assert event.details["judges"] == 2
    no_reason = post_form(
        hr,
        f"/assessments/hr/exams/{EXAM}/angoff/adopt",
        {"use": "other", "cut": "72", "reason": ""},
    )
    assert no_reason.status_code == 422
    post_form(
        hr,
        f"/assessments/hr/exams/{EXAM}/angoff/adopt",
        {"use": "other", "cut": "72", "reason": "Policy floor."},
    )
    with app.app_context():
        assert _exam().cut_score == pytest.approx(0.72)
        reasons = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "exam.cut_score_adopted")
        ).all()
        assert [e.details.get("reason") for e in reasons] == [None, "Policy floor."]


def _pass(app, make_exam, make_user, *, team: str, region: str, good: bool):
    """A released attempt at the exam by a new member."""
    user = make_user("member", team=team, region=region)
    with app.app_context():
        exam = _exam()
        attempt = services.start_attempt(
            exam, db.session.get(User, user.id), language="en"
        )
        for row in attempt.items:
            kind = row.version.type
            answer = {"single": "b", "numeric": "12.5"}.get(kind) if good else None
            if answer is not None:
                services.save_answer(attempt, row.position, answer)
        services.submit_attempt(attempt)
        db.session.commit()
    return user


def test_certifications_tracks_and_eligibility(app, hr, make_exam, make_user):
    make_exam(counts={"interpretation": 2})
    response = post_form(
        hr,
        "/assessments/hr/certifications",
        {
            "key": "dl-cert",
            "name_zh": "数据素养认证",
            "name_en": "Data literacy certification",
            "exams": EXAM,
            "validity_months": "12",
            "renewal_window_days": "60",
        },
    )
    assert response.status_code == 302
    response = post_form(
        hr,
        "/assessments/hr/tracks",
        {
            "key": "regional-director",
            "name_zh": "区域总监",
            "name_en": "Regional director",
            "certifications": "dl-cert",
        },
    )
    assert response.status_code == 302
    passed = _pass(app, make_exam, make_user, team="East", region="华东", good=True)
    _pass(app, make_exam, make_user, team="South", region="华南", good=False)
    page = hr.get("/assessments/hr/tracks/regional-director").get_data(as_text=True)
    assert "1 eligible" in page
    assert page.index(passed.email) < page.index("Not yet")
    with app.app_context():
        code = db.session.scalar(sa.select(services.Certificate.code))
    page = hr.get("/assessments/hr/certificates?days=400").get_data(as_text=True)
    assert code in page
    refused = post_form(
        hr,
        f"/assessments/hr/certificates/{code}/revoke",
        {"reason": ""},
        follow_redirects=True,
    )
    assert "Say why the certificate is revoked." in refused.get_data(as_text=True)
    eligible = pd.read_csv(
        io.BytesIO(
            hr.get("/assessments/hr/tracks/regional-director/eligibility.csv").data
        )
    )
    assert eligible["符合资格 Eligible"].tolist().count(True) == 1
    expiring = pd.read_excel(
        io.BytesIO(hr.get("/assessments/hr/certificates/expiring.xlsx?days=400").data)
    )
    assert expiring["证书编号 Code"].tolist() == [code]
    post_form(hr, f"/assessments/hr/certificates/{code}/revoke", {"reason": "Fraud"})
    page = hr.get("/assessments/hr/tracks/regional-director").get_data(as_text=True)
    assert "0 eligible" in page


def test_report_downloads_parse_back(app, hr, make_exam, make_user):
    # No rubric item in the draw: both attempts are released at submission.
    make_exam(counts={"interpretation": 2, "attribution": 1})
    _pass(app, make_exam, make_user, team="East", region="华东", good=True)
    _pass(app, make_exam, make_user, team="South", region="华南", good=False)
    page = hr.get(f"/assessments/hr/reports/{EXAM}").get_data(as_text=True)
    assert "East" in page and "华南" in page
    base = f"/assessments/hr/reports/{EXAM}"
    results = pd.read_csv(io.BytesIO(hr.get(f"{base}/results.csv").data))
    assert "姓名 Name" in results.columns and "是否通过 Passed" in results.columns
    assert len(results) == 2
    assert sorted(results["团队 Team"]) == ["East", "South"]
    team = pd.read_excel(io.BytesIO(hr.get(f"{base}/team.xlsx").data))
    assert list(team.columns[:4]) == [
        "分组 Group",
        "考生人数 Examinees",
        "通过率 Pass rate",
        "平均得分率 Mean score",
    ]
    assert "部分 interpretation Section interpretation" in team.columns
    assert team.set_index("分组 Group").loc["East", "通过率 Pass rate"] == 1.0
    region = pd.read_csv(io.BytesIO(hr.get(f"{base}/region.csv").data))
    assert sorted(region["分组 Group"]) == ["华东", "华南"]
    workbook = pd.read_excel(io.BytesIO(hr.get(f"{base}/results.xlsx").data))
    assert len(workbook) == 2
    assert hr.get(f"{base}/other.csv").status_code == 404


def test_framework_upload(app, hr):
    document = {
        "key": "ai-readiness",
        "name": {"zh": "AI 就绪度", "en": "AI readiness"},
        "competencies": [
            {
                "key": "tool-proficiency",
                "name": {"zh": "工具熟练度", "en": "Tool proficiency"},
                "levels": [{"zh": "入门", "en": "Novice"}],
                "children": [
                    {"key": "prompting", "name": {"zh": "提示词", "en": "Prompting"}}
                ],
            }
        ],
    }
    bad = post_form(
        hr, "/assessments/hr/frameworks", {"document": json.dumps({"key": "X"})}
    )
    assert bad.status_code == 422
    assert "key: Use 1-64 lower-case letters" in bad.get_data(as_text=True)
    response = post_form(
        hr,
        "/assessments/hr/frameworks",
        {"file": (io.BytesIO(json.dumps(document).encode()), "map.json")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    page = hr.get("/assessments/hr/frameworks").get_data(as_text=True)
    assert "Prompting" in page and "depth-1" in page
