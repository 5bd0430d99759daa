"""AI-coaching simulations: the business rules of scenarios, attempts, scores,
grading of coaching notes and the people summary.

The same integrity rules as exams: the server's clock is the only clock (the
deadline is set at start, each turn's answers are stamped on arrival), nothing
about a suggestion's truth (soundness, flaw types, explanation) leaves
``coaching.public_turn`` before the attempt is submitted, and what happens is
audited. Services flush; the request (or CLI batch) commits.
"""

import copy
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from assessments import coaching, scoring, services
from assessments.models import (
    AttemptStatus,
    Scenario,
    ScenarioStatus,
    ScenarioVersion,
    SimulationAttempt,
    SimulationNoteGrade,
    SimulationResponse,
)
from assessments.services import ImportReport
from proving_ground.access import Role
from proving_ground.audit.services import record
from proving_ground.auth.models import User
from proving_ground.db import commit_refusal, db, utcnow
from proving_ground.validation import Invalid, Problems

SCORE_KEYS = (
    "hits",
    "misses",
    "false_alarms",
    "correct_rejections",
    "hit_rate",
    "false_alarm_rate",
    "d_prime",
    "criterion",
    "over_reliance",
    "under_reliance",
    "flaw_accuracy",
    "style",
)
EDIT_LIMIT = 4_000
NOTE_LIMIT = 2_000

STYLE_TEXTS = {
    "calibrated": (
        _l("Calibrated"),
        _l(
            "You accept sound suggestions and catch flawed ones. Keep checking "
            "facts, prices and promises against the contract before passing AI "
            "advice on, and show your reps how you decide: your habit is the one "
            "to spread in the team."
        ),
    ),
    "over_reliant": (
        _l("Over-reliant"),
        _l(
            "You let flawed AI suggestions through. Before accepting one, check "
            "three things: is every fact and figure sourced, does the price or "
            "discount match the price list, and does the promise fit the "
            "contract? When in doubt, edit rather than accept, and ask your reps "
            "to do the same."
        ),
    ),
    "over_sceptical": (
        _l("Over-sceptical"),
        _l(
            "You turn down sound suggestions as well as flawed ones, which costs "
            "your reps time and good arguments. Reject only when you can name the "
            "flaw; if a suggestion is right but could be better, edit it instead "
            "of throwing it away."
        ),
    ),
    "disengaged": (
        _l("Disengaged"),
        _l(
            "Your decisions do not follow the quality of the suggestions, or came "
            "faster than they can be read. Take the time to read each suggestion "
            "against what the customer said, and name the flaw before you reject; "
            "then try the simulation again."
        ),
    ),
}


def style_text(style: str | None) -> dict[str, Any]:
    """The style's label and a paragraph of advice (lazy-translated); empty
    texts for no style."""
    if style not in STYLE_TEXTS:
        return {"label": "", "advice": ""}
    label, advice = STYLE_TEXTS[style]
    return {"label": label, "advice": advice}


# --- scenarios -------------------------------------------------------------------


def _int_between(
    data: dict, name: str, low: int, high: int, problems: Problems
) -> int | None:
    value = data[name]
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not low <= value <= high
    ):
        problems.add(name, _l("A whole number from %(a)d to %(b)d.", a=low, b=high))
        return None
    return value


def _number_between(
    data: dict, name: str, low: float, high: float, problems: Problems
) -> float | None:
    value = data[name]
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not low <= value <= high
    ):
        problems.add(name, _l("A number from %(a)s to %(b)s.", a=low, b=high))
        return None
    return float(value)


#: Words the simulations API uses in its paths next to scenario keys.
RESERVED_KEYS = frozenset({"export", "import", "grading", "people"})


