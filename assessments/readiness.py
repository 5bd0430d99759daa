"""The quarterly AI-readiness baseline (AI 就绪度基线): campaigns, each person's
three dimensions, team figures, the heat map and per-person trends.

A campaign covers one calendar quarter (``2026Q3`` = 1 July to 1 October, UTC) for
a list of teams (``User.team``). Computing it writes one ``ReadinessResult`` per
active user of those teams holding the member role, each dimension on a 0–100
scale:

* **Tool proficiency** (工具熟练度) = 100 × the share of points the person scored
  in the campaign exam's tool-proficiency section (short practical items).
* **Division of work** (人机分工合理性) = 100 × the share of points in the exam's
  division-of-work section (scenarios: which tasks to give the AI at each risk
  level), from the same attempt.

  Both come from the person's *latest* released attempt at the exam submitted
  inside the quarter: the baseline describes where a person stands at the end of
  the quarter, and taking the best of several tries would reward retakes rather
  than proficiency. None when there is no such attempt.
* **Adoption of AI output** (AI 输出采纳率) = 100 × accepted / shown: the
  quarter's ``ai_suggestion_accepted`` events over its ``ai_suggestion_shown``
  events carrying the person's rep id (``User.rep_id``; counted by the experiments
  pillar). None without a rep id or when no suggestion was shown. Both counts are
  kept, with a Wilson 95 % interval, and fewer than ``FEW_SUGGESTIONS`` shown is
  marked, so that a rate from a handful of suggestions is not over-read.
  Accepted counts above shown (bad tracking) are capped at shown for the rate.

Team figures: for tool proficiency and division of work the mean of the members'
scores that exist (n = how many people); for adoption the pooled rate, all
members' accepted over all their shown, with its Wilson interval (which treats
suggestions as independent, so it is optimistic when members differ a lot).

Closed campaigns are frozen: computing again would regroup people by the teams
they are in now. Services flush; the request commits.
"""

import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from statsmodels.stats.proportion import proportion_confint

from assessments.models import (
    Attempt,
    AttemptStatus,
    CampaignStatus,
    Exam,
    ExamSection,
    ReadinessCampaign,
    ReadinessResult,
)
from assessments.services import bilingual_text, valid_key
from experiments.services import ai_suggestion_counts
from proving_ground.access import Role
from proving_ground.audit.services import record
from proving_ground.auth.models import User, UserRole
from proving_ground.db import db, utcnow
from proving_ground.validation import Invalid, Problems

QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
#: Fewer AI suggestions shown than this in a quarter: the rate is marked as
#: resting on few suggestions.
FEW_SUGGESTIONS = 30
#: Two-sided level of the Wilson interval of adoption rates.
ALPHA = 0.05
DIMENSIONS = ("tool_proficiency", "adoption", "division_of_work")
#: Campaigns of these states appear in the heat map and in profiles.
REPORTED = (CampaignStatus.OPEN, CampaignStatus.CLOSED)
STAFF = frozenset({Role.HR, Role.ADMIN})
MAX_TEAMS = 50


# --- quarters ---------------------------------------------------------------------


def quarter_bounds(quarter: str) -> tuple[datetime, datetime]:
    """The quarter ``YYYYQn`` as [start, end) in UTC: ``2026Q3`` → 1 July 2026
    00:00 to 1 October 2026 00:00. Raises Invalid for a malformed quarter."""
    match = QUARTER.match(quarter or "")
    if not match:
        raise Invalid("quarter", str(_l("A quarter like 2026Q3.")))
    year, number = int(match.group(1)), int(match.group(2))
    start = datetime(year, 3 * number - 2, 1, tzinfo=UTC)
    end = (
        datetime(year + 1, 1, 1, tzinfo=UTC)
        if number == 4
        else datetime(year, 3 * number + 1, 1, tzinfo=UTC)
    )
    return start, end


