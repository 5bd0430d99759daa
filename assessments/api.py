"""The assessments JSON API: items, exams, attempts, grading, cut scores and
certificates.

Integrity: whatever an examinee can receive about a question is built from
``scoring.public_content`` in the attempt's option order; answer keys, feedback
and rubric levels join the payload only once the attempt's results are released.
Someone else's attempt is a 404 unless the caller may see it (HR, or the
examinee's manager for released results of an exam that shares them).
"""

import csv
import io
import json
import math
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import Response, current_app, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_smorest import Blueprint, abort

from assessments import credentials, services
from assessments.models import (
    Attempt,
    AttemptItem,
    AttemptStatus,
    Certificate,
    Competency,
    Exam,
    ExamStatus,
    Item,
)
from proving_ground.access import ANY_ROLE, Role, public, roles_required
from proving_ground.api import PaginationArgs, page_schema, paginate
from proving_ground.auth import services as auth_services
from proving_ground.auth.models import User
from proving_ground.db import db, utcnow, writes_on_read
from proving_ground.i18n import current_language
from proving_ground.validation import Invalid, Problems

assessments_api = Blueprint(
    "assessments_api",
    __name__,
    url_prefix="/api/v1/assessments",
    description="Item bank, exams, attempts, grading and certificates.",
)

STAFF = (Role.HR, Role.ADMIN)
CSV_COLUMNS = ("key", "competency", "tags", "difficulty", "status", "content")


def _is_staff() -> bool:
    return current_user.has_any_role(STAFF)


def json_body(schema: type[ma.Schema]) -> dict:
    """An OpenAPI request body of ``schema`` as JSON (for bodies that services
    validate themselves)."""
    return {"content": {"application/json": {"schema": schema}}}


def json_request() -> dict:
    """The JSON object in the request body (services check its fields)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, message="The body must be a JSON object.")
    return data


def grading_criteria(rubric: dict[str, Any]) -> list[dict[str, Any]]:
    """A rubric's criteria as a grader receives them, each level with its index."""
    return [
        {
            "id": criterion["id"],
            "name": criterion["name"],
            "levels": [
                {
                    "index": index,
                    "points": level["points"],
                    "description": level["description"],
                }
                for index, level in enumerate(criterion["levels"])
            ],
        }
        for criterion in rubric["criteria"]
    ]


def page_of(rows: list, args: dict[str, Any]) -> dict[str, Any]:
    """One page of an in-memory list, in the shape of ``paginate``."""
    config = current_app.config
    per_page = min(
        args.get("per_page") or config["API_PER_PAGE_DEFAULT"],
        config["API_PER_PAGE_MAX"],
    )
    page = args.get("page", 1)
    return {
        "items": rows[(page - 1) * per_page : page * per_page],
        "page": page,
        "per_page": per_page,
        "total": len(rows),
        "pages": math.ceil(len(rows) / per_page),
    }


def _bilingual(obj: Any, name: str) -> dict[str, str]:
    return {"zh": getattr(obj, f"{name}_zh"), "en": getattr(obj, f"{name}_en")}


# --- schemas ----------------------------------------------------------------------


class TextsSchema(ma.Schema):
    zh = ma.fields.String()
    en = ma.fields.String()


class ItemSchema(ma.Schema):
    """An item as HR sees it; ``content`` (with the key) only for one item."""

    key = ma.fields.String(metadata={"example": "di-012"})
    competency = ma.fields.String(allow_none=True)
    tags = ma.fields.List(ma.fields.String())
    difficulty = ma.fields.Integer(metadata={"description": "1 (easy) to 5 (hard)"})
    status = ma.fields.String(metadata={"enum": ["draft", "active", "retired"]})
    type = ma.fields.String(dump_only=True)
    version = ma.fields.Integer(dump_only=True)
    max_points = ma.fields.Float(dump_only=True)
    stem = ma.fields.Nested(TextsSchema, dump_only=True)
    answered = ma.fields.Boolean(
        dump_only=True,
        metadata={"description": "Editing the content will create a new version"},
    )
    content = ma.fields.Dict(
        metadata={"description": "Stem, options, key, rubric, feedback, stimulus"}
    )
    updated_at = ma.fields.AwareDateTime(dump_only=True)


class ItemFilterArgs(PaginationArgs):
    competency = ma.fields.String(metadata={"description": "Competency key (subtree)"})
    tag = ma.fields.String()
    status = ma.fields.String(metadata={"enum": ["draft", "active", "retired"]})


class ExportArgs(ma.Schema):
    format = ma.fields.String(
        load_default="json", validate=ma.validate.OneOf(["json", "csv"])
    )
    competency = ma.fields.String()
    tag = ma.fields.String()
    status = ma.fields.String()


class StatusSchema(ma.Schema):
    status = ma.fields.String(required=True)


class KeyCorrectionSchema(ma.Schema):
    content = ma.fields.Dict(required=True)
    reason = ma.fields.String(required=True)


class KeyCorrectionResultSchema(ma.Schema):
    item = ma.fields.Nested(ItemSchema)
    regraded = ma.fields.Integer(metadata={"description": "Attempts regraded"})


class ImportErrorSchema(ma.Schema):
    row = ma.fields.Integer(metadata={"description": "1 = the first record"})
    key = ma.fields.String(allow_none=True)
    fields = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.List(ma.fields.String())
    )


class ImportResultSchema(ma.Schema):
    created = ma.fields.List(ma.fields.String())
    updated = ma.fields.List(ma.fields.String())
    errors = ma.fields.List(ma.fields.Nested(ImportErrorSchema))


