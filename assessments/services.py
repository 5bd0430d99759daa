"""Assessments: the business rules of the item bank, exams, attempts, grading,
certificates and HR reports.

Integrity rules live here, not in views: the server's clock is the only clock,
answer keys never leave ``scoring.public_content`` before release, attempt limits
and waiting periods are checked on start, and every attempt event is logged.
Services flush; the request (or CLI batch) commits.
"""

import calendar
import random
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from assessments import credentials, scoring
from assessments.models import (
    AngoffJudge,
    AngoffRating,
    Attempt,
    AttemptEvent,
    AttemptItem,
    AttemptStatus,
    Certificate,
    Certification,
    Competency,
    Exam,
    ExamSection,
    ExamStatus,
    Framework,
    Grade,
    Item,
    ItemStatus,
    ItemVersion,
    PromotionTrack,
    Scenario,
    SimulationAttempt,
    exam_graders,
)
from proving_ground.access import Role
from proving_ground.audit.services import record
from proving_ground.auth.models import User
from proving_ground.db import commit_refusal, db, utcnow
from proving_ground.i18n import current_language
from proving_ground.validation import Invalid, Problems

KEY_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
_system_random = random.SystemRandom()


def bilingual_text(
    value: Any, problems: Problems, name: str, *, limit: int = 200
) -> dict:
    """A bilingual {"zh", "en"} text; both languages required."""
    if not isinstance(value, dict):
        problems.add(name, _l("Give an object with zh and en texts."))
        return {"zh": "", "en": ""}
    out = {}
    for language in ("zh", "en"):
        text = value.get(language)
        if not isinstance(text, str) or not text.strip():
            problems.add(f"{name}.{language}", _l("Give the text in both languages."))
            text = ""
        elif len(text) > limit:
            problems.add(f"{name}.{language}", _l("At most %(n)d characters.", n=limit))
        out[language] = (text or "").strip()
    return out


def valid_key(value: Any, problems: Problems, name: str = "key") -> str:
    if not isinstance(value, str) or not re.match(KEY_PATTERN, value):
        problems.add(
            name, _l("Use 1-64 lower-case letters, digits or . _ - characters.")
        )
        return ""
    return value


# --- the capability map ----------------------------------------------------------


def create_framework(data: dict[str, Any], *, actor) -> Framework:
    """A capability map with its competency tree (``competencies``, each with
    ``key``, ``name``, ``levels`` and optional ``children``); flushed, audited."""
    problems = Problems()
    key = valid_key(data.get("key"), problems)
    name = bilingual_text(data.get("name"), problems, "name")
    description = data.get("description") or {}
    if key and db.session.scalar(sa.select(Framework.id).where(Framework.key == key)):
        problems.add("key", _l("This key is taken."))
    problems.raise_if_any()
    framework = Framework(
        key=key,
        name_zh=name["zh"],
        name_en=name["en"],
        description_zh=description.get("zh", ""),
        description_en=description.get("en", ""),
    )
    db.session.add(framework)
    db.session.flush()
    for position, child in enumerate(data.get("competencies") or []):
        _add_competency(framework, None, child, position, f"competencies.{position}")
    record(actor, "framework.created", f"framework:{framework.id}", {"key": key})
    return framework


def _add_competency(
    framework: Framework, parent: Competency | None, data: Any, position: int, at: str
) -> Competency:
    problems = Problems()
    if not isinstance(data, dict):
        raise Invalid(at, str(_l("Give an object.")))
    key = valid_key(data.get("key"), problems, f"{at}.key")
    name = bilingual_text(data.get("name"), problems, f"{at}.name")
    levels = data.get("levels") or []
    if not isinstance(levels, list) or not all(
        isinstance(level, dict) and level.get("zh") and level.get("en")
        for level in levels
    ):
        problems.add(f"{at}.levels", _l("Each level needs zh and en descriptions."))
    if key and db.session.scalar(sa.select(Competency.id).where(Competency.key == key)):
        problems.add(f"{at}.key", _l("This key is taken."))
    problems.raise_if_any()
    competency = Competency(
        framework=framework,
        parent=parent,
        key=key,
        name_zh=name["zh"],
        name_en=name["en"],
        levels=[
            {"level": i + 1, "zh": level["zh"], "en": level["en"]}
            for i, level in enumerate(levels)
        ],
        position=position,
    )
    db.session.add(competency)
    db.session.flush()
    for i, child in enumerate(data.get("children") or []):
        _add_competency(framework, competency, child, i, f"{at}.children.{i}")
    return competency


def competency_by_key(key: str) -> Competency | None:
    return db.session.scalar(sa.select(Competency).where(Competency.key == key))


def subtree_ids(competency: Competency) -> set[int]:
    """The ids of a competency and all its descendants."""
    rows = db.session.execute(
        sa.select(Competency.id, Competency.parent_id).where(
            Competency.framework_id == competency.framework_id
        )
    ).all()
    children: dict[int | None, list[int]] = defaultdict(list)
    for cid, parent in rows:
        children[parent].append(cid)
    found, todo = set(), [competency.id]
    while todo:
        cid = todo.pop()
        found.add(cid)
        todo.extend(children[cid])
    return found


def top_competency(competency: Competency | None) -> Competency | None:
    while competency is not None and competency.parent is not None:
        competency = competency.parent
    return competency


# --- the item bank ---------------------------------------------------------------


def _content_problems(content: Any, problems: Problems) -> None:
    for path, message in scoring.validate_content(content).items():
        problems.add(f"content.{path}", message)


def _item_fields(data: dict[str, Any], problems: Problems) -> dict[str, Any]:
    """Validated item attributes other than the key and content."""
    out: dict[str, Any] = {}
    if "competency" in data:
        if data["competency"] in (None, ""):
            out["competency_id"] = None
        else:
            competency = competency_by_key(str(data["competency"]))
            if competency is None:
                problems.add("competency", _l("No competency has this key."))
            else:
                out["competency_id"] = competency.id
    if "tags" in data:
        tags = data["tags"]
        if isinstance(tags, str):
            tags = [
                t for t in (s.strip() for s in tags.replace("，", ",").split(",")) if t
            ]
        if not isinstance(tags, list) or not all(
            isinstance(t, str) and 0 < len(t) <= 64 for t in tags
        ):
            problems.add(
                "tags", _l("Tags are a list of texts of at most 64 characters.")
            )
        else:
            out["tags"] = list(dict.fromkeys(t.strip() for t in tags))
    if "difficulty" in data:
        try:
            difficulty = int(data["difficulty"])
            if not 1 <= difficulty <= 5:
                raise ValueError
            out["difficulty"] = difficulty
        except (TypeError, ValueError):
            problems.add("difficulty", _l("A whole number from 1 (easy) to 5 (hard)."))
    if "status" in data:
        if data["status"] not in {s.value for s in ItemStatus}:
            problems.add("status", _l("Choose draft, active or retired."))
        else:
            out["status"] = data["status"]
    return out