def quarter_of(moment: datetime) -> str:
    """The quarter (``YYYYQn``, UTC) a moment falls in."""
    moment = moment.astimezone(UTC)
    return f"{moment.year}Q{(moment.month - 1) // 3 + 1}"


# --- small counts -----------------------------------------------------------------


def wilson_interval(accepted: int, shown: int) -> tuple[float, float] | None:
    """The Wilson 95 % interval of accepted / shown on the 0–100 scale (statsmodels
    ``proportion_confint``), or None when nothing was shown."""
    if shown <= 0:
        return None
    low, high = proportion_confint(
        min(accepted, shown), shown, alpha=ALPHA, method="wilson"
    )
    return 100 * float(low), 100 * float(high)


def is_few(shown: int) -> bool:
    """Whether a rate rests on few suggestions (some, but fewer than the mark)."""
    return 0 < shown < FEW_SUGGESTIONS


# --- campaigns --------------------------------------------------------------------


def get_campaign(key: str) -> ReadinessCampaign | None:
    return db.session.scalar(
        sa.select(ReadinessCampaign).where(ReadinessCampaign.key == key)
    )


def list_campaigns() -> list[ReadinessCampaign]:
    """Every campaign, the latest quarter first."""
    return list(
        db.session.scalars(
            sa.select(ReadinessCampaign).order_by(
                ReadinessCampaign.quarter.desc(), ReadinessCampaign.key
            )
        )
    )


def known_teams() -> list[str]:
    """The teams active users are in, sorted."""
    return list(
        db.session.scalars(
            sa.select(User.team)
            .where(User.team.is_not(None), User.team != "", User.active.is_(True))
            .distinct()
            .order_by(User.team)
        )
    )


def _teams(value: Any, problems: Problems) -> list[str]:
    if not isinstance(value, list) or not value:
        problems.add("teams", _l("Name at least one team."))
        return []
    teams: list[str] = []
    for team in value:
        if not isinstance(team, str) or not team.strip() or len(team) > 120:
            problems.add("teams", _l("Each team is a name of 1-120 characters."))
            return []
        if team.strip() not in teams:
            teams.append(team.strip())
    if len(teams) > MAX_TEAMS:
        problems.add("teams", _l("At most %(n)d teams.", n=MAX_TEAMS))
    return teams


def _section(value: Any, exam: Exam | None, name: str, problems: Problems):
    if value in (None, ""):
        problems.add(name, _l("Choose a section of the exam."))
        return None
    try:
        section_id = int(value)
    except (TypeError, ValueError):
        problems.add(name, _l("Choose a section of the exam."))
        return None
    section = db.session.get(ExamSection, section_id)
    if section is None or (exam is not None and section.exam_id != exam.id):
        problems.add(name, _l("This section is not part of the exam."))
        return None
    return section


def _campaign_fields(
    data: dict[str, Any], problems: Problems, campaign: ReadinessCampaign | None
) -> dict[str, Any]:
    """The checked fields of a campaign body (only those given, for an update)."""
    out: dict[str, Any] = {}
    if "quarter" in data:
        try:
            quarter_bounds(str(data["quarter"] or ""))
            out["quarter"] = str(data["quarter"])
        except Invalid as exc:
            problems.add("quarter", exc.message)
    if "title" in data:
        title = bilingual_text(data["title"], problems, "title")
        out |= {"title_zh": title["zh"], "title_en": title["en"]}
    if "teams" in data:
        out["teams"] = _teams(data["teams"], problems)
    exam = campaign.exam if campaign else None
    if "exam" in data:
        exam = db.session.scalar(sa.select(Exam).where(Exam.key == data["exam"]))
        if exam is None or exam.external:
            problems.add("exam", _l("No exam has this key."))
        out["exam_id"] = exam.id if exam else None
    for name in ("tool_section", "division_section"):
        if name in data or ("exam" in data and campaign is not None):
            value = data.get(name, getattr(campaign, f"{name}_id", None))
            section = _section(value, exam, name, problems)
            out[f"{name}_id"] = section.id if section else None
    tool = out.get("tool_section_id", getattr(campaign, "tool_section_id", None))
    division = out.get(
        "division_section_id", getattr(campaign, "division_section_id", None)
    )
    if tool is not None and tool == division:
        problems.add(
            "division_section",
            _l("Score division of work from a different section than tool use."),
        )
    if "status" in data:
        if data["status"] not in {s.value for s in CampaignStatus}:
            problems.add("status", _l("Choose draft, open or closed."))
        else:
            out["status"] = data["status"]
    return out