#: The import's request body: a JSON array of items, or a CSV file.
IMPORT_BODY = {
    "content": {
        "application/json": {"schema": {"type": "array", "items": ItemSchema}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        },
    }
}


class SectionSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    position = ma.fields.Integer(dump_only=True)
    title = ma.fields.Nested(TextsSchema)
    competency = ma.fields.String(allow_none=True)
    tag = ma.fields.String(allow_none=True)
    item_count = ma.fields.Integer()
    min_score = ma.fields.Float(allow_none=True)


class AvailabilitySchema(ma.Schema):
    allowed = ma.fields.Boolean()
    reason = ma.fields.String()
    next_at = ma.fields.AwareDateTime(allow_none=True)
    in_progress = ma.fields.Integer(
        allow_none=True, metadata={"description": "Id of the attempt in progress"}
    )
    attempts_used = ma.fields.Integer()


class ExamSchema(ma.Schema):
    key = ma.fields.String(metadata={"example": "data-literacy-2026"})
    title = ma.fields.Nested(TextsSchema)
    description = ma.fields.Nested(TextsSchema)
    status = ma.fields.String(dump_only=True)
    time_limit_minutes = ma.fields.Integer()
    opens_at = ma.fields.AwareDateTime(allow_none=True)
    closes_at = ma.fields.AwareDateTime(allow_none=True)
    max_attempts = ma.fields.Integer()
    wait_hours = ma.fields.Integer()
    shuffle_items = ma.fields.Boolean()
    shuffle_options = ma.fields.Boolean()
    cut_score = ma.fields.Float(metadata={"description": "Share, 0.7 = 70 %"})
    second_marking = ma.fields.Boolean()
    marking_tolerance = ma.fields.Float()
    team_results_visible = ma.fields.Boolean()
    sections = ma.fields.List(ma.fields.Nested(SectionSchema))
    graders = ma.fields.List(
        ma.fields.String(), metadata={"description": "E-mails (HR only)"}
    )
    availability = ma.fields.Nested(AvailabilitySchema, dump_only=True)


class ExamFilterArgs(PaginationArgs):
    status = ma.fields.String(metadata={"description": "HR only"})


class ExamRefSchema(ma.Schema):
    key = ma.fields.String()
    title = ma.fields.Nested(TextsSchema)


class PersonSchema(ma.Schema):
    name = ma.fields.String()
    email = ma.fields.String()


class SectionScoreSchema(ma.Schema):
    id = ma.fields.Integer(allow_none=True)
    title = ma.fields.Nested(TextsSchema, allow_none=True)
    points = ma.fields.Float()
    max_points = ma.fields.Float()
    share = ma.fields.Float()
    min_score = ma.fields.Float(allow_none=True)


class CompetencyScoreSchema(ma.Schema):
    key = ma.fields.String()
    name = ma.fields.Nested(TextsSchema)
    points = ma.fields.Float()
    max_points = ma.fields.Float()
    share = ma.fields.Float()


class MarkSchema(ma.Schema):
    kind = ma.fields.String()
    points = ma.fields.Float()
    levels = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    comment = ma.fields.String()


class QuestionSchema(ma.Schema):
    position = ma.fields.Integer()
    section = ma.fields.Dict(allow_none=True, metadata={"description": "id, title"})
    type = ma.fields.String()
    content = ma.fields.Dict(
        metadata={"description": "What the examinee may see (no key, no feedback)"}
    )
    answer = ma.fields.Raw(allow_none=True)
    revision = ma.fields.Integer()
    answered_at = ma.fields.AwareDateTime(allow_none=True)
    # Once released:
    points = ma.fields.Float(allow_none=True)
    max_points = ma.fields.Float()
    correct = ma.fields.Boolean(allow_none=True)
    feedback = ma.fields.Dict(allow_none=True)
    correct_answer = ma.fields.Dict(allow_none=True)
    rubric = ma.fields.Dict(allow_none=True)
    marks = ma.fields.List(ma.fields.Nested(MarkSchema))


class AttemptSummarySchema(ma.Schema):
    id = ma.fields.Integer()
    exam = ma.fields.Nested(ExamRefSchema)
    examinee = ma.fields.Nested(PersonSchema)
    number = ma.fields.Integer()
    status = ma.fields.String(metadata={"enum": [s.value for s in AttemptStatus]})
    language = ma.fields.String()
    started_at = ma.fields.AwareDateTime()
    deadline_at = ma.fields.AwareDateTime()
    submitted_at = ma.fields.AwareDateTime(allow_none=True)
    submitted_by = ma.fields.String(allow_none=True)
    released_at = ma.fields.AwareDateTime(allow_none=True)
    score = ma.fields.Float(metadata={"description": "Once released"})
    points = ma.fields.Float()
    max_points = ma.fields.Float()
    passed = ma.fields.Boolean()


class AttemptSchema(AttemptSummarySchema):
    server_time = ma.fields.AwareDateTime()
    seconds_left = ma.fields.Integer()
    questions = ma.fields.List(ma.fields.Nested(QuestionSchema))
    sections = ma.fields.List(ma.fields.Nested(SectionScoreSchema))
    competencies = ma.fields.List(ma.fields.Nested(CompetencyScoreSchema))


class AttemptFilterArgs(PaginationArgs):
    exam = ma.fields.String(metadata={"description": "Exam key"})
    status = ma.fields.String(metadata={"enum": [s.value for s in AttemptStatus]})


class AnswerSchema(ma.Schema):
    answer = ma.fields.Raw(
        required=True,
        allow_none=True,
        metadata={"description": "Option id(s), true/false, number, order, text"},
    )


class SavedAnswerSchema(ma.Schema):
    position = ma.fields.Integer()
    revision = ma.fields.Integer()
    answered_at = ma.fields.AwareDateTime(allow_none=True)
    seconds_left = ma.fields.Integer()


