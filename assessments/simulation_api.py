"""The simulations JSON API: scenario authoring (HR), attempts (any signed-in
user), scores, review, grading of coaching notes and the people summary.

HR also read the item analysis of a scenario's suggestions
(``item_analysis.scenario_item_analysis``), in the shape of the exams' one.

Integrity: before an attempt is submitted its coach receives only the persona
and the current turn from ``simulations.public_turn`` (no soundness, flaw types
or explanations); the review with the truth comes after submission. Someone
else's attempt is a 404 unless the caller may see it (HR, or the coach's
manager once it is submitted).
"""

import json

import marshmallow as ma
from flask import Response, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_smorest import Blueprint, abort

from assessments import coaching, item_analysis, simulations
from assessments.api import grading_criteria, json_body, json_request
from assessments.item_analysis_api import (
    ItemAnalysisArgs,
    ItemAnalysisItemSchema,
    ItemAnalysisSchema,
)
from assessments.models import AttemptStatus, Scenario, SimulationAttempt
from proving_ground.access import ANY_ROLE, Role, roles_required
from proving_ground.auth.models import User
from proving_ground.db import db, utcnow, writes_on_read
from proving_ground.i18n import current_language
from proving_ground.validation import Invalid

simulations_api = Blueprint(
    "simulations_api",
    __name__,
    url_prefix="/api/v1/simulations",
    description="AI-coaching simulations: scenarios, attempts, scores and grading.",
)

STAFF = (Role.HR, Role.ADMIN)


def _is_staff() -> bool:
    return current_user.has_any_role(STAFF)


# --- schemas ----------------------------------------------------------------------


class SimulationTextsSchema(ma.Schema):
    zh = ma.fields.String()
    en = ma.fields.String()


class ScenarioSchema(ma.Schema):
    """A scenario; ``content`` (with the truth of each suggestion) for HR only."""

    key = ma.fields.String(metadata={"example": "hospital-procurement"})
    title = ma.fields.Nested(SimulationTextsSchema)
    status = ma.fields.String(metadata={"enum": ["draft", "published", "retired"]})
    industry = ma.fields.String(allow_none=True)
    competency = ma.fields.String(allow_none=True)
    time_limit_minutes = ma.fields.Integer()
    max_attempts = ma.fields.Integer()
    pass_d_prime = ma.fields.Float()
    max_over_reliance = ma.fields.Float()
    version = ma.fields.Integer(dump_only=True)
    turns = ma.fields.Integer(dump_only=True, metadata={"description": "Turns"})
    suggestions = ma.fields.Integer(dump_only=True)
    attempts_used = ma.fields.Integer(
        dump_only=True, metadata={"description": "The caller's attempts"}
    )
    persona = ma.fields.Dict(
        dump_only=True, metadata={"description": "In the caller's language"}
    )
    content = ma.fields.Dict(
        metadata={"description": "Persona, turns, suggestions with their truth"}
    )


class ScenarioFilterArgs(ma.Schema):
    status = ma.fields.String(metadata={"enum": ["draft", "published", "retired"]})


class ScenarioStatusSchema(ma.Schema):
    status = ma.fields.String(required=True)


class ScenarioImportErrorSchema(ma.Schema):
    row = ma.fields.Integer(metadata={"description": "1 = the first record"})
    key = ma.fields.String(allow_none=True)
    fields = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.List(ma.fields.String())
    )


class ScenarioImportResultSchema(ma.Schema):
    created = ma.fields.List(ma.fields.String())
    updated = ma.fields.List(ma.fields.String())
    errors = ma.fields.List(ma.fields.Nested(ScenarioImportErrorSchema))


class PublicSuggestionSchema(ma.Schema):
    id = ma.fields.String()
    text = ma.fields.String()


class PublicTurnSchema(ma.Schema):
    id = ma.fields.String()
    number = ma.fields.Integer(metadata={"description": "Place on the path, 1…"})
    customer = ma.fields.String()
    context = ma.fields.String()
    suggestions = ma.fields.List(ma.fields.Nested(PublicSuggestionSchema))


