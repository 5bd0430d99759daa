"""Pages of the AI-readiness baseline (AI 就绪度基线).

HR and administrators, under ``/assessments/hr/readiness``: the campaigns with the
team heat map across quarters, a campaign's form, its page (team figures, each
person's result, compute, open/close, CSV and Excel downloads). Everyone, under
``/assessments/readiness``: their own profile with its trend across quarters; a
manager also sees their team's heat map and members. Profiles of others are
for HR, administrators and a manager of the person's team.

Each dimension's method is explained on the pages (``readiness_method.html``)
and in ``assessments.readiness``.
"""

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Response, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from assessments import bp, readiness
from assessments.authoring import render_hr, ui_language
from assessments.models import CampaignStatus, Exam, ReadinessCampaign
from proving_ground.access import ANY_ROLE, Role, roles_required
from proving_ground.auth.forms import ConfirmForm, MultiCheckboxField
from proving_ground.auth.models import User
from proving_ground.db import db, utcnow
from proving_ground.validation import Invalid

HR = (Role.HR, Role.ADMIN)
DIMENSION_LABELS = {
    "tool_proficiency": _l("Tool proficiency"),
    "adoption": _l("Adoption of AI output"),
    "division_of_work": _l("Division of work"),
}
STATUS_LABELS = {
    CampaignStatus.DRAFT: _l("Draft"),
    CampaignStatus.OPEN: _l("Ongoing"),
    CampaignStatus.CLOSED: _l("Closed"),
}
#: Lifecycle buttons: from status → [(to status, label)].
STATUS_ACTIONS = {
    CampaignStatus.DRAFT: [(CampaignStatus.OPEN, _l("Open the campaign"))],
    CampaignStatus.OPEN: [(CampaignStatus.CLOSED, _l("Close the campaign"))],
    CampaignStatus.CLOSED: [(CampaignStatus.OPEN, _l("Reopen"))],
}


# --- forms ------------------------------------------------------------------------


class CampaignForm(FlaskForm):
    key = StringField(_l("Key"), validators=[Optional(), Length(max=64)])
    quarter = StringField(
        _l("Quarter"), validators=[DataRequired(), Length(max=6)], default=""
    )
    title_zh = StringField(
        _l("Title (Chinese)"), validators=[DataRequired(), Length(max=200)]
    )
    title_en = StringField(
        _l("Title (English)"), validators=[DataRequired(), Length(max=200)]
    )
    # The service checks teams, exam and sections and names the field at fault.
    teams = MultiCheckboxField(_l("Teams"), choices=[], validate_choice=False)
    exam = SelectField(_l("Exam"), choices=[], validate_choice=False)
    tool_section = SelectField(
        _l("Tool-proficiency section"), choices=[], validate_choice=False
    )
    division_section = SelectField(
        _l("Division-of-work section"), choices=[], validate_choice=False
    )
    status = SelectField(
        _l("Status"),
        choices=[SelectChoice(s.value, label) for s, label in STATUS_LABELS.items()],
    )


class StatusForm(FlaskForm):
    status = SelectField(
        choices=[SelectChoice(s.value, s.value) for s in CampaignStatus]
    )


def _fill_choices(form: CampaignForm, campaign: ReadinessCampaign | None) -> None:
    language = ui_language()
    teams = readiness.known_teams()
    for team in campaign.teams if campaign else []:
        if team not in teams:
            teams.append(team)
    form.teams.choices = [SelectChoice(t, t) for t in teams]
    exams = db.session.scalars(
        sa.select(Exam).where(Exam.external.is_(False)).order_by(Exam.key)
    ).all()
    blank = SelectChoice("", _("Choose…"))
    form.exam.choices = [blank] + [
        SelectChoice(e.key, f"{e.text('title', language)} ({e.key})") for e in exams
    ]
    sections = [blank] + [
        SelectChoice(
            str(s.id), f"{e.text('title', language)} › {s.text('title', language)}"
        )
        for e in exams
        for s in e.sections
    ]
    form.tool_section.choices = sections
    form.division_section.choices = list(sections)


def _form_data(form: CampaignForm) -> dict[str, Any]:
    return {
        "quarter": (form.quarter.data or "").strip().upper(),
        "title": {"zh": form.title_zh.data or "", "en": form.title_en.data or ""},
        "teams": list(form.teams.data or []),
        "exam": form.exam.data or "",
        "tool_section": form.tool_section.data or None,
        "division_section": form.division_section.data or None,
        "status": form.status.data,
    }


def _place(form: CampaignForm, exc: Invalid) -> list[str]:
    """Put the service's messages on the form's fields; return the others."""
    unplaced = []
    for name, messages in exc.fields.items():
        field_name = {"title.zh": "title_zh", "title.en": "title_en"}.get(name, name)
        field = getattr(form, field_name, None) if field_name != "title" else None
        if field is None or not hasattr(field, "errors"):
            unplaced.extend(messages)
        else:
            field.errors = [*field.errors, *messages]
    return unplaced


# --- helpers ----------------------------------------------------------------------