class RubricLevelSchema(ma.Schema):
    index = ma.fields.Integer()
    points = ma.fields.Float()
    description = ma.fields.Nested(TextsSchema)


class CriterionSchema(ma.Schema):
    id = ma.fields.String()
    name = ma.fields.Nested(TextsSchema)
    levels = ma.fields.List(ma.fields.Nested(RubricLevelSchema))


class GradingTaskSchema(ma.Schema):
    """A rubric answer to mark, without the examinee's name."""

    id = ma.fields.Integer(metadata={"description": "Attempt item id"})
    exam = ma.fields.Nested(ExamRefSchema)
    position = ma.fields.Integer()
    kind = ma.fields.String(metadata={"enum": ["first", "second", "resolution"]})
    type = ma.fields.String()
    stem = ma.fields.Nested(TextsSchema)
    stimulus = ma.fields.Dict(allow_none=True)
    max_points = ma.fields.Float()
    criteria = ma.fields.List(ma.fields.Nested(CriterionSchema))
    answer = ma.fields.String(allow_none=True)
    marks = ma.fields.List(
        ma.fields.Nested(MarkSchema),
        metadata={"description": "Earlier marks, for a resolution only"},
    )


class GradeInSchema(ma.Schema):
    levels = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(),
        required=True,
        metadata={"description": "Criterion id → chosen level index (from 0)"},
    )
    comment = ma.fields.String(load_default="")


class GradeOutSchema(ma.Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String()
    points = ma.fields.Float()
    needs_grading = ma.fields.Boolean(
        metadata={"description": "The answer still waits for a mark"}
    )


class AngoffItemSchema(ma.Schema):
    key = ma.fields.String()
    type = ma.fields.String()
    stem = ma.fields.Nested(TextsSchema)
    max_points = ma.fields.Float()
    ratings = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Float(),
        metadata={"description": "Judge e-mail → probability"},
    )


class AngoffJudgeSchema(ma.Schema):
    email = ma.fields.String()
    name = ma.fields.String()
    rated = ma.fields.Integer()
    cut = ma.fields.Float(allow_none=True)


class AngoffPanelSchema(ma.Schema):
    exam = ma.fields.String()
    cut_score = ma.fields.Float(metadata={"description": "The adopted cut"})
    items = ma.fields.List(ma.fields.Nested(AngoffItemSchema))
    judges = ma.fields.List(ma.fields.Nested(AngoffJudgeSchema))
    panel_cut = ma.fields.Float(allow_none=True)
    standard_error = ma.fields.Float(allow_none=True)


class JudgeInviteSchema(ma.Schema):
    email = ma.fields.Email(required=True)


class RatingsResultSchema(ma.Schema):
    rated = ma.fields.Integer()
    cut = ma.fields.Float(
        allow_none=True, metadata={"description": "Your cut, once you rated all"}
    )


class CutScoreSchema(ma.Schema):
    cut_score = ma.fields.Float(required=True, metadata={"example": 0.68})


class CertificationRefSchema(ma.Schema):
    key = ma.fields.String()
    name = ma.fields.Nested(TextsSchema)


class VerificationSchema(ma.Schema):
    """What anyone holding the code may see."""

    code = ma.fields.String(metadata={"example": "K7QM-3XHD-9PTA-WR2F"})
    holder = ma.fields.String(metadata={"description": "The holder's name"})
    certification = ma.fields.Nested(CertificationRefSchema)
    issued_at = ma.fields.AwareDateTime()
    expires_at = ma.fields.AwareDateTime()
    status = ma.fields.String(metadata={"enum": ["valid", "expired", "revoked"]})
    revoked_at = ma.fields.AwareDateTime(allow_none=True)
    revoked_reason = ma.fields.String(allow_none=True)
    badge_url = ma.fields.String()


class CertificateSchema(VerificationSchema):
    holder_email = ma.fields.String()
    attempt_ids = ma.fields.List(ma.fields.Integer())


class RevokeSchema(ma.Schema):
    reason = ma.fields.String(required=True)


# --- items ------------------------------------------------------------------------


def item_json(item: Item, *, content: bool = False) -> dict:
    version = item.current
    out = {
        "key": item.key,
        "competency": item.competency.key if item.competency else None,
        "tags": item.tags,
        "difficulty": item.difficulty,
        "status": item.status,
        "type": version.type,
        "version": version.number,
        "max_points": version.max_points,
        "stem": version.content["stem"],
        "updated_at": item.updated_at,
    }
    if content:
        out["content"] = version.content
        out["answered"] = services.version_answered(version)
    return out


def _item_or_404(key: str) -> Item:
    item = db.session.scalar(sa.select(Item).where(Item.key == key))
    if item is None:
        abort(404, message=f"No item with key {key}.")
    return item


def _filtered_items(args: dict[str, Any]) -> list[Item]:
    competency = None
    if args.get("competency"):
        competency = services.competency_by_key(args["competency"])
        if competency is None:
            raise Invalid("competency", str(_l("No competency has this key.")))
    return services.list_items(
        competency=competency, tag=args.get("tag"), status=args.get("status")
    )


@assessments_api.route("/items")
@roles_required(STAFF)
@assessments_api.arguments(ItemFilterArgs, location="query")
@assessments_api.response(200, page_schema(ItemSchema))
def list_items(args):
    """The item bank by key, filtered by competency (with its sub-competencies),
    tag and status."""
    page = page_of(_filtered_items(args), args)
    return {**page, "items": [item_json(item) for item in page["items"]]}


