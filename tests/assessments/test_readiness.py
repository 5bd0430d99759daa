"""The AI-readiness baseline: quarters, computing a campaign from exam attempts
and tracked AI-suggestion events, small counts, team figures, the heat map,
who may read what, and the downloads.

Wilson intervals are checked against the closed form (Wilson 1927, as in
Agresti & Coull 1998, eq. 2) computed here by hand, not with statsmodels."""

import io
import math
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from support import Caller, login, post_form

from assessments import readiness, services
from assessments.models import Exam, ReadinessCampaign
from experiments import ingest
from experiments.services import ai_suggestion_counts
from proving_ground.auth.models import User
from proving_ground.db import db
from proving_ground.validation import Invalid

Q3 = datetime(2025, 7, 1, tzinfo=UTC)
Q4 = datetime(2025, 10, 1, tzinfo=UTC)
Q1_NEXT = datetime(2026, 1, 1, tzinfo=UTC)
Z = 1.959963984540054  # the 97.5 % point of the standard normal


def wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson's 95 % score interval by its closed form, on the 0–100 scale."""
    p = k / n
    denominator = 1 + Z**2 / n
    centre = (p + Z**2 / (2 * n)) / denominator
    half = Z * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2)) / denominator
    return 100 * (centre - half), 100 * (centre + half)


