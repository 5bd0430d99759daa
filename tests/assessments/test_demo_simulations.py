"""The simulations demo: its scenarios are valid and instructive, and the demo
attempts show the intended AI collaboration styles on both databases."""

import json
from datetime import timedelta
from pathlib import Path
from statistics import NormalDist

import pytest
import sqlalchemy as sa
from flask import current_app

from assessments import coaching, demo, demo_simulations, simulations
from assessments.models import Certification, SimulationAttempt
from proving_ground.auth import services as auth_services
from proving_ground.db import db, utcnow
from proving_ground.demo import DEMO_USERS

SCENARIOS = demo_simulations.scenarios()
EAST = "manager.east@demo.proving-ground.cn"
SOUTH = "manager.south@demo.proving-ground.cn"
ZHANG = "rep.zhang@demo.proving-ground.cn"


def _suggestions(scenario: dict) -> list[dict]:
    return [s for turn in scenario["content"]["turns"] for s in turn["suggestions"]]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s["key"])
def test_demo_scenario_validates_and_is_rich_enough(scenario):
    content = scenario["content"]
    assert coaching.validate_content(content) == {}
    assert set(scenario["title"]) == {"zh", "en"}
    assert scenario["industry"] == content["persona"]["industry"]
    assert 4 <= len(content["turns"]) <= 6
    suggestions = _suggestions(scenario)
    flawed = [s for s in suggestions if not s["sound"]]
    assert len(suggestions) >= 8
    assert len(flawed) == len(suggestions) // 2
    # A branch in which the customer reacts to a flawed suggestion accepted.
    branches = [b for turn in content["turns"] for b in turn.get("branches", [])]
    flawed_ids = {s["id"] for s in flawed}
    assert any(
        b["suggestion"] in flawed_ids and b["decision"] == "accept" for b in branches
    )
    criteria = content["note_rubric"]["criteria"]
    assert 2 <= len(criteria) <= 3
    assert all(len(c["levels"]) == 3 for c in criteria)


def test_demo_scenarios_cover_every_flaw_type():
    seen = {f for sc in SCENARIOS for s in _suggestions(sc) for f in s.get("flaws", [])}
    assert seen == set(coaching.FLAW_TYPES)


def _demo_users() -> dict:
    users = {}
    for spec in DEMO_USERS:
        user = auth_services.create_user(
            password=current_app.config["DEMO_PASSWORD"], check_password=False, **spec
        )
        users[user.email] = user
    return users


def _attempt(email: str, key: str) -> SimulationAttempt:
    user = auth_services.get_user_by_email(email)
    (attempt,) = simulations.attempts_of(simulations.scenario_by_key(key), user)
    return attempt


def _z(p: float) -> float:
    return NormalDist().inv_cdf(p)


def test_the_certification_names_the_demo_exam():
    content = json.loads(
        Path(demo.__file__).with_name("demo_content.json").read_text("utf-8")
    )
    assert content["exam"]["key"] == demo_simulations.EXAM_KEY


def test_without_the_demo_exam_there_is_no_certification(app):
    with app.app_context():
        # 3 scenarios, 4 attempts, 1 note grade.
        assert demo_simulations.load(_demo_users(), lambda _label: None) == 8
        assert db.session.scalars(sa.select(Certification)).all() == []


def test_demo_loads_once_with_the_intended_styles(app, make_exam):
    make_exam(demo_simulations.EXAM_KEY)
    with app.app_context():
        users = _demo_users()
        labels = []
        created = demo_simulations.load(users, labels.append)
        db.session.commit()
        # 3 scenarios, the certification, 4 attempts, 1 note grade.
        assert created == 9
        assert labels
        assert demo_simulations.load(users, labels.append) == 0

        keys = [s["key"] for s in SCENARIOS]
        assert [s.key for s in simulations.list_scenarios(published_only=True)] == (
            sorted(keys)
        )
        certification = db.session.scalar(
            sa.select(Certification).where(Certification.key == "ai-coaching-2026")
        )
        assert certification.name_en == "AI Coaching Certification"
        assert sorted(s.key for s in certification.scenarios) == sorted(keys)
        assert [e.key for e in certification.exams] == [demo_simulations.EXAM_KEY]

        # Calibrated: 5 hits, 1 false alarm (an edit) in 10; notes marked by HR.
        east = _attempt(EAST, "sim-hospital-procurement")
        scores = simulations.scores(east)
        assert (scores["hits"], scores["misses"]) == (5, 0)
        assert (scores["false_alarms"], scores["correct_rejections"]) == (1, 4)
        assert scores["d_prime"] == pytest.approx(_z(5.5 / 6) - _z(1.5 / 6), abs=1e-9)
        assert scores["style"] == "calibrated"
        assert east.passed is True
        assert east.status == "released"
        assert scores["note_score"] == pytest.approx(5 / 6)

        # Over-reliant: one flaw of six caught; accepting the invented
        # certifications led to the branch where the CIO catches them.
        south = _attempt(SOUTH, "sim-saas-renewal")
        scores = simulations.scores(south)
        assert south.path == ["t1", "t2", "t3", "t4", "t4b", "t5"]
        assert (scores["hits"], scores["misses"]) == (1, 5)
        assert scores["over_reliance"] == pytest.approx(5 / 6)
        assert scores["criterion"] == pytest.approx(
            -(_z(1.5 / 7) + _z(0.5 / 7)) / 2, abs=1e-9
        )
        assert scores["style"] == "over_reliant"
        assert south.passed is False

        # Over-sceptical: every flaw caught, four of five sound rejected.
        zhang = _attempt(ZHANG, "sim-fmcg-distributor")
        scores = simulations.scores(zhang)
        assert (scores["hits"], scores["false_alarms"]) == (5, 4)
        assert scores["under_reliance"] == pytest.approx(4 / 5)
        assert scores["style"] == "over_sceptical"

        # Coaching notes waiting for a grader.
        waiting = _attempt(EAST, "sim-fmcg-distributor")
        assert waiting.status == "grading"
        assert simulations.scores(waiting)["style"] == "calibrated"
        hr = users["hr@demo.proving-ground.cn"]
        assert [a.id for a in simulations.grading_queue(hr)] == [waiting.id]

        now = utcnow()
        attempts = db.session.scalars(sa.select(SimulationAttempt)).all()
        assert len(attempts) == 4
        for attempt in attempts:
            assert now - timedelta(days=5) < attempt.started_at < now
            assert attempt.submitted_at <= attempt.deadline_at
            assert attempt.language == (
                "en" if attempt.user.locale == "en" else "zh_CN"
            )