@assessments_api.route("/items", methods=["POST"])
@roles_required(STAFF)
@assessments_api.doc(requestBody=json_body(ItemSchema))
@assessments_api.response(201, ItemSchema)
def create_item():
    """Add an item (key, competency, tags, difficulty, status, content)."""
    return item_json(
        services.create_item(json_request(), actor=current_user), content=True
    )


@assessments_api.route("/items/export")
@roles_required(STAFF)
@assessments_api.arguments(ExportArgs, location="query")
@assessments_api.response(200, description="The items with their keys, JSON or CSV")
def export_items(args):
    """Every matching item in the import format (``format=json`` or ``csv``)."""
    records = [services.export_item(item) for item in _filtered_items(args)]
    if args["format"] == "json":
        return Response(
            json.dumps(records, ensure_ascii=False, indent=2),
            mimetype="application/json",
            headers={"Content-Disposition": 'attachment; filename="items.json"'},
        )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for record in records:
        writer.writerow(
            [
                record["key"],
                record["competency"] or "",
                ", ".join(record["tags"]),
                record["difficulty"],
                record["status"],
                json.dumps(record["content"], ensure_ascii=False),
            ]
        )
    return Response(
        "\ufeff" + out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="items.csv"'},
    )


def _csv_records(data: bytes) -> tuple[list[tuple[int, dict]], list[dict]]:
    """The rows of an item CSV as import records (numbered from 1), and the rows
    whose content is not JSON."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise Invalid("file", str(_l("The file is not text.")))
    reader = csv.DictReader(io.StringIO(text))
    columns = {name.strip() for name in reader.fieldnames or []}
    if not {"key", "content"} <= columns:
        raise Invalid(
            "file", str(_l("The CSV needs the columns key and content at least."))
        )
    records, errors = [], []
    for number, raw in enumerate(reader, start=1):
        row = {
            (name or "").strip(): (value or "").strip() for name, value in raw.items()
        }
        record: dict[str, Any] = {"key": row.get("key", "")}
        for name in ("competency", "tags", "difficulty", "status"):
            if row.get(name):
                record[name] = row[name]
        if row.get("content"):
            try:
                record["content"] = json.loads(row["content"])
            except ValueError:
                errors.append(
                    {
                        "row": number,
                        "key": record["key"] or None,
                        "fields": {"content": [str(_l("The content is not JSON."))]},
                    }
                )
                continue
        records.append((number, record))
    return records, errors


@assessments_api.route("/items/import", methods=["POST"])
@roles_required(STAFF)
@assessments_api.doc(requestBody=IMPORT_BODY)
@assessments_api.response(200, ImportResultSchema)
def import_items():
    """Create or update items from a JSON array (as exported) or a CSV file in the
    field ``file`` (columns key, competency, tags, difficulty, status, content as
    JSON). Good rows are kept; each bad row is reported (rows counted from 1)."""
    upload = request.files.get("file")
    if upload is not None:
        numbered, errors = _csv_records(upload.read())
    else:
        data = request.get_json(silent=True)
        if isinstance(data, dict):
            data = data.get("items")
        if not isinstance(data, list):
            raise Invalid("items", str(_l("Send a JSON array of items or a CSV file.")))
        numbered, errors = list(enumerate(data, start=1)), []
    report = services.import_items(
        [record for _, record in numbered], actor=current_user
    )
    for error in report.errors:
        error["row"] = numbered[error["row"] - 1][0]
    return {
        "created": report.created,
        "updated": report.updated,
        "errors": sorted(errors + report.errors, key=lambda e: e["row"]),
    }


@assessments_api.route("/items/<key>")
@roles_required(STAFF)
@assessments_api.response(200, ItemSchema)
def get_item(key):
    """One item with its current content, answer key included."""
    return item_json(_item_or_404(key), content=True)


@assessments_api.route("/items/<key>", methods=["PATCH"])
@roles_required(STAFF)
@assessments_api.doc(requestBody=json_body(ItemSchema))
@assessments_api.response(200, ItemSchema)
def update_item(key):
    """Change an item; new content is a new version once the item was answered."""
    item = services.update_item(_item_or_404(key), json_request(), actor=current_user)
    return item_json(item, content=True)


@assessments_api.route("/items/<key>/status", methods=["POST"])
@roles_required(STAFF)
@assessments_api.arguments(StatusSchema)
@assessments_api.response(200, ItemSchema)
def set_item_status(data, key):
    """Make an item draft, active (drawn into exams) or retired."""
    item = _item_or_404(key)
    services.set_item_status(item, data["status"], actor=current_user)
    return item_json(item, content=True)


@assessments_api.route("/items/<key>/correct-key", methods=["POST"])
@roles_required(STAFF)
@assessments_api.arguments(KeyCorrectionSchema)
@assessments_api.response(200, KeyCorrectionResultSchema)
def correct_key(data, key):
    """Correct the current version's key in place and regrade every attempt given
    it (certificates follow); audited with the reason."""
    item = _item_or_404(key)
    regraded = services.correct_key(
        item, data["content"], data["reason"], actor=current_user
    )
    return {"item": item_json(item, content=True), "regraded": regraded}


# --- exams ------------------------------------------------------------------------


def availability_json(exam: Exam, user: User) -> dict:
    availability = services.availability(exam, user)
    return {
        "allowed": availability.allowed,
        "reason": availability.reason,
        "next_at": availability.next_at,
        "in_progress": (
            availability.in_progress.id if availability.in_progress else None
        ),
        "attempts_used": len(services.attempts_of(exam, user)),
    }


def exam_json(exam: Exam) -> dict:
    out = {
        "key": exam.key,
        "title": _bilingual(exam, "title"),
        "description": _bilingual(exam, "description"),
        "status": exam.status,
        "time_limit_minutes": exam.time_limit_minutes,
        "opens_at": exam.opens_at,
        "closes_at": exam.closes_at,
        "max_attempts": exam.max_attempts,
        "wait_hours": exam.wait_hours,
        "shuffle_items": exam.shuffle_items,
        "shuffle_options": exam.shuffle_options,
        "cut_score": exam.cut_score,
        "second_marking": exam.second_marking,
        "marking_tolerance": exam.marking_tolerance,
        "team_results_visible": exam.team_results_visible,
        "sections": [
            {
                "id": section.id,
                "position": section.position,
                "title": _bilingual(section, "title"),
                "competency": section.competency.key if section.competency else None,
                "tag": section.tag,
                "item_count": section.item_count,
                "min_score": section.min_score,
            }
            for section in exam.sections
        ],
        "availability": availability_json(exam, current_user),
    }
    if _is_staff():
        out["graders"] = [user.email for user in exam.graders]
    return out


def _exam_or_404(key: str, *, staff: bool = False) -> Exam:
    """The exam; drafts (and with ``staff`` every exam) only for HR and admins."""
    exam = db.session.scalar(sa.select(Exam).where(Exam.key == key))
    hidden = exam is not None and exam.status == ExamStatus.DRAFT
    if exam is None or ((hidden or staff) and not _is_staff()):
        abort(404, message=f"No exam with key {key}.")
    return exam


def graders_from(data: dict[str, Any]) -> list[User] | None:
    """The users named by e-mail in ``graders`` (None when not given)."""
    if "graders" not in data:
        return None
    emails = data.pop("graders")
    problems = Problems()
    if not isinstance(emails, list):
        problems.add("graders", _l("A list of e-mail addresses."))
        emails = []
    users = []
    for i, email in enumerate(emails):
        user = (
            auth_services.get_user_by_email(email) if isinstance(email, str) else None
        )
        if user is None:
            problems.add(f"graders.{i}", _l("No user has this e-mail address."))
        users.append(user)
    problems.raise_if_any()
    return users


@assessments_api.route("/exams")
@roles_required(ANY_ROLE)
@assessments_api.arguments(ExamFilterArgs, location="query")
@assessments_api.response(200, page_schema(ExamSchema))
def list_exams(args):
    """Published exams with the caller's availability (may they start, why not,
    when next, the attempt in progress); HR and admins see every exam."""
    stmt = sa.select(Exam).order_by(Exam.created_at.desc(), Exam.id.desc())
    if not _is_staff():
        stmt = stmt.where(Exam.status == ExamStatus.PUBLISHED)
    elif args.get("status"):
        stmt = stmt.where(Exam.status == args["status"])
    page = paginate(stmt, args)
    return {**page, "items": [exam_json(exam) for exam in page["items"]]}


@assessments_api.route("/exams", methods=["POST"])
@roles_required(STAFF)
@assessments_api.doc(requestBody=json_body(ExamSchema))
@assessments_api.response(201, ExamSchema)
def create_exam():
    """A draft exam with its sections (and optionally its named graders)."""
    data = json_request()
    graders = graders_from(data)
    exam = services.create_exam(data, actor=current_user)
    if graders is not None:
        services.set_graders(exam, graders, actor=current_user)
    return exam_json(exam)


@assessments_api.route("/exams/<key>")
@roles_required(ANY_ROLE)
@assessments_api.response(200, ExamSchema)
def get_exam(key):
    """One exam with the caller's availability."""
    return exam_json(_exam_or_404(key))


