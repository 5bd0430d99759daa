"""Simulation services: authoring, import/export, attempts on the server's clock,
branching, scores, review, grading of coaching notes, visibility, the pooled
person summary and certifications that include a simulation."""

from datetime import timedelta

import pytest
import sqlalchemy as sa
from scipy.stats import norm

from assessments import coaching, services
from assessments import simulations as sim
from assessments.models import Certificate, SimulationAttempt
from proving_ground.audit.models import AuditEvent
from proving_ground.auth.models import User
from proving_ground.db import db, utcnow
from proving_ground.validation import Invalid

from .test_coaching import scenario_content


def scenario_data(key: str = "hospital", **settings) -> dict:
    rubric = settings.pop("rubric", False)
    return {
        "key": key,
        "title": {"zh": "医院采购", "en": "Hospital procurement"},
        "content": scenario_content(rubric=rubric),
        **settings,
    }


@pytest.fixture
def make_scenario(app):
    """Create (and by default publish) a scenario; returns its key."""

    def make(key: str = "hospital", *, publish: bool = True, **settings) -> str:
        with app.app_context():
            scenario = sim.create_scenario(scenario_data(key, **settings), actor=None)
            if publish:
                sim.set_scenario_status(scenario, "published", actor=None)
            db.session.commit()
        return key

    return make


def answers(*pairs, note: str | None = None) -> list[dict]:
    """("s1", "accept"), ("s2", "reject", ["wrong_price"]), ("s3", "edit") …"""
    out = []
    for pair in pairs:
        response = {"suggestion": pair[0], "decision": pair[1]}
        if pair[1] == "edit":
            response["edited_text"] = f"My version of {pair[0]}"
        if len(pair) > 2:
            response["flaws"] = pair[2]
        if note:
            response["note"] = note
        out.append(response)
    return out


def user(app, user_id: int) -> User:
    return db.session.get(User, user_id)


PERFECT = [
    ("t1", answers(("s1", "accept"), ("s2", "reject", ["wrong_price"]))),
    ("t2", answers(("s3", "accept"), ("s4", "edit", ["invented_fact"]))),
    ("t3", answers(("s7", "accept"), ("s8", "reject", ["ignores_need"]))),
]


def walk(attempt, turns, start, step=timedelta(seconds=40)):
    now = start
    for turn_id, responses in turns:
        now += step
        sim.answer_turn(attempt, turn_id, responses, now=now)
    return now


# --- authoring -----------------------------------------------------------------


def test_create_names_content_problems_under_content(app):
    with app.app_context():
        data = scenario_data()
        data["content"]["turns"][0]["suggestions"][1]["flaws"] = []
        data["time_limit_minutes"] = 0
        with pytest.raises(Invalid) as caught:
            sim.create_scenario(data, actor=None)
        assert "content.turns.0.suggestions.1.flaws" in caught.value.fields
        assert "time_limit_minutes" in caught.value.fields


def test_key_is_unique_and_fixed(app, make_scenario):
    make_scenario()
    with app.app_context():
        with pytest.raises(Invalid) as caught:
            sim.create_scenario(scenario_data(), actor=None)
        assert "key" in caught.value.fields
        with pytest.raises(Invalid):
            sim.update_scenario(
                sim.scenario_by_key("hospital"), {"key": "other"}, actor=None
            )


def test_content_edits_in_place_until_attempted_then_versions(app, make_scenario):
    make_scenario()
    with app.app_context():
        scenario = sim.scenario_by_key("hospital")
        content = scenario_content()
        content["persona"]["name"]["en"] = "Dr Wang"
        sim.update_scenario(scenario, {"content": content}, actor=None)
        assert [v.number for v in scenario.versions] == [1]
        member = User(email="m@example.com", display_name="M", password_hash="x")
        db.session.add(member)
        db.session.flush()
        attempt = sim.start_attempt(scenario, member, language="en")
        content["persona"]["name"]["en"] = "Professor Wang"
        sim.update_scenario(scenario, {"content": content}, actor=None)
        assert [v.number for v in scenario.versions] == [1, 2]
        assert sim.persona(attempt, "en")["name"] == "Dr Wang"
        events = db.session.scalars(
            sa.select(AuditEvent.action).where(AuditEvent.action.like("simulation.%"))
        ).all()
        assert "simulation.updated" in events and "simulation.started" in events


