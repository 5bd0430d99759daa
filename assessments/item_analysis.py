"""Exams seen as response matrices: external exams, imported responses (CSV) and
the item analysis of ``assessments.psychometrics`` over attempts and imports; and
the same analysis of a simulation's suggestions, each suggestion an item scored
1 for the right decision and 0 for the wrong one.

Services flush; the request (or CLI batch) commits.
"""

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from assessments import coaching, irt, psychometrics, services
from assessments.models import (
    Attempt,
    AttemptItem,
    AttemptStatus,
    Exam,
    ExternalItem,
    ExternalResponse,
    Item,
    ItemVersion,
    Scenario,
    SimulationAttempt,
    SimulationResponse,
)
from proving_ground.audit.services import record
from proving_ground.auth.models import User
from proving_ground.db import db
from proving_ground.validation import Invalid, Problems

ATTEMPT_MODES = ("first", "last", "best", "all")
CSV_COLUMNS = ("examinee", "item", "score", "max_score", "option")
#: Item types whose chosen option is kept for distractor analysis.
CHOICE_TYPES = ("single", "true_false")

FLAG_REASONS = {
    "few_responses": _l(
        "Few responses (%(value)d): the statistics of this item are unstable."
    ),
    "no_variance": _l("Everyone scored the same, so the item tells no one apart."),
    "negative_discrimination": _l(
        "Negative discrimination (%(value).2f): stronger examinees do worse on "
        "this item than weaker ones; check the key and the wording."
    ),
    "low_discrimination": _l(
        "Low discrimination (%(value).2f, below 0.20): the item barely separates "
        "stronger from weaker examinees."
    ),
    "very_easy": _l("Very easy (facility %(value).2f): almost everyone gets it right."),
    "very_hard": _l("Very hard (facility %(value).2f): almost no one gets it right."),
    "negative_covariance": _l(
        "The score on this item falls as the total rises, so it has no "
        "effective weight."
    ),
    "distractor_attracts_top": _l(
        "Distractor %(option)s draws more of the top quarter than of the bottom "
        "quarter (by %(value).2f)."
    ),
}

#: A simulation's "options" are the coach's decisions; its distractors the wrong
#: ones.
DECISION_WORDS = {"accept": _l("Accept"), "edit": _l("Edit"), "reject": _l("Reject")}
SCENARIO_FLAG_REASONS = {
    **FLAG_REASONS,
    "distractor_attracts_top": _l(
        "The wrong decision “%(option)s” is taken by more of the top quarter than "
        "of the bottom quarter (by %(value).2f)."
    ),
}


def flag_reason(
    flag: psychometrics.Flag,
    reasons: Mapping[str, Any] = FLAG_REASONS,
    options: Mapping[str, Any] | None = None,
) -> str:
    """The flag in words, in the current language; ``options`` names the
    flagged option in words (else its code)."""
    option = (options or {}).get(flag.option, flag.option)
    return str(reasons[flag.code] % {"value": flag.value, "option": option})


# --- external exams ---------------------------------------------------------------