class SimulationScoresSchema(ma.Schema):
    hits = ma.fields.Integer()
    misses = ma.fields.Integer()
    false_alarms = ma.fields.Integer()
    correct_rejections = ma.fields.Integer()
    hit_rate = ma.fields.Float(metadata={"description": "(hits + ½) / (flawed + 1)"})
    false_alarm_rate = ma.fields.Float(
        metadata={"description": "(false alarms + ½) / (sound + 1)"}
    )
    d_prime = ma.fields.Float(metadata={"description": "z(H) − z(F)"})
    criterion = ma.fields.Float(
        metadata={"description": "−(z(H) + z(F)) / 2; > 0 too trusting"}
    )
    over_reliance = ma.fields.Float(allow_none=True)
    under_reliance = ma.fields.Float(allow_none=True)
    flaw_accuracy = ma.fields.Float(allow_none=True)
    style = ma.fields.String(
        allow_none=True,
        metadata={
            "enum": ["calibrated", "over_reliant", "over_sceptical", "disengaged"]
        },
    )
    style_label = ma.fields.String(allow_none=True)
    style_advice = ma.fields.String(allow_none=True)
    note_score = ma.fields.Float(allow_none=True)
    median_seconds = ma.fields.Float(
        allow_none=True, metadata={"description": "Per suggestion"}
    )


class SimulationAttemptSchema(SimulationScoresSchema):
    id = ma.fields.Integer()
    scenario = ma.fields.Dict()
    coach = ma.fields.Dict(metadata={"description": "name and email"})
    number = ma.fields.Integer()
    status = ma.fields.String(metadata={"enum": ["in_progress", "grading", "released"]})
    language = ma.fields.String()
    started_at = ma.fields.AwareDateTime()
    deadline_at = ma.fields.AwareDateTime()
    submitted_at = ma.fields.AwareDateTime(allow_none=True)
    submitted_by = ma.fields.String(allow_none=True)
    released_at = ma.fields.AwareDateTime(allow_none=True)
    server_time = ma.fields.AwareDateTime()
    seconds_left = ma.fields.Integer()
    persona = ma.fields.Dict()
    turns_answered = ma.fields.Integer()
    passed = ma.fields.Boolean(allow_none=True)
    turn = ma.fields.Nested(
        PublicTurnSchema,
        allow_none=True,
        metadata={"description": "The current turn while in progress"},
    )


class ResponseInSchema(ma.Schema):
    suggestion = ma.fields.String(required=True)
    decision = ma.fields.String(
        required=True, metadata={"enum": ["accept", "edit", "reject"]}
    )
    edited_text = ma.fields.String()
    flaws = ma.fields.List(ma.fields.String())
    note = ma.fields.String()


class TurnAnswerSchema(ma.Schema):
    responses = ma.fields.List(ma.fields.Dict(), required=True)


class ReviewTurnSchema(ma.Schema):
    id = ma.fields.String()
    number = ma.fields.Integer()
    customer = ma.fields.String()
    context = ma.fields.String()
    suggestions = ma.fields.List(
        ma.fields.Dict(),
        metadata={
            "description": "id, text, sound, flaws, explanation, response, "
            "verdict, flaws_right, flaws_wrong, flaws_missed"
        },
    )


class SimulationReviewSchema(ma.Schema):
    attempt = ma.fields.Nested(SimulationAttemptSchema)
    turns = ma.fields.List(ma.fields.Nested(ReviewTurnSchema))


class NoteTaskSchema(ma.Schema):
    attempt_id = ma.fields.Integer()
    scenario = ma.fields.Dict()
    submitted_at = ma.fields.AwareDateTime()
    criteria = ma.fields.List(ma.fields.Dict())
    notes = ma.fields.List(
        ma.fields.Dict(), metadata={"description": "customer, suggestion, note"}
    )


class NoteGradeInSchema(ma.Schema):
    levels = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Integer(), required=True
    )
    comment = ma.fields.String(load_default="")