def test_status_must_be_known(app, make_scenario):
    make_scenario(publish=False)
    with app.app_context():
        with pytest.raises(Invalid) as caught:
            sim.set_scenario_status(sim.scenario_by_key("hospital"), "open", actor=None)
        assert "status" in caught.value.fields


def test_export_import_round_trip_keeps_good_records(app, make_scenario):
    make_scenario()
    with app.app_context():
        exported = sim.export_scenario(sim.scenario_by_key("hospital"))
        assert exported["content"] == scenario_content()
        exported["title"]["en"] = "Hospital tender"
        fresh = dict(exported, key="saas-renewal")
        bad = dict(exported, key="broken", content={"turns": []})
        report = sim.import_scenarios([exported, fresh, bad, "x"], actor=None)
        assert report.updated == ["hospital"]
        assert report.created == ["saas-renewal"]
        assert [e["row"] for e in report.errors] == [3, 4]
        assert "content.turns" in report.errors[0]["fields"]
        assert sim.scenario_by_key("hospital").title_en == "Hospital tender"
        assert sim.scenario_by_key("broken") is None
        assert [s.key for s in sim.list_scenarios()] == ["hospital", "saas-renewal"]
        assert [s.key for s in sim.list_scenarios(published_only=True)] == [
            "hospital",
            "saas-renewal",
        ]


# --- attempts ------------------------------------------------------------------


def test_start_needs_a_published_scenario_and_free_attempts(
    app, make_scenario, make_user
):
    make_scenario("draft-one", publish=False)
    make_scenario(max_attempts=1)
    member = make_user("member")
    with app.app_context():
        me = user(app, member.id)
        with pytest.raises(Invalid) as caught:
            sim.start_attempt(sim.scenario_by_key("draft-one"), me, language="en")
        assert caught.value.status == 409
        scenario = sim.scenario_by_key("hospital")
        start = utcnow()
        attempt = sim.start_attempt(scenario, me, language="en", now=start)
        assert attempt.deadline_at == start + timedelta(minutes=30)
        assert sim.start_attempt(scenario, me, language="en") is attempt
        sim.submit_attempt(attempt)
        with pytest.raises(Invalid) as caught:
            sim.start_attempt(scenario, me, language="en")
        assert caught.value.status == 409


def test_walk_with_branch_scores_and_review(app, make_scenario, make_user):
    make_scenario()
    member = make_user("member")
    with app.app_context():
        me = user(app, member.id)
        start = utcnow()
        attempt = sim.start_attempt(
            sim.scenario_by_key("hospital"), me, language="en", now=start
        )
        turn = sim.public_turn(attempt, "en")
        assert turn["id"] == "t1" and turn["number"] == 1
        # Accepting the flawed s2 branches to t2b.
        sim.answer_turn(
            attempt,
            "t1",
            answers(("s1", "reject"), ("s2", "accept")),
            now=start + timedelta(seconds=20),
        )
        assert attempt.path == ["t1", "t2b"]
        assert sim.public_turn(attempt, "en")["number"] == 2
        with pytest.raises(Invalid) as caught:
            sim.scores(attempt)
        assert caught.value.status == 409
        sim.answer_turn(
            attempt,
            "t2b",
            answers(("s5", "edit", ["biased_assumption", "other"]), ("s6", "accept")),
            now=start + timedelta(seconds=60),
        )
        sim.answer_turn(
            attempt,
            "t3",
            answers(("s7", "edit"), ("s8", "reject", ["ignores_need"])),
            now=start + timedelta(seconds=120),
        )
        assert attempt.status == "released" and attempt.submitted_by == "examinee"
        assert sim.public_turn(attempt, "en") is None
        got = sim.scores(attempt)
        # flawed: s2 miss, s5 hit, s8 hit; sound: s1 rejected, s6 accepted,
        # s7 edited (a false alarm, not under-reliance).
        assert (got["hits"], got["misses"]) == (2, 1)
        assert (got["false_alarms"], got["correct_rejections"]) == (2, 1)
        expected = coaching.score(
            coaching.tally(
                [
                    coaching.Judgement(True, (), "reject"),
                    coaching.Judgement(False, ("wrong_price",), "accept"),
                    coaching.Judgement(False, ("biased_assumption",), "edit"),
                    coaching.Judgement(True, (), "accept"),
                    coaching.Judgement(True, (), "edit"),
                    coaching.Judgement(False, ("ignores_need",), "reject"),
                ]
            )
        )
        assert got["d_prime"] == pytest.approx(expected.d_prime, abs=1e-12)
        assert got["over_reliance"] == pytest.approx(1 / 3)
        assert got["under_reliance"] == pytest.approx(1 / 3)
        assert got["flaw_accuracy"] == pytest.approx((0.5 + 1.0) / 2)
        # Turn times: 20 s / 2, 40 s / 2, 60 s / 2 → median 20 s per suggestion.
        assert got["median_seconds"] == 20.0
        review = sim.review(attempt, "en")
        assert [t["id"] for t in review] == ["t1", "t2b", "t3"]
        s5 = review[1]["suggestions"][0]
        assert s5["verdict"] == "hit" and s5["flaws_wrong"] == ["other"]
        assert s5["explanation"] == "Why s5 is flawed"
        assert review[0]["suggestions"][1]["verdict"] == "miss"