def _check_overlap(campaign: ReadinessCampaign) -> None:
    """A team takes part in at most one campaign per quarter (the heat map has
    one cell per team and quarter)."""
    others = db.session.scalars(
        sa.select(ReadinessCampaign).where(
            ReadinessCampaign.quarter == campaign.quarter,
            ReadinessCampaign.id != (campaign.id or 0),
        )
    )
    for other in others:
        shared = sorted(set(other.teams) & set(campaign.teams))
        if shared:
            raise Invalid(
                "teams",
                str(
                    _l(
                        "%(teams)s already take part in %(key)s this quarter.",
                        teams=", ".join(shared),
                        key=other.key,
                    )
                ),
                status=409,
            )


def create_campaign(data: dict[str, Any], *, actor) -> ReadinessCampaign:
    """A campaign (draft unless ``status`` says otherwise); flushed, audited.
    ``data``: key, quarter, title {zh, en}, teams, exam (key), tool_section and
    division_section (section ids of that exam), optional status."""
    problems = Problems()
    key = valid_key(data.get("key"), problems)
    if key and get_campaign(key):
        problems.add("key", _l("This key is taken."))
    for name in ("quarter", "title", "teams", "exam"):
        if name not in data:
            problems.add(name, _l("This field is required."))
    for name in ("tool_section", "division_section"):
        data.setdefault(name, None)
    fields = _campaign_fields(data, problems, None)
    problems.raise_if_any()
    campaign = ReadinessCampaign(
        key=key, created_by_id=getattr(actor, "id", None), **fields
    )
    _check_overlap(campaign)
    db.session.add(campaign)
    db.session.flush()
    record(actor, "readiness.campaign_created", f"readiness_campaign:{campaign.id}")
    return campaign


def update_campaign(
    campaign: ReadinessCampaign, data: dict[str, Any], *, actor
) -> ReadinessCampaign:
    """Change a campaign's fields; a closed campaign only changes status (to
    reopen it). Flushed, audited."""
    problems = Problems()
    if "key" in data and data["key"] != campaign.key:
        problems.add("key", _l("The key cannot change."))
    fields = _campaign_fields(data, problems, campaign)
    problems.raise_if_any()
    if campaign.status == CampaignStatus.CLOSED and any(
        getattr(campaign, name) != value
        for name, value in fields.items()
        if name != "status"
    ):
        raise Invalid(
            "status",
            str(_l("Reopen a closed campaign before changing it.")),
            status=409,
        )
    old_status = campaign.status
    for name, value in fields.items():
        setattr(campaign, name, value)
    _check_overlap(campaign)
    db.session.flush()
    record(
        actor,
        "readiness.campaign_updated",
        f"readiness_campaign:{campaign.id}",
        {"fields": sorted(data), "status": [old_status, campaign.status]},
    )
    return campaign


def set_status(campaign: ReadinessCampaign, status: str, *, actor) -> None:
    """Open, close or reopen a campaign."""
    update_campaign(campaign, {"status": status}, actor=actor)


# --- computing --------------------------------------------------------------------


@dataclass(frozen=True)
class ComputeSummary:
    """What computing a campaign did, for the page and the API."""

    people: int
    with_attempt: int
    with_adoption: int
    few_suggestions: int
    without_rep_id: int
    removed: int
    computed_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "people": self.people,
            "with_attempt": self.with_attempt,
            "with_adoption": self.with_adoption,
            "few_suggestions": self.few_suggestions,
            "without_rep_id": self.without_rep_id,
            "removed": self.removed,
            "computed_at": self.computed_at,
        }


