"""AI-coaching simulation pages (AI 辅导模拟): the list of scenarios with the
user's AI collaboration style, the taking page, the result with the style
diagnosis and the review, the coaching-note grading queue, and HR's authoring
pages (list, create and edit as JSON with a readable preview, publish or retire,
import and export, and the item analysis of the suggestions).

Views parse a form, call one function of ``assessments.simulations`` and
render. Nothing about a suggestion's truth (soundness, flaw types,
explanation) reaches the taking page: it is built from ``public_turn`` and
``persona`` only. The server's clock decides; the countdown only displays it.
"""

import json
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    FloatField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from assessments import (
    bp,
    coaching,
    item_analysis,
    psychometrics,
    services,
    simulations,
)
from assessments.authoring import csv_response, hr_asset_url
from assessments.item_analysis_views import ATTEMPT_LABELS, attempts_mode
from assessments.models import (
    AttemptStatus,
    Competency,
    Scenario,
    ScenarioStatus,
    SimulationAttempt,
)
from proving_ground.access import ANY_ROLE, Role, roles_required
from proving_ground.db import db, utcnow, writes_on_read
from proving_ground.i18n import current_language
from proving_ground.validation import Invalid

HR = (Role.HR, Role.ADMIN)

FLAW_LABELS = {
    "invented_fact": (
        _l("Invented fact"),
        _l("A figure, reference or claim that nobody can source."),
    ),
    "non_compliant_promise": (
        _l("Non-compliant promise"),
        _l("A guarantee or commitment the contract or policy does not allow."),
    ),
    "wrong_price": (
        _l("Wrong price"),
        _l("A price or discount that does not match the price list."),
    ),
    "biased_assumption": (
        _l("Biased assumption"),
        _l("Assumes something about the customer from a stereotype."),
    ),
    "ignores_need": (
        _l("Ignores need"),
        _l("Passes over what the customer said they need."),
    ),
    "other": (_l("Other"), _l("Another flaw; say which in your note.")),
}
DECISION_LABELS = {
    "accept": _l("Accept"),
    "edit": _l("Edit"),
    "reject": _l("Reject"),
    "not_accept": _l("Edit or reject"),
}
VERDICT_LABELS = {
    "hit": _l("Flaw caught"),
    "miss": _l("Flaw missed"),
    "false_alarm": _l("Sound advice not accepted"),
    "correct_rejection": _l("Sound advice accepted"),
}
SCENARIO_STATUS_LABELS = {
    ScenarioStatus.DRAFT: _l("Draft"),
    ScenarioStatus.PUBLISHED: _l("Published"),
    ScenarioStatus.RETIRED: _l("Retired"),
}
EXAMPLE_SCENARIO = {
    "persona": {
        "industry": "saas",
        "customer_type": "key-account",
        "name": {"zh": "李经理", "en": "Ms Li"},
        "role": {"zh": "IT 采购经理", "en": "IT procurement manager"},
        "situation": {
            "zh": "合同下月到期，客户在比较两家供应商。",
            "en": "The contract ends next month; she is comparing two vendors.",
        },
    },
    "start": "t1",
    "turns": [
        {
            "id": "t1",
            "customer": {"zh": "你们的价格太高了。", "en": "Your price is too high."},
            "context": {
                "zh": "价目表：续约最多 10% 折扣。",
                "en": "Price list: at most 10% off on renewal.",
            },
            "suggestions": [
                {
                    "id": "s1",
                    "text": {
                        "zh": "先问清她比较的是哪些功能。",
                        "en": "Ask which features she is comparing.",
                    },
                    "sound": True,
                    "explanation": {
                        "zh": "先了解需求再谈价格。",
                        "en": "Understand the need before talking price.",
                    },
                },
                {
                    "id": "s2",
                    "text": {"zh": "直接给她 30% 折扣。", "en": "Offer her 30% off."},
                    "sound": False,
                    "flaws": ["wrong_price"],
                    "explanation": {
                        "zh": "超出 10% 的折扣上限。",
                        "en": "Beyond the 10% discount limit.",
                    },
                },
            ],
        }
    ],
}


# --- forms -----------------------------------------------------------------------


class StartSimulationForm(FlaskForm):
    """Start (or continue) a simulation: only the CSRF token."""