@assessments_api.route("/exams/<key>", methods=["PATCH"])
@roles_required(STAFF)
@assessments_api.doc(requestBody=json_body(ExamSchema))
@assessments_api.response(200, ExamSchema)
def update_exam(key):
    """Change an exam's settings, graders, and sections until someone starts it."""
    exam = _exam_or_404(key)
    data = json_request()
    graders = graders_from(data)
    if data:
        services.update_exam(exam, data, actor=current_user)
    if graders is not None:
        services.set_graders(exam, graders, actor=current_user)
    return exam_json(exam)


@assessments_api.route("/exams/<key>/status", methods=["POST"])
@roles_required(STAFF)
@assessments_api.arguments(StatusSchema)
@assessments_api.response(200, ExamSchema)
def set_exam_status(data, key):
    """Publish (409 with the reasons when the bank cannot fill it), close or
    return an exam to draft."""
    exam = _exam_or_404(key)
    services.set_exam_status(exam, data["status"], actor=current_user)
    return exam_json(exam)


# --- attempts ---------------------------------------------------------------------


def _seconds_left(attempt: Attempt, now) -> int:
    if attempt.status != AttemptStatus.IN_PROGRESS:
        return 0
    return max(0, math.floor((attempt.deadline_at - now).total_seconds()))


def question_json(row: AttemptItem, *, released: bool) -> dict:
    out = {
        "position": row.position,
        "section": (
            {"id": row.section.id, "title": _bilingual(row.section, "title")}
            if row.section
            else None
        ),
        "type": row.version.type,
        "content": services.public_question(row),
        "answer": row.answer,
        "revision": row.revision,
        "answered_at": row.answered_at,
        "max_points": row.max_points,
    }
    if released:
        content = row.version.content
        out |= {
            "points": row.points,
            "correct": row.correct,
            "feedback": content.get("feedback"),
            "correct_answer": content.get("key"),
            "rubric": content.get("rubric"),
            "marks": [
                {
                    "kind": grade.kind,
                    "points": grade.points,
                    "levels": grade.levels,
                    "comment": grade.comment,
                }
                for grade in row.grades
            ],
        }
    return out


