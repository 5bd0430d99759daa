"""The rules of the assessments pillar, through its service functions: forms,
autosave, the server's deadline, attempt limits, scoring, grading, key
corrections, certificates and cut scores."""

from datetime import timedelta

import pytest

from assessments import services
from assessments.models import (
    Attempt,
    AttemptEvent,
    AttemptStatus,
    Certificate,
    Exam,
    Item,
)
from proving_ground.auth.models import User
from proving_ground.db import db, utcnow
from proving_ground.validation import Invalid


def _user(user) -> User:
    return db.session.get(User, user.id)


def get_exam(key: str) -> Exam:
    return db.session.scalar(db.select(Exam).where(Exam.key == key))


def _item(key: str) -> Item:
    return db.session.scalar(db.select(Item).where(Item.key == key))


def right_answer(content: dict):
    kind, key = content["type"], content.get("key") or {}
    return {
        "single": lambda: key["option"],
        "multiple": lambda: key["options"],
        "true_false": lambda: key["value"],
        "numeric": lambda: key["value"],
        "ordering": lambda: key["order"],
        "matching": lambda: key["pairs"],
        "short_text": lambda: "answer",
        "long_text": lambda: "Roll out: the interval excludes zero; watch refunds.",
    }[kind]()


def answer_all(attempt: Attempt, *, wrong: int = 0, now=None) -> None:
    """Answer every question right except the first ``wrong`` single-choice ones."""
    for row in attempt.items:
        answer = right_answer(row.version.content)
        if wrong and row.version.type == "single":
            answer = "a"
            wrong -= 1
        services.save_answer(attempt, row.position, answer, now=now)


def _certify(exam_key: str) -> None:
    services.create_certification(
        {
            "key": "data-literacy",
            "name": {"zh": "数据素养认证", "en": "Data literacy certificate"},
            "exams": [exam_key],
            "validity_months": 12,
        },
        actor=None,
    )


def test_a_form_draws_each_section_from_its_pool(app, make_exam, manager):
    key = make_exam(counts={"interpretation": 3, "attribution": 2, "strategy": 0})
    with app.app_context():
        exam = get_exam(key)
        attempt = services.start_attempt(exam, _user(manager), language="en")
        keys = [row.version.item.key for row in attempt.items]
        assert len(keys) == len(set(keys)) == 5
        assert sum(k.startswith("int") for k in keys) == 3
        assert sum(k.startswith("att") for k in keys) == 2
        for row in attempt.items:
            if row.version.type == "single":
                assert sorted(row.option_order) == ["a", "b", "c", "d"]
        # Starting again continues the attempt in progress.
        again = services.start_attempt(exam, _user(manager), language="en")
        assert again.id == attempt.id
        assert attempt.deadline_at == attempt.started_at + timedelta(minutes=30)


def test_autosave_is_idempotent_and_validated(app, make_exam, manager):
    key = make_exam(counts={"interpretation": 5})
    with app.app_context():
        attempt = services.start_attempt(get_exam(key), _user(manager), language="zh")
        row = attempt.items[0]
        first = services.save_answer(attempt, 1, right_answer(row.version.content))
        assert first.revision == 1
        again = services.save_answer(attempt, 1, right_answer(row.version.content))
        assert again.revision == 1
        with pytest.raises(Invalid) as bad:
            services.save_answer(attempt, 1, {"not": "an answer"})
        assert "answer" in bad.value.fields
        with pytest.raises(Invalid) as missing:
            services.save_answer(attempt, 99, "a")
        assert missing.value.status == 404
        cleared = services.save_answer(attempt, 1, None)
        assert cleared.answer is None and cleared.revision == 2
        events = db.session.scalars(
            db.select(AttemptEvent.kind).where(AttemptEvent.attempt_id == attempt.id)
        ).all()
        assert events.count("answer") == 2 and events[0] == "start"