class NoteGradeOutSchema(ma.Schema):
    id = ma.fields.Integer()
    points = ma.fields.Float()
    max_points = ma.fields.Float()
    note_score = ma.fields.Float()
    status = ma.fields.String()


class PersonSummarySchema(SimulationScoresSchema):
    person = ma.fields.Dict()
    attempts = ma.fields.Integer(metadata={"description": "Submitted attempts"})


class ScenarioItemAnalysisArgs(ItemAnalysisArgs):
    attempts = ma.fields.String(
        load_default="first",
        validate=ma.validate.OneOf(item_analysis.ATTEMPT_MODES),
        metadata={
            "description": "Which submitted attempts count per coach "
            "(best: the highest d′)"
        },
    )


class SuggestionAnalysisSchema(ItemAnalysisItemSchema):
    """An exam item's statistics for a suggestion (scored 1 for the right
    decision), with the suggestion's truth; the options are the decisions."""

    sound = ma.fields.Boolean(metadata={"description": "false: a flawed suggestion"})
    flaws = ma.fields.List(
        ma.fields.String(metadata={"enum": list(coaching.FLAW_TYPES)})
    )
    turn = ma.fields.String()


class ScenarioItemAnalysisSchema(ItemAnalysisSchema):
    items = ma.fields.List(ma.fields.Nested(SuggestionAnalysisSchema))


# --- scenarios --------------------------------------------------------------------


def _counts(scenario: Scenario) -> dict[str, int]:
    turns = scenario.current.content.get("turns") or []
    return {
        "turns": len(turns),
        "suggestions": sum(len(t.get("suggestions") or []) for t in turns),
    }


def scenario_json(scenario: Scenario, *, content: bool = False) -> dict:
    """A scenario as the caller may see it: settings and the persona; the
    authored content (truth included) only with ``content`` (HR)."""
    out = {
        key: value
        for key, value in simulations.export_scenario(scenario).items()
        if key != "content"
    }
    out |= _counts(scenario)
    out["persona"] = simulations.persona(scenario.current, current_language())
    out["attempts_used"] = len(simulations.attempts_of(scenario, current_user))
    if content:
        out["content"] = scenario.current.content
    return out


def _scenario_or_404(key: str) -> Scenario:
    """A scenario the caller may see: HR any; others published ones."""
    scenario = simulations.scenario_by_key(key)
    if scenario is None or (not _is_staff() and scenario.status != "published"):
        abort(404, message=f"No simulation with key {key}.")
    return scenario


@simulations_api.route("")
@roles_required(ANY_ROLE)
@simulations_api.arguments(ScenarioFilterArgs, location="query")
@simulations_api.response(200, ScenarioSchema(many=True))
def list_scenarios(args):
    """Scenarios by key: all for HR (filter by status), published ones for
    everyone else."""
    rows = simulations.list_scenarios(published_only=not _is_staff())
    if args.get("status"):
        rows = [s for s in rows if s.status == args["status"]]
    return [scenario_json(s) for s in rows]


@simulations_api.route("", methods=["POST"])
@roles_required(STAFF)
@simulations_api.doc(requestBody=json_body(ScenarioSchema))
@simulations_api.response(201, ScenarioSchema)
def create_scenario():
    """Author a scenario: key, title, settings and content in the coaching
    format (problems are named ``content.<path>``)."""
    scenario = simulations.create_scenario(json_request(), actor=current_user)
    return scenario_json(scenario, content=True)