def create_exam_api(data: dict[str, Any], *, actor) -> Exam:
    """An exam from the API body: with ``"external": true`` an external exam (key
    and title, a string or {zh, en}; no sections, never published or sat, it
    only holds imported responses); otherwise ``services.create_exam``."""
    external = data.get("external", False)
    if not isinstance(external, bool):
        raise Invalid("external", str(_l("true or false.")))
    if not external:
        return services.create_exam(data, actor=actor)
    problems = Problems()
    key = services.exam_key(data.get("key"), problems)
    title = data.get("title")
    if isinstance(title, str):
        title = {"zh": title, "en": title}
    title = services.bilingual_text(title, problems, "title")
    if data.get("sections"):
        problems.add("sections", _l("An external exam has no sections."))
    problems.raise_if_any()
    exam = Exam(
        key=key,
        title_zh=title["zh"],
        title_en=title["en"],
        external=True,
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(exam)
    db.session.flush()
    record(actor, "exam.created", f"exam:{exam.id}", {"key": key, "external": True})
    return exam


def external_exams() -> list[Exam]:
    """External exams, newest first."""
    return list(
        db.session.scalars(
            sa.select(Exam)
            .where(Exam.external.is_(True))
            .order_by(Exam.created_at.desc(), Exam.id.desc())
        )
    )


def response_count(exam: Exam) -> tuple[int, int]:
    """Imported responses of an exam and the examinees they name."""
    row = db.session.execute(
        sa.select(
            sa.func.count(ExternalResponse.id),
            sa.func.count(sa.distinct(ExternalResponse.examinee)),
        ).where(ExternalResponse.exam_id == exam.id)
    ).one()
    return int(row[0]), int(row[1])


# --- importing responses ----------------------------------------------------------


@dataclass
class ResponseImport:
    """What an import kept: rows accepted (new or replacing), external items
    created, and per bad row its number (data rows counted from 1 after the
    header) and the problems per field."""

    accepted: int = 0
    replaced: int = 0
    created_items: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


def _bank_items(exam: Exam) -> dict[str, float]:
    """Item keys an exam uses (drawn by its sections or given in an attempt), each
    with its current maximum."""
    keys: dict[str, float] = {
        item.key: item.current.max_points for item in services.angoff_items(exam)
    }
    given_ids = (
        sa.select(ItemVersion.item_id)
        .join(AttemptItem, AttemptItem.item_version_id == ItemVersion.id)
        .join(Attempt, Attempt.id == AttemptItem.attempt_id)
        .where(Attempt.exam_id == exam.id)
    )
    given = db.session.scalars(sa.select(Item).where(Item.id.in_(given_ids)))
    for item in given:
        keys.setdefault(item.key, item.current.max_points)
    return keys


def _decode(body: bytes | str) -> str:
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise Invalid(
                "body", str(_l("The CSV must be UTF-8 text.")), status=400
            ) from error
    return body.removeprefix("\ufeff")


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def import_responses(exam: Exam, body: bytes | str, *, actor) -> ResponseImport:
    """Import scores from a CSV ``examinee,item,score[,max_score,option]`` (header
    required; UTF-8 with or without BOM). Good rows are kept and bad ones reported;
    importing an examinee's item again replaces the score. On an external exam
    unknown item codes become external items (max score from the CSV, else 1); on
    other exams the item must be a bank item the exam uses, with its maximum.
    400 when the file has no usable row."""
    reader = csv.reader(io.StringIO(_decode(body)))
    header = [name.strip().lower() for name in next(reader, [])]
    missing = [name for name in CSV_COLUMNS[:3] if name not in header]
    unknown = [name for name in header if name not in CSV_COLUMNS]
    if missing or unknown:
        raise Invalid(
            "header",
            str(
                _l(
                    "The first line must name the columns examinee, item, score "
                    "and optionally max_score and option."
                )
            ),
            status=400,
        )
    column = {name: header.index(name) for name in header}
    known: dict[str, float]
    if exam.external:
        known = dict(
            db.session.execute(
                sa.select(ExternalItem.code, ExternalItem.max_score).where(
                    ExternalItem.exam_id == exam.id
                )
            ).all()
        )
    else:
        known = _bank_items(exam)

    report = ResponseImport()
    good: dict[tuple[str, str], dict[str, Any]] = {}
    for number, raw in enumerate(reader, start=1):
        if not any(cell.strip() for cell in raw):
            continue
        cells = {
            name: (raw[i].strip() if i < len(raw) else "") for name, i in column.items()
        }
        problems: dict[str, list[str]] = {}

        def problem(name: str, message, problems=problems) -> None:
            problems.setdefault(name, []).append(str(message))

        examinee, code = cells["examinee"], cells["item"]
        if not examinee or len(examinee) > 128:
            problem("examinee", _l("Name the examinee (at most 128 characters)."))
        if not code or len(code) > 64:
            problem("item", _l("Give the item code (at most 64 characters)."))
        score = _number(cells["score"])
        if score is None:
            problem("score", _l("The score must be a number."))
        max_score = None
        if cells.get("max_score"):
            max_score = _number(cells["max_score"])
            if max_score is None or max_score <= 0:
                problem("max_score", _l("The maximum must be a number above 0."))
        option = cells.get("option") or None
        if option and len(option) > 64:
            problem("option", _l("At most %(n)d characters.", n=64))
        new_item = bool(code) and code not in known and "item" not in problems
        if new_item and not exam.external:
            problem("item", _l("This exam uses no bank item with this key."))
        maximum = known.get(code)
        if new_item and exam.external:
            maximum = max_score or 1.0
        elif maximum is not None and max_score is not None and max_score != maximum:
            problem(
                "max_score",
                _l("The item's maximum is %(max)s.", max=f"{maximum:g}"),
            )
        if maximum is not None and score is not None and not 0 <= score <= maximum:
            problem(
                "score", _l("The score must be from 0 to %(max)s.", max=f"{maximum:g}")
            )
        if problems:
            report.errors.append(
                {"row": number, "examinee": examinee or None, "fields": problems}
            )
            continue
        if new_item:
            known[code] = maximum
            db.session.add(ExternalItem(exam_id=exam.id, code=code, max_score=maximum))
            report.created_items.append(code)
        good[(examinee, code)] = {
            "score": score,
            "max_score": maximum,
            "option": option,
        }
    if not good:
        fields = {"body": [str(_l("No row of the CSV could be used."))]}
        for error in report.errors[:50]:
            for name, messages in error["fields"].items():
                fields[f"rows.{error['row']}.{name}"] = messages
        raise Invalid(fields, status=400)

    db.session.flush()
    existing = {
        (examinee, code): id_
        for id_, examinee, code in db.session.execute(
            sa.select(
                ExternalResponse.id,
                ExternalResponse.examinee,
                ExternalResponse.item_code,
            ).where(ExternalResponse.exam_id == exam.id)
        )
    }
    inserts, updates = [], []
    for (examinee, code), values in good.items():
        if (examinee, code) in existing:
            updates.append({"id": existing[(examinee, code)], **values})
        else:
            inserts.append(
                {"exam_id": exam.id, "examinee": examinee, "item_code": code, **values}
            )
    if inserts:
        db.session.execute(sa.insert(ExternalResponse), inserts)
    if updates:
        db.session.execute(sa.update(ExternalResponse), updates)
    db.session.flush()
    report.accepted = len(good)
    report.replaced = len(updates)
    record(
        actor,
        "exam.responses_imported",
        f"exam:{exam.id}",
        {
            "accepted": report.accepted,
            "replaced": report.replaced,
            "items_created": len(report.created_items),
            "errors": len(report.errors),
        },
    )
    return report


# --- the response matrix ----------------------------------------------------------


@dataclass(frozen=True)
class ResponseMatrix:
    """Scores per row (an attempt or an imported examinee) and item, NaN where the
    row did not have the item; each item's maximum; the option chosen on choice
    items; the key of bank choice items."""

    scores: pd.DataFrame
    max_scores: dict[str, float]
    options: pd.DataFrame
    keys: dict[str, set[str]]


def _check_mode(mode: str) -> None:
    if mode not in ATTEMPT_MODES:
        raise Invalid(
            "attempts", str(_l("Choose first, last, best or all.")), status=422
        )


class Candidate(NamedTuple):
    """An attempt that may count: its id, the person and what "best" ranks by."""

    id: int
    user_id: int
    score: float | None


def _pick(rows: Iterable[Any], mode: str) -> list[int]:
    """Ids of the attempts that count among ``rows`` (``Candidate``-like, ordered
    by person, then attempt number): per person the first, the last, the best
    (highest score, the earlier on a tie) or all of them."""
    _check_mode(mode)
    rows = list(rows)
    if mode == "all":
        return [row.id for row in rows]
    chosen: dict[int, Any] = {}
    for row in rows:
        current = chosen.get(row.user_id)
        if (
            current is None
            or mode == "last"
            or (mode == "best" and _merit(row.score) > _merit(current.score))
        ):
            chosen[row.user_id] = row
    return [row.id for row in chosen.values()]


def _merit(score: float | None) -> float:
    return -math.inf if score is None else score


def _chosen_attempts(exam: Exam, mode: str) -> list[int]:
    """Ids of the released attempts that count (see ``_pick``)."""
    return _pick(
        db.session.execute(
            sa.select(Attempt.id, Attempt.user_id, Attempt.number, Attempt.score)
            .where(Attempt.exam_id == exam.id, Attempt.status == AttemptStatus.RELEASED)
            .order_by(Attempt.user_id, Attempt.number)
        ),
        mode,
    )


def _row_label(user_id: int, number: int, mode: str) -> str:
    """A matrix row: the person, and with ``all`` attempts the attempt."""
    return f"u{user_id}#{number}" if mode == "all" else f"u{user_id}"


def _option_of(kind: str, answer: Any) -> str | None:
    if answer is None or answer == "":
        return None
    if kind == "true_false":
        return "true" if answer is True else "false" if answer is False else None
    return str(answer)


def _key_of(kind: str, content: dict[str, Any]) -> set[str]:
    key = content.get("key") or {}
    if kind == "true_false":
        return {"true" if key.get("value") else "false"}
    return {str(key.get("option"))}


def response_matrix(exam: Exam, attempts: str = "first") -> ResponseMatrix:
    """The exam's response matrix from its released attempts (chosen per
    ``attempts``: first, last, best or all) and its imported responses. A score
    given out of another maximum than the item's (an older version) is rescaled
    to the item's maximum."""
    ids = _chosen_attempts(exam, attempts)
    cells: list[tuple[str, str, float, float, str | None]] = []
    maxima: dict[str, float] = {}
    keys: dict[str, set[str]] = {}
    if ids:
        query = (
            sa.select(
                AttemptItem.attempt_id,
                Item.key,
                AttemptItem.points,
                AttemptItem.max_points,
                AttemptItem.answer,
                ItemVersion.type,
                ItemVersion.content,
                ItemVersion.number,
                Attempt.user_id,
                Attempt.number.label("attempt_number"),
            )
            .join(ItemVersion, ItemVersion.id == AttemptItem.item_version_id)
            .join(Item, Item.id == ItemVersion.item_id)
            .join(Attempt, Attempt.id == AttemptItem.attempt_id)
            .order_by(ItemVersion.number)
        )
        latest: dict[str, int] = {}
        for start in range(0, len(ids), 500):
            batch = ids[start : start + 500]
            for row in db.session.execute(
                query.where(AttemptItem.attempt_id.in_(batch))
            ):
                if row.points is None:
                    continue
                label = _row_label(row.user_id, row.attempt_number, attempts)
                option = None
                if row.type in CHOICE_TYPES:
                    option = _option_of(row.type, row.answer) or ""
                cells.append((label, row.key, row.points, row.max_points, option))
                if row.number >= latest.get(row.key, 0):
                    latest[row.key] = row.number
                    maxima[row.key] = row.max_points
                    if row.type in CHOICE_TYPES:
                        keys[row.key] = _key_of(row.type, row.content)
                    else:
                        keys.pop(row.key, None)
    external_max = {}
    if exam.external:
        external_max = dict(
            db.session.execute(
                sa.select(ExternalItem.code, ExternalItem.max_score).where(
                    ExternalItem.exam_id == exam.id
                )
            ).all()
        )
    for examinee, code, score, maximum, option in db.session.execute(
        sa.select(
            ExternalResponse.examinee,
            ExternalResponse.item_code,
            ExternalResponse.score,
            ExternalResponse.max_score,
            ExternalResponse.option,
        ).where(ExternalResponse.exam_id == exam.id)
    ):
        cells.append((f"x:{examinee}", code, score, maximum, option))
        maxima.setdefault(code, external_max.get(code, maximum))
    return _matrix(cells, maxima, keys, sorted(maxima))


def _matrix(
    cells: list[tuple[str, str, float, float, str | None]],
    maxima: dict[str, float],
    keys: dict[str, set[str]],
    items: list[str],
) -> ResponseMatrix:
    """The matrix of ``cells`` (row, item, points, out of, option or None; one
    per row and item) with the ``items`` as columns in this order. Points out of
    another maximum than the item's are rescaled to the item's."""
    frame = pd.DataFrame(
        cells, columns=["row", "item", "points", "max_points", "option"]
    )
    if frame.empty:
        empty = pd.DataFrame(dtype=float)
        return ResponseMatrix(empty, {}, pd.DataFrame(), {})
    item_max = frame["item"].map(maxima)
    frame["score"] = np.where(
        frame["max_points"] == item_max,
        frame["points"],
        frame["points"] / frame["max_points"] * item_max,
    )
    scores = frame.pivot_table(
        index="row", columns="item", values="score", aggfunc="last", sort=True
    ).reindex(columns=items)
    chosen = frame.dropna(subset=["option"])
    options = (
        chosen.pivot(index="row", columns="item", values="option")
        .reindex(index=scores.index)
        .replace("", None)
        if not chosen.empty
        else pd.DataFrame(index=scores.index)
    )
    return ResponseMatrix(scores, {i: maxima[i] for i in items}, options, keys)


# --- item analysis ----------------------------------------------------------------


MODELS = ("2pl",)
#: The notes of a 2PL fit (``irt.NOTE_CODES``) in words.
IRT_NOTES = {
    "partial_credit": _l(
        "Left out, scored with partial credit (the 2PL model takes right or "
        "wrong only): %(items)s."
    ),
    "no_variance": _l(
        "Left out, everyone right or everyone wrong (no estimate exists): %(items)s."
    ),
    "few_responses": _l("Left out, fewer than %(value)d responses: %(items)s."),
    "too_few_items": _l(
        "Not fitted: the model needs at least 3 items scored right or wrong "
        "that not everyone got right or wrong; there are %(value)d."
    ),
    "persons_without_items": _l(
        "%(value)d examinees had none of the modelled items and are left out."
    ),
    "at_bound": _l(
        "Discrimination at its limit of ±6 (the item splits examinees almost "
        "perfectly, or the sample is too small); no standard error: %(items)s."
    ),
    "small_sample": _l(
        "Only %(value)d examinees: 2PL estimates need a few hundred to be "
        "stable, so read them alongside the classical statistics above."
    ),
    "not_converged": _l(
        "The fit did not fully converge; treat the estimates with caution."
    ),
    "singular_information": _l(
        "Standard errors could not be computed (the information matrix is singular)."
    ),
}


def item_analysis(
    exam: Exam, attempts: str = "first", model: str | None = None
) -> dict[str, Any]:
    """The item analysis of the exam's response matrix (see ``psychometrics``):
    ``{"attempts", "test": {...}, "items": [...]}``; every statistic a fraction,
    None where it is undefined; each flag with its reason in words. With
    ``model="2pl"`` also ``"irt"``: the 2PL fit of ``irt_model``."""
    matrix = response_matrix(exam, attempts)
    out = _analyse(matrix, attempts)
    if model == "2pl":
        out["irt"] = irt_model(matrix)
    return out


def irt_model(matrix: ResponseMatrix) -> dict[str, Any]:
    """The 2PL fit of a response matrix (``irt.fit_2pl``) as a dict: items with
    ``a``, ``b`` and standard errors, persons with their EAP ability and
    posterior SD (each named by the imported examinee code, or the user's email
    with ``#n`` for the attempt when all attempts count), the excluded items,
    the log-likelihood, convergence and notes in words."""
    fit = irt.fit_2pl(matrix.scores, matrix.max_scores).to_dict()
    user_ids = {
        int(label[1:].split("#")[0])
        for label in matrix.scores.index
        if re.fullmatch(r"u\d+(#\d+)?", label)
    }
    emails = dict(
        db.session.execute(
            sa.select(User.id, User.email).where(User.id.in_(user_ids))
        ).all()
    )
    for person in fit["persons"]:
        person["examinee"] = _examinee(person["examinee"], emails)
    fit["notes"] = [{**note, "message": irt_note(note)} for note in fit["notes"]]
    return fit


def _examinee(label: str, emails: Mapping[int, str]) -> str:
    if label.startswith("x:"):
        return label[2:]
    user, _, attempt = label[1:].partition("#")
    email = emails.get(int(user), label)
    return f"{email}#{attempt}" if attempt else email


def irt_note(note: Mapping[str, Any]) -> str:
    """A note of a 2PL fit in words, in the current language."""
    value = note.get("value")
    return str(
        IRT_NOTES[note["code"]]
        % {"items": ", ".join(note.get("items") or ()), "value": value or 0}
    )


def _analyse(
    matrix: ResponseMatrix,
    attempts: str,
    reasons: Mapping[str, Any] = FLAG_REASONS,
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    analysis = psychometrics.analyse(
        matrix.scores, matrix.max_scores, matrix.options, matrix.keys
    )
    out = analysis.to_dict()
    for item, stats in zip(out["items"], analysis.items, strict=True):
        item["flags"] = [
            {**flag_dict, "reason": flag_reason(flag, reasons, options)}
            for flag_dict, flag in zip(item["flags"], stats.flags, strict=True)
        ]
    out["attempts"] = attempts
    return out


# --- simulations ------------------------------------------------------------------


def suggestion_truth(scenario: Scenario) -> dict[str, dict[str, Any]]:
    """Suggestion id → its truth (``coaching.truth``) as the latest version that
    has the suggestion authors it, in the order of the current version (then
    suggestions only older versions had)."""
    out: dict[str, dict[str, Any]] = {}
    for version in reversed(scenario.versions):
        for suggestion_id, truth in coaching.truth(version.content).items():
            out.setdefault(suggestion_id, truth)
    return out


def scenario_matrix(scenario: Scenario, attempts: str = "first") -> ResponseMatrix:
    """The simulation's response matrix: one row per submitted attempt chosen per
    ``attempts`` (first, last, best = highest d′, or all), one item per
    suggestion, scored 1 for the right decision (a flawed suggestion edited or
    rejected, a sound one accepted; ``coaching.verdict``) and 0 otherwise, by
    the truth of the version the attempt was on. Suggestions the path did not
    reach, or left unanswered, are missing cells. The options are the decisions
    (accept, edit, reject); the right ones are the key."""
    rows = db.session.execute(
        sa.select(
            SimulationAttempt.id,
            SimulationAttempt.user_id,
            SimulationAttempt.number,
            SimulationAttempt.scores,
        )
        .where(
            SimulationAttempt.scenario_id == scenario.id,
            SimulationAttempt.status != AttemptStatus.IN_PROGRESS,
        )
        .order_by(SimulationAttempt.user_id, SimulationAttempt.number)
    ).all()
    ids = _pick(
        (
            Candidate(row.id, row.user_id, (row.scores or {}).get("d_prime"))
            for row in rows
        ),
        attempts,
    )
    numbers = {row.id: (row.user_id, row.number) for row in rows}
    truth = suggestion_truth(scenario)
    version_truth = {v.id: coaching.truth(v.content) for v in scenario.versions}
    cells: list[tuple[str, str, float, float, str | None]] = []
    query = (
        sa.select(
            SimulationResponse.attempt_id,
            SimulationResponse.suggestion_id,
            SimulationResponse.decision,
            SimulationAttempt.version_id,
        )
        .join(SimulationAttempt, SimulationAttempt.id == SimulationResponse.attempt_id)
        .order_by(SimulationResponse.id)
    )
    for start in range(0, len(ids), 500):
        batch = ids[start : start + 500]
        for row in db.session.execute(
            query.where(SimulationResponse.attempt_id.in_(batch))
        ):
            authored = version_truth[row.version_id].get(row.suggestion_id)
            if authored is None:
                continue
            right = row.decision in _right_decisions(authored["sound"])
            label = _row_label(*numbers[row.attempt_id], attempts)
            cells.append((label, row.suggestion_id, float(right), 1.0, row.decision))
    answered = {cell[1] for cell in cells}
    items = [suggestion for suggestion in truth if suggestion in answered]
    keys = {item: _right_decisions(truth[item]["sound"]) for item in items}
    return _matrix(cells, dict.fromkeys(items, 1.0), keys, items)


def _right_decisions(sound: bool) -> set[str]:
    """The decisions that score 1 on a suggestion: for a flawed one a hit, for a
    sound one a correct rejection (``coaching.verdict``)."""
    return {
        decision
        for decision in coaching.DECISIONS
        if coaching.verdict(coaching.Judgement(sound, (), decision))
        in ("hit", "correct_rejection")
    }


def scenario_item_analysis(
    scenario: Scenario, attempts: str = "first"
) -> dict[str, Any]:
    """The item analysis of a simulation's suggestions (``scenario_matrix``) in
    the shape of ``item_analysis``; each item also has its truth: ``sound``,
    ``flaws`` and ``turn`` (of the latest version that has it). Flags name the
    decisions in words."""
    out = _analyse(
        scenario_matrix(scenario, attempts),
        attempts,
        SCENARIO_FLAG_REASONS,
        DECISION_WORDS,
    )
    truth = suggestion_truth(scenario)
    for item in out["items"]:
        authored = truth[item["item"]]
        item |= {
            "sound": authored["sound"],
            "flaws": authored["flaws"],
            "turn": authored["turn"],
        }
    return out


def analysis_csv(analysis: dict[str, Any], extra: Iterable[str] = ()) -> str:
    """The item table of an analysis as CSV (fractions; flags by code);
    ``extra``: more item fields to give after the item's code (e.g. ``sound``)."""
    out = io.StringIO()
    writer = csv.writer(out)
    columns = [
        "item",
        *extra,
        "n",
        "max_score",
        "facility",
        "sd",
        "discrimination_index",
        "discriminative_efficiency",
        "point_biserial",
        "intended_weight",
        "effective_weight",
    ]
    writer.writerow([*columns, "flags"])
    for item in analysis["items"]:
        writer.writerow(
            [_cell(item[name]) for name in columns]
            + ["; ".join(flag["code"] for flag in item["flags"])]
        )
    writer.writerow([])
    test = analysis["test"]
    for name in ("n", "mean", "sd", "skewness", "kurtosis", "alpha", "kr20"):
        writer.writerow([name, _cell(test[name])])
    ci = test["alpha_ci"] or [None, None]
    writer.writerow(["alpha_ci_lower", _cell(ci[0])])
    writer.writerow(["alpha_ci_upper", _cell(ci[1])])
    for name in ("error_ratio", "sem"):
        writer.writerow([name, _cell(test[name])])
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)


def csv_filename(exam: Exam | Scenario, attempts: str) -> str:
    """``<key>-item-analysis-<attempts>.csv``, safe as a file name."""
    return re.sub(r"[^a-z0-9._-]", "-", f"{exam.key}-item-analysis-{attempts}.csv")