def create_item(data: dict[str, Any], *, actor) -> Item:
    """A new item with its first version; flushed, audited."""
    problems = Problems()
    key = valid_key(data.get("key"), problems)
    if key and db.session.scalar(sa.select(Item.id).where(Item.key == key)):
        problems.add("key", _l("This key is taken."))
    fields = _item_fields(data, problems)
    _content_problems(data.get("content"), problems)
    problems.raise_if_any()
    item = Item(key=key, created_by_id=getattr(actor, "id", None), **fields)
    db.session.add(item)
    _add_version(item, data["content"], actor)
    db.session.flush()
    record(actor, "item.created", f"item:{item.id}", {"key": key})
    return item


def _add_version(item: Item, content: dict[str, Any], actor) -> ItemVersion:
    version = ItemVersion(
        item=item,
        number=(item.versions[-1].number + 1) if item.versions else 1,
        type=content["type"],
        content=content,
        max_points=scoring.max_points(content),
        created_by_id=getattr(actor, "id", None),
    )
    db.session.add(version)
    return version


def version_answered(version: ItemVersion) -> bool:
    return (
        db.session.scalar(
            sa.select(AttemptItem.id)
            .where(AttemptItem.item_version_id == version.id)
            .limit(1)
        )
        is not None
    )


def update_item(item: Item, data: dict[str, Any], *, actor) -> Item:
    """Change an item. New content becomes a new version when the current one has
    been given to an examinee (their attempts keep what they saw); otherwise the
    current version is edited in place. Flushed, audited."""
    problems = Problems()
    fields = _item_fields(data, problems)
    content = data.get("content")
    if content is not None:
        _content_problems(content, problems)
    problems.raise_if_any()
    for name, value in fields.items():
        setattr(item, name, value)
    details: dict[str, Any] = {"fields": sorted(fields)}
    if content is not None and content != item.current.content:
        current = item.current
        if version_answered(current):
            version = _add_version(item, content, actor)
            details["new_version"] = version.number
        else:
            current.content = content
            current.type = content["type"]
            current.max_points = scoring.max_points(content)
            details["edited_version"] = current.number
    db.session.flush()
    record(actor, "item.updated", f"item:{item.id}", details)
    return item


def correct_key(item: Item, content: dict[str, Any], reason: str, *, actor) -> int:
    """Correct a mistake in the current version's answer key *in place* (the
    question the examinees saw does not change, only how it is scored), then
    regrade every attempt that was given this version, re-issuing or revoking
    certificates whose pass/fail changed. Returns the number of attempts regraded.
    """
    problems = Problems()
    _content_problems(content, problems)
    version = item.current
    if not problems and content.get("type") != version.type:
        problems.add("content.type", _l("A key correction cannot change the type."))
    if not (reason or "").strip():
        problems.add("reason", _l("Say why the key is corrected."))
    problems.raise_if_any()
    public_before = scoring.public_content(version.content)
    if scoring.public_content(content) != public_before:
        raise Invalid(
            "content",
            str(_l("Only the key and scoring may change; edit the item instead.")),
        )
    version.content = content
    version.max_points = scoring.max_points(content)
    attempt_ids = set(
        db.session.scalars(
            sa.select(AttemptItem.attempt_id).where(
                AttemptItem.item_version_id == version.id
            )
        )
    )
    regraded = 0
    for attempt in db.session.scalars(
        sa.select(Attempt).where(Attempt.id.in_(attempt_ids)).order_by(Attempt.id)
    ):
        if attempt.status == AttemptStatus.IN_PROGRESS:
            continue  # scored at submission with the corrected key
        before = attempt.passed
        for attempt_item in attempt.items:
            if attempt_item.item_version_id == version.id:
                attempt_item.max_points = version.max_points
                if scoring.is_auto_scored(content):
                    _score_item(attempt_item)
        if attempt.status == AttemptStatus.RELEASED:
            _total(attempt)
            _log(attempt, "regrade", actor, {"item": item.key, "was": before})
            if before and not attempt.passed:
                for certificate in _certificates_from(attempt):
                    revoke_certificate(
                        certificate,
                        str(_l("Regraded: the exam is no longer passed.")),
                        actor=actor,
                    )
            elif attempt.passed and not before:
                issue_certificates(attempt.user, attempt, now=utcnow())
        regraded += 1
    db.session.flush()
    record(
        actor,
        "item.key_corrected",
        f"item:{item.id}",
        {"version": version.number, "reason": reason.strip(), "attempts": regraded},
    )
    return regraded


def set_item_status(item: Item, status: str, *, actor) -> None:
    problems = Problems()
    fields = _item_fields({"status": status}, problems)
    problems.raise_if_any()
    item.status = fields["status"]
    db.session.flush()
    record(actor, "item.status", f"item:{item.id}", {"status": status})