def test_answer_checks_name_fields(app, make_scenario, make_user):
    make_scenario()
    member = make_user("member")
    with app.app_context():
        attempt = sim.start_attempt(
            sim.scenario_by_key("hospital"), user(app, member.id), language="en"
        )

        def refused(turn_id, responses):
            with pytest.raises(Invalid) as caught:
                sim.answer_turn(attempt, turn_id, responses)
            return caught.value

        assert refused("t2", answers(("s3", "accept"))).status == 409
        assert "responses" in refused("t1", answers(("s1", "accept"))).fields
        # An edit needs its text; flaws are marked only on what is not accepted.
        bad = [
            {"suggestion": "s1", "decision": "edit"},
            {"suggestion": "s2", "decision": "accept", "flaws": ["wrong_price"]},
        ]
        fields = refused("t1", bad).fields
        assert set(fields) == {"responses.0.edited_text", "responses.1.flaws"}
        fields = refused(
            "t1", answers(("s1", "maybe"), ("s2", "reject", ["rude"]))
        ).fields
        assert set(fields) == {"responses.0.decision", "responses.1.flaws"}
        assert attempt.responses == []


def test_late_answer_is_refused_and_attempt_submitted(app, make_scenario, make_user):
    make_scenario()
    member = make_user("member")
    with app.app_context():
        start = utcnow() - timedelta(minutes=10)
        attempt = sim.start_attempt(
            sim.scenario_by_key("hospital"),
            user(app, member.id),
            language="en",
            now=start,
        )
        sim.answer_turn(attempt, *PERFECT[0], now=start + timedelta(minutes=1))
        with pytest.raises(Invalid) as caught:
            sim.answer_turn(attempt, *PERFECT[1], now=start + timedelta(minutes=31))
        assert caught.value.status == 409
        assert attempt.status == "released" and attempt.submitted_by == "timeout"
        assert attempt.submitted_at == attempt.deadline_at
        assert sim.scores(attempt)["hits"] == 1  # only the saved turn counts


def test_submit_overdue_sweeps(app, make_scenario, make_user):
    make_scenario()
    members = [make_user("member"), make_user("member")]
    with app.app_context():
        scenario = sim.scenario_by_key("hospital")
        old = utcnow() - timedelta(hours=1)
        late = sim.start_attempt(
            scenario, user(app, members[0].id), language="en", now=old
        )
        fresh = sim.start_attempt(scenario, user(app, members[1].id), language="en")
        assert sim.submit_overdue() == 1
        assert late.submitted_by == "timeout" and fresh.status == "in_progress"


# --- notes and grading ---------------------------------------------------------