def attempt_summary_json(attempt: Attempt) -> dict:
    out = {
        "id": attempt.id,
        "exam": {"key": attempt.exam.key, "title": _bilingual(attempt.exam, "title")},
        "examinee": {"name": attempt.user.display_name, "email": attempt.user.email},
        "number": attempt.number,
        "status": attempt.status,
        "language": attempt.language,
        "started_at": attempt.started_at,
        "deadline_at": attempt.deadline_at,
        "submitted_at": attempt.submitted_at,
        "submitted_by": attempt.submitted_by,
        "released_at": attempt.released_at,
    }
    if attempt.status == AttemptStatus.RELEASED:
        out |= {
            "score": attempt.score,
            "points": attempt.points,
            "max_points": attempt.max_points,
            "passed": attempt.passed,
        }
    return out


def attempt_json(attempt: Attempt) -> dict:
    now = utcnow()
    released = attempt.status == AttemptStatus.RELEASED
    out = attempt_summary_json(attempt) | {
        "server_time": now,
        "seconds_left": _seconds_left(attempt, now),
        "questions": [question_json(row, released=released) for row in attempt.items],
    }
    if released:
        titles = {s.id: _bilingual(s, "title") for s in attempt.exam.sections}
        out["sections"] = [
            {
                "id": row["section_id"],
                "title": titles.get(row["section_id"]),
                "points": row["points"],
                "max_points": row["max_points"],
                "share": row["share"],
                "min_score": row["min_score"],
            }
            for row in attempt.section_scores or []
        ]
        out["competencies"] = []
        for competency_id, (points, maximum) in services.competency_scores(
            [attempt]
        ).items():
            competency = db.session.get(Competency, competency_id)
            out["competencies"].append(
                {
                    "key": competency.key,
                    "name": _bilingual(competency, "name"),
                    "points": points,
                    "max_points": maximum,
                    "share": points / maximum if maximum else 0.0,
                }
            )
    return out


def _team_condition(user: User):
    """Attempts a manager may see of their team's members: released, of exams that
    share team results."""
    return sa.and_(
        Attempt.user_id.in_(sa.select(User.id).where(User.team == user.team)),
        Attempt.status == AttemptStatus.RELEASED,
        Attempt.exam_id.in_(
            sa.select(Exam.id).where(Exam.team_results_visible.is_(True))
        ),
    )


def _may_view(attempt: Attempt) -> bool:
    return services.may_view_results(attempt, current_user)


def _attempt_or_404(attempt_id: int) -> Attempt:
    """An attempt the caller may see; anyone else's is "not found"."""
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None or not _may_view(attempt):
        abort(404, message=f"No attempt {attempt_id}.")
    return attempt


def _own_attempt(attempt_id: int) -> Attempt:
    attempt = _attempt_or_404(attempt_id)
    if attempt.user_id != current_user.id:
        abort(403, message="Only the examinee answers and submits an attempt.")
    return attempt


@assessments_api.route("/exams/<key>/attempts", methods=["POST"])
@roles_required(ANY_ROLE)
@assessments_api.response(201, AttemptSchema)
@assessments_api.alt_response(200, schema=AttemptSchema, description="Resumed")
def start_attempt(key):
    """Start an attempt (201), or resume the one in progress (200). 409 when the
    exam is not open, the attempts are used up or the waiting period runs."""
    exam = _exam_or_404(key)
    in_progress = services.availability(exam, current_user).in_progress
    attempt = services.start_attempt(exam, current_user, language=current_language())
    return attempt_json(attempt), 200 if attempt is in_progress else 201


@assessments_api.route("/attempts")
@roles_required(ANY_ROLE)
@writes_on_read
@assessments_api.arguments(AttemptFilterArgs, location="query")
@assessments_api.response(200, page_schema(AttemptSummarySchema))
def list_attempts(args):
    """The caller's attempts, newest first; HR and admins see all, a manager also
    the released attempts of their team where the exam shares team results."""
    user = current_user
    stmt = sa.select(Attempt).order_by(Attempt.started_at.desc(), Attempt.id.desc())
    if not _is_staff():
        visible = Attempt.user_id == user.id
        if user.has_role(Role.MANAGER) and user.team:
            visible = sa.or_(visible, _team_condition(user))
        stmt = stmt.where(visible)
    if args.get("exam"):
        stmt = stmt.where(
            Attempt.exam_id.in_(sa.select(Exam.id).where(Exam.key == args["exam"]))
        )
    if args.get("status"):
        stmt = stmt.where(Attempt.status == args["status"])
    page = paginate(stmt, args)
    for attempt in page["items"]:
        if attempt.user_id == user.id:
            services.expire_if_overdue(attempt)
    return {**page, "items": [attempt_summary_json(a) for a in page["items"]]}


@assessments_api.route("/attempts/<int:attempt_id>")
@roles_required(ANY_ROLE)
@writes_on_read
@assessments_api.response(200, AttemptSchema)
def get_attempt(attempt_id):
    """An attempt with its questions and saved answers; scores, feedback and the
    correct answers once its results are released."""
    attempt = _attempt_or_404(attempt_id)
    services.expire_if_overdue(attempt)
    return attempt_json(attempt)


@assessments_api.route(
    "/attempts/<int:attempt_id>/answers/<int:position>", methods=["PUT"]
)
@roles_required(ANY_ROLE)
@assessments_api.arguments(AnswerSchema)
@assessments_api.response(200, SavedAnswerSchema)
def save_answer(data, attempt_id, position):
    """Save (or clear, with null) the answer to one question. Saving the same
    answer again keeps its revision. 409 once submitted or past the deadline (the
    attempt is then submitted with what was saved)."""
    attempt = _own_attempt(attempt_id)
    row = services.save_answer(attempt, position, data["answer"])
    return {
        "position": row.position,
        "revision": row.revision,
        "answered_at": row.answered_at,
        "seconds_left": _seconds_left(attempt, utcnow()),
    }