def test_the_server_deadline_submits_what_was_saved(app, make_exam, manager):
    key = make_exam(counts={"interpretation": 5})
    with app.app_context():
        attempt = services.start_attempt(get_exam(key), _user(manager), language="en")
        answer_all(attempt)
        late = attempt.deadline_at + timedelta(seconds=1)
        with pytest.raises(Invalid) as refused:
            services.save_answer(attempt, 1, "a", now=late)
        assert refused.value.status == 409
        assert attempt.status == AttemptStatus.RELEASED
        assert attempt.submitted_by == "timeout"
        assert attempt.submitted_at == attempt.deadline_at
        assert attempt.score == 1.0 and attempt.passed


def test_overdue_attempts_are_swept(app, make_exam, manager):
    key = make_exam(counts={"interpretation": 5})
    with app.app_context():
        attempt = services.start_attempt(get_exam(key), _user(manager), language="en")
        services.save_answer(attempt, 1, right_answer(attempt.items[0].version.content))
        assert services.submit_overdue(utcnow()) == 0
        assert services.submit_overdue(attempt.deadline_at) == 1
        assert attempt.status == AttemptStatus.RELEASED
        # One question right out of five (numeric is worth 2 of 6 points).
        assert attempt.points == attempt.items[0].max_points


def test_attempt_limit_and_waiting_period(app, make_exam, manager):
    key = make_exam(counts={"interpretation": 5}, max_attempts=2, wait_hours=24)
    with app.app_context():
        exam, user = get_exam(key), _user(manager)
        first = services.start_attempt(exam, user, language="en")
        services.submit_attempt(first)
        with pytest.raises(Invalid) as waiting:
            services.start_attempt(exam, user, language="en")
        assert waiting.value.status == 409
        later = first.submitted_at + timedelta(hours=24, seconds=1)
        second = services.start_attempt(exam, user, language="en", now=later)
        assert second.number == 2
        services.submit_attempt(second, now=later)
        much_later = later + timedelta(days=30)
        availability = services.availability(exam, user, much_later)
        assert not availability.allowed and "2" in availability.reason


def test_closed_window_and_unpublished_exams_refuse(app, make_exam, manager):
    key = make_exam(counts={"interpretation": 5})
    with app.app_context():
        exam, user = get_exam(key), _user(manager)
        exam.closes_at = utcnow() - timedelta(minutes=1)
        assert not services.availability(exam, user).allowed
        exam.closes_at = None
        exam.status = "draft"
        with pytest.raises(Invalid):
            services.start_attempt(exam, user, language="en")


def test_passing_issues_a_certificate_and_a_failure_does_not(
    app, make_exam, manager, make_user
):
    key = make_exam(counts={"interpretation": 5, "attribution": 5})
    other = make_user("member")
    with app.app_context():
        _certify(key)
        exam = get_exam(key)
        passing = services.start_attempt(exam, _user(manager), language="en")
        answer_all(passing, wrong=2)  # 10 of 12 points
        services.submit_attempt(passing)
        assert passing.status == AttemptStatus.RELEASED
        assert passing.score == pytest.approx(10 / 12) and passing.passed
        assert sum(s["points"] for s in passing.section_scores) == 10
        assert [s["max_points"] for s in passing.section_scores] == [6, 6]
        certificate = services.certificates_of(_user(manager))[0]
        assert services.certificate_status(certificate) == "valid"
        assert services.find_certificate(certificate.code.lower()) is certificate
        failing = services.start_attempt(exam, _user(other), language="zh")
        answer_all(failing, wrong=8)
        services.submit_attempt(failing)
        assert failing.passed is False
        assert services.certificates_of(_user(other)) == []


def test_section_minimum_fails_an_otherwise_passing_attempt(app, make_exam, manager):
    key = make_exam(counts={"interpretation": 5, "attribution": 5})
    with app.app_context():
        exam = get_exam(key)
        exam.sections[0].min_score = 0.9
        attempt = services.start_attempt(exam, _user(manager), language="en")
        answer_all(attempt, wrong=1)
        services.submit_attempt(attempt)
        assert attempt.score > exam.cut_score
        wrong_section = next(s for s in attempt.section_scores if s["share"] < 1)
        assert attempt.passed is (wrong_section["section_id"] != exam.sections[0].id)