def campaign_members(campaign: ReadinessCampaign) -> list[User]:
    """The active users of the campaign's teams who hold the member role (the
    people the baseline describes; a manager who is also a member counts), by
    team and name."""
    if not campaign.teams:
        return []
    return list(
        db.session.scalars(
            sa.select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(
                User.team.in_(campaign.teams),
                User.active.is_(True),
                UserRole.role == Role.MEMBER.value,
            )
            .order_by(User.team, User.display_name, User.id)
        )
    )


def _latest_attempts(
    campaign: ReadinessCampaign, user_ids: list[int], start: datetime, end: datetime
) -> dict[int, Attempt]:
    """Per user, their latest released attempt at the campaign's exam submitted in
    [start, end)."""
    if campaign.exam_id is None or not user_ids:
        return {}
    latest: dict[int, Attempt] = {}
    for attempt in db.session.scalars(
        sa.select(Attempt)
        .where(
            Attempt.exam_id == campaign.exam_id,
            Attempt.user_id.in_(user_ids),
            Attempt.status == AttemptStatus.RELEASED,
            Attempt.submitted_at >= start,
            Attempt.submitted_at < end,
        )
        .order_by(Attempt.submitted_at, Attempt.id)
    ):
        latest[attempt.user_id] = attempt
    return latest


def _section_score(attempt: Attempt | None, section_id: int | None) -> float | None:
    """100 × the attempt's share of points in a section, or None."""
    if attempt is None or section_id is None:
        return None
    for row in attempt.section_scores or []:
        if row.get("section_id") == section_id and row.get("max_points"):
            return 100 * float(row["points"]) / float(row["max_points"])
    return None


def compute_campaign(
    campaign: ReadinessCampaign, *, now: datetime | None = None, actor=None
) -> ComputeSummary:
    """Write one result per active member of the campaign's teams (replacing
    earlier results; people no longer in the teams are removed) and return a
    summary. Refused (409) for a closed campaign. See the module docstring for
    each dimension's method."""
    if campaign.status == CampaignStatus.CLOSED:
        raise Invalid(
            "status",
            str(_l("The campaign is closed; reopen it to compute it again.")),
            status=409,
        )
    now = now or utcnow()
    start, end = quarter_bounds(campaign.quarter)
    members = campaign_members(campaign)
    attempts = _latest_attempts(campaign, [u.id for u in members], start, end)
    counts = ai_suggestion_counts([u.rep_id for u in members if u.rep_id], start, end)
    existing = {r.user_id: r for r in campaign.results}
    with_attempt = with_adoption = few = without_rep = 0
    for user in members:
        result = existing.pop(user.id, None)
        if result is None:
            result = ReadinessResult(campaign=campaign, user_id=user.id)
            db.session.add(result)
        attempt = attempts.get(user.id)
        shown, accepted = counts.get(user.rep_id, (0, 0)) if user.rep_id else (0, 0)
        result.team = user.team
        result.attempt_id = attempt.id if attempt else None
        result.tool_proficiency = _section_score(attempt, campaign.tool_section_id)
        result.division_of_work = _section_score(attempt, campaign.division_section_id)
        result.suggestions_shown, result.suggestions_accepted = shown, accepted
        result.adoption = 100 * min(accepted, shown) / shown if shown else None
        result.computed_at = now
        with_attempt += attempt is not None
        with_adoption += shown > 0
        few += is_few(shown)
        without_rep += not user.rep_id
    for gone in existing.values():
        campaign.results.remove(gone)
    campaign.computed_at = now
    db.session.flush()
    summary = ComputeSummary(
        people=len(members),
        with_attempt=with_attempt,
        with_adoption=with_adoption,
        few_suggestions=few,
        without_rep_id=without_rep,
        removed=len(existing),
        computed_at=now,
    )
    details = {k: v for k, v in summary.as_dict().items() if k != "computed_at"}
    record(actor, "readiness.computed", f"readiness_campaign:{campaign.id}", details)
    return summary


