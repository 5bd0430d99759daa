"""The AI-readiness baseline JSON API: campaigns, computing them, results, the
team heat map and per-person profiles.

Scores are on the 0–100 scale the baseline is defined on (see
``assessments.readiness`` for each dimension's method). HR and administrators
manage campaigns and read every result; a manager reads their own team's
results and heat map and the profiles of their team's members; anyone reads
their own profile. Someone else's profile is a 404 to those who may not see it.
"""

from typing import Any

import marshmallow as ma
from flask import Response
from flask_login import current_user
from flask_smorest import Blueprint, abort
from webargs.fields import DelimitedList

from assessments import readiness
from assessments.api import TextsSchema, json_body, json_request, page_of
from assessments.models import CampaignStatus, ReadinessCampaign
from proving_ground.access import ANY_ROLE, Role, roles_required
from proving_ground.api import PaginationArgs, page_schema
from proving_ground.auth.models import User
from proving_ground.db import db

readiness_api = Blueprint(
    "readiness_api",
    __name__,
    url_prefix="/api/v1/readiness",
    description="Quarterly AI-readiness campaigns, results and the team heat map.",
)

STAFF = (Role.HR, Role.ADMIN)
READERS = (Role.HR, Role.ADMIN, Role.MANAGER)
SCORE = {"description": "0–100; null when there is nothing to score it from"}


# --- schemas ----------------------------------------------------------------------


class ReadinessCampaignSchema(ma.Schema):
    key = ma.fields.String(metadata={"example": "readiness-2026q3"})
    quarter = ma.fields.String(
        metadata={"example": "2026Q3", "description": "A calendar quarter (UTC)"}
    )
    title = ma.fields.Nested(TextsSchema)
    teams = ma.fields.List(
        ma.fields.String(), metadata={"description": "Team names (users' team)"}
    )
    status = ma.fields.String(metadata={"enum": [s.value for s in CampaignStatus]})
    exam = ma.fields.String(
        allow_none=True, metadata={"description": "Key of the exam scored"}
    )
    tool_section = ma.fields.Integer(
        allow_none=True,
        metadata={"description": "Id of the exam section scored as tool proficiency"},
    )
    division_section = ma.fields.Integer(
        allow_none=True,
        metadata={"description": "Id of the section scored as division of work"},
    )
    starts_at = ma.fields.AwareDateTime(dump_only=True)
    ends_at = ma.fields.AwareDateTime(
        dump_only=True, metadata={"description": "Exclusive"}
    )
    computed_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    people = ma.fields.Integer(dump_only=True, metadata={"description": "Results"})


class ReadinessSummarySchema(ma.Schema):
    people = ma.fields.Integer(metadata={"description": "Results written"})
    with_attempt = ma.fields.Integer(
        metadata={"description": "People with a released attempt in the quarter"}
    )
    with_adoption = ma.fields.Integer(
        metadata={"description": "People shown at least one AI suggestion"}
    )
    few_suggestions = ma.fields.Integer(
        metadata={"description": f"Shown fewer than {readiness.FEW_SUGGESTIONS}"}
    )
    without_rep_id = ma.fields.Integer()
    removed = ma.fields.Integer(
        metadata={"description": "Earlier results of people no longer in the teams"}
    )
    computed_at = ma.fields.AwareDateTime()


class ReadinessPersonResultSchema(ma.Schema):
    campaign = ma.fields.String()
    quarter = ma.fields.String()
    user_id = ma.fields.Integer()
    name = ma.fields.String()
    email = ma.fields.String()
    team = ma.fields.String(allow_none=True)
    rep_id = ma.fields.String(allow_none=True)
    tool_proficiency = ma.fields.Float(allow_none=True, metadata=SCORE)
    adoption = ma.fields.Float(allow_none=True, metadata=SCORE)
    adoption_interval = ma.fields.List(
        ma.fields.Float(),
        allow_none=True,
        metadata={"description": "Wilson 95 % interval, 0–100"},
    )
    suggestions_shown = ma.fields.Integer()
    suggestions_accepted = ma.fields.Integer()
    few_suggestions = ma.fields.Boolean(
        metadata={
            "description": f"1 to {readiness.FEW_SUGGESTIONS - 1} suggestions shown"
        }
    )
    division_of_work = ma.fields.Float(allow_none=True, metadata=SCORE)
    attempt_id = ma.fields.Integer(allow_none=True)
    computed_at = ma.fields.AwareDateTime()