class TurnForm(FlaskForm):
    """The answers to one turn; the fields per suggestion (``decision-<id>``,
    ``edited-<id>``, ``flaws-<id>``, ``note-<id>``) are read by the view."""

    turn = StringField(validators=[DataRequired(), Length(max=32)])


class NoteGradeForm(FlaskForm):
    """A grader's comment; the level per criterion comes as ``level-<id>``."""

    comment = TextAreaField(
        _l("Comment for the coach (optional)"), validators=[Length(max=4000)]
    )


class ScenarioForm(FlaskForm):
    key = StringField(_l("Key"), validators=[DataRequired(), Length(max=64)])
    title_zh = StringField(
        _l("Title (Chinese)"), validators=[DataRequired(), Length(max=200)]
    )
    title_en = StringField(
        _l("Title (English)"), validators=[DataRequired(), Length(max=200)]
    )
    industry = StringField(_l("Industry"), validators=[Length(max=64)])
    competency = SelectField(_l("Competency"), choices=[], validate_choice=False)
    time_limit_minutes = IntegerField(
        _l("Time limit (minutes)"),
        default=30,
        validators=[InputRequired(), NumberRange(1, 240)],
    )
    max_attempts = IntegerField(
        _l("Attempts allowed"),
        default=3,
        validators=[InputRequired(), NumberRange(1, 20)],
    )
    pass_d_prime = FloatField(
        _l("Pass: sensitivity d′ at least"),
        default=1.0,
        validators=[InputRequired(), NumberRange(0, 5)],
    )
    max_over_reliance = FloatField(
        _l("Pass: over-reliance at most"),
        default=0.25,
        validators=[InputRequired(), NumberRange(0, 1)],
    )
    content = TextAreaField(_l("Content (JSON)"), validators=[DataRequired()])


class ScenarioStatusForm(FlaskForm):
    status = SelectField(
        _l("Status"),
        choices=[
            SelectChoice(key.value, label)
            for key, label in SCENARIO_STATUS_LABELS.items()
        ],
    )


class ScenarioImportForm(FlaskForm):
    file = FileField(_l("JSON file"), validators=[FileRequired()])


# --- helpers ---------------------------------------------------------------------


def _ui_language() -> str:
    return "en" if current_language() == "en" else "zh"


def _attempt_language(attempt: SimulationAttempt) -> str:
    return "en" if attempt.language == "en" else "zh"


def _page(template: str, status: int = 200, **context):
    """Render a simulation page with the labels every one of them uses."""
    context.update(
        flaw_labels=FLAW_LABELS,
        decision_label=lambda d: DECISION_LABELS.get(d, d),
        verdict_label=lambda v: VERDICT_LABELS.get(v, v),
        scenario_status_label=lambda s: SCENARIO_STATUS_LABELS.get(s, s),
        style_text=simulations.style_text,
        number=_number,
        authoring_asset=hr_asset_url,
    )
    return render_template(f"assessments/{template}", **context), status


def _number(value: float | None, digits: int = 2) -> str:
    """A signed-detection figure as people read it: 1.81, −0.38; — for none."""
    if value is None:
        return "—"
    text = f"{value:.{digits}f}"
    return text.replace("-", "−")


def _scenario_or_404(key: str) -> Scenario:
    scenario = simulations.scenario_by_key(key)
    if scenario is None:
        abort(404)
    return scenario


def _attempt_or_404(attempt_id: int) -> SimulationAttempt:
    attempt = db.session.get(SimulationAttempt, attempt_id)
    if attempt is None:
        abort(404)
    return attempt


def _seconds_left(attempt: SimulationAttempt) -> int:
    return max(0, int((attempt.deadline_at - utcnow()).total_seconds()))


# --- the list --------------------------------------------------------------------


@bp.route("/simulations")
@roles_required(ANY_ROLE)
def sim_index():
    language = _ui_language()
    offers = []
    for scenario in simulations.list_scenarios(published_only=True):
        attempts = simulations.attempts_of(scenario, current_user)
        running = next(
            (a for a in attempts if a.status == AttemptStatus.IN_PROGRESS), None
        )
        offers.append(
            {
                "scenario": scenario,
                "persona": simulations.persona(scenario.current, language),
                "attempts": attempts,
                "in_progress": running,
                "left": max(0, scenario.max_attempts - len(attempts)),
            }
        )
    submitted = simulations.submitted_attempts(current_user)
    summary = simulations.person_summary(current_user)
    return _page(
        "sim_index.html",
        offers=offers,
        submitted=list(reversed(submitted)),
        summary=summary,
        style=simulations.style_text(summary["style"]),
        form=StartSimulationForm(),
        language=language,
    )