# --- reading results --------------------------------------------------------------


def campaign_results(
    campaign: ReadinessCampaign, *, team: str | None = None
) -> list[ReadinessResult]:
    """The campaign's results by team and name (one team's only when given)."""
    query = (
        sa.select(ReadinessResult)
        .join(User, User.id == ReadinessResult.user_id)
        .where(ReadinessResult.campaign_id == campaign.id)
        .order_by(ReadinessResult.team, User.display_name, User.id)
    )
    if team is not None:
        query = query.where(ReadinessResult.team == team)
    return list(db.session.scalars(query))


@dataclass(frozen=True)
class TeamFigures:
    """A team's baseline in one campaign. Means are 0–100 over the ``*_n`` people
    who have a score; adoption is pooled over the members' suggestions."""

    team: str
    people: int
    tool_proficiency: float | None
    tool_proficiency_n: int
    division_of_work: float | None
    division_of_work_n: int
    adoption: float | None
    adoption_n: int
    adoption_low: float | None
    adoption_high: float | None
    suggestions_shown: int
    suggestions_accepted: int

    @property
    def few_suggestions(self) -> bool:
        return is_few(self.suggestions_shown)

    def as_dict(self) -> dict[str, Any]:
        return {
            "team": self.team,
            "people": self.people,
            "tool_proficiency": self.tool_proficiency,
            "tool_proficiency_n": self.tool_proficiency_n,
            "division_of_work": self.division_of_work,
            "division_of_work_n": self.division_of_work_n,
            "adoption": self.adoption,
            "adoption_n": self.adoption_n,
            "adoption_interval": (
                None
                if self.adoption_low is None
                else [self.adoption_low, self.adoption_high]
            ),
            "suggestions_shown": self.suggestions_shown,
            "suggestions_accepted": self.suggestions_accepted,
            "few_suggestions": self.few_suggestions,
        }


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def team_figures(
    campaign: ReadinessCampaign, *, teams: list[str] | None = None
) -> list[TeamFigures]:
    """Per team of the campaign (or of ``teams``), its figures from the stored
    results, in the campaign's team order."""
    by_team: dict[str, list[ReadinessResult]] = {}
    for result in campaign_results(campaign):
        by_team.setdefault(result.team or "", []).append(result)
    out = []
    for team in campaign.teams:
        if teams is not None and team not in teams:
            continue
        rows = by_team.get(team, [])
        tool = [r.tool_proficiency for r in rows if r.tool_proficiency is not None]
        division = [r.division_of_work for r in rows if r.division_of_work is not None]
        shown = sum(r.suggestions_shown for r in rows)
        accepted = sum(min(r.suggestions_accepted, r.suggestions_shown) for r in rows)
        interval = wilson_interval(accepted, shown)
        out.append(
            TeamFigures(
                team=team,
                people=len(rows),
                tool_proficiency=_mean(tool),
                tool_proficiency_n=len(tool),
                division_of_work=_mean(division),
                division_of_work_n=len(division),
                adoption=100 * accepted / shown if shown else None,
                adoption_n=sum(1 for r in rows if r.suggestions_shown > 0),
                adoption_low=interval[0] if interval else None,
                adoption_high=interval[1] if interval else None,
                suggestions_shown=shown,
                suggestions_accepted=sum(r.suggestions_accepted for r in rows),
            )
        )
    return out


def result_dict(result: ReadinessResult) -> dict[str, Any]:
    """A person's result as plain data (scores 0–100, interval on the same
    scale)."""
    interval = wilson_interval(result.suggestions_accepted, result.suggestions_shown)
    user = result.user
    return {
        "campaign": result.campaign.key,
        "quarter": result.campaign.quarter,
        "user_id": result.user_id,
        "name": user.display_name,
        "email": user.email,
        "team": result.team,
        "rep_id": user.rep_id,
        "tool_proficiency": result.tool_proficiency,
        "adoption": result.adoption,
        "adoption_interval": list(interval) if interval else None,
        "suggestions_shown": result.suggestions_shown,
        "suggestions_accepted": result.suggestions_accepted,
        "few_suggestions": is_few(result.suggestions_shown),
        "division_of_work": result.division_of_work,
        "attempt_id": result.attempt_id,
        "computed_at": result.computed_at,
    }