def _campaign_or_404(key: str) -> ReadinessCampaign:
    campaign = readiness.get_campaign(key)
    if campaign is None:
        abort(404)
    return campaign


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def _interval(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return ""
    return f"{low:.0f}–{high:.0f}"


def _page(template: str, status: int = 200, **context):
    """Render a readiness page with the labels and helpers every one uses."""
    return render_hr(
        template,
        status,
        dimension_labels=DIMENSION_LABELS,
        status_label=lambda s: STATUS_LABELS.get(s, s),
        score=_score,
        interval=_interval,
        few_mark=readiness.FEW_SUGGESTIONS,
        **context,
    )


def _heat_panels(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The heat map as one panel per dimension (teams × quarters) with display
    text and hover text per cell, for readiness.js. Missing cells are null."""
    quarters, teams = data["quarters"], data["teams"]
    panels = []
    for dimension in data["dimensions"]:
        no_result = _("No result")
        z = [[None] * len(quarters) for _team in teams]
        text = [[""] * len(quarters) for _team in teams]
        hover = [[no_result] * len(quarters) for _team in teams]
        for cell in data["cells"]:
            if cell["dimension"] != dimension or cell["team"] not in teams:
                continue
            row, col = teams.index(cell["team"]), quarters.index(cell["quarter"])
            z[row][col] = round(cell["value"], 1)
            label = f"{cell['value']:.0f}"
            lines = [
                f"{cell['team']} · {cell['quarter']}",
                f"{DIMENSION_LABELS[dimension]}: {label}",
                ngettext("n = %(num)d person", "n = %(num)d people", cell["n"]),
            ]
            if dimension == "adoption":
                low, high = cell["interval"]
                lines.append(_("95%% interval %(range)s", range=_interval(low, high)))
                lines.append(
                    _(
                        "%(accepted)d of %(shown)d suggestions accepted",
                        accepted=cell["accepted"],
                        shown=cell["shown"],
                    )
                )
                if cell["few_suggestions"]:
                    label += "*"
                    lines.append(_("Few suggestions: read with care"))
            text[row][col] = label
            hover[row][col] = "<br>".join(lines)
        panels.append(
            {
                "title": str(DIMENSION_LABELS[dimension]),
                "x": quarters,
                "y": teams,
                "z": z,
                "text": text,
                "hover": hover,
            }
        )
    return panels


def _trend(profile: list[dict[str, Any]]) -> dict[str, Any]:
    """A person's three dimensions across quarters, for readiness.js."""
    series = []
    for dimension in readiness.DIMENSIONS:
        values = [row[dimension] for row in profile]
        entry: dict[str, Any] = {
            "name": str(DIMENSION_LABELS[dimension]),
            "values": [None if v is None else round(v, 1) for v in values],
        }
        if dimension == "adoption":
            intervals = [row["adoption_interval"] or (None, None) for row in profile]
            entry["low"] = [low for low, _high in intervals]
            entry["high"] = [high for _low, high in intervals]
        series.append(entry)
    return {
        "x": [row["quarter"] for row in profile],
        "series": series,
        "y_title": _("Score (0–100)"),
    }


def _summary_message(summary: readiness.ComputeSummary) -> str:
    parts = [
        ngettext(
            "Computed %(num)d person.", "Computed %(num)d people.", summary.people
        ),
        _("With an exam attempt in the quarter: %(n)d.", n=summary.with_attempt),
        _("With AI suggestions shown: %(n)d.", n=summary.with_adoption),
    ]
    if summary.few_suggestions:
        parts.append(
            _(
                "Fewer than %(mark)d suggestions: %(n)d.",
                mark=readiness.FEW_SUGGESTIONS,
                n=summary.few_suggestions,
            )
        )
    if summary.without_rep_id:
        parts.append(_("Without a rep id: %(n)d.", n=summary.without_rep_id))
    if summary.removed:
        parts.append(_("Removed (no longer in the teams): %(n)d.", n=summary.removed))
    return " ".join(parts)


def _stored_summary(results) -> dict[str, int]:
    """What the stored results contain, for the page's summary."""
    return {
        "people": len(results),
        "with_attempt": sum(r.attempt_id is not None for r in results),
        "with_adoption": sum(r.suggestions_shown > 0 for r in results),
        "few": sum(readiness.is_few(r.suggestions_shown) for r in results),
        "without_rep_id": sum(not r.user.rep_id for r in results),
    }


# --- HR: campaigns and the heat map ------------------------------------------------


@bp.route("/hr/readiness")
@roles_required(*HR)
def hr_readiness():
    campaigns = readiness.list_campaigns()
    chosen = [t for t in request.args.getlist("teams") if t]
    data = readiness.heatmap(chosen or None)
    teams_in_map = sorted({t for c in campaigns for t in c.teams} | set(chosen))
    return _page(
        "readiness_hr.html",
        campaigns=campaigns,
        heat=data,
        panels=_heat_panels(data),
        teams=teams_in_map,
        chosen=chosen,
    )


def _save_form(campaign: ReadinessCampaign | None):
    form = CampaignForm(obj=None)
    _fill_choices(form, campaign)
    if campaign is not None and request.method == "GET":
        form.quarter.data = campaign.quarter
        form.title_zh.data, form.title_en.data = campaign.title_zh, campaign.title_en
        form.teams.data = list(campaign.teams)
        form.exam.data = campaign.exam.key if campaign.exam else ""
        form.tool_section.data = str(campaign.tool_section_id or "")
        form.division_section.data = str(campaign.division_section_id or "")
        form.status.data = campaign.status
    elif campaign is None and request.method == "GET":
        form.quarter.data = readiness.quarter_of(utcnow())
    problems: list[str] = []
    if form.validate_on_submit():
        data = _form_data(form)
        try:
            if campaign is None:
                campaign = readiness.create_campaign(
                    {**data, "key": (form.key.data or "").strip()}, actor=current_user
                )
                flash(_("Campaign %(key)s created.", key=campaign.key), "success")
            else:
                readiness.update_campaign(campaign, data, actor=current_user)
                flash(_("Campaign saved."), "success")
        except Invalid as exc:
            problems = _place(form, exc)
        else:
            target = url_for("assessments.hr_readiness_campaign", key=campaign.key)
            return redirect(target)
    status = 422 if form.is_submitted() else 200
    return _page(
        "readiness_form.html", status, form=form, campaign=campaign, problems=problems
    )


@bp.route("/hr/readiness/new", methods=["GET", "POST"])
@roles_required(*HR)
def hr_readiness_new():
    return _save_form(None)


@bp.route("/hr/readiness/<key>/edit", methods=["GET", "POST"])
@roles_required(*HR)
def hr_readiness_edit(key: str):
    return _save_form(_campaign_or_404(key))


@bp.route("/hr/readiness/<key>")
@roles_required(*HR)
def hr_readiness_campaign(key: str):
    campaign = _campaign_or_404(key)
    results = readiness.campaign_results(campaign)
    start, end = readiness.quarter_bounds(campaign.quarter)
    return _page(
        "readiness_campaign.html",
        campaign=campaign,
        first_day=start.date(),
        last_day=(end - timedelta(days=1)).date(),
        figures=readiness.team_figures(campaign),
        results=[readiness.result_dict(r) for r in results],
        stored=_stored_summary(results),
        actions=STATUS_ACTIONS.get(campaign.status, []),
        confirm_form=ConfirmForm(),
        status_form=StatusForm(),
    )


@bp.route("/hr/readiness/<key>/compute", methods=["POST"])
@roles_required(*HR)
def hr_readiness_compute(key: str):
    campaign = _campaign_or_404(key)
    if ConfirmForm().validate_on_submit():
        try:
            summary = readiness.compute_campaign(campaign, actor=current_user)
        except Invalid as exc:
            flash(exc.message, "error")
        else:
            flash(_summary_message(summary), "success")
    return redirect(url_for("assessments.hr_readiness_campaign", key=key))


@bp.route("/hr/readiness/<key>/status", methods=["POST"])
@roles_required(*HR)
def hr_readiness_status(key: str):
    campaign = _campaign_or_404(key)
    form = StatusForm()
    if form.validate_on_submit():
        try:
            readiness.set_status(campaign, form.status.data, actor=current_user)
        except Invalid as exc:
            flash(exc.message, "error")
        else:
            flash(
                _(
                    "The campaign is now %(status)s.",
                    status=STATUS_LABELS[CampaignStatus(campaign.status)],
                ),
                "success",
            )
    return redirect(url_for("assessments.hr_readiness_campaign", key=key))


@bp.route("/hr/readiness/<key>/results.<fmt>")
@roles_required(*HR)
def hr_readiness_download(key: str, fmt: str):
    campaign = _campaign_or_404(key)
    if fmt not in ("csv", "xlsx"):
        abort(404)
    content, mimetype, filename = readiness.export_file(campaign, fmt)
    return Response(
        content,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- profiles ---------------------------------------------------------------------


def _profile_page(person: User, *, own: bool):
    profile = readiness.person_profile(person)
    context: dict[str, Any] = {}
    team = readiness.visible_team(current_user) if own else None
    if team:
        data = readiness.heatmap([team])
        context |= {
            "team": team,
            "team_panels": _heat_panels(data) if data["quarters"] else [],
            "team_members": db.session.scalars(
                sa.select(User)
                .where(User.team == team, User.active.is_(True))
                .order_by(User.display_name)
            ).all(),
        }
    return _page(
        "readiness_person.html",
        person=person,
        own=own,
        profile=profile,
        trend=_trend(profile),
        latest=profile[-1] if profile else None,
        **context,
    )


@bp.route("/readiness")
@roles_required(ANY_ROLE)
def readiness_me():
    return _profile_page(current_user, own=True)


@bp.route("/readiness/people/<int:user_id>")
@roles_required(ANY_ROLE)
def readiness_person(user_id: int):
    person = db.session.get(User, user_id)
    if person is None or not readiness.may_view_person(current_user, person):
        abort(404)
    if person.id == current_user.id:
        return redirect(url_for("assessments.readiness_me"))
    return _profile_page(person, own=False)