class ReadinessTeamResultSchema(ma.Schema):
    team = ma.fields.String()
    people = ma.fields.Integer()
    tool_proficiency = ma.fields.Float(
        allow_none=True, metadata={"description": "Mean of members' scores"}
    )
    tool_proficiency_n = ma.fields.Integer()
    division_of_work = ma.fields.Float(allow_none=True)
    division_of_work_n = ma.fields.Integer()
    adoption = ma.fields.Float(
        allow_none=True, metadata={"description": "Pooled: Σ accepted / Σ shown"}
    )
    adoption_n = ma.fields.Integer(metadata={"description": "People with a rate"})
    adoption_interval = ma.fields.List(ma.fields.Float(), allow_none=True)
    suggestions_shown = ma.fields.Integer()
    suggestions_accepted = ma.fields.Integer()
    few_suggestions = ma.fields.Boolean()


class ReadinessResultsSchema(ma.Schema):
    campaign = ma.fields.Nested(ReadinessCampaignSchema)
    teams = ma.fields.List(ma.fields.Nested(ReadinessTeamResultSchema))
    people = ma.fields.List(ma.fields.Nested(ReadinessPersonResultSchema))


class ReadinessResultsArgs(ma.Schema):
    format = ma.fields.String(
        load_default="json", validate=ma.validate.OneOf(["json", "csv", "xlsx"])
    )
    team = ma.fields.String(metadata={"description": "One team only"})


class ReadinessHeatmapArgs(ma.Schema):
    teams = DelimitedList(
        ma.fields.String(),
        metadata={"description": "Comma-separated team names; default all"},
    )


class ReadinessHeatCellSchema(ma.Schema):
    team = ma.fields.String()
    quarter = ma.fields.String()
    campaign = ma.fields.String()
    dimension = ma.fields.String(metadata={"enum": list(readiness.DIMENSIONS)})
    value = ma.fields.Float(metadata={"description": "0–100"})
    n = ma.fields.Integer(metadata={"description": "People behind the value"})
    interval = ma.fields.List(ma.fields.Float(), metadata={"description": "Adoption"})
    shown = ma.fields.Integer(metadata={"description": "Adoption"})
    accepted = ma.fields.Integer(metadata={"description": "Adoption"})
    few_suggestions = ma.fields.Boolean(metadata={"description": "Adoption"})


class ReadinessHeatmapSchema(ma.Schema):
    quarters = ma.fields.List(ma.fields.String())
    teams = ma.fields.List(ma.fields.String())
    dimensions = ma.fields.List(ma.fields.String())
    cells = ma.fields.List(
        ma.fields.Nested(ReadinessHeatCellSchema),
        metadata={"description": "Cells without a value are left out"},
    )


class ReadinessProfilePersonSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    email = ma.fields.String()
    team = ma.fields.String(allow_none=True)
    rep_id = ma.fields.String(allow_none=True)


class ReadinessProfileSchema(ma.Schema):
    person = ma.fields.Nested(ReadinessProfilePersonSchema)
    quarters = ma.fields.List(
        ma.fields.Nested(ReadinessPersonResultSchema),
        metadata={"description": "Open and closed campaigns, oldest first"},
    )


# --- helpers ----------------------------------------------------------------------


def campaign_json(campaign: ReadinessCampaign) -> dict[str, Any]:
    start, end = readiness.quarter_bounds(campaign.quarter)
    return {
        "key": campaign.key,
        "quarter": campaign.quarter,
        "title": {"zh": campaign.title_zh, "en": campaign.title_en},
        "teams": campaign.teams,
        "status": campaign.status,
        "exam": campaign.exam.key if campaign.exam else None,
        "tool_section": campaign.tool_section_id,
        "division_section": campaign.division_section_id,
        "starts_at": start,
        "ends_at": end,
        "computed_at": campaign.computed_at,
        "people": len(campaign.results),
    }


def _campaign_or_404(key: str) -> ReadinessCampaign:
    campaign = readiness.get_campaign(key)
    if campaign is None:
        abort(404, message=f"No readiness campaign with key {key}.")
    return campaign


def _profile(person: User) -> dict[str, Any]:
    return {
        "person": {
            "id": person.id,
            "name": person.display_name,
            "email": person.email,
            "team": person.team,
            "rep_id": person.rep_id,
        },
        "quarters": readiness.person_profile(person),
    }


# --- campaigns --------------------------------------------------------------------


@readiness_api.route("/campaigns")
@roles_required(STAFF)
@readiness_api.arguments(PaginationArgs, location="query")
@readiness_api.response(200, page_schema(ReadinessCampaignSchema))
def list_campaigns(args):
    """Every campaign, the latest quarter first."""
    page = page_of(readiness.list_campaigns(), args)
    return {**page, "items": [campaign_json(c) for c in page["items"]]}