@dataclass
class ImportReport:
    """What an import did: keys created or updated, and each bad row's problems
    (rows counted from 1)."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


def import_items(records: Iterable[Any], *, actor) -> ImportReport:
    """Create or update items from export-shaped records. Good rows are kept;
    each bad row is reported with its problems. Each row runs in a savepoint."""
    report = ImportReport()
    for row_number, data in enumerate(records, start=1):
        if not isinstance(data, dict):
            report.errors.append(
                {"row": row_number, "fields": {"row": [str(_l("Give an object."))]}}
            )
            continue
        existing = None
        if isinstance(data.get("key"), str):
            existing = db.session.scalar(sa.select(Item).where(Item.key == data["key"]))
        try:
            with db.session.begin_nested():
                if existing is None:
                    create_item(data, actor=actor)
                    report.created.append(data["key"])
                else:
                    update_item(existing, data, actor=actor)
                    report.updated.append(data["key"])
        except Invalid as exc:
            report.errors.append(
                {"row": row_number, "key": data.get("key"), "fields": exc.fields}
            )
    return report


def export_item(item: Item) -> dict[str, Any]:
    """An item in the import format (with its answer key: HR only)."""
    return {
        "key": item.key,
        "competency": item.competency.key if item.competency else None,
        "tags": item.tags,
        "difficulty": item.difficulty,
        "status": item.status,
        "version": item.current.number,
        "content": item.current.content,
    }


def list_items(
    *, competency: Competency | None = None, tag: str | None = None, status=None
) -> list[Item]:
    query = sa.select(Item).options(selectinload(Item.versions)).order_by(Item.key)
    if competency is not None:
        query = query.where(Item.competency_id.in_(subtree_ids(competency)))
    if status:
        query = query.where(Item.status == status)
    items = list(db.session.scalars(query))
    if tag:
        items = [item for item in items if tag in item.tags]
    return items


# --- exams -----------------------------------------------------------------------


def _exam_fields(data: dict[str, Any], problems: Problems) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "title" in data:
        title = bilingual_text(data["title"], problems, "title")
        out |= {"title_zh": title["zh"], "title_en": title["en"]}
    if "description" in data:
        description = data["description"] or {}
        out |= {
            "description_zh": str(description.get("zh", "")),
            "description_en": str(description.get("en", "")),
        }
    limits = {
        "time_limit_minutes": (1, 600),
        "max_attempts": (1, 20),
        "wait_hours": (0, 24 * 365),
    }
    for name, (low, high) in limits.items():
        if name in data:
            try:
                value = int(data[name])
                if not low <= value <= high:
                    raise ValueError
                out[name] = value
            except (TypeError, ValueError):
                problems.add(
                    name, _l("A whole number from %(a)d to %(b)d.", a=low, b=high)
                )
    for name in ("cut_score", "marking_tolerance"):
        if name in data:
            try:
                value = float(data[name])
                if not 0 <= value <= (1 if name == "cut_score" else 100):
                    raise ValueError
                out[name] = value
            except (TypeError, ValueError):
                problems.add(name, _l("A share between 0 and 1, e.g. 0.7."))
    for name in ("shuffle_items", "shuffle_options", "second_marking"):
        if name in data:
            if not isinstance(data[name], bool):
                problems.add(name, _l("true or false."))
            else:
                out[name] = data[name]
    if "team_results_visible" in data:
        out["team_results_visible"] = bool(data["team_results_visible"])
    for name in ("opens_at", "closes_at"):
        if name in data:
            value = data[name]
            if value in (None, ""):
                out[name] = None
            elif isinstance(value, datetime) and value.tzinfo:
                out[name] = value
            else:
                try:
                    parsed = datetime.fromisoformat(str(value))
                    if parsed.tzinfo is None:
                        raise ValueError
                    out[name] = parsed
                except ValueError:
                    problems.add(name, _l("An ISO 8601 time with its time zone."))
    return out


def _sections(value: Any, problems: Problems) -> list[ExamSection]:
    if not isinstance(value, list) or not value:
        problems.add("sections", _l("An exam needs at least one section."))
        return []
    sections = []
    for i, data in enumerate(value):
        at = f"sections.{i}"
        if not isinstance(data, dict):
            problems.add(at, _l("Give an object."))
            continue
        title = bilingual_text(data.get("title"), problems, f"{at}.title")
        competency = None
        if data.get("competency"):
            competency = competency_by_key(str(data["competency"]))
            if competency is None:
                problems.add(f"{at}.competency", _l("No competency has this key."))
        tag = data.get("tag") or None
        if (
            competency is None
            and not tag
            and not problems.fields.get(f"{at}.competency")
        ):
            problems.add(at, _l("Draw the section from a competency, a tag or both."))
        count = data.get("item_count")
        if (
            not isinstance(count, int)
            or isinstance(count, bool)
            or not 1 <= count <= 200
        ):
            problems.add(f"{at}.item_count", _l("A whole number from 1 to 200."))
        minimum = data.get("min_score")
        if minimum is not None and (
            not isinstance(minimum, int | float) or not 0 <= minimum <= 1
        ):
            problems.add(f"{at}.min_score", _l("A share between 0 and 1, e.g. 0.5."))
        sections.append(
            ExamSection(
                position=i,
                title_zh=title["zh"],
                title_en=title["en"],
                competency_id=competency.id if competency else None,
                tag=tag,
                item_count=count if isinstance(count, int) else 0,
                min_score=minimum,
            )
        )
    return sections


#: Words the HR pages use in paths next to exam keys (/hr/exams/external).
RESERVED_EXAM_KEYS = frozenset({"external", "new"})


def exam_key(value: Any, problems: Problems) -> str:
    """A valid key for a new exam: well formed, not reserved, not taken."""
    key = valid_key(value, problems)
    if key in RESERVED_EXAM_KEYS:
        problems.add("key", _l("This key is reserved; choose another."))
    elif key and db.session.scalar(sa.select(Exam.id).where(Exam.key == key)):
        problems.add("key", _l("This key is taken."))
    return key


def create_exam(data: dict[str, Any], *, actor) -> Exam:
    """A draft exam with its sections; flushed, audited."""
    problems = Problems()
    key = exam_key(data.get("key"), problems)
    if "title" not in data:
        problems.add("title", _l("Give an object with zh and en texts."))
    fields = _exam_fields(data, problems)
    sections = _sections(data.get("sections"), problems)
    problems.raise_if_any()
    exam = Exam(key=key, created_by_id=getattr(actor, "id", None), **fields)
    exam.sections = sections
    _check_window(exam)
    db.session.add(exam)
    db.session.flush()
    record(actor, "exam.created", f"exam:{exam.id}", {"key": key})
    return exam


def _check_window(exam: Exam) -> None:
    if exam.opens_at and exam.closes_at and exam.closes_at <= exam.opens_at:
        raise Invalid("closes_at", str(_l("The exam must close after it opens.")))


def update_exam(exam: Exam, data: dict[str, Any], *, actor) -> Exam:
    """Change an exam's settings (and sections, while no one has started it)."""
    problems = Problems()
    fields = _exam_fields(data, problems)
    sections = None
    if "sections" in data:
        if has_attempts(exam):
            problems.add("sections", _l("Sections are fixed once someone has started."))
        else:
            sections = _sections(data["sections"], problems)
    problems.raise_if_any()
    for name, value in fields.items():
        setattr(exam, name, value)
    if sections is not None:
        exam.sections = sections
    _check_window(exam)
    db.session.flush()
    record(actor, "exam.updated", f"exam:{exam.id}", {"fields": sorted(data)})
    return exam


def has_attempts(exam: Exam) -> bool:
    """Whether anyone has started the exam (its sections are then fixed)."""
    return (
        db.session.scalar(sa.select(Attempt.id).where(Attempt.exam_id == exam.id))
        is not None
    )


def section_pool(section: ExamSection) -> list[Item]:
    """The active items a section draws from."""
    competency = section.competency
    return list_items(competency=competency, tag=section.tag, status=ItemStatus.ACTIVE)


def exam_problems(exam: Exam) -> list[str]:
    """Why an exam cannot be published (empty when it can)."""
    problems = []
    if exam.external:
        problems.append(str(_l("An external exam only holds imported responses.")))
    if not exam.sections:
        problems.append(str(_l("The exam has no sections.")))
    for section in exam.sections:
        available = len(section_pool(section))
        if available < section.item_count:
            problems.append(
                str(
                    _l(
                        "Section “%(title)s” draws %(n)d items but the bank has "
                        "%(m)d active ones.",
                        title=section.text("title", current_language()),
                        n=section.item_count,
                        m=available,
                    )
                )
            )
    return problems