@assessments_api.route("/attempts/<int:attempt_id>/submit", methods=["POST"])
@roles_required(ANY_ROLE)
@assessments_api.response(200, AttemptSchema)
def submit_attempt(attempt_id):
    """Hand in: objective items are scored; results are released at once unless
    rubric answers wait for graders."""
    attempt = _own_attempt(attempt_id)
    return attempt_json(services.submit_attempt(attempt))


# --- grading ----------------------------------------------------------------------


def _marks(row: AttemptItem) -> list[dict]:
    return [
        {"kind": g.kind, "points": g.points, "levels": g.levels, "comment": g.comment}
        for g in row.grades
    ]


def grading_task_json(row: AttemptItem) -> dict:
    content = row.version.content
    exam = row.attempt.exam
    kind = services.next_grade_kind(row)
    return {
        "id": row.id,
        "exam": {"key": exam.key, "title": _bilingual(exam, "title")},
        "position": row.position,
        "kind": kind,
        "type": row.version.type,
        "stem": content["stem"],
        "stimulus": content.get("stimulus"),
        "max_points": row.max_points,
        "criteria": grading_criteria(content["rubric"]),
        "answer": row.answer,
        "marks": _marks(row) if kind == "resolution" else [],
    }


@assessments_api.route("/grading")
@roles_required(ANY_ROLE)
@assessments_api.response(200, GradingTaskSchema(many=True))
def grading_queue():
    """Rubric answers the caller may mark (HR, or a named grader of the exam),
    oldest first, without the examinee's name: blind marking."""
    return [grading_task_json(row) for row in services.grading_queue(current_user)]


@assessments_api.route("/grading/<int:attempt_item_id>", methods=["POST"])
@roles_required(ANY_ROLE)
@assessments_api.arguments(GradeInSchema)
@assessments_api.response(201, GradeOutSchema)
def grade(data, attempt_item_id):
    """Mark a rubric answer: one level per criterion and an optional comment."""
    row = db.session.get(AttemptItem, attempt_item_id)
    if row is None:
        abort(404, message=f"No answer {attempt_item_id} to mark.")
    grade = services.grade_answer(row, current_user, data["levels"], data["comment"])
    return {
        "id": grade.id,
        "kind": grade.kind,
        "points": grade.points,
        "needs_grading": row.needs_grading,
    }


# --- cut scores -------------------------------------------------------------------


def angoff_json(exam: Exam, *, full: bool) -> dict:
    """The panel; with ``full`` False (a judge who is not HR) only the items and
    the caller's own ratings, without keys."""
    panel = services.angoff_panel(exam)
    emails = {judge.id: judge.email for judge in panel.judges}
    shown = (
        panel.ratings
        if full
        else {current_user.id: panel.ratings.get(current_user.id, {})}
    )
    items = []
    for item in panel.items:
        items.append(
            {
                "key": item.key,
                "type": item.current.type,
                "stem": item.current.content["stem"],
                "max_points": item.current.max_points,
                "ratings": {
                    emails.get(judge_id, str(judge_id)): ratings[item.id]
                    for judge_id, ratings in shown.items()
                    if item.id in ratings
                },
            }
        )
    cuts = panel.result.judge_cuts if panel.result else {}
    judges = [
        {
            "email": judge.email,
            "name": judge.display_name,
            "rated": len(panel.ratings.get(judge.id, {})),
            "cut": cuts.get(judge.id),
        }
        for judge in panel.judges
        if full or judge.id == current_user.id
    ]
    out = {"exam": exam.key, "items": items, "judges": judges}
    if full:
        out |= {
            "cut_score": exam.cut_score,
            "panel_cut": panel.result.panel_cut if panel.result else None,
            "standard_error": panel.result.standard_error if panel.result else None,
        }
    return out


@assessments_api.route("/exams/<key>/angoff")
@roles_required(ANY_ROLE)
@assessments_api.response(200, AngoffPanelSchema)
def get_angoff(key):
    """The modified-Angoff panel: items, judges, each judge's cut, the panel cut
    and its standard error (HR and admins). An invited judge sees the items and
    their own ratings."""
    exam = db.session.scalar(sa.select(Exam).where(Exam.key == key))
    if exam is None or not (_is_staff() or services.is_judge(exam, current_user)):
        abort(404, message=f"No exam with key {key}.")
    return angoff_json(exam, full=_is_staff())


@assessments_api.route("/exams/<key>/angoff/judges", methods=["POST"])
@roles_required(STAFF)
@assessments_api.arguments(JudgeInviteSchema)
@assessments_api.response(201, AngoffPanelSchema)
def invite_judge(data, key):
    """Invite a judge by e-mail (any role)."""
    exam = _exam_or_404(key, staff=True)
    user = auth_services.get_user_by_email(data["email"])
    if user is None:
        raise Invalid("email", str(_l("No user has this e-mail address.")))
    services.invite_judge(exam, user, actor=current_user)
    return angoff_json(exam, full=True)