@readiness_api.route("/campaigns", methods=["POST"])
@roles_required(STAFF)
@readiness_api.doc(requestBody=json_body(ReadinessCampaignSchema))
@readiness_api.response(201, ReadinessCampaignSchema)
def create_campaign():
    """Create a campaign: key, quarter, title {zh, en}, teams, exam (key),
    tool_section and division_section (section ids of that exam), optional
    status (draft, open or closed; default draft). A team takes part in one
    campaign per quarter (409 otherwise)."""
    return campaign_json(readiness.create_campaign(json_request(), actor=current_user))


@readiness_api.route("/campaigns/<key>")
@roles_required(STAFF)
@readiness_api.response(200, ReadinessCampaignSchema)
def get_campaign(key):
    """One campaign."""
    return campaign_json(_campaign_or_404(key))


@readiness_api.route("/campaigns/<key>", methods=["PUT"])
@roles_required(STAFF)
@readiness_api.doc(requestBody=json_body(ReadinessCampaignSchema))
@readiness_api.response(200, ReadinessCampaignSchema)
def update_campaign(key):
    """Change a campaign's fields (those given) or its status; a closed campaign
    must be reopened (status open) before anything else changes (409)."""
    campaign = _campaign_or_404(key)
    readiness.update_campaign(campaign, json_request(), actor=current_user)
    return campaign_json(campaign)


@readiness_api.route("/campaigns/<key>/compute", methods=["POST"])
@roles_required(STAFF)
@readiness_api.response(200, ReadinessSummarySchema)
def compute_campaign(key):
    """Compute every member's three dimensions from the exam attempts and the
    tracked AI-suggestion events of the quarter, replacing earlier results.
    409 for a closed campaign."""
    summary = readiness.compute_campaign(_campaign_or_404(key), actor=current_user)
    return summary.as_dict()


@readiness_api.route("/campaigns/<key>/results")
@roles_required(READERS)
@readiness_api.arguments(ReadinessResultsArgs, location="query")
@readiness_api.response(200, ReadinessResultsSchema)
def campaign_results(args, key):
    """Team figures and each person's result. HR and administrators read every
    team; a manager only their own. ``format=csv`` gives the people table,
    ``format=xlsx`` a workbook with people and teams."""
    campaign = _campaign_or_404(key)
    team = args.get("team")
    if not readiness.is_staff(current_user):
        own = readiness.visible_team(current_user)
        if own is None or own not in campaign.teams or team not in (None, own):
            abort(404, message=f"No readiness campaign with key {key}.")
        team = own
    if args["format"] != "json":
        content, mimetype, filename = readiness.export_file(
            campaign, args["format"], team=team
        )
        return Response(
            content,
            mimetype=mimetype,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    return {
        "campaign": campaign_json(campaign),
        "teams": [
            f.as_dict()
            for f in readiness.team_figures(campaign, teams=[team] if team else None)
        ],
        "people": [
            readiness.result_dict(r)
            for r in readiness.campaign_results(campaign, team=team)
        ],
    }


@readiness_api.route("/heatmap")
@roles_required(READERS)
@readiness_api.arguments(ReadinessHeatmapArgs, location="query")
@readiness_api.response(200, ReadinessHeatmapSchema)
def heatmap(args):
    """Team figures across quarters (open and closed campaigns): one cell per
    team, quarter and dimension with a value. A manager sees their own team."""
    teams = [t.strip() for t in args.get("teams") or [] if t.strip()] or None
    if not readiness.is_staff(current_user):
        own = readiness.visible_team(current_user)
        teams = [own] if own and (teams is None or own in teams) else []
    return readiness.heatmap(teams)


# --- people -----------------------------------------------------------------------


@readiness_api.route("/people/me")
@roles_required(ANY_ROLE)
@readiness_api.response(200, ReadinessProfileSchema)
def my_profile():
    """Your own results across quarters."""
    return _profile(current_user)


@readiness_api.route("/people/<int:user_id>")
@roles_required(ANY_ROLE)
@readiness_api.response(200, ReadinessProfileSchema)
def person_profile(user_id):
    """A person's results across quarters: for themselves, HR, administrators
    and a manager of the person's team (404 for anyone else)."""
    person = db.session.get(User, user_id)
    if person is None or not readiness.may_view_person(current_user, person):
        abort(404, message="No such person.")
    return _profile(person)