def set_exam_status(exam: Exam, status: str, *, actor) -> None:
    """Publish (after the checks of ``exam_problems``) or close an exam."""
    if status not in {s.value for s in ExamStatus}:
        raise Invalid("status", str(_l("Choose draft, published or closed.")))
    if status == ExamStatus.PUBLISHED:
        problems = exam_problems(exam)
        if problems:
            raise Invalid({"status": problems}, status=409)
    exam.status = status
    db.session.flush()
    record(actor, "exam.status", f"exam:{exam.id}", {"status": status})


def set_graders(exam: Exam, users: list[User], *, actor) -> None:
    exam.graders = users
    db.session.flush()
    record(
        actor, "exam.graders", f"exam:{exam.id}", {"graders": [u.email for u in users]}
    )


# --- cut scores: modified Angoff ------------------------------------------------


def angoff_items(exam: Exam) -> list[Item]:
    """The items a judge rates: every active item any section may draw."""
    seen: dict[int, Item] = {}
    for section in exam.sections:
        for item in section_pool(section):
            seen.setdefault(item.id, item)
    return sorted(seen.values(), key=lambda item: item.key)


def invite_judge(exam: Exam, user: User, *, actor) -> None:
    if db.session.get(AngoffJudge, (exam.id, user.id)) is None:
        db.session.add(AngoffJudge(exam_id=exam.id, user_id=user.id))
        db.session.flush()
        record(actor, "angoff.invited", f"exam:{exam.id}", {"judge": user.email})


def is_judge(exam: Exam, user: User) -> bool:
    return db.session.get(AngoffJudge, (exam.id, user.id)) is not None


def rate_items(exam: Exam, judge: User, ratings: dict[int, Any]) -> int:
    """Store a judge's probabilities (0-1) per item id; returns how many."""
    if not is_judge(exam, judge):
        raise Invalid("judge", str(_l("You are not a judge of this exam.")), status=403)
    allowed = {item.id for item in angoff_items(exam)}
    problems = Problems()
    clean: dict[int, float] = {}
    for item_id, value in ratings.items():
        try:
            probability = float(value)
            if not 0 <= probability <= 1:
                raise ValueError
        except (TypeError, ValueError):
            problems.add(f"item.{item_id}", _l("A probability between 0 and 1."))
            continue
        if item_id not in allowed:
            problems.add(f"item.{item_id}", _l("Not an item of this exam."))
            continue
        clean[item_id] = probability
    problems.raise_if_any()
    for item_id, probability in clean.items():
        row = db.session.get(AngoffRating, (exam.id, judge.id, item_id))
        if row is None:
            db.session.add(
                AngoffRating(
                    exam_id=exam.id,
                    user_id=judge.id,
                    item_id=item_id,
                    probability=probability,
                )
            )
        else:
            row.probability = probability
            row.rated_at = utcnow()
    db.session.flush()
    return len(clean)


@dataclass(frozen=True)
class AngoffPanel:
    items: list[Item]
    judges: list[User]
    #: judge id → item id → probability
    ratings: dict[int, dict[int, float]]
    result: Any  # scoring.AngoffResult, or None before any complete rating


def angoff_panel(exam: Exam) -> AngoffPanel:
    """The panel's ratings and, from the judges who rated every item, each
    judge's cut, the panel cut and its standard error (item points as weights)."""
    items = angoff_items(exam)
    judges = [
        row.user
        for row in db.session.scalars(
            sa.select(AngoffJudge)
            .where(AngoffJudge.exam_id == exam.id)
            .order_by(AngoffJudge.invited_at)
        )
    ]
    ratings: dict[int, dict[int, float]] = defaultdict(dict)
    ids = {item.id for item in items}
    for row in db.session.scalars(
        sa.select(AngoffRating).where(AngoffRating.exam_id == exam.id)
    ):
        if row.item_id in ids:
            ratings[row.user_id][row.item_id] = row.probability
    result = None
    complete = {j: r for j, r in ratings.items() if set(r) == ids}
    if items and complete:
        result = scoring.angoff(
            complete, {item.id: item.current.max_points for item in items}
        )
    return AngoffPanel(items, judges, dict(ratings), result)


def adopt_cut_score(
    exam: Exam, cut: float, *, actor, source: str = "angoff", reason: str = ""
) -> None:
    """Set the exam's pass mark (a share of the maximum score); audited with the
    panel's figures. A cut other than the panel's (``source="other"``) needs a
    reason."""
    problems = Problems()
    try:
        cut = float(cut)
        if not 0 < cut < 1:
            raise ValueError
    except (TypeError, ValueError):
        problems.add("cut_score", _l("A share between 0 and 1, e.g. 0.7."))
    reason = (reason or "").strip()
    if source != "angoff" and not reason:
        problems.add("reason", _l("Say why you adopt a cut other than the panel's."))
    problems.raise_if_any()
    panel = angoff_panel(exam)
    details: dict[str, Any] = {
        "from": exam.cut_score,
        "to": round(cut, 4),
        "source": source,
    }
    if reason:
        details["reason"] = reason[:2000]
    if panel.result:
        details |= {
            "panel_cut": panel.result.panel_cut,
            "standard_error": panel.result.standard_error,
            "judges": panel.result.judges,
        }
    exam.cut_score = round(cut, 4)
    db.session.flush()
    record(actor, "exam.cut_score_adopted", f"exam:{exam.id}", details)


# --- attempts --------------------------------------------------------------------


def _log(attempt: Attempt, kind: str, actor=None, details=None, *, at=None) -> None:
    db.session.add(
        AttemptEvent(
            attempt_id=attempt.id,
            kind=kind,
            at=at or utcnow(),
            actor_id=getattr(actor, "id", None),
            details=details,
        )
    )


def attempts_of(exam: Exam, user: User) -> list[Attempt]:
    return list(
        db.session.scalars(
            sa.select(Attempt)
            .where(Attempt.exam_id == exam.id, Attempt.user_id == user.id)
            .order_by(Attempt.number)
        )
    )


@dataclass(frozen=True)
class Availability:
    """Whether a user may start an attempt now, and if not why and when."""

    allowed: bool
    reason: str = ""
    next_at: datetime | None = None
    in_progress: Attempt | None = None


def availability(exam: Exam, user: User, now: datetime | None = None) -> Availability:
    now = now or utcnow()
    attempts = attempts_of(exam, user)
    for attempt in attempts:
        if attempt.status == AttemptStatus.IN_PROGRESS and not expire_if_overdue(
            attempt, now
        ):
            return Availability(True, in_progress=attempt)
    if exam.status != ExamStatus.PUBLISHED:
        return Availability(False, str(_l("The exam is not open.")))
    if exam.opens_at and now < exam.opens_at:
        return Availability(
            False, str(_l("The exam has not opened yet.")), exam.opens_at
        )
    if exam.closes_at and now >= exam.closes_at:
        return Availability(False, str(_l("The exam has closed.")))
    if len(attempts) >= exam.max_attempts:
        return Availability(
            False, str(_l("You have used all %(n)d attempts.", n=exam.max_attempts))
        )
    if attempts and exam.wait_hours:
        last = attempts[-1]
        ready = (last.submitted_at or last.deadline_at) + timedelta(
            hours=exam.wait_hours
        )
        if now < ready:
            return Availability(
                False, str(_l("You can try again after the waiting period.")), ready
            )
    return Availability(True)