def _download(records, name: str) -> Response:
    return Response(
        json.dumps(records, ensure_ascii=False, indent=2, default=str),
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@simulations_api.route("/export")
@roles_required(STAFF)
@simulations_api.response(200, description="Every scenario in the import format")
def export_scenarios():
    """Every scenario as a JSON array in the import format (truth included)."""
    records = [simulations.export_scenario(s) for s in simulations.list_scenarios()]
    return _download(records, "simulations.json")


@simulations_api.route("/import", methods=["POST"])
@roles_required(STAFF)
@simulations_api.doc(
    requestBody={
        "content": {
            "application/json": {"schema": {"type": "array", "items": ScenarioSchema}}
        }
    }
)
@simulations_api.response(200, ScenarioImportResultSchema)
def import_scenarios():
    """Create or update scenarios (by key) from a JSON array as exported. Good
    records are kept; each bad one is reported (rows counted from 1)."""
    data = request.get_json(silent=True)
    if isinstance(data, dict):
        data = data.get("scenarios")
    if not isinstance(data, list):
        raise Invalid("scenarios", str(_l("Send a JSON array of scenarios.")))
    report = simulations.import_scenarios(data, actor=current_user)
    return {
        "created": report.created,
        "updated": report.updated,
        "errors": report.errors,
    }


@simulations_api.route("/grading")
@roles_required(ANY_ROLE)
@simulations_api.response(200, NoteTaskSchema(many=True))
def grading_queue():
    """Attempts whose coaching notes wait for marks and the caller may mark
    (HR, administrators, graders), oldest first, without the coach's name."""
    return [note_task_json(a) for a in simulations.grading_queue(current_user)]


@simulations_api.route("/grading/<int:attempt_id>", methods=["POST"])
@roles_required(ANY_ROLE)
@simulations_api.arguments(NoteGradeInSchema)
@simulations_api.response(201, NoteGradeOutSchema)
def grade_notes(data, attempt_id):
    """Mark an attempt's coaching notes: one level per criterion of the note
    rubric, and a comment; the attempt is released."""
    attempt = db.session.get(SimulationAttempt, attempt_id)
    if attempt is None or not simulations.may_grade_notes(attempt, current_user):
        abort(404, message=f"No coaching notes {attempt_id} to mark.")
    grade = simulations.grade_notes(
        attempt, current_user, data["levels"], data["comment"]
    )
    return {
        "id": grade.id,
        "points": grade.points,
        "max_points": grade.max_points,
        "note_score": attempt.note_score,
        "status": attempt.status,
    }


def _person_json(person: User) -> dict:
    summary = simulations.person_summary(person)
    text = simulations.style_text(summary["style"])
    return summary | {
        "style_label": str(text["label"]) or None,
        "style_advice": str(text["advice"]) or None,
        "person": {"id": person.id, "name": person.display_name, "email": person.email},
    }


@simulations_api.route("/people/me")
@roles_required(ANY_ROLE)
@simulations_api.response(200, PersonSummarySchema)
def my_summary():
    """The caller's scores pooled over their submitted attempts, and their AI
    collaboration style."""
    return _person_json(current_user)


@simulations_api.route("/people/<int:user_id>")
@roles_required(ANY_ROLE)
@simulations_api.response(200, PersonSummarySchema)
def person_summary(user_id):
    """A person's pooled scores and style: for HR, administrators and the
    person's team manager (anyone else: 404)."""
    person = db.session.get(User, user_id)
    if person is None or not simulations.may_view_person(person, current_user):
        abort(404, message=f"No person {user_id}.")
    return _person_json(person)


@simulations_api.route("/<key>")
@roles_required(ANY_ROLE)
@simulations_api.response(200, ScenarioSchema)
def get_scenario(key):
    """A scenario: HR get the authored content with its truth; everyone else
    the settings and persona of a published one."""
    return scenario_json(_scenario_or_404(key), content=_is_staff())


@simulations_api.route("/<key>", methods=["PATCH"])
@roles_required(STAFF)
@simulations_api.doc(requestBody=json_body(ScenarioSchema))
@simulations_api.response(200, ScenarioSchema)
def update_scenario(key):
    """Change a scenario; new content is a new version once it was attempted."""
    scenario = simulations.update_scenario(
        _scenario_or_404(key), json_request(), actor=current_user
    )
    return scenario_json(scenario, content=True)


@simulations_api.route("/<key>/status", methods=["POST"])
@roles_required(STAFF)
@simulations_api.arguments(ScenarioStatusSchema)
@simulations_api.response(200, ScenarioSchema)
def set_status(data, key):
    """Make a scenario draft, published (open to attempts) or retired."""
    scenario = _scenario_or_404(key)
    simulations.set_scenario_status(scenario, data["status"], actor=current_user)
    return scenario_json(scenario, content=True)


@simulations_api.route("/<key>/export")
@roles_required(STAFF)
@simulations_api.response(200, description="The scenario in the import format")
def export_scenario(key):
    """One scenario in the import format (truth included)."""
    scenario = _scenario_or_404(key)
    return _download(simulations.export_scenario(scenario), f"{scenario.key}.json")


@simulations_api.route("/<key>/item-analysis")
@roles_required(STAFF)
@simulations_api.arguments(ScenarioItemAnalysisArgs, location="query")
@simulations_api.response(200, ScenarioItemAnalysisSchema)
def get_item_analysis(args, key):
    """Item analysis of the scenario's suggestions over submitted attempts
    (first, last, best = highest d′, or all per coach), as for exams: each
    suggestion an item scored 1 for the right decision (a flawed one edited or
    rejected, a sound one accepted) and 0 otherwise; suggestions not reached or
    unanswered are left out of that attempt, not counted wrong. The options of
    the distractor analysis are the decisions accept, edit and reject; each
    item also has its truth. Fractions, not percentages."""
    return item_analysis.scenario_item_analysis(_scenario_or_404(key), args["attempts"])


# --- attempts ---------------------------------------------------------------------


def _seconds_left(attempt: SimulationAttempt, now) -> int:
    if attempt.status != AttemptStatus.IN_PROGRESS:
        return 0
    return max(0, int((attempt.deadline_at - now).total_seconds()))


def attempt_json(attempt: SimulationAttempt) -> dict:
    """An attempt: while in progress its persona and current turn (no truth);
    once submitted its scores and style."""
    now = utcnow()
    language = current_language()
    scenario = attempt.scenario
    out = {
        "id": attempt.id,
        "scenario": {
            "key": scenario.key,
            "title": {"zh": scenario.title_zh, "en": scenario.title_en},
        },
        "coach": {"name": attempt.user.display_name, "email": attempt.user.email},
        "number": attempt.number,
        "status": attempt.status,
        "language": attempt.language,
        "started_at": attempt.started_at,
        "deadline_at": attempt.deadline_at,
        "submitted_at": attempt.submitted_at,
        "submitted_by": attempt.submitted_by,
        "released_at": attempt.released_at,
        "server_time": now,
        "seconds_left": _seconds_left(attempt, now),
        "persona": simulations.persona(attempt, language),
        "turns_answered": len({r.turn_id for r in attempt.responses}),
    }
    if attempt.status == AttemptStatus.IN_PROGRESS:
        out["turn"] = simulations.public_turn(attempt, language)
        return out
    scores = simulations.scores(attempt)
    text = simulations.style_text(scores["style"])
    out |= scores | {
        "style_label": str(text["label"]) or None,
        "style_advice": str(text["advice"]) or None,
        "turn": None,
    }
    return out


def _attempt_or_404(key: str, attempt_id: int) -> SimulationAttempt:
    attempt = db.session.get(SimulationAttempt, attempt_id)
    if (
        attempt is None
        or attempt.scenario.key != key
        or not simulations.may_view(attempt, current_user)
    ):
        abort(404, message=f"No attempt {attempt_id}.")
    if attempt.user_id == current_user.id:
        simulations.expire_if_overdue(attempt)
    return attempt


def _own_attempt(key: str, attempt_id: int) -> SimulationAttempt:
    attempt = _attempt_or_404(key, attempt_id)
    if attempt.user_id != current_user.id:
        abort(403, message="Only the coach answers and submits an attempt.")
    return attempt


@simulations_api.route("/<key>/attempts", methods=["POST"])
@roles_required(ANY_ROLE)
@simulations_api.response(201, SimulationAttemptSchema)
@simulations_api.alt_response(
    200, schema=SimulationAttemptSchema, description="Resumed"
)
def start_attempt(key):
    """Start an attempt (201) or resume the one in progress (200); 409 when the
    scenario is not open or the attempts are used up."""
    scenario = _scenario_or_404(key)
    before = {a.id for a in simulations.attempts_of(scenario, current_user)}
    attempt = simulations.start_attempt(
        scenario, current_user, language=current_language()
    )
    return attempt_json(attempt), 200 if attempt.id in before else 201


@simulations_api.route("/<key>/attempts")
@roles_required(ANY_ROLE)
@writes_on_read
@simulations_api.response(200, SimulationAttemptSchema(many=True))
def list_attempts(key):
    """The caller's attempts at the scenario, first first."""
    scenario = _scenario_or_404(key)
    attempts = simulations.attempts_of(scenario, current_user)
    for attempt in attempts:
        simulations.expire_if_overdue(attempt)
    return [attempt_json(a) for a in attempts]


@simulations_api.route("/<key>/attempts/<int:attempt_id>")
@roles_required(ANY_ROLE)
@writes_on_read
@simulations_api.response(200, SimulationAttemptSchema)
def get_attempt(key, attempt_id):
    """An attempt: the current turn while in progress; the signal-detection
    counts, d′, c, reliance and style once submitted."""
    return attempt_json(_attempt_or_404(key, attempt_id))


@simulations_api.route(
    "/<key>/attempts/<int:attempt_id>/turns/<turn_id>", methods=["POST"]
)
@roles_required(ANY_ROLE)
@simulations_api.arguments(TurnAnswerSchema)
@simulations_api.response(200, SimulationAttemptSchema)
def answer_turn(data, key, attempt_id, turn_id):
    """Answer every suggestion of the current turn: ``responses`` =
    [{"suggestion", "decision": accept|edit|reject, "edited_text"?,
    "flaws"?, "note"?}]. Returns the attempt with the next turn, or its scores
    when the scenario ended. 409 for another turn, once submitted, or past the
    deadline (the attempt is then submitted with what was saved)."""
    attempt = _own_attempt(key, attempt_id)
    simulations.answer_turn(attempt, turn_id, data["responses"])
    return attempt_json(attempt)


@simulations_api.route("/<key>/attempts/<int:attempt_id>/submit", methods=["POST"])
@roles_required(ANY_ROLE)
@simulations_api.response(200, SimulationAttemptSchema)
def submit_attempt(key, attempt_id):
    """Hand in now (turns not answered are not scored)."""
    attempt = _own_attempt(key, attempt_id)
    return attempt_json(simulations.submit_attempt(attempt))


@simulations_api.route("/<key>/attempts/<int:attempt_id>/review")
@roles_required(ANY_ROLE)
@simulations_api.response(200, SimulationReviewSchema)
def review(key, attempt_id):
    """After submission: every turn reached with each suggestion's truth, the
    coach's response and the verdict. 409 before submission."""
    attempt = _attempt_or_404(key, attempt_id)
    turns = simulations.review(attempt, current_language())
    return {"attempt": attempt_json(attempt), "turns": turns}


# --- grading ----------------------------------------------------------------------


def note_task_json(attempt: SimulationAttempt) -> dict:
    """What a grader needs: the rubric and each note with the customer's words
    and the suggestion it is about (blind: no coach's name)."""
    content = attempt.version.content
    language = current_language()
    notes = []
    for response in attempt.responses:
        if not response.note:
            continue
        turn = coaching.public_turn(content, response.turn_id, language, 0)
        text = next(
            s["text"] for s in turn["suggestions"] if s["id"] == response.suggestion_id
        )
        notes.append(
            {
                "turn": response.turn_id,
                "customer": turn["customer"],
                "suggestion": text,
                "decision": response.decision,
                "edited_text": response.edited_text,
                "note": response.note,
            }
        )
    return {
        "attempt_id": attempt.id,
        "scenario": {
            "key": attempt.scenario.key,
            "title": {"zh": attempt.scenario.title_zh, "en": attempt.scenario.title_en},
        },
        "submitted_at": attempt.submitted_at,
        "criteria": grading_criteria(content["note_rubric"]),
        "notes": notes,
    }