@bp.route("/simulations/<key>/start", methods=["POST"])
@roles_required(ANY_ROLE)
def sim_start(key: str):
    scenario = _scenario_or_404(key)
    if not StartSimulationForm().validate_on_submit():
        abort(400)
    try:
        attempt = simulations.start_attempt(
            scenario, current_user, language=current_language()
        )
    except Invalid as exc:
        flash(exc.message, "error")
        return redirect(url_for("assessments.sim_index"))
    return redirect(url_for("assessments.sim_attempt", attempt_id=attempt.id))


# --- taking ----------------------------------------------------------------------


def _own(attempt: SimulationAttempt) -> SimulationAttempt:
    if attempt.user_id != current_user.id:
        abort(403)
    return attempt


def _history(attempt: SimulationAttempt, language: str) -> list[dict[str, Any]]:
    """The turns already answered: the customer's words, each suggestion's text
    and the coach's own decision (no truth)."""
    content = attempt.version.content
    responses = {r.suggestion_id: r for r in attempt.responses}
    answered = {r.turn_id for r in attempt.responses}
    out = []
    for number, turn_id in enumerate(attempt.path, start=1):
        if turn_id not in answered:
            break
        view = coaching.public_turn(content, turn_id, language, number)
        for suggestion in view["suggestions"]:
            suggestion["response"] = responses.get(suggestion["id"])
        out.append(view)
    return out