def start_attempt(
    exam: Exam, user: User, *, language: str, now: datetime | None = None
) -> Attempt:
    """Start an attempt, or return the user's attempt in progress. Draws the form:
    each section's items at random from its pool (no item twice), shuffled when
    the exam says so, options shuffled per examinee. 409 when not allowed."""
    now = now or utcnow()
    allowed = availability(exam, user, now)
    if allowed.in_progress is not None:
        return allowed.in_progress
    if not allowed.allowed:
        raise Invalid("exam", allowed.reason, status=409)
    number = len(attempts_of(exam, user)) + 1
    deadline = now + timedelta(minutes=exam.time_limit_minutes)
    if exam.closes_at:
        deadline = min(deadline, exam.closes_at)
    attempt = Attempt(
        exam_id=exam.id,
        user_id=user.id,
        number=number,
        language="en" if language == "en" else "zh_CN",
        started_at=now,
        deadline_at=deadline,
    )
    db.session.add(attempt)
    db.session.flush()
    drawn: set[int] = set()
    form: list[tuple[ExamSection, ItemVersion]] = []
    for section in exam.sections:
        pool = [item for item in section_pool(section) if item.id not in drawn]
        if len(pool) < section.item_count:
            raise Invalid(
                "exam",
                str(_l("The item bank cannot fill this exam; tell HR.")),
                status=409,
            )
        chosen = _system_random.sample(pool, section.item_count)
        drawn.update(item.id for item in chosen)
        if not exam.shuffle_items:
            chosen.sort(key=lambda item: item.key)
        form.extend((section, item.current) for item in chosen)
    rows = [
        {
            "attempt_id": attempt.id,
            "position": position,
            "section_id": section.id,
            "item_version_id": version.id,
            "option_order": _option_order(
                version.content, shuffle=exam.shuffle_options
            ),
            "max_points": version.max_points,
            "revision": 0,
            "needs_grading": False,
        }
        for position, (section, version) in enumerate(form, start=1)
    ]
    db.session.execute(sa.insert(AttemptItem), rows)  # one batch, not 30 INSERTs
    db.session.expire(attempt, ["items"])
    _log(attempt, "start", user, {"items": len(form)}, at=now)
    db.session.flush()
    return attempt


def _option_order(content: dict[str, Any], *, shuffle: bool) -> list[str] | None:
    """The order options are shown in. Ordering items are always shuffled (the
    authored order is the key); matching shuffles the right-hand column."""
    kind = content["type"]
    if kind in ("single", "multiple", "ordering"):
        ids = [option["id"] for option in content["options"]]
    elif kind == "matching":
        ids = [option["id"] for option in content["options"]["right"]]
    else:
        return None
    if shuffle or kind in ("ordering", "matching"):
        key_order = (content.get("key") or {}).get("order")
        for _ in range(10):  # never show an ordering item already in key order
            _system_random.shuffle(ids)
            if ids != key_order:
                break
    return ids


def expire_if_overdue(attempt: Attempt, now: datetime | None = None) -> bool:
    """Submit an attempt past its deadline with what was saved. True if it was."""
    now = now or utcnow()
    if attempt.status == AttemptStatus.IN_PROGRESS and now >= attempt.deadline_at:
        _submit(attempt, by="timeout", at=attempt.deadline_at)
        return True
    return False


def submit_overdue(now: datetime | None = None) -> int:
    """Submit every attempt past its deadline (run by ``proving-ground assessments
    sweep`` on a schedule; attempts are also submitted when next touched)."""
    now = now or utcnow()
    attempts = db.session.scalars(
        sa.select(Attempt).where(
            Attempt.status == AttemptStatus.IN_PROGRESS, Attempt.deadline_at <= now
        )
    ).all()
    for attempt in attempts:
        expire_if_overdue(attempt, now)
    return len(attempts)


def public_question(row: AttemptItem, language: str | None = None) -> dict[str, Any]:
    """The question of an attempt as its examinee may see it before release:
    ``scoring.public_content`` with the options in the order this examinee was
    shown (matching stores only the right-hand column's order; the left column
    keeps its authored order). ``language`` ("zh"/"en") picks one language."""
    content = row.version.content
    order = row.option_order
    if order is not None and content["type"] == "matching":
        order = [option["id"] for option in content["options"]["left"]] + order
    if language is None:
        return scoring.public_content(content, order=order)
    return scoring.public_content(content, False, order=order, language=language)


def attempt_item(attempt: Attempt, position: int) -> AttemptItem:
    row = db.session.scalar(
        sa.select(AttemptItem).where(
            AttemptItem.attempt_id == attempt.id, AttemptItem.position == position
        )
    )
    if row is None:
        raise Invalid("position", str(_l("No question has this number.")), status=404)
    return row


def save_answer(
    attempt: Attempt, position: int, answer: Any, *, now: datetime | None = None
) -> AttemptItem:
    """Save (or clear, with None) the answer to one question. Idempotent: saving
    the same answer again changes nothing. Refused (409) once the attempt is
    submitted or its deadline has passed — in which case it is submitted now."""
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
    row = attempt_item(attempt, position)
    if isinstance(answer, str) and row.version.type == "numeric":
        answer = answer.strip() or None
    problem = scoring.validate_answer(row.version.content, answer)
    if problem:
        raise Invalid("answer", problem)
    if answer == row.answer and row.answered_at is not None:
        return row
    row.answer = answer
    row.answered_at = now
    row.revision += 1
    db.session.add(
        AttemptEvent(
            attempt_id=attempt.id,
            kind="answer",
            at=now,
            actor_id=attempt.user_id,
            details={"position": position},
        )
    )
    db.session.flush()
    return row


def submit_attempt(attempt: Attempt, *, now: datetime | None = None) -> Attempt:
    """The examinee hands in. Objective items are scored; rubric items go to the
    grading queue; with nothing to grade the results are released at once."""
    now = now or utcnow()
    if expire_if_overdue(attempt, now):
        return attempt
    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise Invalid(
            "attempt", str(_l("The attempt is already submitted.")), status=409
        )
    _submit(attempt, by="examinee", at=now)
    return attempt