def heatmap(teams: list[str] | None = None) -> dict[str, Any]:
    """Team figures of the open and closed campaigns across quarters: the axes
    (quarters ascending, teams sorted, the three dimensions) and one cell per
    team, quarter and dimension that has a value (0–100, with n; adoption also
    with its interval and counts). Missing cells are absent."""
    campaigns = db.session.scalars(
        sa.select(ReadinessCampaign)
        .where(
            ReadinessCampaign.status.in_([s.value for s in REPORTED]),
            ReadinessCampaign.computed_at.is_not(None),
        )
        .order_by(ReadinessCampaign.quarter)
    ).all()
    quarters: list[str] = []
    seen_teams: set[str] = set()
    cells: list[dict[str, Any]] = []
    for campaign in campaigns:
        if campaign.quarter not in quarters:
            quarters.append(campaign.quarter)
        for figures in team_figures(campaign, teams=teams):
            seen_teams.add(figures.team)
            for dimension in DIMENSIONS:
                value = getattr(figures, dimension)
                if value is None:
                    continue
                cell = {
                    "team": figures.team,
                    "quarter": campaign.quarter,
                    "campaign": campaign.key,
                    "dimension": dimension,
                    "value": value,
                    "n": getattr(figures, f"{dimension}_n"),
                }
                if dimension == "adoption":
                    cell |= {
                        "interval": [figures.adoption_low, figures.adoption_high],
                        "shown": figures.suggestions_shown,
                        "accepted": figures.suggestions_accepted,
                        "few_suggestions": figures.few_suggestions,
                    }
                cells.append(cell)
    ordered_teams = (
        [t for t in teams if t in seen_teams] if teams else sorted(seen_teams)
    )
    return {
        "quarters": quarters,
        "teams": ordered_teams,
        "dimensions": list(DIMENSIONS),
        "cells": cells,
    }


def person_profile(user: User) -> list[dict[str, Any]]:
    """The person's results in open and closed campaigns, oldest quarter first."""
    results = db.session.scalars(
        sa.select(ReadinessResult)
        .join(ReadinessCampaign, ReadinessCampaign.id == ReadinessResult.campaign_id)
        .where(
            ReadinessResult.user_id == user.id,
            ReadinessCampaign.status.in_([s.value for s in REPORTED]),
        )
        .order_by(ReadinessCampaign.quarter, ReadinessCampaign.id)
    )
    return [result_dict(result) for result in results]


# --- who may see what -------------------------------------------------------------


def is_staff(user: User) -> bool:
    return user.has_any_role(STAFF)


def may_view_person(viewer: User, person: User) -> bool:
    """The person themselves, HR and administrators, and a manager of the
    person's team."""
    if viewer.id == person.id or is_staff(viewer):
        return True
    return bool(
        viewer.has_role(Role.MANAGER) and viewer.team and viewer.team == person.team
    )


def visible_team(viewer: User) -> str | None:
    """The one team whose results a non-staff viewer may read (a manager's own),
    or None."""
    if viewer.has_role(Role.MANAGER) and viewer.team:
        return viewer.team
    return None


# --- export -----------------------------------------------------------------------