def test_notes_wait_for_a_grader(app, make_scenario, make_user):
    make_scenario(rubric=True)
    coach, hr, other = make_user("manager"), make_user("hr"), make_user("member")
    with app.app_context():
        attempt = sim.start_attempt(
            sim.scenario_by_key("hospital"), user(app, coach.id), language="en"
        )
        turns = [
            (
                t,
                answers(
                    *[(r["suggestion"], r["decision"], r.get("flaws", [])) for r in rs],
                    note="Check the price list",
                ),
            )
            for t, rs in PERFECT
        ]
        start = attempt.started_at
        walk(attempt, turns, start)
        assert attempt.status == "grading"
        assert sim.scores(attempt)["note_score"] is None  # scores shown already
        assert sim.grading_queue(user(app, other.id)) == []
        assert sim.grading_queue(user(app, coach.id)) == []
        assert sim.grading_queue(user(app, hr.id)) == [attempt]
        with pytest.raises(Invalid) as caught:
            sim.grade_notes(attempt, user(app, other.id), {"specific": 2, "kind": 1})
        assert caught.value.status == 403
        with pytest.raises(Invalid) as caught:
            sim.grade_notes(attempt, user(app, hr.id), {"specific": 2})
        assert "levels" in caught.value.fields
        sim.grade_notes(attempt, user(app, hr.id), {"specific": 2, "kind": 1}, "ok")
        assert attempt.status == "released"
        assert attempt.note_score == pytest.approx(3 / 4)
        with pytest.raises(Invalid) as caught:
            sim.grade_notes(attempt, user(app, hr.id), {"specific": 2, "kind": 1})
        assert caught.value.status == 409


def test_without_notes_a_rubric_scenario_releases_at_once(
    app, make_scenario, make_user
):
    make_scenario(rubric=True)
    coach = make_user("manager")
    with app.app_context():
        attempt = sim.start_attempt(
            sim.scenario_by_key("hospital"), user(app, coach.id), language="en"
        )
        walk(attempt, PERFECT, attempt.started_at)
        assert attempt.status == "released" and attempt.passed is True


# --- visibility and the person summary -----------------------------------------


def test_who_may_view(app, make_scenario, make_user):
    make_scenario()
    coach = make_user("member", team="east")
    manager = make_user("manager", team="east")
    stranger = make_user("manager", team="west")
    hr = make_user("hr")
    with app.app_context():
        attempt = sim.start_attempt(
            sim.scenario_by_key("hospital"), user(app, coach.id), language="en"
        )
        assert sim.may_view(attempt, user(app, coach.id))
        assert sim.may_view(attempt, user(app, hr.id))
        assert not sim.may_view(attempt, user(app, manager.id))  # in progress
        sim.submit_attempt(attempt)
        assert sim.may_view(attempt, user(app, manager.id))
        assert not sim.may_view(attempt, user(app, stranger.id))


def test_person_summary_pools_counts(app, make_scenario, make_user):
    make_scenario(max_attempts=3)
    coach, newcomer = make_user("manager"), make_user("member")
    with app.app_context():
        me = user(app, coach.id)
        scenario = sim.scenario_by_key("hospital")
        first = sim.start_attempt(scenario, me, language="en")
        walk(first, PERFECT, first.started_at)
        second = sim.start_attempt(scenario, me, language="en")
        sim.answer_turn(second, "t1", answers(("s1", "reject"), ("s2", "accept")))
        sim.submit_attempt(second)
        sim.start_attempt(scenario, me, language="en")  # in progress: not pooled
        summary = sim.person_summary(me)
        assert summary["attempts"] == 2
        assert (summary["hits"], summary["misses"]) == (3, 1)
        assert (summary["false_alarms"], summary["correct_rejections"]) == (1, 3)
        h, f = 3.5 / 5, 1.5 / 5
        d, c = norm.ppf(h) - norm.ppf(f), -(norm.ppf(h) + norm.ppf(f)) / 2
        assert summary["d_prime"] == pytest.approx(d, abs=1e-9)
        assert summary["criterion"] == pytest.approx(c, abs=1e-9)
        assert summary["under_reliance"] == pytest.approx(1 / 4)
        nobody = sim.person_summary(user(app, newcomer.id))
        assert nobody["attempts"] == 0 and nobody["style"] is None