def _submit(attempt: Attempt, *, by: str, at: datetime) -> None:
    attempt.status = AttemptStatus.GRADING
    attempt.submitted_at = at
    attempt.submitted_by = by
    pending = 0
    for row in attempt.items:
        if scoring.is_auto_scored(row.version.content):
            _score_item(row)
        elif row.answer in (None, ""):
            row.points, row.correct = 0.0, False  # nothing to grade
        else:
            row.needs_grading = True
            pending += 1
    _log(attempt, "submit" if by == "examinee" else "timeout", None, {"by": by}, at=at)
    db.session.flush()
    if not pending:
        _release(attempt, at)


def _score_item(row: AttemptItem) -> None:
    score = scoring.score_answer(row.version.content, row.answer)
    row.points, row.correct = score.points, score.correct


def _total(attempt: Attempt) -> None:
    """Attempt score, per-section scores and pass/fail from item points."""
    sections: dict[int | None, list[float]] = {}
    for row in attempt.items:
        totals = sections.setdefault(row.section_id, [0.0, 0.0])
        totals[0] += row.points or 0.0
        totals[1] += row.max_points
    points = sum(p for p, _ in sections.values())
    maximum = sum(m for _, m in sections.values())
    attempt.points, attempt.max_points = points, maximum
    attempt.score = points / maximum if maximum else 0.0
    by_id = {section.id: section for section in attempt.exam.sections}
    rows = []
    for section_id, (p, m) in sections.items():
        section = by_id.get(section_id)
        rows.append(
            {
                "section_id": section_id,
                "points": p,
                "max_points": m,
                "share": p / m if m else 0.0,
                "min_score": section.min_score if section else None,
            }
        )
    attempt.section_scores = rows
    passed, _ = scoring.passes(
        attempt.score,
        attempt.exam.cut_score,
        {r["section_id"]: r["share"] for r in rows},
        {r["section_id"]: r["min_score"] for r in rows if r["min_score"] is not None},
    )
    attempt.passed = passed


def _release(attempt: Attempt, at: datetime) -> None:
    _total(attempt)
    attempt.status = AttemptStatus.RELEASED
    attempt.released_at = at
    _log(attempt, "release", None, {"score": attempt.score, "passed": attempt.passed})
    db.session.flush()
    if attempt.passed:
        issue_certificates(attempt.user, attempt, now=at)


# --- grading ---------------------------------------------------------------------


def may_grade(exam: Exam, user: User) -> bool:
    """HR and administrators mark every exam; named graders theirs."""
    return user.has_any_role({Role.HR, Role.ADMIN}) or any(
        g.id == user.id for g in exam.graders
    )


def is_grader(user: User) -> bool:
    """Whether the user may mark any exam (HR, administrators, named graders)."""
    if user.has_any_role({Role.HR, Role.ADMIN}):
        return True
    return (
        db.session.scalar(
            sa.select(exam_graders.c.exam_id)
            .where(exam_graders.c.user_id == user.id)
            .limit(1)
        )
        is not None
    )


def _resolver(user: User) -> bool:
    """Who settles two marks too far apart: HR (and administrators)."""
    return user.has_any_role({Role.HR, Role.ADMIN})


def grading_queue(user: User) -> list[AttemptItem]:
    """Rubric answers the user may mark now, oldest submission first: not their
    own attempts, not answers they marked already, and resolutions (two marks too
    far apart) only for HR."""
    rows = db.session.scalars(
        sa.select(AttemptItem)
        .join(Attempt)
        .where(AttemptItem.needs_grading.is_(True), Attempt.user_id != user.id)
        .order_by(Attempt.submitted_at, AttemptItem.position)
    ).all()
    queue = []
    for row in rows:
        if not may_grade(row.attempt.exam, user):
            continue
        if any(g.grader_id == user.id for g in row.grades):
            continue
        if next_grade_kind(row) == "resolution" and not _resolver(user):
            continue
        queue.append(row)
    return queue


def next_grade_kind(row: AttemptItem) -> str:
    kinds = [g.kind for g in row.grades]
    if not kinds:
        return "first"
    if len(kinds) == 1 and row.attempt.exam.second_marking:
        return "second"
    return "resolution"