def test_rubric_answers_wait_for_blind_double_marking(
    app, make_exam, manager, make_user
):
    key = make_exam(counts={"strategy": 6}, second_marking=True, marking_tolerance=1)
    hr, grader, resolver = make_user("hr"), make_user("member"), make_user("hr")
    with app.app_context():
        exam = get_exam(key)
        services.set_graders(exam, [_user(grader)], actor=None)
        attempt = services.start_attempt(exam, _user(manager), language="en")
        answer_all(attempt)
        services.submit_attempt(attempt)
        assert attempt.status == AttemptStatus.GRADING
        assert services.grading_queue(_user(manager)) == []  # own attempt, no role
        (row,) = services.grading_queue(_user(grader))
        services.grade_answer(row, _user(grader), {"evidence": 2, "risk": 2})
        assert row.needs_grading and services.grading_queue(_user(grader)) == []
        with pytest.raises(Invalid):
            services.grade_answer(row, _user(grader), {"evidence": 0, "risk": 0})
        services.grade_answer(row, _user(hr), {"evidence": 0, "risk": 0}, "thin")
        # 4 vs 0 points: too far apart; HR (not the first grader) resolves.
        assert row.needs_grading and row.points is None
        services.grade_answer(row, _user(resolver), {"evidence": 2, "risk": 1})
        assert not row.needs_grading and row.points == 3
        assert attempt.status == AttemptStatus.RELEASED


def test_close_marks_are_averaged(app, make_exam, manager, make_user):
    key = make_exam(counts={"strategy": 6}, second_marking=True, marking_tolerance=1)
    first, second = make_user("hr"), make_user("hr")
    with app.app_context():
        attempt = services.start_attempt(get_exam(key), _user(manager), language="en")
        answer_all(attempt)
        services.submit_attempt(attempt)
        (row,) = services.grading_queue(_user(first))
        services.grade_answer(row, _user(first), {"evidence": 2, "risk": 2})
        services.grade_answer(row, _user(second), {"evidence": 2, "risk": 1})
        assert row.points == 3.5 and attempt.status == AttemptStatus.RELEASED


def test_editing_an_answered_item_creates_a_version(app, make_exam, manager):
    key = make_exam(counts={"interpretation": 5})
    with app.app_context():
        item = _item("int-000")
        unanswered = dict(item.current.content, stem={"zh": "改", "en": "Edited"})
        services.update_item(item, {"content": unanswered}, actor=None)
        assert len(item.versions) == 1
        attempt = services.start_attempt(get_exam(key), _user(manager), language="en")
        given = next(r for r in attempt.items if r.version.item_id == item.id)
        changed = dict(item.current.content, stem={"zh": "再改", "en": "Again"})
        services.update_item(item, {"content": changed}, actor=None)
        assert [v.number for v in item.versions] == [1, 2]
        assert given.version.number == 1
        assert given.version.content["stem"]["en"] == "Edited"


def test_a_corrected_key_regrades_and_moves_certificates(app, make_exam, manager):
    key = make_exam(counts={"interpretation": 5})
    with app.app_context():
        _certify(key)
        attempt = services.start_attempt(get_exam(key), _user(manager), language="en")
        for row in attempt.items:  # "c" everywhere: wrong under the key "b"
            answer = "c" if row.version.type == "single" else 0
            services.save_answer(attempt, row.position, answer)
        services.submit_attempt(attempt)
        assert attempt.passed is False
        for n in range(4):
            item = _item(f"int-{n:03d}")
            content = dict(item.current.content, key={"option": "c"})
            assert services.correct_key(item, content, "Key was wrong", actor=None)
        assert attempt.passed and attempt.score == pytest.approx(4 / 6)
        (certificate,) = services.certificates_of(_user(manager))
        item = _item("int-000")
        back = dict(item.current.content, key={"option": "b"})
        services.correct_key(item, back, "Reverted", actor=None)
        assert not attempt.passed
        assert services.certificate_status(certificate) == "revoked"
        events = db.session.scalars(
            db.select(AttemptEvent.kind).where(AttemptEvent.kind == "regrade")
        ).all()
        assert len(events) == 5