def _typed(turn: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What the coach sent for each suggestion of the turn, from the form."""
    form = request.form
    typed = {}
    for suggestion in turn["suggestions"]:
        sid = suggestion["id"]
        decision = form.get(f"decision-{sid}") or None
        typed[sid] = {
            "decision": decision,
            "edited_text": form.get(f"edited-{sid}", ""),
            # the page hides the flaw boxes of accepted suggestions
            "flaws": [] if decision == "accept" else form.getlist(f"flaws-{sid}"),
            "note": form.get(f"note-{sid}", ""),
        }
    return typed


def _errors(exc: Invalid, turn: dict[str, Any]) -> tuple[dict, list[str]]:
    """The service's problems per suggestion and field ("responses.1.flaws" →
    errors[s2]["flaws"]), and those that belong to no suggestion."""
    ids = [s["id"] for s in turn["suggestions"]]
    placed: dict[str, dict[str, list[str]]] = defaultdict(dict)
    general: list[str] = []
    for name, messages in exc.fields.items():
        parts = name.split(".")
        if len(parts) >= 2 and parts[0] == "responses" and parts[1].isdigit():
            index = int(parts[1])
            field = parts[2] if len(parts) > 2 else "decision"
            if index < len(ids):
                placed[ids[index]].setdefault(field, []).extend(messages)
                continue
        general.extend(messages)
    return dict(placed), general


def _taking_page(attempt, form, typed=None, errors=None, general=None, status=200):
    language = _attempt_language(attempt)
    turn = simulations.public_turn(attempt, language)
    return _page(
        "sim_attempt.html",
        status,
        attempt=attempt,
        scenario=attempt.scenario,
        persona=simulations.persona(attempt, language),
        history=_history(attempt, language),
        turn=turn,
        typed=typed or {},
        errors=errors or {},
        general=general or [],
        form=form,
        finish_form=StartSimulationForm(),
        seconds_left=_seconds_left(attempt),
        language=language,
    )


@bp.route("/simulations/attempts/<int:attempt_id>", methods=["GET", "POST"])
@roles_required(ANY_ROLE)
@writes_on_read
def sim_attempt(attempt_id: int):
    attempt = _own(_attempt_or_404(attempt_id))
    result_url = url_for("assessments.sim_result", attempt_id=attempt.id)
    if simulations.expire_if_overdue(attempt):
        flash(_("Time is up: the simulation was submitted with what you answered."))
        return redirect(result_url)
    if attempt.status != AttemptStatus.IN_PROGRESS:
        return redirect(result_url)
    if simulations.public_turn(attempt) is None:
        simulations.submit_attempt(attempt)
        return redirect(result_url)
    form = TurnForm()
    if request.method == "GET":
        return _taking_page(attempt, form)
    if not form.validate_on_submit():
        abort(400)
    turn = simulations.public_turn(attempt)
    typed = _typed(turn) if turn["id"] == form.turn.data else {}
    responses = [{"suggestion": sid, **answer} for sid, answer in typed.items()]
    try:
        simulations.answer_turn(attempt, form.turn.data, responses)
    except Invalid as exc:
        if exc.status == 409:
            flash(exc.message, "error")
            return redirect(url_for("assessments.sim_attempt", attempt_id=attempt.id))
        errors, general = _errors(exc, turn)
        return _taking_page(attempt, form, typed, errors, general, status=422)
    if attempt.status != AttemptStatus.IN_PROGRESS:
        flash(_("The conversation has ended: here is how you did."), "success")
        return redirect(result_url)
    return redirect(url_for("assessments.sim_attempt", attempt_id=attempt.id))


@bp.route("/simulations/attempts/<int:attempt_id>/finish", methods=["POST"])
@roles_required(ANY_ROLE)
def sim_finish(attempt_id: int):
    """Hand in before the conversation ends (unanswered turns are not scored)."""
    attempt = _own(_attempt_or_404(attempt_id))
    if not StartSimulationForm().validate_on_submit():
        abort(400)
    try:
        simulations.submit_attempt(attempt)
    except Invalid as exc:
        flash(exc.message, "error")
    return redirect(url_for("assessments.sim_result", attempt_id=attempt.id))


# --- result ----------------------------------------------------------------------


@bp.route("/simulations/attempts/<int:attempt_id>/result")
@roles_required(ANY_ROLE)
@writes_on_read
def sim_result(attempt_id: int):
    attempt = _attempt_or_404(attempt_id)
    if not simulations.may_view(attempt, current_user):
        abort(403)
    simulations.expire_if_overdue(attempt)
    if attempt.status == AttemptStatus.IN_PROGRESS:
        if attempt.user_id == current_user.id:
            return redirect(url_for("assessments.sim_attempt", attempt_id=attempt.id))
        abort(404)
    language = _attempt_language(attempt)
    scores = simulations.scores(attempt)
    trend = [
        {"attempt": a, "scores": simulations.scores(a)}
        for a in simulations.attempts_of(attempt.scenario, attempt.user)
        if a.status != AttemptStatus.IN_PROGRESS
    ]
    return _page(
        "sim_result.html",
        attempt=attempt,
        scenario=attempt.scenario,
        persona=simulations.persona(attempt, language),
        scores=scores,
        style=simulations.style_text(scores["style"]),
        review=simulations.review(attempt, language),
        trend=trend if len(trend) > 1 else [],
        mine=attempt.user_id == current_user.id,
        language=language,
    )


# --- grading coaching notes ------------------------------------------------------


def _grader_only() -> None:
    if not services.is_grader(current_user):
        abort(403)


@bp.route("/simulations/grading")
@roles_required(ANY_ROLE)
def sim_grading():
    _grader_only()
    queue = simulations.grading_queue(current_user)
    rows = [
        {
            "attempt": attempt,
            "notes": sum(1 for r in attempt.responses if r.note),
        }
        for attempt in queue
    ]
    return _page("sim_grading.html", rows=rows, language=_ui_language())


def _criteria(attempt: SimulationAttempt, language: str) -> list[dict[str, Any]]:
    rubric = attempt.version.content.get("note_rubric") or {}
    return [
        {
            "id": criterion["id"],
            "name": coaching.in_language(criterion["name"], language),
            "levels": [
                {
                    "index": index,
                    "points": level["points"],
                    "description": coaching.in_language(level["description"], language),
                }
                for index, level in enumerate(criterion["levels"])
            ],
        }
        for criterion in rubric.get("criteria", [])
    ]


@bp.route("/simulations/grading/<int:attempt_id>", methods=["GET", "POST"])
@roles_required(ANY_ROLE)
def sim_grade(attempt_id: int):
    _grader_only()
    attempt = _attempt_or_404(attempt_id)
    if not simulations.may_grade_notes(attempt, current_user):
        abort(403)
    if attempt.status != AttemptStatus.GRADING:
        flash(_("These coaching notes need no more marks."))
        return redirect(url_for("assessments.sim_grading"))
    language = _ui_language()
    criteria = _criteria(attempt, language)
    form = NoteGradeForm()
    chosen: dict[str, int] = {}
    missing: list[str] = []
    if form.validate_on_submit():
        for criterion in criteria:
            value = request.form.get(f"level-{criterion['id']}", "")
            if value.isdigit() and int(value) < len(criterion["levels"]):
                chosen[criterion["id"]] = int(value)
            else:
                missing.append(criterion["id"])
        if not missing:
            try:
                simulations.grade_notes(
                    attempt, current_user, chosen, form.comment.data or ""
                )
            except Invalid as exc:
                flash(exc.message, "error")
            else:
                flash(_("Marks saved."), "success")
                queue = simulations.grading_queue(current_user)
                if queue:
                    return redirect(
                        url_for("assessments.sim_grade", attempt_id=queue[0].id)
                    )
                flash(_("The grading queue is empty."), "success")
                return redirect(url_for("assessments.sim_grading"))
        else:
            flash(_("Choose a level for every criterion."), "error")
    notes = [
        {"turn": turn, "suggestion": suggestion}
        for turn in simulations.review(attempt, language)
        for suggestion in turn["suggestions"]
        if suggestion["response"] and suggestion["response"]["note"]
    ]
    status = 422 if request.method == "POST" else 200
    return _page(
        "sim_grade.html",
        status,
        attempt=attempt,
        scenario=attempt.scenario,
        persona=simulations.persona(attempt, language),
        notes=notes,
        criteria=criteria,
        chosen=chosen,
        missing=missing,
        form=form,
        language=language,
        remaining=len(simulations.grading_queue(current_user)),
    )


# --- HR: authoring ---------------------------------------------------------------


def _attempt_figures() -> dict[int, dict[str, Any]]:
    """Per scenario id: attempts started and the mean d′ of the submitted ones."""
    rows = db.session.execute(
        sa.select(
            SimulationAttempt.scenario_id,
            SimulationAttempt.status,
            SimulationAttempt.scores,
        )
    ).all()
    figures: dict[int, dict[str, Any]] = defaultdict(
        lambda: {"attempts": 0, "d_primes": []}
    )
    for scenario_id, status, scores in rows:
        figures[scenario_id]["attempts"] += 1
        if status != AttemptStatus.IN_PROGRESS and scores:
            figures[scenario_id]["d_primes"].append(scores["d_prime"])
    for figure in figures.values():
        values = figure["d_primes"]
        figure["mean_d_prime"] = sum(values) / len(values) if values else None
    return figures


@bp.route("/hr/simulations")
@roles_required(*HR)
def hr_simulations():
    figures = _attempt_figures()
    return _page(
        "sim_hr_list.html",
        scenarios=simulations.list_scenarios(),
        figures=figures,
        language=_ui_language(),
    )


def _competency_choices() -> list[SelectChoice]:
    language = _ui_language()
    choices = [SelectChoice("", _("None"))]
    for competency in db.session.scalars(
        sa.select(Competency).order_by(Competency.framework_id, Competency.position)
    ):
        choices.append(SelectChoice(competency.key, competency.text("name", language)))
    return choices


def _scenario_form(scenario: Scenario | None = None) -> ScenarioForm:
    """The form, filled from the scenario (or the example) on first display."""
    if scenario is None:
        initial = {
            "content": json.dumps(EXAMPLE_SCENARIO, ensure_ascii=False, indent=2)
        }
    else:
        initial = {
            "key": scenario.key,
            "title_zh": scenario.title_zh,
            "title_en": scenario.title_en,
            "industry": scenario.industry or "",
            "competency": scenario.competency.key if scenario.competency else "",
            "time_limit_minutes": scenario.time_limit_minutes,
            "max_attempts": scenario.max_attempts,
            "pass_d_prime": scenario.pass_d_prime,
            "max_over_reliance": scenario.max_over_reliance,
            "content": json.dumps(
                scenario.current.content, ensure_ascii=False, indent=2
            ),
        }
    form = ScenarioForm(data=initial)
    form.competency.choices = _competency_choices()
    if scenario is not None:
        form.key.data = scenario.key  # the key is stable: imports use it
    return form


def _json_content(form: ScenarioForm) -> Any:
    try:
        return json.loads(form.content.data or "")
    except json.JSONDecodeError as exc:
        form.content.errors = [
            *form.content.errors,
            _(
                "Not valid JSON: %(error)s (line %(line)d, column %(column)d).",
                error=exc.msg,
                line=exc.lineno,
                column=exc.colno,
            ),
        ]
        return None


def _scenario_data(form: ScenarioForm, content: Any) -> dict[str, Any]:
    return {
        "key": (form.key.data or "").strip(),
        "title": {"zh": form.title_zh.data.strip(), "en": form.title_en.data.strip()},
        "industry": (form.industry.data or "").strip() or None,
        "competency": form.competency.data or None,
        "time_limit_minutes": form.time_limit_minutes.data,
        "max_attempts": form.max_attempts.data,
        "pass_d_prime": form.pass_d_prime.data,
        "max_over_reliance": form.max_over_reliance.data,
        "content": content,
    }


def _place(exc: Invalid, form: ScenarioForm) -> list[str]:
    """Each problem on its form field; content problems listed by path on the
    content field. Returns those that fit no field."""
    unplaced: list[str] = []
    for name, messages in exc.fields.items():
        if name == "content" or name.startswith("content."):
            path = name.removeprefix("content").lstrip(".")
            form.content.errors = [
                *form.content.errors,
                *(f"{path}: {m}" if path else m for m in messages),
            ]
        elif name == "title":
            form.title_zh.errors = [*form.title_zh.errors, *messages]
        elif name.startswith("title."):
            field = form.title_en if name.endswith("en") else form.title_zh
            field.errors = [*field.errors, *messages]
        elif name in form and name != "csrf_token":
            form[name].errors = [*form[name].errors, *messages]
        else:
            unplaced.extend(f"{name}: {m}" for m in messages)
    return unplaced


def _editor(form, scenario, problems, status):
    return _page(
        "sim_hr_form.html",
        status,
        form=form,
        scenario=scenario,
        problems=problems,
        attempted=scenario is not None
        and simulations.version_attempted(scenario.current),
        flaw_types=coaching.FLAW_TYPES,
    )


@bp.route("/hr/simulations/new", methods=["GET", "POST"])
@roles_required(*HR)
def hr_simulation_new():
    form = _scenario_form()
    problems: list[str] = []
    if form.validate_on_submit():
        content = _json_content(form)
        if content is not None:
            try:
                scenario = simulations.create_scenario(
                    _scenario_data(form, content), actor=current_user
                )
            except Invalid as exc:
                problems = _place(exc, form)
            else:
                flash(_("Simulation %(key)s created.", key=scenario.key), "success")
                return redirect(url_for("assessments.hr_simulation", key=scenario.key))
    return _editor(form, None, problems, 422 if request.method == "POST" else 200)


@bp.route("/hr/simulations/<key>/edit", methods=["GET", "POST"])
@roles_required(*HR)
def hr_simulation_edit(key: str):
    scenario = _scenario_or_404(key)
    form = _scenario_form(scenario)
    problems: list[str] = []
    if form.validate_on_submit():
        content = _json_content(form)
        if content is not None:
            data = _scenario_data(form, content)
            del data["key"]
            try:
                simulations.update_scenario(scenario, data, actor=current_user)
            except Invalid as exc:
                problems = _place(exc, form)
            else:
                flash(_("Simulation %(key)s saved.", key=scenario.key), "success")
                return redirect(url_for("assessments.hr_simulation", key=scenario.key))
    return _editor(form, scenario, problems, 422 if request.method == "POST" else 200)


def _preview(content: dict[str, Any], language: str) -> dict[str, Any]:
    """The scenario as HR reads it: persona and every turn with its
    suggestions, their truth and where each turn leads."""
    turns = []
    for index, turn in enumerate(content["turns"], start=1):
        view = coaching.public_turn(content, turn["id"], language, index)
        for shown, authored in zip(
            view["suggestions"], turn["suggestions"], strict=True
        ):
            shown["sound"] = authored["sound"]
            shown["flaws"] = list(authored.get("flaws") or [])
            shown["explanation"] = coaching.in_language(
                authored["explanation"], language
            )
        view["branches"] = list(turn.get("branches") or [])
        view["next"] = turn.get("next")
        view["start"] = turn["id"] == content["start"]
        turns.append(view)
    return {
        "persona": coaching.public_persona(content, language),
        "turns": turns,
        "rubric": content.get("note_rubric"),
    }


@bp.route("/hr/simulations/<key>")
@roles_required(*HR)
def hr_simulation(key: str):
    scenario = _scenario_or_404(key)
    language = _ui_language()
    figure = _attempt_figures().get(scenario.id)
    return _page(
        "sim_hr_detail.html",
        scenario=scenario,
        preview=_preview(scenario.current.content, language),
        figure=figure,
        status_form=ScenarioStatusForm(status=scenario.status),
        language=language,
    )


@bp.route("/hr/simulations/<key>/status", methods=["POST"])
@roles_required(*HR)
def hr_simulation_status(key: str):
    scenario = _scenario_or_404(key)
    form = ScenarioStatusForm()
    if form.validate_on_submit():
        try:
            simulations.set_scenario_status(
                scenario, form.status.data, actor=current_user
            )
        except Invalid as exc:
            for name, messages in exc.fields.items():
                for message in messages:
                    flash(f"{name}: {message}", "error")
        else:
            flash(
                _(
                    "Status set to %(status)s.",
                    status=SCENARIO_STATUS_LABELS[form.status.data],
                ),
                "success",
            )
    else:
        flash(_("Choose draft, published or retired."), "error")
    return redirect(url_for("assessments.hr_simulation", key=scenario.key))


@bp.route("/hr/simulations/<key>/item-analysis")
@roles_required(*HR)
def hr_simulation_item_analysis(key: str):
    """The item analysis of the scenario's suggestions, as for exams."""
    scenario = _scenario_or_404(key)
    mode = attempts_mode()
    language = _ui_language()
    analysis = item_analysis.scenario_item_analysis(scenario, mode)
    few = [
        item
        for item in analysis["items"]
        if any(flag["code"] == "few_responses" for flag in item["flags"])
    ]
    submitted = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(SimulationAttempt)
        .where(
            SimulationAttempt.scenario_id == scenario.id,
            SimulationAttempt.status != AttemptStatus.IN_PROGRESS,
        )
    )
    texts = {
        suggestion_id: coaching.in_language(truth["text"], language)
        for suggestion_id, truth in item_analysis.suggestion_truth(scenario).items()
    }
    return _page(
        "sim_hr_analysis.html",
        scenario=scenario,
        analysis=analysis,
        few=few,
        min_responses=psychometrics.MIN_RESPONSES,
        mode=mode,
        attempt_labels=ATTEMPT_LABELS,
        submitted=submitted,
        texts=texts,
        decision_labels=item_analysis.DECISION_WORDS,
        language=language,
    )