def grade_answer(
    row: AttemptItem, grader: User, levels: dict[str, Any], comment: str = ""
) -> Grade:
    """Mark a rubric answer (one level per criterion). With second marking the
    second mark is reconciled with the first: close enough → the mean; too far
    apart → HR resolves. When the attempt has nothing left to grade, its results
    are released."""
    exam = row.attempt.exam
    if not row.needs_grading:
        raise Invalid("item", str(_l("This answer needs no more marks.")), status=409)
    if not may_grade(exam, grader) or row.attempt.user_id == grader.id:
        raise Invalid("grader", str(_l("You may not mark this answer.")), status=403)
    if any(g.grader_id == grader.id for g in row.grades):
        raise Invalid("grader", str(_l("You marked this answer already.")), status=409)
    kind = next_grade_kind(row)
    if kind == "resolution" and not _resolver(grader):
        raise Invalid("grader", str(_l("HR resolves disagreements.")), status=403)
    try:
        points = scoring.rubric_points(
            row.version.content, {str(k): int(v) for k, v in levels.items()}
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise Invalid("levels", str(exc)) from None
    grade = Grade(
        attempt_item_id=row.id,
        grader_id=grader.id,
        kind=kind,
        levels={str(k): int(v) for k, v in levels.items()},
        points=points,
        comment=(comment or "").strip()[:4000],
    )
    db.session.add(grade)
    row.grades.append(grade)
    if kind == "first" and exam.second_marking:
        pass  # waits for a second mark
    elif kind == "second":
        reconciled = scoring.reconcile(
            row.grades[0].points, points, row.max_points, exam.marking_tolerance
        )
        if not reconciled.needs_resolution:
            row.points, row.needs_grading = reconciled.points, False
    else:
        row.points, row.needs_grading = points, False
    if not row.needs_grading:
        row.correct = row.points >= row.max_points
    _log(row.attempt, "grade", grader, {"position": row.position, "kind": kind})
    db.session.flush()
    attempt = row.attempt
    if attempt.status == AttemptStatus.GRADING and not any(
        item.needs_grading for item in attempt.items
    ):
        _release(attempt, utcnow())
    return grade


# --- certificates ----------------------------------------------------------------


def add_months(moment: datetime, months: int) -> datetime:
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def create_certification(data: dict[str, Any], *, actor) -> Certification:
    problems = Problems()
    key = valid_key(data.get("key"), problems)
    name = bilingual_text(data.get("name"), problems, "name")
    description = data.get("description") or {}
    exams = []
    for i, exam_key in enumerate(data.get("exams") or []):
        exam = db.session.scalar(sa.select(Exam).where(Exam.key == exam_key))
        if exam is None:
            problems.add(f"exams.{i}", _l("No exam has this key."))
        exams.append(exam)
    scenarios = []
    for i, scenario_key in enumerate(data.get("scenarios") or []):
        scenario = db.session.scalar(
            sa.select(Scenario).where(Scenario.key == scenario_key)
        )
        if scenario is None:
            problems.add(f"scenarios.{i}", _l("No simulation has this key."))
        scenarios.append(scenario)
    if not exams and not scenarios:
        problems.add(
            "exams", _l("A certification needs at least one exam or simulation.")
        )
    validity = data.get("validity_months", 12)
    if not isinstance(validity, int) or not 1 <= validity <= 120:
        problems.add(
            "validity_months", _l("A whole number from %(a)d to %(b)d.", a=1, b=120)
        )
    renewal = data.get("renewal_window_days", 60)
    if (
        not isinstance(renewal, int)
        or isinstance(renewal, bool)
        or not 0 <= renewal <= 365
    ):
        problems.add(
            "renewal_window_days", _l("A whole number from %(a)d to %(b)d.", a=0, b=365)
        )
    if key and db.session.scalar(
        sa.select(Certification.id).where(Certification.key == key)
    ):
        problems.add("key", _l("This key is taken."))
    problems.raise_if_any()
    certification = Certification(
        key=key,
        name_zh=name["zh"],
        name_en=name["en"],
        description_zh=description.get("zh", ""),
        description_en=description.get("en", ""),
        validity_months=validity,
        renewal_window_days=renewal,
    )
    certification.exams = exams
    certification.scenarios = scenarios
    db.session.add(certification)
    db.session.flush()
    record(
        actor,
        "certification.created",
        f"certification:{certification.id}",
        {"key": key},
    )
    return certification


def certificate_status(certificate: Certificate, now: datetime | None = None) -> str:
    """``valid``, ``expired`` or ``revoked``."""
    if certificate.revoked_at:
        return "revoked"
    if (now or utcnow()) >= certificate.expires_at:
        return "expired"
    return "valid"


def certificates_of(user: User) -> list[Certificate]:
    return list(
        db.session.scalars(
            sa.select(Certificate)
            .where(Certificate.user_id == user.id)
            .order_by(Certificate.issued_at.desc())
        )
    )


def _certificates_from(attempt: Attempt) -> list[Certificate]:
    return [
        c
        for c in db.session.scalars(
            sa.select(Certificate).where(
                Certificate.user_id == attempt.user_id, Certificate.revoked_at.is_(None)
            )
        )
        if attempt.id in c.attempt_ids
    ]


def _passed_simulation(
    user: User, scenario: Scenario, since: datetime
) -> SimulationAttempt | None:
    """The user's latest passed simulation attempt at the scenario submitted
    since ``since`` (passed: d′ and over-reliance within the scenario's bounds,
    decided at submission)."""
    return db.session.scalar(
        sa.select(SimulationAttempt)
        .where(
            SimulationAttempt.scenario_id == scenario.id,
            SimulationAttempt.user_id == user.id,
            SimulationAttempt.passed.is_(True),
            SimulationAttempt.submitted_at >= since,
        )
        .order_by(SimulationAttempt.submitted_at.desc())
        .limit(1)
    )


def issue_certificates(
    user: User, attempt: Attempt | SimulationAttempt, *, now: datetime
) -> list[Certificate]:
    """Certificates earned by this passed attempt (an exam's or a simulation's):
    for each certification that includes its exam or scenario, when the user has
    passed every exam and every simulation of the certification within its
    validity period and holds no valid certificate outside the renewal window
    (inside it, a pass renews: the new certificate runs from now). The
    certificate's ``attempt_ids`` are exam attempts; the simulation attempts are
    named in the audit record."""
    issued = []
    if isinstance(attempt, SimulationAttempt):
        includes = Certification.scenarios.any(Scenario.id == attempt.scenario_id)
    else:
        includes = Certification.exams.any(Exam.id == attempt.exam_id)
    certifications = db.session.scalars(sa.select(Certification).where(includes)).all()
    for certification in certifications:
        since = add_months(now, -certification.validity_months)
        passes = []
        for exam in certification.exams:
            best = db.session.scalar(
                sa.select(Attempt)
                .where(
                    Attempt.exam_id == exam.id,
                    Attempt.user_id == user.id,
                    Attempt.passed.is_(True),
                    Attempt.status == AttemptStatus.RELEASED,
                    Attempt.submitted_at >= since,
                )
                .order_by(Attempt.submitted_at.desc())
                .limit(1)
            )
            passes.append(best)
        simulations = [
            _passed_simulation(user, scenario, since)
            for scenario in certification.scenarios
        ]
        if not all(passes) or not all(simulations):
            continue
        held = [
            c
            for c in certificates_of(user)
            if c.certification_id == certification.id
            and certificate_status(c, now) == "valid"
        ]
        renewal_opens = [
            c.expires_at - timedelta(days=certification.renewal_window_days)
            for c in held
        ]
        if held and all(now < opens for opens in renewal_opens):
            continue
        certificate = Certificate(
            code=_unused_code(),
            certification_id=certification.id,
            user_id=user.id,
            issued_at=now,
            expires_at=add_months(now, certification.validity_months),
            attempt_ids=sorted(a.id for a in passes),
        )
        db.session.add(certificate)
        db.session.flush()
        record(
            None,
            "certificate.issued",
            f"certificate:{certificate.id}",
            {
                "holder": user.email,
                "certification": certification.key,
                "simulation_attempts": sorted(a.id for a in simulations),
            },
            actor_label="system",
        )
        issued.append(certificate)
    return issued


def _unused_code() -> str:
    while True:
        code = credentials.new_code()
        if (
            db.session.scalar(sa.select(Certificate.id).where(Certificate.code == code))
            is None
        ):
            return code


def find_certificate(code: str) -> Certificate | None:
    canonical = credentials.normalise_code(code or "")
    if canonical is None:
        return None
    return db.session.scalar(
        sa.select(Certificate).where(Certificate.code == canonical)
    )


def revoke_certificate(certificate: Certificate, reason: str, *, actor) -> None:
    """Revoke with a reason (shown on the verification page); audited."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("reason", str(_l("Say why the certificate is revoked.")))
    if certificate.revoked_at:
        raise Invalid("certificate", str(_l("Already revoked.")), status=409)
    certificate.revoked_at = utcnow()
    certificate.revoked_reason = reason[:2000]
    db.session.flush()
    record(
        actor,
        "certificate.revoked",
        f"certificate:{certificate.id}",
        {"holder": certificate.user.email, "reason": certificate.revoked_reason},
    )


# --- results and reports -----------------------------------------------------------


def competency_scores(attempts: Iterable[Attempt]) -> dict[int, list[float]]:
    """Competency id (top level) → [points, max_points] over released attempts."""
    totals: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for attempt in attempts:
        if attempt.status != AttemptStatus.RELEASED:
            continue
        for row in attempt.items:
            top = top_competency(row.version.item.competency)
            if top is None:
                continue
            totals[top.id][0] += row.points or 0.0
            totals[top.id][1] += row.max_points
    return dict(totals)


def may_view_results(attempt: Attempt, user: User) -> bool:
    """The examinee, HR and administrators see an attempt; a manager sees the
    released results of members of their team when the exam shares them."""
    if attempt.user_id == user.id or user.has_any_role({Role.HR, Role.ADMIN}):
        return True
    return bool(
        user.has_role(Role.MANAGER)
        and user.team
        and attempt.user.team == user.team
        and attempt.status == AttemptStatus.RELEASED
        and attempt.exam.team_results_visible
    )


def team_results(manager: User, limit: int = 50) -> list[Attempt]:
    """Released attempts of the manager's team members (themselves excluded) at
    exams that share team results, newest first."""
    if not manager.has_role(Role.MANAGER) or not manager.team:
        return []
    return list(
        db.session.scalars(
            sa.select(Attempt)
            .join(User, User.id == Attempt.user_id)
            .join(Exam, Exam.id == Attempt.exam_id)
            .where(
                User.team == manager.team,
                User.id != manager.id,
                Attempt.status == AttemptStatus.RELEASED,
                Exam.team_results_visible.is_(True),
            )
            .order_by(Attempt.submitted_at.desc())
            .limit(limit)
        )
    )


def latest_released(user: User) -> list[Attempt]:
    """The user's latest released attempt per exam."""
    latest: dict[int, Attempt] = {}
    for attempt in db.session.scalars(
        sa.select(Attempt)
        .where(Attempt.user_id == user.id, Attempt.status == AttemptStatus.RELEASED)
        .order_by(Attempt.submitted_at)
    ):
        latest[attempt.exam_id] = attempt
    return list(latest.values())


def capability_profile(user: User) -> list[dict[str, Any]]:
    """Per top-level competency the user was examined on: share of points in
    their latest attempt at each exam, the cut it is measured against (the
    highest cut of those exams) and the gap to it."""
    attempts = latest_released(user)
    totals = competency_scores(attempts)
    cut = max((a.exam.cut_score for a in attempts), default=0.7)
    profile = []
    for competency_id, (points, maximum) in totals.items():
        competency = db.session.get(Competency, competency_id)
        share = points / maximum if maximum else 0.0
        profile.append(
            {
                "competency": competency,
                "share": share,
                "cut": cut,
                "gap": max(0.0, cut - share),
            }
        )
    return sorted(profile, key=lambda row: row["competency"].position)


def results_rows(exam: Exam) -> list[dict[str, Any]]:
    """One row per released attempt: who, team, region, score, pass, sections."""
    rows = []
    for attempt in db.session.scalars(
        sa.select(Attempt)
        .where(Attempt.exam_id == exam.id, Attempt.status == AttemptStatus.RELEASED)
        .order_by(Attempt.submitted_at)
    ):
        row = {
            "attempt": attempt.id,
            "name": attempt.user.display_name,
            "email": attempt.user.email,
            "team": attempt.user.team or "",
            "region": attempt.user.region or "",
            "number": attempt.number,
            "submitted_at": attempt.submitted_at,
            "score": attempt.score,
            "passed": attempt.passed,
        }
        for section in attempt.section_scores or []:
            row[f"section_{section['section_id']}"] = section["share"]
        rows.append(row)
    return rows


def cohort(exam: Exam, by: str = "team") -> list[dict[str, Any]]:
    """Per team (or region): examinees, attempts, pass rate of their latest attempt,
    mean score and mean share per section."""
    if by not in ("team", "region"):
        raise Invalid("by", str(_l("Group by team or region.")))
    latest: dict[str, dict[str, Any]] = {}
    for row in results_rows(exam):
        latest[row["email"]] = row
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in latest.values():
        groups[row[by] or "—"].append(row)
    out = []
    for name, rows in sorted(groups.items()):
        entry = {
            "group": name,
            "examinees": len(rows),
            "pass_rate": sum(bool(r["passed"]) for r in rows) / len(rows),
            "mean_score": sum(r["score"] for r in rows) / len(rows),
        }
        for section in exam.sections:
            shares = [
                r[f"section_{section.id}"] for r in rows if f"section_{section.id}" in r
            ]
            entry[f"section_{section.id}"] = (
                sum(shares) / len(shares) if shares else None
            )
        out.append(entry)
    return out


def create_track(data: dict[str, Any], *, actor) -> PromotionTrack:
    problems = Problems()
    key = valid_key(data.get("key"), problems)
    name = bilingual_text(data.get("name"), problems, "name")
    certifications = []
    for i, cert_key in enumerate(data.get("certifications") or []):
        certification = db.session.scalar(
            sa.select(Certification).where(Certification.key == cert_key)
        )
        if certification is None:
            problems.add(f"certifications.{i}", _l("No certification has this key."))
        certifications.append(certification)
    problems.raise_if_any()
    if key and db.session.scalar(
        sa.select(PromotionTrack.id).where(PromotionTrack.key == key)
    ):
        problems.add("key", _l("This key is taken."))
    problems.raise_if_any()
    track = PromotionTrack(key=key, name_zh=name["zh"], name_en=name["en"])
    track.certifications = certifications
    db.session.add(track)
    db.session.flush()
    record(
        actor, "promotion_track.created", f"promotion_track:{track.id}", {"key": key}
    )
    return track


def eligibility(track: PromotionTrack, now: datetime | None = None) -> list[dict]:
    """Every active user with the certifications of a track they hold (valid) and
    miss; eligible when none is missing. Eligible users first."""
    now = now or utcnow()
    users = db.session.scalars(
        sa.select(User).where(User.active.is_(True)).order_by(User.display_name)
    ).all()
    valid: dict[int, dict[int, Certificate]] = defaultdict(dict)
    for certificate in db.session.scalars(sa.select(Certificate)):
        if certificate_status(certificate, now) == "valid":
            valid[certificate.user_id][certificate.certification_id] = certificate
    rows = []
    for user in users:
        held = valid.get(user.id, {})
        missing = [c for c in track.certifications if c.id not in held]
        rows.append(
            {
                "user": user,
                "held": [held[c.id] for c in track.certifications if c.id in held],
                "missing": missing,
                "eligible": not missing,
            }
        )
    return sorted(rows, key=lambda r: (not r["eligible"], r["user"].display_name))


def expiring_certificates(
    days: int = 60, now: datetime | None = None
) -> list[Certificate]:
    """Valid certificates expiring within ``days``, soonest first."""
    now = now or utcnow()
    return list(
        db.session.scalars(
            sa.select(Certificate)
            .where(
                Certificate.revoked_at.is_(None),
                Certificate.expires_at > now,
                Certificate.expires_at <= now + timedelta(days=days),
            )
            .order_by(Certificate.expires_at)
        )
    )