@assessments_api.route("/exams/<key>/angoff/ratings", methods=["PUT"])
@roles_required(ANY_ROLE)
@assessments_api.doc(
    requestBody={
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "additionalProperties": {"type": "number"},
                    "example": {"di-001": 0.7, "di-002": 0.45},
                }
            }
        }
    }
)
@assessments_api.response(200, RatingsResultSchema)
def rate_items(key):
    """The caller's probabilities (0-1), per item key, that a minimally competent
    manager answers each item correctly. Only invited judges may rate."""
    exam = db.session.scalar(sa.select(Exam).where(Exam.key == key))
    if exam is None:
        abort(404, message=f"No exam with key {key}.")
    if not services.is_judge(exam, current_user):
        raise Invalid("judge", str(_l("You are not a judge of this exam.")), status=403)
    items = {item.key: item for item in services.angoff_items(exam)}
    problems = Problems()
    ratings = {}
    for item_key, value in json_request().items():
        if item_key not in items:
            problems.add(item_key, _l("Not an item of this exam."))
        else:
            ratings[items[item_key].id] = value
    problems.raise_if_any()
    keys = {item.id: item.key for item in items.values()}
    try:
        rated = services.rate_items(exam, current_user, ratings)
    except Invalid as exc:
        raise Invalid(
            {
                keys.get(int(name.removeprefix("item.")), name)
                if name.removeprefix("item.").isdigit()
                else name: messages
                for name, messages in exc.fields.items()
            },
            status=exc.status,
        ) from None
    result = services.angoff_panel(exam).result
    cut = result.judge_cuts.get(current_user.id) if result else None
    return {"rated": rated, "cut": cut}


@assessments_api.route("/exams/<key>/cut-score", methods=["POST"])
@roles_required(STAFF)
@assessments_api.arguments(CutScoreSchema)
@assessments_api.response(200, ExamSchema)
def adopt_cut_score(data, key):
    """Adopt a cut score (a share of the maximum score); audited with the panel's
    figures."""
    exam = _exam_or_404(key, staff=True)
    services.adopt_cut_score(exam, data["cut_score"], actor=current_user)
    return exam_json(exam)


# --- certificates -----------------------------------------------------------------


def verification_json(certificate: Certificate) -> dict:
    return {
        "code": certificate.code,
        "holder": certificate.user.display_name,
        "certification": {
            "key": certificate.certification.key,
            "name": _bilingual(certificate.certification, "name"),
        },
        "issued_at": certificate.issued_at,
        "expires_at": certificate.expires_at,
        "status": services.certificate_status(certificate),
        "revoked_at": certificate.revoked_at,
        "revoked_reason": certificate.revoked_reason,
        "badge_url": url_for(
            "assessments_api.certificate_badge", code=certificate.code, _external=True
        ),
    }


def certificate_json(certificate: Certificate) -> dict:
    return verification_json(certificate) | {
        "holder_email": certificate.user.email,
        "attempt_ids": certificate.attempt_ids,
    }


def _certificate_or_404(code: str) -> Certificate:
    certificate = services.find_certificate(code)
    if certificate is None:
        abort(404, message="No certificate has this code.")
    return certificate


@assessments_api.route("/certificates")
@roles_required(ANY_ROLE)
@assessments_api.arguments(PaginationArgs, location="query")
@assessments_api.response(200, page_schema(CertificateSchema))
def list_certificates(args):
    """The caller's certificates, newest first; HR and admins see all."""
    stmt = sa.select(Certificate).order_by(
        Certificate.issued_at.desc(), Certificate.id.desc()
    )
    if not _is_staff():
        stmt = stmt.where(Certificate.user_id == current_user.id)
    page = paginate(stmt, args)
    return {**page, "items": [certificate_json(c) for c in page["items"]]}


@assessments_api.route("/certificates/<code>")
@public
@assessments_api.response(200, VerificationSchema)
def verify_certificate(code):
    """Public verification: holder, certification, dates and status (valid,
    expired or revoked, with the reason). Codes may be typed loosely."""
    return verification_json(_certificate_or_404(code))


@assessments_api.route("/certificates/<code>/badge")
@public
@assessments_api.response(
    200, description="An Open Badges 3.0 AchievementCredential (application/ld+json)"
)
def certificate_badge(code):
    """The certificate as an Open Badges 3.0 ``AchievementCredential``; its ``id``
    is the verification URL, which shows whether it is still valid. 410 once
    revoked."""
    certificate = _certificate_or_404(code)
    if certificate.revoked_at:
        abort(410, message=str(_l("This certificate was revoked.")))
    language = "en" if current_language() == "en" else "zh"
    certification = certificate.certification
    credential_url = url_for(
        "assessments.verify_code", code=certificate.code, _external=True
    )
    exams = "; ".join(exam.text("title", language) for exam in certification.exams)
    badge = credentials.open_badge(
        credential_url=credential_url,
        issuer={
            "id": request.host_url,
            "name": str(_l("Proving Ground")),
            "url": request.host_url,
        },
        holder={
            "id": f"{credential_url}#holder",
            "name": certificate.user.display_name,
        },
        achievement={
            "id": f"urn:proving-ground:{request.host}:certification:"
            f"{certification.key}",
            "name": certification.text("name", language),
            "description": certification.text("description", language),
            "criteria": str(_l("Pass every exam of: %(exams)s.", exams=exams)),
        },
        issued_at=certificate.issued_at,
        expires_at=certificate.expires_at,
    )
    return Response(
        json.dumps(badge, ensure_ascii=False, indent=2),
        mimetype="application/ld+json",
        headers={
            "Content-Disposition": (
                f'attachment; filename="certificate-{certificate.code}.json"'
            )
        },
    )


@assessments_api.route("/certificates/<code>/revoke", methods=["POST"])
@roles_required(STAFF)
@assessments_api.arguments(RevokeSchema)
@assessments_api.response(200, CertificateSchema)
def revoke_certificate(data, code):
    """Revoke with a reason, shown on verification; audited."""
    certificate = _certificate_or_404(code)
    services.revoke_certificate(certificate, data["reason"], actor=current_user)
    return certificate_json(certificate)