def _scenario_fields(data: dict[str, Any], problems: Problems) -> dict[str, Any]:
    """Validated scenario attributes present in ``data``, other than key and
    content."""
    out: dict[str, Any] = {}
    if "title" in data:
        title = services.bilingual_text(data["title"], problems, "title")
        out["title_zh"], out["title_en"] = title["zh"], title["en"]
    if "status" in data:
        if data["status"] not in {s.value for s in ScenarioStatus}:
            problems.add("status", _l("Choose draft, published or retired."))
        else:
            out["status"] = data["status"]
    if "industry" in data:
        industry = data["industry"]
        if industry not in (None, "") and (
            not isinstance(industry, str) or len(industry) > 64
        ):
            problems.add("industry", _l("At most %(n)d characters.", n=64))
        else:
            out["industry"] = industry or None
    if "competency" in data:
        if data["competency"] in (None, ""):
            out["competency_id"] = None
        else:
            competency = services.competency_by_key(str(data["competency"]))
            if competency is None:
                problems.add("competency", _l("No competency has this key."))
            else:
                out["competency_id"] = competency.id
    for name, low, high in (("time_limit_minutes", 1, 240), ("max_attempts", 1, 20)):
        if name in data:
            value = _int_between(data, name, low, high, problems)
            if value is not None:
                out[name] = value
    for name, low, high in (("pass_d_prime", 0.0, 5.0), ("max_over_reliance", 0, 1)):
        if name in data:
            value = _number_between(data, name, low, high, problems)
            if value is not None:
                out[name] = value
    return out


def _content_problems(content: Any, problems: Problems) -> None:
    for path, message in coaching.validate_content(content).items():
        problems.add(f"content.{path}" if path else "content", message)


def create_scenario(data: dict[str, Any], *, actor) -> Scenario:
    """A new scenario with its first version (``content`` in the
    ``coaching`` format, always validated); flushed, audited."""
    problems = Problems()
    key = services.valid_key(data.get("key"), problems)
    if key in RESERVED_KEYS:
        problems.add("key", _l("This key is reserved; choose another."))
    elif key and scenario_by_key(key) is not None:
        problems.add("key", _l("This key is taken."))
    if "title" not in data:
        services.bilingual_text(None, problems, "title")
    fields = _scenario_fields(data, problems)
    _content_problems(data.get("content"), problems)
    problems.raise_if_any()
    if "industry" not in fields:
        fields["industry"] = data["content"]["persona"].get("industry")
    scenario = Scenario(key=key, created_by_id=getattr(actor, "id", None), **fields)
    db.session.add(scenario)
    _add_version(scenario, data["content"], actor)
    db.session.flush()
    record(actor, "simulation.created", f"scenario:{scenario.id}", {"key": key})
    return scenario