def test_quarter_bounds():
    assert readiness.quarter_bounds("2026Q3") == (
        datetime(2026, 7, 1, tzinfo=UTC),
        datetime(2026, 10, 1, tzinfo=UTC),
    )
    assert readiness.quarter_bounds("2026Q4") == (
        datetime(2026, 10, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert readiness.quarter_bounds("2027Q1")[0] == datetime(2027, 1, 1, tzinfo=UTC)
    assert readiness.quarter_of(datetime(2026, 9, 30, 23, 59, tzinfo=UTC)) == "2026Q3"
    assert readiness.quarter_of(datetime(2026, 10, 1, tzinfo=UTC)) == "2026Q4"
    for bad in ("2026Q5", "2026-Q3", "26Q1", ""):
        with pytest.raises(Invalid):
            readiness.quarter_bounds(bad)


def test_wilson_interval_matches_the_closed_form():
    for k, n in ((4, 10), (0, 7), (34, 50), (250, 250)):
        low, high = readiness.wilson_interval(k, n)
        expected = wilson(k, n)
        assert low == pytest.approx(expected[0], abs=1e-9)
        assert high == pytest.approx(expected[1], abs=1e-9)
    assert readiness.wilson_interval(0, 0) is None
    assert readiness.is_few(29) and not readiness.is_few(30)
    assert not readiness.is_few(0)


# --- fixtures ---------------------------------------------------------------------


def send_events(app, rep: str, shown: int, accepted: int, at: datetime, tag="x"):
    """Ingest ``shown`` suggestion-shown and ``accepted`` suggestion-accepted
    events for a rep, an hour apart from ``at``."""
    events = []
    for i in range(shown):
        moment = (at + timedelta(hours=i)).isoformat()
        events.append(
            {
                "event_id": f"{rep}-{tag}-s{i}",
                "type": "ai_suggestion_shown",
                "unit_id": f"lead-{i}",
                "rep_id": rep,
                "occurred_at": moment,
            }
        )
        if i < accepted:
            events.append(
                {
                    "event_id": f"{rep}-{tag}-a{i}",
                    "type": "ai_suggestion_accepted",
                    "unit_id": f"lead-{i}",
                    "rep_id": rep,
                    "occurred_at": moment,
                }
            )
    with app.app_context():
        result = ingest.ingest(events, now=Q1_NEXT + timedelta(days=400))
        assert not result.rejected, result.rejected
        db.session.commit()


def sit(app, exam_key: str, user: User, at: datetime, right: dict[str, bool]):
    """Sit the exam at ``at``: per section (by competency key) all items right
    or all wrong."""
    with app.app_context():
        exam = db.session.scalar(db.select(Exam).where(Exam.key == exam_key))
        person = db.session.get(User, user.id)
        attempt = services.start_attempt(exam, person, language="en", now=at)
        for row in attempt.items:
            content = row.version.content
            ok = right[row.section.competency.key]
            if content["type"] == "single":
                answer = "b" if ok else "a"
            else:
                answer = 12.5 if ok else 99
            services.save_answer(attempt, row.position, answer, now=at)
        services.submit_attempt(attempt, now=at + timedelta(minutes=5))
        db.session.commit()
        return attempt.id


@pytest.fixture
def exam_key(make_exam):
    # interpretation: tool proficiency; attribution: division of work. Each has
    # four 1-point single-choice items and one 2-point numeric item.
    return make_exam(
        "ai-readiness", counts={"interpretation": 5, "attribution": 5}, max_attempts=5
    )


def section_ids(app, exam_key) -> dict[str, int]:
    with app.app_context():
        exam = db.session.scalar(db.select(Exam).where(Exam.key == exam_key))
        return {s.competency.key: s.id for s in exam.sections}


def campaign_body(app, exam_key, key="q3", quarter="2025Q3", teams=("East",)):
    ids = section_ids(app, exam_key)
    return {
        "key": key,
        "quarter": quarter,
        "title": {"zh": f"{quarter} AI 就绪度", "en": f"{quarter} AI readiness"},
        "teams": list(teams),
        "exam": exam_key,
        "tool_section": ids["interpretation"],
        "division_section": ids["attribution"],
        "status": "open",
    }


@pytest.fixture
def people(make_user):
    return {
        "ann": make_user("member", name="Ann", team="East", rep_id="rep-a"),
        "bob": make_user("member", name="Bob", team="East", rep_id="rep-b"),
        "cy": make_user("member", name="Cy", team="East"),  # no rep id
        "dan": make_user("member", name="Dan", team="West", rep_id="rep-d"),
    }


@pytest.fixture
def scenario(app, exam_key, people, make_user):
    """Ann sits twice in Q3 (all right, then interpretation right only), Bob once
    all right, Dan (West) once all wrong; Ann also sits in Q2 (ignored). Events:
    rep-a 10 shown / 4 accepted, rep-b 40 / 30, rep-d 5 / 1 in Q3, plus events
    just outside the quarter."""
    inactive = make_user("member", name="Old", team="East", rep_id="rep-old")
    with app.app_context():
        db.session.get(User, inactive.id).active = False
        db.session.commit()
    all_right = {"interpretation": True, "attribution": True}
    sit(app, exam_key, people["ann"], Q3 - timedelta(days=10), all_right)
    sit(app, exam_key, people["ann"], Q3 + timedelta(days=5), all_right)
    latest = sit(
        app,
        exam_key,
        people["ann"],
        Q3 + timedelta(days=20),
        {"interpretation": True, "attribution": False},
    )
    sit(app, exam_key, people["bob"], Q3 + timedelta(days=30), all_right)
    sit(
        app,
        exam_key,
        people["dan"],
        Q3 + timedelta(days=30),
        {"interpretation": False, "attribution": False},
    )
    send_events(app, "rep-a", 10, 4, Q3 + timedelta(days=1))
    send_events(app, "rep-b", 40, 30, Q3 + timedelta(days=1))
    send_events(app, "rep-d", 5, 1, Q3 + timedelta(days=1))
    # Outside [start, end): one second before, and exactly at the end.
    send_events(app, "rep-a", 1, 1, Q3 - timedelta(seconds=1), tag="before")
    send_events(app, "rep-a", 1, 1, Q4, tag="after")
    return {"ann_latest": latest}


# --- ai_suggestion_counts ---------------------------------------------------------


def test_ai_suggestion_counts_cover_the_half_open_quarter(app, scenario):
    with app.app_context():
        counts = ai_suggestion_counts(["rep-a", "rep-b", "rep-z"], Q3, Q4)
        assert counts == {"rep-a": (10, 4), "rep-b": (40, 30)}
        assert ai_suggestion_counts(["rep-a"], Q4, Q1_NEXT) == {"rep-a": (1, 1)}
        assert ai_suggestion_counts([], Q3, Q4) == {}


# --- computing --------------------------------------------------------------------


def _compute(app, body, **kwargs):
    with app.app_context():
        campaign = readiness.create_campaign(dict(body), actor=None)
        summary = readiness.compute_campaign(campaign, **kwargs)
        db.session.commit()
        return summary


def test_compute_scores_each_member_from_attempts_and_events(
    app, exam_key, people, scenario
):
    summary = _compute(app, campaign_body(app, exam_key, teams=("East",)))
    assert (summary.people, summary.with_attempt, summary.with_adoption) == (3, 2, 2)
    assert (summary.few_suggestions, summary.without_rep_id) == (1, 1)
    with app.app_context():
        campaign = readiness.get_campaign("q3")
        rows = {r.user.display_name: r for r in campaign.results}
        assert set(rows) == {"Ann", "Bob", "Cy"}  # not Old (inactive), not Dan
        ann = rows["Ann"]
        # Latest attempt in the quarter (not the best, not the one before it).
        assert ann.attempt_id == scenario["ann_latest"]
        assert ann.tool_proficiency == pytest.approx(100.0)
        assert ann.division_of_work == pytest.approx(0.0)
        assert (ann.suggestions_shown, ann.suggestions_accepted) == (10, 4)
        assert ann.adoption == pytest.approx(40.0)
        ann_json = readiness.result_dict(ann)
        assert ann_json["few_suggestions"] is True
        assert ann_json["adoption_interval"] == pytest.approx(wilson(4, 10), abs=1e-9)
        bob = rows["Bob"]
        assert (bob.tool_proficiency, bob.division_of_work) == (100.0, 100.0)
        assert bob.adoption == pytest.approx(75.0)
        assert readiness.result_dict(bob)["few_suggestions"] is False
        cy = rows["Cy"]
        assert cy.tool_proficiency is None and cy.division_of_work is None
        assert cy.adoption is None and cy.suggestions_shown == 0
        assert cy.attempt_id is None


def test_partial_section_share(app, exam_key, people):
    """Four 1-point items right and the 2-point numeric wrong: 4 / 6."""
    with app.app_context():
        exam = db.session.scalar(db.select(Exam).where(Exam.key == exam_key))
        person = db.session.get(User, people["bob"].id)
        at = Q3 + timedelta(days=3)
        attempt = services.start_attempt(exam, person, language="en", now=at)
        for row in attempt.items:
            answer = "b" if row.version.content["type"] == "single" else 1
            services.save_answer(attempt, row.position, answer, now=at)
        services.submit_attempt(attempt, now=at)
        db.session.commit()
    _compute(app, campaign_body(app, exam_key))
    with app.app_context():
        bob = next(
            r
            for r in readiness.get_campaign("q3").results
            if r.user_id == people["bob"].id
        )
        assert bob.tool_proficiency == pytest.approx(100 * 4 / 6, abs=1e-9)
        assert bob.division_of_work == pytest.approx(100 * 4 / 6, abs=1e-9)


def test_recompute_replaces_results_and_drops_leavers(app, exam_key, people, scenario):
    _compute(app, campaign_body(app, exam_key))
    with app.app_context():
        db.session.get(User, people["cy"].id).team = "West"
        db.session.commit()
        campaign = readiness.get_campaign("q3")
        summary = readiness.compute_campaign(campaign)
        db.session.commit()
        assert summary.people == 2 and summary.removed == 1
        assert len(campaign.results) == 2


def test_team_figures_pool_adoption_and_count_n(app, exam_key, people, scenario):
    _compute(app, campaign_body(app, exam_key, teams=("East", "West")))
    with app.app_context():
        figures = {
            f.team: f for f in readiness.team_figures(readiness.get_campaign("q3"))
        }
        east = figures["East"]
        assert east.people == 3
        assert east.tool_proficiency == pytest.approx((100 + 100) / 2)
        assert east.tool_proficiency_n == 2
        assert east.division_of_work == pytest.approx((0 + 100) / 2)
        # Pooled: (4 + 30) / (10 + 40), not the mean of 40 and 75.
        assert east.adoption == pytest.approx(68.0)
        assert east.adoption_n == 2
        assert (east.adoption_low, east.adoption_high) == pytest.approx(
            wilson(34, 50), abs=1e-9
        )
        assert not east.few_suggestions
        west = figures["West"]
        assert west.tool_proficiency == 0.0 and west.adoption == pytest.approx(20.0)
        assert west.few_suggestions


def test_heatmap_cells_across_quarters(app, exam_key, people, scenario):
    _compute(app, campaign_body(app, exam_key, teams=("East", "West")))
    send_events(app, "rep-a", 20, 15, Q4 + timedelta(days=2), tag="q4")
    q4 = campaign_body(app, exam_key, key="q4", quarter="2025Q4", teams=("East",))
    _compute(app, q4)
    draft = campaign_body(app, exam_key, key="q1", quarter="2026Q1", teams=("East",))
    _compute(app, {**draft, "status": "draft"})
    with app.app_context():
        data = readiness.heatmap()
        assert data["quarters"] == ["2025Q3", "2025Q4"]  # the draft is left out
        assert data["teams"] == ["East", "West"]
        assert data["dimensions"] == [
            "tool_proficiency",
            "adoption",
            "division_of_work",
        ]
        cells = {(c["team"], c["quarter"], c["dimension"]): c for c in data["cells"]}
        # Q3: both teams, all three dimensions; Q4: East adoption only (nobody
        # sat the exam in Q4), West absent.
        assert len(cells) == 3 * 2 + 1
        q4_adoption = cells[("East", "2025Q4", "adoption")]
        # 20 shown / 15 accepted, plus the event at the very start of Q4.
        assert q4_adoption["value"] == pytest.approx(100 * 16 / 21)
        assert (q4_adoption["shown"], q4_adoption["accepted"], q4_adoption["n"]) == (
            21,
            16,
            1,
        )
        assert q4_adoption["few_suggestions"] is True
        assert ("East", "2025Q4", "tool_proficiency") not in cells
        assert cells[("East", "2025Q3", "tool_proficiency")]["n"] == 2
        only_west = readiness.heatmap(["West"])
        assert only_west["teams"] == ["West"]
        assert {c["team"] for c in only_west["cells"]} == {"West"}


def test_profile_trend_is_ordered_by_quarter(app, exam_key, people, scenario):
    _compute(app, campaign_body(app, exam_key))
    send_events(app, "rep-a", 20, 15, Q4 + timedelta(days=2), tag="q4")
    _compute(app, campaign_body(app, exam_key, key="q4", quarter="2025Q4"))
    with app.app_context():
        profile = readiness.person_profile(db.session.get(User, people["ann"].id))
        assert [row["quarter"] for row in profile] == ["2025Q3", "2025Q4"]
        assert [row["adoption"] for row in profile] == pytest.approx(
            [40.0, 100 * 16 / 21]
        )


# --- rules ------------------------------------------------------------------------


def test_campaign_rules(app, exam_key, people):
    body = campaign_body(app, exam_key)
    same = section_ids(app, exam_key)["interpretation"]
    with app.app_context():
        with pytest.raises(Invalid) as caught:
            readiness.create_campaign(
                {**body, "quarter": "2025Q9", "teams": [], "tool_section": 999999},
                actor=None,
            )
        assert {"quarter", "teams", "tool_section"} <= set(caught.value.fields)
        with pytest.raises(Invalid) as caught:
            readiness.create_campaign({**body, "division_section": same}, actor=None)
        assert "division_section" in caught.value.fields
        campaign = readiness.create_campaign(dict(body), actor=None)
        with pytest.raises(Invalid) as caught:  # East is taken this quarter
            readiness.create_campaign({**body, "key": "q3-bis"}, actor=None)
        assert caught.value.status == 409
        readiness.set_status(campaign, "closed", actor=None)
        with pytest.raises(Invalid) as caught:
            readiness.compute_campaign(campaign)
        assert caught.value.status == 409
        with pytest.raises(Invalid) as caught:
            readiness.update_campaign(campaign, {"teams": ["West"]}, actor=None)
        assert caught.value.status == 409
        readiness.set_status(campaign, "open", actor=None)
        readiness.update_campaign(campaign, {"teams": ["West"]}, actor=None)
        assert campaign.teams == ["West"]


# --- API and roles ----------------------------------------------------------------

BASE = "/api/v1/readiness"


@pytest.fixture
def caller(app, make_user, make_token):
    def make(*roles, **fields):
        user = make_user(*roles, **fields)
        return Caller(app.test_client(), make_token(user), user, BASE)

    return make


def test_api_campaign_lifecycle(app, exam_key, people, scenario, caller):
    hr = caller("hr")
    response = hr.post("/campaigns", json=campaign_body(app, exam_key))
    assert response.status_code == 201, response.json
    assert response.json["starts_at"].startswith("2025-07-01T00:00:00")
    assert response.json["ends_at"].startswith("2025-10-01T00:00:00")
    bad = hr.post("/campaigns", json={**campaign_body(app, exam_key), "key": "x2"})
    assert bad.status_code == 409
    invalid = hr.post("/campaigns", json={"key": "x3", "quarter": "Q3"})
    assert invalid.status_code == 422
    assert "quarter" in invalid.json["error"]["fields"]
    computed = hr.post("/campaigns/q3/compute")
    assert computed.status_code == 200
    assert computed.json["people"] == 3 and computed.json["few_suggestions"] == 1
    results = hr.get("/campaigns/q3/results").json
    assert [t["team"] for t in results["teams"]] == ["East"]
    assert results["teams"][0]["adoption"] == pytest.approx(68.0)
    assert len(results["people"]) == 3
    assert hr.get("/campaigns").json["total"] == 1
    changed = hr.put("/campaigns/q3", json={"status": "closed"})
    assert changed.status_code == 200 and changed.json["status"] == "closed"
    assert hr.post("/campaigns/q3/compute").status_code == 409
    assert hr.get("/campaigns/nope").status_code == 404
    heat = hr.get("/heatmap?teams=East,West").json
    assert heat["teams"] == ["East"] and len(heat["cells"]) == 3


def test_api_roles(app, exam_key, people, scenario, caller, make_token):
    _compute(app, campaign_body(app, exam_key, teams=("East", "West")))
    member = Caller(app.test_client(), make_token(people["ann"]), people["ann"], BASE)
    assert member.get("/campaigns").status_code == 403
    assert member.get("/campaigns/q3/results").status_code == 403
    assert member.get("/heatmap").status_code == 403
    me = member.get("/people/me")
    assert me.status_code == 200
    assert me.json["person"]["rep_id"] == "rep-a"
    assert me.json["quarters"][0]["adoption"] == pytest.approx(40.0)
    assert member.get(f"/people/{people['ann'].id}").status_code == 200
    assert member.get(f"/people/{people['bob'].id}").status_code == 404

    manager = caller("manager", team="West")
    assert manager.post("/campaigns", json={}).status_code == 403
    assert manager.post("/campaigns/q3/compute").status_code == 403
    rows = manager.get("/campaigns/q3/results").json
    assert {p["team"] for p in rows["people"]} == {"West"}
    assert [t["team"] for t in rows["teams"]] == ["West"]
    assert manager.get("/campaigns/q3/results?team=East").status_code == 404
    assert {c["team"] for c in manager.get("/heatmap").json["cells"]} == {"West"}
    assert manager.get(f"/people/{people['dan'].id}").status_code == 200
    assert manager.get(f"/people/{people['ann'].id}").status_code == 404
    lonely = caller("manager", team="North")
    assert lonely.get("/campaigns/q3/results").status_code == 404

    hr = caller("hr")
    assert hr.get(f"/people/{people['ann'].id}").status_code == 200


def test_api_is_documented(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in (
        "/api/v1/readiness/campaigns",
        "/api/v1/readiness/campaigns/{key}",
        "/api/v1/readiness/campaigns/{key}/compute",
        "/api/v1/readiness/campaigns/{key}/results",
        "/api/v1/readiness/heatmap",
        "/api/v1/readiness/people/me",
        "/api/v1/readiness/people/{user_id}",
    ):
        assert path in paths


# --- exports and pages ------------------------------------------------------------


def test_exports(app, exam_key, people, scenario, login_as, caller):
    _compute(app, campaign_body(app, exam_key, teams=("East", "West")))
    hr = login_as("hr")
    response = hr.get("/assessments/hr/readiness/q3/results.csv")
    assert response.status_code == 200
    assert response.data.startswith("\ufeff".encode())
    frame = pd.read_csv(io.BytesIO(response.data), encoding="utf-8-sig")
    assert len(frame) == 4
    ann = frame[frame["姓名 Name"] == "Ann"].iloc[0]
    assert ann["AI 输出采纳率 Adoption of AI output"] == pytest.approx(40.0)
    assert ann["展示的 AI 建议 AI suggestions shown"] == 10
    assert bool(ann["建议数偏少 Few suggestions"]) is True
    workbook = pd.read_excel(
        io.BytesIO(hr.get("/assessments/hr/readiness/q3/results.xlsx").data),
        sheet_name=None,
    )
    assert set(workbook) == {"people", "teams"}
    teams = workbook["teams"].set_index("团队 Team")
    assert teams.loc["East", "AI 输出采纳率 Adoption of AI output"] == pytest.approx(68)
    assert hr.get("/assessments/hr/readiness/q3/results.pdf").status_code == 404
    manager = caller("manager", team="West")
    own = manager.get("/campaigns/q3/results?format=csv")
    assert own.status_code == 200
    assert len(pd.read_csv(io.BytesIO(own.data), encoding="utf-8-sig")) == 1


def test_pages(app, exam_key, people, scenario, login_as, make_user):
    hr = login_as("hr")
    ids = section_ids(app, exam_key)
    created = post_form(
        hr,
        "/assessments/hr/readiness/new",
        {
            "key": "q3",
            "quarter": "2025q3",
            "title_zh": "三季度",
            "title_en": "Q3",
            "teams": ["East", "West"],
            "exam": exam_key,
            "tool_section": str(ids["interpretation"]),
            "division_section": str(ids["attribution"]),
            "status": "open",
        },
    )
    assert created.status_code == 302, created.get_data(as_text=True)
    computed = post_form(hr, "/assessments/hr/readiness/q3/compute")
    assert computed.status_code == 302
    page = hr.get("/assessments/hr/readiness/q3").get_data(as_text=True)
    assert "Computed 4 people." in page
    assert "4 / 10" in page and "How each dimension is scored" in page
    index = hr.get("/assessments/hr/readiness").get_data(as_text=True)
    assert 'class="readiness-heatmap"' in index and "2025Q3" in index
    refused = post_form(
        hr,
        "/assessments/hr/readiness/new",
        {
            "key": "bad",
            "quarter": "2025Q7",
            "title_zh": "x",
            "title_en": "x",
            "status": "draft",
        },
    )
    assert refused.status_code == 422
    assert "A quarter like 2026Q3." in refused.get_data(as_text=True)
    closed = post_form(hr, "/assessments/hr/readiness/q3/status", {"status": "closed"})
    assert closed.status_code == 302
    with app.app_context():
        assert readiness.get_campaign("q3").status == "closed"

    member = app.test_client()
    login(member, people["ann"].email)
    assert member.get("/assessments/hr/readiness").status_code == 403
    mine = member.get("/assessments/readiness")
    assert mine.status_code == 200
    assert "4 of 10 suggestions accepted" in mine.get_data(as_text=True)
    assert (
        member.get(f"/assessments/readiness/people/{people['bob'].id}").status_code
        == 404
    )

    manager = login_as("manager", team="East")
    team_page = manager.get("/assessments/readiness").get_data(as_text=True)
    assert "My team: East" in team_page
    assert (
        manager.get(f"/assessments/readiness/people/{people['bob'].id}").status_code
        == 200
    )
    assert (
        manager.get(f"/assessments/readiness/people/{people['dan'].id}").status_code
        == 404
    )
    with app.app_context():
        assert (
            db.session.scalar(db.select(db.func.count()).select_from(ReadinessCampaign))
            == 1
        )