def test_style_text_for_every_style(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        for style in coaching.STYLES:
            text = sim.style_text(style)
            assert str(text["label"]) and len(str(text["advice"])) > 80
        assert sim.style_text(None) == {"label": "", "advice": ""}


# --- certifications ------------------------------------------------------------


def test_certificate_needs_the_exam_and_the_simulation(
    app, make_scenario, make_exam, make_user
):
    make_scenario(pass_d_prime=1.5, max_over_reliance=0.0)
    exam_key = make_exam(counts={"interpretation": 2})
    coach = make_user("manager")
    with app.app_context():
        services.create_certification(
            {
                "key": "ai-coach",
                "name": {"zh": "AI 辅导认证", "en": "AI coach"},
                "exams": [exam_key],
                "scenarios": ["hospital"],
            },
            actor=None,
        )
        with pytest.raises(Invalid) as caught:
            services.create_certification(
                {
                    "key": "bad",
                    "name": {"zh": "坏", "en": "Bad"},
                    "exams": [exam_key],
                    "scenarios": ["nowhere"],
                },
                actor=None,
            )
        assert "scenarios.0" in caught.value.fields
        me = user(app, coach.id)
        scenario = sim.scenario_by_key("hospital")
        # A failing simulation (one flaw accepted) earns nothing.
        failing = sim.start_attempt(scenario, me, language="en")
        sim.answer_turn(failing, "t1", answers(("s1", "accept"), ("s2", "edit")))
        sim.answer_turn(failing, "t2", answers(("s3", "accept"), ("s4", "accept")))
        sim.answer_turn(failing, "t3", answers(("s7", "accept"), ("s8", "reject")))
        assert failing.passed is False
        exam = db.session.scalar(
            sa.select(services.Exam).where(services.Exam.key == exam_key)
        )
        attempt = services.start_attempt(exam, me, language="en")
        for row in attempt.items:
            right = "12.5" if row.version.type == "numeric" else "b"
            services.save_answer(attempt, row.position, right)
        services.submit_attempt(attempt)
        assert attempt.passed is True
        assert db.session.scalars(sa.select(Certificate)).all() == []
        passing = sim.start_attempt(scenario, me, language="en")
        walk(passing, PERFECT, passing.started_at)
        assert passing.passed is True
        certificates = db.session.scalars(sa.select(Certificate)).all()
        assert len(certificates) == 1
        assert certificates[0].attempt_ids == [attempt.id]
        issued = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "certificate.issued")
        )
        assert issued.details["simulation_attempts"] == [passing.id]
        assert (
            db.session.scalar(sa.select(sa.func.count()).select_from(SimulationAttempt))
            == 2
        )


def test_a_certification_may_require_simulations_only(app, make_scenario, make_user):
    make_scenario()
    coach = make_user("manager")
    with app.app_context():
        with pytest.raises(Invalid) as caught:
            services.create_certification(
                {"key": "empty", "name": {"zh": "空", "en": "Empty"}}, actor=None
            )
        assert "exams" in caught.value.fields
        services.create_certification(
            {
                "key": "ai-coach",
                "name": {"zh": "AI 辅导认证", "en": "AI coach"},
                "scenarios": ["hospital"],
            },
            actor=None,
        )
        me = user(app, coach.id)
        passing = sim.start_attempt(sim.scenario_by_key("hospital"), me, language="en")
        walk(passing, PERFECT, passing.started_at)
        assert passing.passed is True
        (certificate,) = db.session.scalars(sa.select(Certificate)).all()
        assert certificate.user_id == coach.id
        assert certificate.attempt_ids == []


@pytest.mark.parametrize("key", sorted(sim.RESERVED_KEYS))
def test_api_path_words_are_not_scenario_keys(app, key):
    with app.app_context(), pytest.raises(Invalid) as caught:
        sim.create_scenario(scenario_data(key), actor=None)
    assert "key" in caught.value.fields