#: Column headers of the downloads: (zh-CN, en), joined as "中文 English".
EXPORT_HEADERS = {
    "quarter": ("季度", "Quarter"),
    "name": ("姓名", "Name"),
    "email": ("邮箱", "E-mail"),
    "team": ("团队", "Team"),
    "rep_id": ("销售代表编号", "Rep id"),
    "people": ("人数", "People"),
    "tool_proficiency": ("工具熟练度", "Tool proficiency"),
    "tool_proficiency_n": ("工具熟练度 n", "Tool proficiency n"),
    "adoption": ("AI 输出采纳率", "Adoption of AI output"),
    "adoption_n": ("AI 输出采纳率 n", "Adoption n"),
    "adoption_low": ("采纳率 95% 下限", "Adoption 95% low"),
    "adoption_high": ("采纳率 95% 上限", "Adoption 95% high"),
    "suggestions_shown": ("展示的 AI 建议", "AI suggestions shown"),
    "suggestions_accepted": ("采纳的 AI 建议", "AI suggestions accepted"),
    "few_suggestions": ("建议数偏少", "Few suggestions"),
    "division_of_work": ("人机分工合理性", "Division of work"),
    "division_of_work_n": ("人机分工合理性 n", "Division of work n"),
    "attempt_id": ("作答编号", "Attempt"),
}
PEOPLE_COLUMNS = (
    *("quarter", "name", "email", "team", "rep_id", "tool_proficiency"),
    *("adoption", "adoption_low", "adoption_high", "suggestions_shown"),
    *("suggestions_accepted", "few_suggestions", "division_of_work", "attempt_id"),
)
TEAM_COLUMNS = (
    *("quarter", "team", "people", "tool_proficiency", "tool_proficiency_n"),
    *("adoption", "adoption_low", "adoption_high", "adoption_n"),
    *("suggestions_shown", "suggestions_accepted", "few_suggestions"),
    *("division_of_work", "division_of_work_n"),
)


def _rounded(value: Any) -> Any:
    return round(value, 1) if isinstance(value, float) else value


def export_tables(
    campaign: ReadinessCampaign, *, team: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The campaign's people and team tables with bilingual headers (scores 0–100
    to one decimal), for CSV and Excel downloads."""

    def header(name: str) -> str:
        return " ".join(EXPORT_HEADERS[name])

    people = []
    for result in campaign_results(campaign, team=team):
        row = result_dict(result)
        low, high = row["adoption_interval"] or (None, None)
        row |= {"adoption_low": low, "adoption_high": high}
        people.append({header(c): _rounded(row[c]) for c in PEOPLE_COLUMNS})
    teams = []
    for figures in team_figures(campaign, teams=[team] if team else None):
        row = figures.as_dict() | {
            "quarter": campaign.quarter,
            "adoption_low": figures.adoption_low,
            "adoption_high": figures.adoption_high,
        }
        teams.append({header(c): _rounded(row[c]) for c in TEAM_COLUMNS})
    return {"people": people, "teams": teams}


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_file(
    campaign: ReadinessCampaign, fmt: str, *, team: str | None = None
) -> tuple[bytes, str, str]:
    """The campaign's results as (content, mimetype, filename): ``csv`` is the
    people table in UTF-8 with a BOM (so Excel on Chinese Windows reads it),
    ``xlsx`` a workbook with a people and a teams sheet."""
    tables = export_tables(campaign, team=team)
    name = f"readiness-{campaign.key}"
    if fmt == "csv":
        frame = pd.DataFrame.from_records(
            tables["people"],
            columns=[" ".join(EXPORT_HEADERS[c]) for c in PEOPLE_COLUMNS],
        )
        text = "\ufeff" + frame.to_csv(index=False)
        return text.encode("utf-8"), "text/csv; charset=utf-8", f"{name}.csv"
    if fmt != "xlsx":
        raise Invalid("format", str(_l("Choose csv or xlsx.")), status=404)
    out = io.BytesIO()
    with pd.ExcelWriter(out, engine="openpyxl") as writer:
        for sheet, columns in (("people", PEOPLE_COLUMNS), ("teams", TEAM_COLUMNS)):
            pd.DataFrame.from_records(
                tables[sheet], columns=[" ".join(EXPORT_HEADERS[c]) for c in columns]
            ).to_excel(writer, index=False, sheet_name=sheet)
    return out.getvalue(), XLSX, f"{name}.xlsx"