def test_a_key_correction_cannot_change_the_question(app, bank):
    with app.app_context():
        item = _item("int-000")
        content = dict(item.current.content, stem={"zh": "新", "en": "New"})
        with pytest.raises(Invalid) as refused:
            services.correct_key(item, content, "typo", actor=None)
        assert "content" in refused.value.fields
        with pytest.raises(Invalid) as no_reason:
            services.correct_key(item, item.current.content, " ", actor=None)
        assert "reason" in no_reason.value.fields


def test_recertification_only_inside_the_renewal_window(app, make_exam, manager):
    key = make_exam(counts={"interpretation": 5}, max_attempts=5)
    with app.app_context():
        _certify(key)
        exam, user = get_exam(key), _user(manager)
        first = services.start_attempt(exam, user, language="en")
        answer_all(first)
        services.submit_attempt(first)
        (certificate,) = services.certificates_of(user)
        second = services.start_attempt(exam, user, language="en")
        answer_all(second)
        services.submit_attempt(second)
        assert len(services.certificates_of(user)) == 1  # still valid for months
        renewal = certificate.expires_at - timedelta(days=30)
        third = services.start_attempt(exam, user, language="en", now=renewal)
        answer_all(third, now=renewal)
        services.submit_attempt(third, now=renewal)
        newest = services.certificates_of(user)[0]
        assert (
            newest.id != certificate.id and newest.expires_at > certificate.expires_at
        )


def test_revocation_needs_a_reason_and_shows_in_the_status(app, make_exam, manager):
    key = make_exam(counts={"interpretation": 5})
    with app.app_context():
        _certify(key)
        attempt = services.start_attempt(get_exam(key), _user(manager), language="en")
        answer_all(attempt)
        services.submit_attempt(attempt)
        certificate = db.session.scalar(db.select(Certificate))
        with pytest.raises(Invalid):
            services.revoke_certificate(certificate, "", actor=None)
        services.revoke_certificate(certificate, "Exam misconduct", actor=None)
        assert services.certificate_status(certificate) == "revoked"
        with pytest.raises(Invalid) as twice:
            services.revoke_certificate(certificate, "again", actor=None)
        assert twice.value.status == 409


def test_angoff_panel_cut_is_the_mean_of_complete_judges(app, make_exam, make_user):
    key = make_exam(counts={"interpretation": 5})
    judges = [make_user("manager") for _ in range(3)]
    outsider_user = make_user("member")
    with app.app_context():
        exam = get_exam(key)
        items = services.angoff_items(exam)
        assert len(items) == 5
        weights = [item.current.max_points for item in items]
        cuts = []
        for n, judge in enumerate(judges):
            services.invite_judge(exam, _user(judge), actor=None)
            probabilities = [0.5 + 0.1 * n + 0.05 * i for i in range(5)]
            rated = probabilities if n < 2 else probabilities[:3]
            services.rate_items(
                exam,
                _user(judge),
                {i.id: p for i, p in zip(items, rated, strict=False)},
            )
            cuts.append(
                sum(w * p for w, p in zip(weights, probabilities, strict=True))
                / sum(weights)
            )
        panel = services.angoff_panel(exam)
        assert panel.result.judges == 2  # the third judge rated 3 of 5 items
        assert panel.result.panel_cut == pytest.approx((cuts[0] + cuts[1]) / 2)
        assert panel.result.standard_error == pytest.approx(abs(cuts[0] - cuts[1]) / 2)
        with pytest.raises(Invalid) as outsider:
            services.rate_items(exam, _user(outsider_user), {items[0].id: 0.5})
        assert outsider.value.status == 403
        services.adopt_cut_score(exam, panel.result.panel_cut, actor=None)
        assert exam.cut_score == pytest.approx(round(panel.result.panel_cut, 4))