@bp.route("/hr/simulations/<key>/item-analysis.csv")
@roles_required(*HR)
def hr_simulation_item_analysis_csv(key: str):
    scenario = _scenario_or_404(key)
    mode = attempts_mode()
    analysis = item_analysis.scenario_item_analysis(scenario, mode)
    return csv_response(
        item_analysis.analysis_csv(analysis, extra=("turn", "sound")),
        item_analysis.csv_filename(scenario, mode),
    )


def _json_download(data: Any, filename: str) -> Response:
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2),
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.route("/hr/simulations/export.json")
@roles_required(*HR)
def hr_simulations_export():
    scenarios = [simulations.export_scenario(s) for s in simulations.list_scenarios()]
    return _json_download({"scenarios": scenarios}, "simulations.json")


@bp.route("/hr/simulations/<key>/export.json")
@roles_required(*HR)
def hr_simulation_export(key: str):
    scenario = _scenario_or_404(key)
    return _json_download(simulations.export_scenario(scenario), f"{key}.json")


def _records(upload) -> list[Any]:
    """Scenario records from an uploaded JSON file: a list, {"scenarios": [...]}
    or one scenario."""
    raw = upload.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(_("Save the file as UTF-8.")) from exc
    data = json.loads(text)
    if isinstance(data, dict) and isinstance(data.get("scenarios"), list):
        return data["scenarios"]
    if isinstance(data, dict):
        return [data]
    if not isinstance(data, list):
        raise ValueError(_("Give a JSON list of simulations."))
    return data


@bp.route("/hr/simulations/import", methods=["GET", "POST"])
@roles_required(*HR)
def hr_simulations_import():
    form = ScenarioImportForm()
    report = None
    status = 200
    if form.validate_on_submit():
        try:
            records = _records(form.file.data)
        except (ValueError, json.JSONDecodeError) as exc:
            form.file.errors = [_("The file cannot be read: %(error)s", error=exc)]
            status = 422
        else:
            report = simulations.import_scenarios(records, actor=current_user)
    elif request.method == "POST":
        status = 422
    return _page("sim_hr_import.html", status, form=form, report=report)