def _add_version(scenario: Scenario, content: dict, actor) -> ScenarioVersion:
    version = ScenarioVersion(
        scenario=scenario,
        number=(scenario.versions[-1].number + 1) if scenario.versions else 1,
        content=copy.deepcopy(content),
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(version)
    return version


def version_attempted(version: ScenarioVersion) -> bool:
    """Whether anyone has started an attempt on this version."""
    return (
        db.session.scalar(
            sa.select(SimulationAttempt.id)
            .where(SimulationAttempt.version_id == version.id)
            .limit(1)
        )
        is not None
    )


def update_scenario(scenario: Scenario, data: dict[str, Any], *, actor) -> Scenario:
    """Change a scenario. New content becomes a new version when the current one
    has attempts (they keep what they saw); otherwise the current version is
    edited in place. The key cannot change. Flushed, audited."""
    problems = Problems()
    if "key" in data and data["key"] != scenario.key:
        problems.add("key", _l("The key cannot change."))
    fields = _scenario_fields(data, problems)
    content = data.get("content")
    if content is not None:
        _content_problems(content, problems)
    problems.raise_if_any()
    for name, value in fields.items():
        setattr(scenario, name, value)
    details: dict[str, Any] = {"fields": sorted(fields)}
    if content is not None and content != scenario.current.content:
        if version_attempted(scenario.current):
            details["new_version"] = _add_version(scenario, content, actor).number
        else:
            scenario.current.content = copy.deepcopy(content)
            details["edited_version"] = scenario.current.number
    db.session.flush()
    record(actor, "simulation.updated", f"scenario:{scenario.id}", details)
    return scenario


def set_scenario_status(scenario: Scenario, status: str, *, actor) -> None:
    """Draft, published (open to attempts; its content is checked again) or
    retired; audited."""
    problems = Problems()
    fields = _scenario_fields({"status": status}, problems)
    if status == ScenarioStatus.PUBLISHED:
        _content_problems(scenario.current.content, problems)
    problems.raise_if_any()
    scenario.status = fields["status"]
    db.session.flush()
    record(actor, "simulation.status", f"scenario:{scenario.id}", {"status": status})


def export_scenario(scenario: Scenario) -> dict[str, Any]:
    """A scenario in the shape ``create_scenario`` accepts, truth included (HR
    only); ``version`` is informative and ignored on import."""
    return {
        "key": scenario.key,
        "title": {"zh": scenario.title_zh, "en": scenario.title_en},
        "status": scenario.status,
        "industry": scenario.industry,
        "competency": scenario.competency.key if scenario.competency else None,
        "time_limit_minutes": scenario.time_limit_minutes,
        "max_attempts": scenario.max_attempts,
        "pass_d_prime": scenario.pass_d_prime,
        "max_over_reliance": scenario.max_over_reliance,
        "version": scenario.current.number,
        "content": scenario.current.content,
    }


def import_scenarios(records: list, *, actor) -> ImportReport:
    """Create or update scenarios from export-shaped records (by key). Good
    records are kept; each bad one is reported with its problems (rows counted
    from 1). Each record runs in a savepoint."""
    report = ImportReport()
    for row_number, data in enumerate(records, start=1):
        if not isinstance(data, dict):
            report.errors.append(
                {"row": row_number, "fields": {"row": [str(_l("Give an object."))]}}
            )
            continue
        existing = (
            scenario_by_key(data["key"]) if isinstance(data.get("key"), str) else None
        )
        try:
            with db.session.begin_nested():
                if existing is None:
                    create_scenario(data, actor=actor)
                    report.created.append(data["key"])
                else:
                    update_scenario(existing, data, actor=actor)
                    report.updated.append(data["key"])
        except Invalid as exc:
            report.errors.append(
                {"row": row_number, "key": data.get("key"), "fields": exc.fields}
            )
    return report


def scenario_by_key(key: str) -> Scenario | None:
    return db.session.scalar(sa.select(Scenario).where(Scenario.key == key))


def list_scenarios(*, published_only: bool = False) -> list[Scenario]:
    """Scenarios by key, with their versions loaded."""
    query = (
        sa.select(Scenario)
        .options(selectinload(Scenario.versions))
        .order_by(Scenario.key)
    )
    if published_only:
        query = query.where(Scenario.status == ScenarioStatus.PUBLISHED)
    return list(db.session.scalars(query))


# --- attempts --------------------------------------------------------------------


def attempts_of(scenario: Scenario, user: User) -> list[SimulationAttempt]:
    """The user's attempts at the scenario, first first."""
    return list(
        db.session.scalars(
            sa.select(SimulationAttempt)
            .where(
                SimulationAttempt.scenario_id == scenario.id,
                SimulationAttempt.user_id == user.id,
            )
            .order_by(SimulationAttempt.number)
        )
    )


def start_attempt(
    scenario: Scenario, user: User, *, language: str, now: datetime | None = None
) -> SimulationAttempt:
    """Start an attempt on the scenario's current version, or return the user's
    attempt in progress. 409 when the scenario is not published or the attempts
    are used up. The deadline is the server's start time plus the time limit."""
    now = now or utcnow()
    attempts = attempts_of(scenario, user)
    for attempt in attempts:
        if attempt.status == AttemptStatus.IN_PROGRESS and not expire_if_overdue(
            attempt, now
        ):
            return attempt
    if scenario.status != ScenarioStatus.PUBLISHED:
        raise Invalid("scenario", str(_l("The simulation is not open.")), status=409)
    if len(attempts) >= scenario.max_attempts:
        raise Invalid(
            "scenario",
            str(_l("You have used all %(n)d attempts.", n=scenario.max_attempts)),
            status=409,
        )
    version = scenario.current
    attempt = SimulationAttempt(
        scenario_id=scenario.id,
        version_id=version.id,
        user_id=user.id,
        number=len(attempts) + 1,
        status=AttemptStatus.IN_PROGRESS,
        language="en" if str(language).startswith("en") else "zh_CN",
        started_at=now,
        deadline_at=now + timedelta(minutes=scenario.time_limit_minutes),
        path=[version.content["start"]],
    )
    db.session.add(attempt)
    db.session.flush()
    record(
        user,
        "simulation.started",
        f"simulation_attempt:{attempt.id}",
        {"scenario": scenario.key, "number": attempt.number, "version": version.number},
    )
    return attempt


def expire_if_overdue(attempt: SimulationAttempt, now: datetime | None = None) -> bool:
    """Submit an attempt past its deadline with what was saved. True if it was."""
    now = now or utcnow()
    if attempt.status == AttemptStatus.IN_PROGRESS and now >= attempt.deadline_at:
        _submit(attempt, by="timeout", at=attempt.deadline_at)
        return True
    return False


def submit_overdue(now: datetime | None = None) -> int:
    """Submit every simulation attempt past its deadline (for the scheduled
    ``proving-ground assessments sweep``); returns how many."""
    now = now or utcnow()
    attempts = db.session.scalars(
        sa.select(SimulationAttempt).where(
            SimulationAttempt.status == AttemptStatus.IN_PROGRESS,
            SimulationAttempt.deadline_at <= now,
        )
    ).all()
    for attempt in attempts:
        expire_if_overdue(attempt, now)
    return len(attempts)


def _language(language: str | None, attempt: SimulationAttempt | None = None) -> str:
    return coaching.language_code(language or (attempt.language if attempt else "zh"))


def _answered_turns(attempt: SimulationAttempt) -> set[str]:
    return {response.turn_id for response in attempt.responses}


def current_turn_id(attempt: SimulationAttempt) -> str | None:
    """The turn waiting for answers, None when the attempt is submitted or its
    path has ended."""
    if attempt.status != AttemptStatus.IN_PROGRESS or not attempt.path:
        return None
    last = attempt.path[-1]
    return None if last in _answered_turns(attempt) else last


def public_turn(attempt: SimulationAttempt, language: str | None = None) -> dict | None:
    """The current turn without truth: {"id", "number", "customer", "context",
    "suggestions": [{"id", "text"}]} in the language; None when there is none."""
    turn_id = current_turn_id(attempt)
    if turn_id is None:
        return None
    return coaching.public_turn(
        attempt.version.content,
        turn_id,
        _language(language, attempt),
        len(attempt.path),
    )


def persona(
    attempt_or_version: SimulationAttempt | ScenarioVersion, language: str
) -> dict[str, Any]:
    """The customer persona (name, role, organisation, situation, industry,
    customer type) in the language; it holds no truth."""
    version = getattr(attempt_or_version, "version", attempt_or_version)
    return coaching.public_persona(version.content, language)


def _responses_problems(
    turn: dict, responses: Any, problems: Problems
) -> list[dict[str, Any]]:
    """The responses to a turn, checked: one per suggestion."""
    if not isinstance(responses, list):
        problems.add("responses", _l("Give one response per suggestion."))
        return []
    ids = [s["id"] for s in turn["suggestions"]]
    seen: set[str] = set()
    clean = []
    for index, response in enumerate(responses):
        where = f"responses.{index}"
        if not isinstance(response, dict):
            problems.add(where, _l("Give an object."))
            continue
        suggestion = response.get("suggestion")
        if suggestion not in ids:
            problems.add(
                f"{where}.suggestion", _l("No suggestion of this turn has this id.")
            )
            continue
        if suggestion in seen:
            problems.add(
                f"{where}.suggestion", _l("This suggestion is answered twice.")
            )
            continue
        seen.add(suggestion)
        decision = response.get("decision")
        if decision not in coaching.DECISIONS:
            problems.add(f"{where}.decision", _l("Choose accept, edit or reject."))
        edited = response.get("edited_text")
        if decision == "edit":
            if not isinstance(edited, str) or not edited.strip():
                problems.add(f"{where}.edited_text", _l("Write your edited version."))
            elif len(edited) > EDIT_LIMIT:
                problems.add(
                    f"{where}.edited_text",
                    _l("At most %(n)d characters.", n=EDIT_LIMIT),
                )
        flaws = response.get("flaws") or []
        if not isinstance(flaws, list) or any(
            f not in coaching.FLAW_TYPES for f in flaws
        ):
            problems.add(f"{where}.flaws", _l("Choose flaw types from the list."))
        elif flaws and decision == "accept":
            problems.add(
                f"{where}.flaws", _l("Mark flaws only on what you do not accept.")
            )
        note = response.get("note")
        if note is not None and not isinstance(note, str):
            problems.add(f"{where}.note", _l("Write the note as text."))
        elif note and len(note) > NOTE_LIMIT:
            problems.add(f"{where}.note", _l("At most %(n)d characters.", n=NOTE_LIMIT))
        clean.append(
            {
                "suggestion": suggestion,
                "decision": decision,
                "edited_text": edited.strip()
                if decision == "edit" and isinstance(edited, str)
                else None,
                "flaws": list(dict.fromkeys(flaws)) if isinstance(flaws, list) else [],
                "note": note.strip()
                if isinstance(note, str) and note.strip()
                else None,
            }
        )
    missing = [sid for sid in ids if sid not in seen]
    if missing and not problems:
        problems.add("responses", _l("Answer every suggestion of the turn."))
    return clean


def answer_turn(
    attempt: SimulationAttempt,
    turn_id: str,
    responses: Any,
    *,
    now: datetime | None = None,
) -> SimulationAttempt:
    """Save the coach's decisions on every suggestion of the current turn and
    move along the path (branches first, then ``next``); the attempt is
    submitted when the scenario ends there. Refused (409) once submitted, for a
    turn that is not the current one, and past the deadline — the attempt is then
    submitted with what was saved."""
    now = now or utcnow()
    if expire_if_overdue(attempt, now):
        commit_refusal()  # the submission stands although the answer is refused
        raise Invalid(
            "attempt", str(_l("Time is up: the attempt was submitted.")), status=409
        )
    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise Invalid(
            "attempt", str(_l("The attempt is already submitted.")), status=409
        )
    if turn_id != current_turn_id(attempt):
        raise Invalid("turn", str(_l("This is not the current turn.")), status=409)
    content = attempt.version.content
    problems = Problems()
    clean = _responses_problems(coaching.turn(content, turn_id), responses, problems)
    problems.raise_if_any()
    for response in clean:
        row = SimulationResponse(
            turn_id=turn_id,
            suggestion_id=response["suggestion"],
            decision=response["decision"],
            edited_text=response["edited_text"],
            flaws=response["flaws"],
            note=response["note"],
            answered_at=now,
        )
        attempt.responses.append(row)
    following = coaching.next_turn(
        content, turn_id, {r["suggestion"]: r["decision"] for r in clean}
    )
    record(
        attempt.user,
        "simulation.answered",
        f"simulation_attempt:{attempt.id}",
        {"turn": turn_id, "next": following},
    )
    if following is None:
        db.session.flush()
        _submit(attempt, by="examinee", at=now)
    else:
        attempt.path = [*attempt.path, following]
        db.session.flush()
    return attempt


def submit_attempt(
    attempt: SimulationAttempt, *, now: datetime | None = None
) -> SimulationAttempt:
    """Hand in (possibly before the path ends: unanswered turns are not scored).
    Scores are computed at once; with coaching notes and a note rubric the
    attempt waits for a grader, otherwise it is released."""
    now = now or utcnow()
    if expire_if_overdue(attempt, now):
        return attempt
    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise Invalid(
            "attempt", str(_l("The attempt is already submitted.")), status=409
        )
    _submit(attempt, by="examinee", at=now)
    return attempt


def _turn_seconds(attempt: SimulationAttempt) -> list[float]:
    """Seconds per suggestion of each answered turn: from the moment the turn
    was shown (the previous turn's answer, or the start) to its answer."""
    answered: dict[str, tuple[datetime, int]] = {}
    for response in attempt.responses:
        at, count = answered.get(response.turn_id, (response.answered_at, 0))
        answered[response.turn_id] = (max(at, response.answered_at), count + 1)
    out, shown = [], attempt.started_at
    for turn_id in attempt.path:
        if turn_id not in answered:
            break
        at, count = answered[turn_id]
        out.append((at - shown).total_seconds() / count)
        shown = at
    return out


def _tally(attempt: SimulationAttempt) -> coaching.Tally:
    truth = coaching.truth(attempt.version.content)
    judgements = [
        coaching.Judgement(
            sound=truth[r.suggestion_id]["sound"],
            true_flaws=tuple(truth[r.suggestion_id]["flaws"]),
            decision=r.decision,
            marked_flaws=tuple(r.flaws or ()),
        )
        for r in attempt.responses
    ]
    return coaching.tally(judgements, _turn_seconds(attempt))


def _submit(attempt: SimulationAttempt, *, by: str, at: datetime) -> None:
    result = coaching.score(_tally(attempt))
    scenario = attempt.scenario
    attempt.scores = result.to_dict()
    attempt.submitted_at = at
    attempt.submitted_by = by
    attempt.passed = bool(
        result.style is not None
        and result.d_prime >= scenario.pass_d_prime
        and (result.over_reliance or 0.0) <= scenario.max_over_reliance
    )
    has_notes = any(r.note for r in attempt.responses)
    waits = bool(attempt.version.content.get("note_rubric")) and has_notes
    attempt.status = AttemptStatus.GRADING if waits else AttemptStatus.RELEASED
    if not waits:
        attempt.released_at = at
    db.session.flush()
    record(
        attempt.user if by == "examinee" else None,
        "simulation.submitted" if by == "examinee" else "simulation.timeout",
        f"simulation_attempt:{attempt.id}",
        {
            "by": by,
            "d_prime": result.d_prime,
            "style": result.style,
            "passed": attempt.passed,
            "status": attempt.status,
        },
        actor_label=None if by == "examinee" else "system",
    )
    if attempt.passed:  # certifications that include the scenario
        services.issue_certificates(attempt.user, attempt, now=at)


def _submitted(attempt: SimulationAttempt) -> None:
    if attempt.status == AttemptStatus.IN_PROGRESS:
        raise Invalid("attempt", str(_l("Results come after submission.")), status=409)


def scores(attempt: SimulationAttempt) -> dict[str, Any]:
    """The attempt's scores (after submission; 409 before): the SDT counts,
    corrected rates, d′, c, reliance, flaw accuracy, style, note score (None
    until graded), ``passed`` and the median seconds per suggestion."""
    _submitted(attempt)
    stored = attempt.scores or coaching.score(coaching.Tally()).to_dict()
    out = {name: stored.get(name) for name in SCORE_KEYS}
    out["note_score"] = attempt.note_score
    out["passed"] = attempt.passed
    out["median_seconds"] = stored.get("median_seconds")
    return out


def review(attempt: SimulationAttempt, language: str | None = None) -> list[dict]:
    """After submission only (409 before): per turn reached, the customer's words
    and each suggestion with its truth (sound, flaws, explanation), the coach's
    response (None if unanswered) and the verdict: hit, miss, false_alarm or
    correct_rejection, and the flaw types marked right, wrong and missed."""
    _submitted(attempt)
    content = attempt.version.content
    language = _language(language, attempt)
    responses = {r.suggestion_id: r for r in attempt.responses}
    out = []
    for number, turn_id in enumerate(attempt.path, start=1):
        view = coaching.public_turn(content, turn_id, language, number)
        turn = coaching.turn(content, turn_id)
        for shown, authored in zip(
            view["suggestions"], turn["suggestions"], strict=True
        ):
            flaws = list(authored.get("flaws") or [])
            shown["sound"] = authored["sound"]
            shown["flaws"] = flaws
            shown["explanation"] = coaching.in_language(
                authored["explanation"], language
            )
            response = responses.get(authored["id"])
            if response is None:
                shown |= {"response": None, "verdict": None}
                continue
            marked = list(response.flaws or [])
            shown["response"] = {
                "decision": response.decision,
                "edited_text": response.edited_text,
                "flaws": marked,
                "note": response.note,
                "answered_at": response.answered_at,
            }
            shown["verdict"] = coaching.verdict(
                coaching.Judgement(authored["sound"], tuple(flaws), response.decision)
            )
            shown["flaws_right"] = [f for f in marked if f in flaws]
            shown["flaws_wrong"] = [f for f in marked if f not in flaws]
            shown["flaws_missed"] = (
                [f for f in flaws if f not in marked]
                if response.decision != "accept"
                else flaws
            )
        out.append(view)
    return out


# --- who sees what ---------------------------------------------------------------


def may_view(attempt: SimulationAttempt, user: User) -> bool:
    """The coach themselves, HR and administrators; a manager the submitted
    attempts of members of their team (as for exam results)."""
    if attempt.user_id == user.id or user.has_any_role({Role.HR, Role.ADMIN}):
        return True
    return bool(
        user.has_role(Role.MANAGER)
        and user.team
        and attempt.user.team == user.team
        and attempt.status != AttemptStatus.IN_PROGRESS
    )


def may_view_person(person: User, user: User) -> bool:
    """Whether ``user`` may read ``person``'s simulation summary: themselves, HR
    and administrators, or the manager of their team."""
    if person.id == user.id or user.has_any_role({Role.HR, Role.ADMIN}):
        return True
    return bool(user.has_role(Role.MANAGER) and user.team and person.team == user.team)


def submitted_attempts(user: User) -> list[SimulationAttempt]:
    """The user's submitted attempts (grading or released), oldest first."""
    return list(
        db.session.scalars(
            sa.select(SimulationAttempt)
            .where(
                SimulationAttempt.user_id == user.id,
                SimulationAttempt.status != AttemptStatus.IN_PROGRESS,
            )
            .order_by(SimulationAttempt.submitted_at, SimulationAttempt.id)
        )
    )


def person_summary(user: User) -> dict[str, Any]:
    """Scores pooled over the user's submitted attempts (counts summed, then the
    rates), the mean note score over graded attempts (None if none) and
    ``attempts``: how many were pooled."""
    attempts = submitted_attempts(user)
    result = coaching.pooled(
        coaching.Tally.from_dict(a.scores or {}) for a in attempts
    ).to_dict()
    out = {name: result[name] for name in SCORE_KEYS}
    graded = [a.note_score for a in attempts if a.note_score is not None]
    out["note_score"] = sum(graded) / len(graded) if graded else None
    out["median_seconds"] = result["median_seconds"]
    out["attempts"] = len(attempts)
    return out


# --- grading coaching notes ----------------------------------------------------


def _rubric_item(attempt: SimulationAttempt) -> dict[str, Any]:
    """The note rubric wrapped as a rubric item, for ``scoring``."""
    return {
        "type": "long_text",
        "stem": {"en": "coaching notes"},
        "rubric": attempt.version.content["note_rubric"],
    }


def may_grade_notes(attempt: SimulationAttempt, user: User) -> bool:
    """Graders (``services.is_grader``: HR, administrators, exam graders), never
    of their own attempt."""
    return attempt.user_id != user.id and services.is_grader(user)


def grading_queue(user: User) -> list[SimulationAttempt]:
    """Attempts whose coaching notes wait for marks and the user may mark,
    oldest submission first."""
    if not services.is_grader(user):
        return []
    return list(
        db.session.scalars(
            sa.select(SimulationAttempt)
            .where(
                SimulationAttempt.status == AttemptStatus.GRADING,
                SimulationAttempt.user_id != user.id,
            )
            .order_by(SimulationAttempt.submitted_at, SimulationAttempt.id)
        )
    )


def grade_notes(
    attempt: SimulationAttempt,
    grader: User,
    levels: dict[str, int],
    comment: str = "",
    *,
    now: datetime | None = None,
) -> SimulationNoteGrade:
    """Mark the attempt's coaching notes on the note rubric (one level per
    criterion): note_score = points / max points, and the attempt is released.
    409 when it waits for no marks, 403 for someone who may not mark it."""
    now = now or utcnow()
    if attempt.status != AttemptStatus.GRADING:
        raise Invalid("attempt", str(_l("These notes need no marks.")), status=409)
    if not may_grade_notes(attempt, grader):
        raise Invalid("grader", str(_l("You may not mark these notes.")), status=403)
    item = _rubric_item(attempt)
    try:
        chosen = {str(k): int(v) for k, v in (levels or {}).items()}
        points = scoring.rubric_points(item, chosen)
    except (ValueError, TypeError, AttributeError) as exc:
        raise Invalid("levels", str(exc)) from None
    maximum = scoring.max_points(item)
    grade = SimulationNoteGrade(
        grader_id=grader.id,
        levels=chosen,
        points=points,
        max_points=maximum,
        comment=(comment or "").strip()[:4000],
        created_at=now,
    )
    attempt.note_grades.append(grade)
    attempt.note_score = points / maximum if maximum else 0.0
    attempt.status = AttemptStatus.RELEASED
    attempt.released_at = now
    db.session.flush()
    record(
        grader,
        "simulation.graded",
        f"simulation_attempt:{attempt.id}",
        {"points": points, "max_points": maximum, "note_score": attempt.note_score},
    )
    return grade