def test_imports_keep_good_rows_and_report_bad_ones(app, bank):
    with app.app_context():
        good = {
            "key": "imp-001",
            "competency": "strategy",
            "tags": "策略推演, pricing",
            "status": "draft",
            "content": {
                "type": "true_false",
                "stem": {"zh": "相关即因果。", "en": "Correlation is causation."},
                "key": {"value": False},
            },
        }
        bad = {"key": "imp-002", "competency": "nope", "content": {"type": "essay"}}
        report = services.import_items([good, bad, "not an object"], actor=None)
        assert report.created == ["imp-001"]
        assert [e["row"] for e in report.errors] == [2, 3]
        assert {"competency", "content.type"} <= set(report.errors[0]["fields"])
        assert _item("imp-001").tags == ["策略推演", "pricing"]
        assert _item("imp-002") is None
        exported = services.export_item(_item("imp-001"))
        again = services.import_items([exported | {"difficulty": 5}], actor=None)
        assert again.updated == ["imp-001"] and _item("imp-001").difficulty == 5


def test_publishing_checks_the_bank_can_fill_the_exam(app, bank):
    with app.app_context():
        exam = services.create_exam(
            {
                "key": "too-big",
                "title": {"zh": "考试", "en": "Exam"},
                "sections": [
                    {
                        "title": {"zh": "部分", "en": "Part"},
                        "competency": "strategy",
                        "item_count": 50,
                    }
                ],
            },
            actor=None,
        )
        with pytest.raises(Invalid) as refused:
            services.set_exam_status(exam, "published", actor=None)
        assert refused.value.status == 409
        with pytest.raises(Invalid) as bad:
            services.create_exam({"key": "Bad Key", "sections": []}, actor=None)
        assert {"key", "title", "sections"} <= set(bad.value.fields)


def test_eligibility_and_cohorts(app, make_exam, manager, make_user):
    key = make_exam(counts={"interpretation": 5})
    member = make_user("member", team="华东", region="East")
    with app.app_context():
        _certify(key)
        track = services.create_track(
            {
                "key": "regional-manager",
                "name": {"zh": "区域销售经理", "en": "Regional sales manager"},
                "certifications": ["data-literacy"],
            },
            actor=None,
        )
        exam = get_exam(key)
        passing = services.start_attempt(exam, _user(member), language="zh")
        answer_all(passing)
        services.submit_attempt(passing)
        failing = services.start_attempt(exam, _user(manager), language="en")
        services.submit_attempt(failing)
        rows = services.eligibility(track)
        assert rows[0]["user"].id == member.id and rows[0]["eligible"]
        assert not any(r["eligible"] for r in rows[1:])
        groups = {g["group"]: g for g in services.cohort(exam, "team")}
        assert groups["华东"]["pass_rate"] == 1.0
        assert sum(g["examinees"] for g in groups.values()) == 2
        soon = services.expiring_certificates(400)
        assert [c.user_id for c in soon] == [member.id]


def test_the_sweep_command_submits_overdue_attempts(app, make_exam, manager):
    key = make_exam(counts={"interpretation": 5})
    with app.app_context():
        attempt = services.start_attempt(get_exam(key), _user(manager), language="en")
        attempt.deadline_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        attempt_id = attempt.id
    result = app.test_cli_runner().invoke(args=["assessments", "sweep"])
    assert result.exit_code == 0, result.output
    assert "1 overdue attempt(s) submitted." in result.output
    with app.app_context():
        assert db.session.get(Attempt, attempt_id).submitted_by == "timeout"
