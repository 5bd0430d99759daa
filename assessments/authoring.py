"""HR pages of the assessments pillar: capability map, item bank, exams, cut
scores, certifications and reports (roles hr and admin; Angoff judges rate items
on a page of their own).

The forms of these pages live here too. Views parse a form, call one service of
``assessments.services`` and render; a form that does not validate is shown
again with its errors (status 422, so the request's unit of work rolls back).
"""

import csv
import io
import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa
from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    FieldList,
    FloatField,
    Form,
    FormField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
)

from assessments import bp, scoring, services
from assessments.models import (
    Attempt,
    AttemptStatus,
    Certificate,
    Certification,
    Competency,
    Exam,
    ExamStatus,
    Framework,
    Item,
    ItemStatus,
    PromotionTrack,
)
from proving_ground.access import ANY_ROLE, Role, roles_required
from proving_ground.auth.forms import ConfirmForm, MultiCheckboxField
from proving_ground.auth.models import User
from proving_ground.db import db, utcnow
from proving_ground.i18n import current_language
from proving_ground.validation import Invalid

HR = (Role.HR, Role.ADMIN)
ASSETS = Path(__file__).parent / "static"
SECTION_ROWS = 5
EXPIRY_DAYS = 60

ITEM_STATUS_LABELS = {
    ItemStatus.DRAFT: _l("Draft"),
    ItemStatus.ACTIVE: _l("Active"),
    ItemStatus.RETIRED: _l("Retired"),
}
EXAM_STATUS_LABELS = {
    ExamStatus.DRAFT: _l("Draft"),
    ExamStatus.PUBLISHED: _l("Published"),
    ExamStatus.CLOSED: _l("Closed"),
}
ITEM_TYPE_LABELS = {
    "single": _l("Single choice"),
    "multiple": _l("Multiple choice"),
    "true_false": _l("True/false"),
    "numeric": _l("Numeric"),
    "ordering": _l("Ordering"),
    "matching": _l("Matching"),
    "short_text": _l("Short answer"),
    "long_text": _l("Long answer"),
}
CERTIFICATE_STATUS_LABELS = {
    "valid": _l("Valid"),
    "expired": _l("Expired"),
    "revoked": _l("Revoked"),
}
#: Column headers of the report downloads: (zh-CN, en), joined as "中文 English".
REPORT_HEADERS = {
    "attempt": ("作答编号", "Attempt"),
    "name": ("姓名", "Name"),
    "email": ("邮箱", "E-mail"),
    "team": ("团队", "Team"),
    "region": ("区域", "Region"),
    "number": ("第几次作答", "Attempt number"),
    "submitted_at": ("提交时间", "Submitted"),
    "score": ("得分率", "Score"),
    "passed": ("是否通过", "Passed"),
    "group": ("分组", "Group"),
    "examinees": ("考生人数", "Examinees"),
    "pass_rate": ("通过率", "Pass rate"),
    "mean_score": ("平均得分率", "Mean score"),
}
REPORT_TABLES = ("results", "team", "region")
RESULT_COLUMNS = [
    *("attempt", "name", "email", "team", "region", "number", "submitted_at"),
    *("score", "passed"),
]
EXAMPLE_ITEM = {
    "type": "single",
    "points": 1,
    "stem": {
        "zh": "下表中哪个区域的转化率最高？",
        "en": "Which region has the highest conversion rate?",
    },
    "stimulus": {
        "kind": "table",
        "columns": ["区域 Region", "线索 Leads", "成交 Won"],
        "rows": [["华东 East", 400, 52], ["华南 South", 250, 40]],
        "caption": {"zh": "三月数据", "en": "March figures"},
    },
    "options": [
        {"id": "a", "text": {"zh": "华东", "en": "East"}},
        {"id": "b", "text": {"zh": "华南", "en": "South"}},
    ],
    "key": {"option": "b"},
    "feedback": {"zh": "40/250 = 16% > 52/400 = 13%", "en": "40/250 = 16% > 13%"},
}


# --- forms -----------------------------------------------------------------------


def _status_choices(labels) -> list[SelectChoice]:
    return [SelectChoice(key.value, label) for key, label in labels.items()]


class FrameworkForm(FlaskForm):
    """A capability map as the JSON document ``services.create_framework`` takes:
    uploaded as a file or pasted."""

    file = FileField(_l("JSON file"))
    document = TextAreaField(_l("Or paste the JSON"))


class ItemForm(FlaskForm):
    key = StringField(_l("Key"), validators=[DataRequired(), Length(max=64)])
    content = TextAreaField(_l("Content (JSON)"), validators=[DataRequired()])
    competency = SelectField(_l("Competency"), choices=[], validate_choice=False)
    tags = StringField(_l("Tags"), validators=[Length(max=1000)])
    difficulty = SelectField(
        _l("Difficulty"),
        choices=[SelectChoice(str(n), str(n)) for n in range(1, 6)],
        default="3",
    )
    status = SelectField(_l("Status"), choices=_status_choices(ITEM_STATUS_LABELS))


class ItemStatusForm(FlaskForm):
    status = SelectField(_l("Status"), choices=_status_choices(ITEM_STATUS_LABELS))


class KeyCorrectionForm(FlaskForm):
    content = TextAreaField(_l("Content (JSON)"), validators=[DataRequired()])
    reason = TextAreaField(
        _l("Reason"),
        validators=[
            DataRequired(_l("Say why the key is corrected.")),
            Length(max=2000),
        ],
    )


class ImportForm(FlaskForm):
    file = FileField(_l("JSON or CSV file"), validators=[FileRequired()])


class SectionForm(Form):
    """One row of an exam's sections (a sub-form: the parent carries the token).
    A row left blank is ignored."""

    title_zh = StringField(_l("Title (Chinese)"), validators=[Length(max=200)])
    title_en = StringField(_l("Title (English)"), validators=[Length(max=200)])
    competency = SelectField(_l("Competency"), choices=[], validate_choice=False)
    tag = StringField(_l("Tag"), validators=[Length(max=64)])
    item_count = IntegerField(
        _l("Items"), validators=[Optional(), NumberRange(min=1, max=200)]
    )
    min_score = FloatField(
        _l("Section minimum (%)"), validators=[Optional(), NumberRange(min=0, max=100)]
    )

    def is_blank(self) -> bool:
        texts = (self.title_zh, self.title_en, self.competency, self.tag)
        return not any((f.data or "").strip() for f in texts) and not (
            self.item_count.raw_data and self.item_count.raw_data[0].strip()
        )


class ExamForm(FlaskForm):
    key = StringField(_l("Key"), validators=[DataRequired(), Length(max=64)])
    title_zh = StringField(_l("Title (Chinese)"), validators=[Length(max=200)])
    title_en = StringField(_l("Title (English)"), validators=[Length(max=200)])
    description_zh = TextAreaField(_l("Description (Chinese)"))
    description_en = TextAreaField(_l("Description (English)"))
    time_limit_minutes = IntegerField(
        _l("Time limit (minutes)"),
        default=60,
        validators=[InputRequired(), NumberRange(min=1, max=600)],
    )
    opens_at = DateTimeLocalField(
        _l("Opens"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    closes_at = DateTimeLocalField(
        _l("Closes"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )
    max_attempts = IntegerField(
        _l("Maximum attempts"),
        default=3,
        validators=[InputRequired(), NumberRange(min=1, max=20)],
    )
    wait_hours = IntegerField(
        _l("Waiting period between attempts (hours)"),
        default=24,
        validators=[InputRequired(), NumberRange(min=0, max=24 * 365)],
    )
    shuffle_items = BooleanField(_l("Shuffle the items"), default=True)
    shuffle_options = BooleanField(_l("Shuffle the options"), default=True)
    cut_score = FloatField(
        _l("Cut score (%)"),
        default=70,
        validators=[InputRequired(), NumberRange(min=0, max=100)],
    )
    second_marking = BooleanField(_l("Second marking of rubric items"))
    marking_tolerance = FloatField(
        _l("Marking tolerance (points)"),
        default=1,
        validators=[InputRequired(), NumberRange(min=0, max=100)],
    )
    team_results_visible = BooleanField(
        _l("Managers see their team's results"), default=True
    )
    sections = FieldList(
        FormField(SectionForm), min_entries=SECTION_ROWS, max_entries=SECTION_ROWS
    )


class GradersForm(FlaskForm):
    emails = TextAreaField(_l("Graders' e-mail addresses, one per line"))


class InviteJudgeForm(FlaskForm):
    email = StringField(_l("Judge's e-mail"), validators=[DataRequired()])


class AdoptCutForm(FlaskForm):
    cut = FloatField(
        _l("Cut score (%)"),
        validators=[InputRequired(), NumberRange(min=0.1, max=99.9)],
    )
    reason = TextAreaField(_l("Reason"), validators=[Length(max=2000)])


class CertificationForm(FlaskForm):
    key = StringField(_l("Key"), validators=[DataRequired(), Length(max=64)])
    name_zh = StringField(_l("Name (Chinese)"), validators=[Length(max=200)])
    name_en = StringField(_l("Name (English)"), validators=[Length(max=200)])
    description_zh = TextAreaField(_l("Description (Chinese)"))
    description_en = TextAreaField(_l("Description (English)"))
    exams = MultiCheckboxField(_l("Exams"), choices=[])
    validity_months = IntegerField(
        _l("Valid for (months)"),
        default=12,
        validators=[InputRequired(), NumberRange(min=1, max=120)],
    )
    renewal_window_days = IntegerField(
        _l("Renewal opens (days before expiry)"),
        default=60,
        validators=[InputRequired(), NumberRange(min=0, max=365)],
    )


class TrackForm(FlaskForm):
    key = StringField(_l("Key"), validators=[DataRequired(), Length(max=64)])
    name_zh = StringField(_l("Name (Chinese)"), validators=[Length(max=200)])
    name_en = StringField(_l("Name (English)"), validators=[Length(max=200)])
    certifications = MultiCheckboxField(_l("Required certifications"), choices=[])


class RevokeForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason"),
        validators=[
            DataRequired(_l("Say why the certificate is revoked.")),
            Length(max=2000),
        ],
    )


# --- helpers ---------------------------------------------------------------------


def ui_language() -> str:
    """The content language of the page: ``zh`` or ``en``."""
    return "en" if current_language() == "en" else "zh"


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def _local(moment: datetime | None) -> datetime | None:
    """An aware time as a naive local time (for form fields and spreadsheets)."""
    if moment is None:
        return None
    return moment.astimezone(_zone()).replace(tzinfo=None)


def hr_asset_url(filename: str) -> str:
    version = int((ASSETS / filename).stat().st_mtime)
    return url_for("assessments.hr_asset", filename=filename, v=version)


def render_hr(template: str, status: int = 200, **context):
    """Render an HR page with the labels and asset helpers every one uses."""
    language = ui_language()
    context.update(
        lang=language,
        item_status_label=lambda s: ITEM_STATUS_LABELS.get(s, s),
        exam_status_label=lambda s: EXAM_STATUS_LABELS.get(s, s),
        item_type_label=lambda t: ITEM_TYPE_LABELS.get(t, t),
        certificate_status_label=lambda s: CERTIFICATE_STATUS_LABELS.get(s, s),
        certificate_status=services.certificate_status,
        authoring_asset=hr_asset_url,
        bi=lambda obj, name: obj.text(name, language),
        local_time=_local,
    )
    return render_template(f"assessments/{template}", **context), status


def _place_errors(exc: Invalid, target) -> list[str]:
    """Put each message of ``exc`` on the form field ``target(name)`` returns;
    the messages with no field are returned (shown above the form)."""
    unplaced: list[str] = []
    for name, messages in exc.fields.items():
        placed = target(name)
        if placed is None:
            unplaced.extend(f"{name}: {m}" if name else m for m in messages)
        else:
            field, prefix = placed
            field.errors = [
                *field.errors,
                *(f"{prefix}: {m}" if prefix else m for m in messages),
            ]
    return unplaced


def _competency_choices(blank) -> list[SelectChoice]:
    language = ui_language()
    choices = [SelectChoice("", blank)]
    for framework in db.session.scalars(sa.select(Framework).order_by(Framework.id)):
        for competency in _tree_order(framework):
            depth, node = competency
            label = "— " * depth + node.text("name", language)
            choices.append(SelectChoice(node.key, label))
    return choices


def _tree_order(framework: Framework) -> list[tuple[int, Competency]]:
    """The framework's competencies depth first, with their depth."""
    children: dict[int | None, list[Competency]] = {}
    for competency in framework.competencies:
        children.setdefault(competency.parent_id, []).append(competency)
    out: list[tuple[int, Competency]] = []

    def walk(parent: int | None, depth: int) -> None:
        for node in sorted(children.get(parent, []), key=lambda c: c.position):
            out.append((depth, node))
            walk(node.id, depth + 1)

    walk(None, 0)
    return out


def _item_or_404(key: str) -> Item:
    item = db.session.scalar(sa.select(Item).where(Item.key == key))
    if item is None:
        abort(404)
    return item


def exam_or_404(key: str) -> Exam:
    exam = db.session.scalar(sa.select(Exam).where(Exam.key == key))
    if exam is None:
        abort(404)
    return exam


def _user_by_email(email: str) -> User | None:
    return db.session.scalar(
        sa.select(User).where(sa.func.lower(User.email) == email.strip().lower())
    )


def _json_field(field) -> Any:
    """The field's text parsed as JSON; None with an error on the field if not."""
    try:
        return json.loads(field.data or "")
    except json.JSONDecodeError as exc:
        field.errors = [
            *field.errors,
            _(
                "Not valid JSON: %(error)s (line %(line)d, column %(column)d).",
                error=exc.msg,
                line=exc.lineno,
                column=exc.colno,
            ),
        ]
        return None


def _item_view(content: dict[str, Any]) -> dict[str, Any]:
    """What the examinee sees of an item, in the page's language."""
    return scoring.public_content(
        content, language_independent=False, language=ui_language()
    )


def csv_response(text: str, filename: str) -> Response:
    """CSV for download; the BOM lets Excel on Chinese Windows read UTF-8."""
    return Response(
        "\ufeff" + text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- assets ----------------------------------------------------------------------


@bp.route("/hr/assets/<path:filename>")
@roles_required(ANY_ROLE)
def hr_asset(filename: str):
    """The stylesheet and script of these pages (judges need them too)."""
    if not filename.startswith("authoring"):
        abort(404)
    return send_from_directory(ASSETS, filename, max_age=365 * 24 * 3600)


# --- home ------------------------------------------------------------------------


@bp.route("/hr/")
@roles_required(*HR)
def hr_index():
    items_by_status = dict(
        db.session.execute(
            sa.select(Item.status, sa.func.count()).group_by(Item.status)
        ).all()
    )
    exams_by_status = dict(
        db.session.execute(
            sa.select(Exam.status, sa.func.count()).group_by(Exam.status)
        ).all()
    )
    grading = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Attempt)
        .where(Attempt.status == AttemptStatus.GRADING)
    )
    expiring = services.expiring_certificates(EXPIRY_DAYS)
    return render_hr(
        "hr_index.html",
        items_by_status=items_by_status,
        exams_by_status=exams_by_status,
        grading=grading,
        expiring=expiring,
        expiry_days=EXPIRY_DAYS,
        frameworks=db.session.scalar(sa.select(sa.func.count()).select_from(Framework)),
    )


# --- capability map --------------------------------------------------------------


@bp.route("/hr/frameworks", methods=["GET", "POST"])
@roles_required(*HR)
def hr_frameworks():
    form = FrameworkForm()
    problems: list[str] = []
    status = 200
    if form.validate_on_submit():
        text = form.document.data or ""
        if form.file.data:
            text = form.file.data.read().decode("utf-8-sig", errors="replace")
            form.document.data = text
        if not text.strip():
            form.document.errors = [_("Upload a file or paste the JSON.")]
        else:
            data = _json_field(form.document)
            if data is not None and not isinstance(data, dict):
                form.document.errors = [_("Give one JSON object.")]
            elif data is not None:
                try:
                    framework = services.create_framework(data, actor=current_user)
                except Invalid as exc:
                    problems = _place_errors(exc, lambda name: None)
                else:
                    flash(_("Capability map “%(name)s” created.", name=framework.key))
                    return redirect(url_for("assessments.hr_frameworks"))
        status = 422
    elif request.method == "POST":
        status = 422
    frameworks = db.session.scalars(sa.select(Framework).order_by(Framework.id)).all()
    return render_hr(
        "hr_frameworks.html",
        status,
        form=form,
        problems=problems,
        frameworks=[(f, _tree_order(f)) for f in frameworks],
        item_counts=dict(
            db.session.execute(
                sa.select(Item.competency_id, sa.func.count()).group_by(
                    Item.competency_id
                )
            ).all()
        ),
    )


# --- item bank -------------------------------------------------------------------


@bp.route("/hr/items")
@roles_required(*HR)
def hr_items():
    filters = {
        name: request.args.get(name, "").strip()
        for name in ("competency", "tag", "status", "type")
    }
    competency = None
    if filters["competency"]:
        competency = services.competency_by_key(filters["competency"])
        if competency is None:
            filters["competency"] = ""
    if filters["status"] not in {s.value for s in ItemStatus}:
        filters["status"] = ""
    if filters["type"] not in ITEM_TYPE_LABELS:
        filters["type"] = ""
    items = services.list_items(
        competency=competency,
        tag=filters["tag"] or None,
        status=filters["status"] or None,
    )
    if filters["type"]:
        items = [item for item in items if item.current.type == filters["type"]]
    all_tags = sorted(
        {tag for tags in db.session.scalars(sa.select(Item.tags)) for tag in tags}
    )
    return render_hr(
        "hr_items.html",
        items=items,
        filters=filters,
        by_status=Counter(item.status for item in items),
        by_type=Counter(item.current.type for item in items),
        competencies=_competency_choices(_l("Any")),
        all_tags=all_tags,
        statuses=list(ItemStatus),
        types=ITEM_TYPE_LABELS,
    )


def _item_data(form: ItemForm, content: Any) -> dict[str, Any]:
    return {
        "key": (form.key.data or "").strip(),
        "content": content,
        "competency": form.competency.data or None,
        "tags": form.tags.data or "",
        "difficulty": form.difficulty.data,
        "status": form.status.data,
    }


def _item_target(form: ItemForm):
    def target(name: str):
        if name == "content" or name.startswith("content."):
            return form.content, name.removeprefix("content").lstrip(".")
        field = getattr(form, name, None)
        return (field, "") if field is not None and name != "content" else None

    return target


def _item_editor(form: ItemForm, item: Item | None, problems: list[str], status: int):
    return render_hr(
        "author_item_form.html",
        status,
        form=form,
        item=item,
        problems=problems,
        answered=item is not None and services.version_answered(item.current),
    )


@bp.route("/hr/items/new", methods=["GET", "POST"])
@roles_required(*HR)
def hr_item_new():
    form = ItemForm()
    form.competency.choices = _competency_choices(_l("None"))
    if request.method == "GET":
        form.content.data = json.dumps(EXAMPLE_ITEM, ensure_ascii=False, indent=2)
        form.status.data = ItemStatus.DRAFT.value
    problems: list[str] = []
    if form.validate_on_submit():
        content = _json_field(form.content)
        if content is not None:
            try:
                item = services.create_item(
                    _item_data(form, content), actor=current_user
                )
            except Invalid as exc:
                problems = _place_errors(exc, _item_target(form))
            else:
                flash(_("Item %(key)s created.", key=item.key), "success")
                return redirect(url_for("assessments.hr_item", key=item.key))
    status = 422 if request.method == "POST" else 200
    return _item_editor(form, None, problems, status)


@bp.route("/hr/items/<key>/edit", methods=["GET", "POST"])
@roles_required(*HR)
def hr_item_edit(key: str):
    item = _item_or_404(key)
    form = ItemForm()
    form.competency.choices = _competency_choices(_l("None"))
    form.key.data = item.key  # the key is stable: imports and exports use it
    if request.method == "GET":
        form.content.data = json.dumps(
            item.current.content, ensure_ascii=False, indent=2
        )
        form.competency.data = item.competency.key if item.competency else ""
        form.tags.data = ", ".join(item.tags)
        form.difficulty.data = str(item.difficulty)
        form.status.data = item.status
    problems: list[str] = []
    if form.validate_on_submit():
        content = _json_field(form.content)
        if content is not None:
            data = _item_data(form, content)
            del data["key"]
            try:
                services.update_item(item, data, actor=current_user)
            except Invalid as exc:
                problems = _place_errors(exc, _item_target(form))
            else:
                flash(_("Item %(key)s saved.", key=item.key), "success")
                return redirect(url_for("assessments.hr_item", key=item.key))
    status = 422 if request.method == "POST" else 200
    return _item_editor(form, item, problems, status)


@bp.route("/hr/items/validate", methods=["POST"])
@roles_required(*HR)
def hr_item_validate():
    """The live preview's check: the problems of the posted content (JSON)."""
    content = request.get_json(silent=True)
    return {"problems": scoring.validate_content(content)}


@bp.route("/hr/items/<key>")
@roles_required(*HR)
def hr_item(key: str):
    item = _item_or_404(key)
    status_form = ItemStatusForm(status=item.status)
    return render_hr(
        "hr_item.html",
        item=item,
        view=_item_view(item.current.content),
        content=item.current.content,
        status_form=status_form,
        answered=services.version_answered(item.current),
        pretty=lambda c: json.dumps(c, ensure_ascii=False, indent=2),
    )


@bp.route("/hr/items/<key>/status", methods=["POST"])
@roles_required(*HR)
def hr_item_status(key: str):
    item = _item_or_404(key)
    form = ItemStatusForm()
    if form.validate_on_submit():
        services.set_item_status(item, form.status.data, actor=current_user)
        flash(
            _("Status set to %(status)s.", status=ITEM_STATUS_LABELS[form.status.data]),
            "success",
        )
    else:
        flash(_("Choose draft, active or retired."), "error")
    return redirect(url_for("assessments.hr_item", key=item.key))


@bp.route("/hr/items/<key>/correct", methods=["GET", "POST"])
@roles_required(*HR)
def hr_item_correct(key: str):
    item = _item_or_404(key)
    form = KeyCorrectionForm()
    if request.method == "GET":
        form.content.data = json.dumps(
            item.current.content, ensure_ascii=False, indent=2
        )
    problems: list[str] = []
    if form.validate_on_submit():
        content = _json_field(form.content)
        if content is not None:
            try:
                regraded = services.correct_key(
                    item, content, form.reason.data, actor=current_user
                )
            except Invalid as exc:
                problems = _place_errors(
                    exc,
                    lambda name: (
                        (form.reason, "")
                        if name == "reason"
                        else (form.content, name.removeprefix("content").lstrip("."))
                    ),
                )
            else:
                flash(
                    ngettext(
                        "Key corrected; %(num)d attempt regraded.",
                        "Key corrected; %(num)d attempts regraded.",
                        regraded,
                    ),
                    "success",
                )
                return redirect(url_for("assessments.hr_item", key=item.key))
    status = 422 if request.method == "POST" else 200
    return render_hr(
        "author_correct_key.html", status, form=form, item=item, problems=problems
    )


# --- import and export -------------------------------------------------------------

CSV_COLUMNS = ("key", "competency", "tags", "difficulty", "status", "content")


def _read_upload(upload) -> tuple[list[Any], list[dict[str, Any]]]:
    """Records from an uploaded JSON or CSV file, and the rows that could not be
    read at all (bad JSON in a CSV ``content`` cell), numbered from 1."""
    raw = upload.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("gb18030", errors="replace")
    name = (upload.filename or "").lower()
    if name.endswith(".json") or (
        not name.endswith(".csv") and text.lstrip()[:1] in "[{"
    ):
        data = json.loads(text)
        if isinstance(data, dict) and isinstance(data.get("items"), list):
            data = data["items"]
        if not isinstance(data, list):
            raise ValueError(_("Give a JSON list of items."))
        return data, []
    records: list[Any] = []
    unreadable: list[dict[str, Any]] = []
    for number, row in enumerate(csv.DictReader(io.StringIO(text)), start=1):
        record_ = {
            k.strip(): (v or "").strip() for k, v in row.items() if k is not None
        }
        for name in ("competency", "tags", "difficulty", "status"):
            if record_.get(name) == "":
                del record_[name]
        try:
            record_["content"] = json.loads(record_.get("content") or "")
        except json.JSONDecodeError as exc:
            unreadable.append(
                {
                    "row": number,
                    "key": record_.get("key"),
                    "fields": {
                        "content": [_("Not valid JSON: %(error)s.", error=exc.msg)]
                    },
                }
            )
            records.append(None)
            continue
        records.append(record_)
    return records, unreadable


@bp.route("/hr/items/import", methods=["GET", "POST"])
@roles_required(*HR)
def hr_items_import():
    form = ImportForm()
    report = None
    errors: list[dict[str, Any]] = []
    status = 200
    if form.validate_on_submit():
        try:
            records, errors = _read_upload(form.file.data)
        except (ValueError, json.JSONDecodeError) as exc:
            form.file.errors = [_("The file cannot be read: %(error)s", error=exc)]
            status = 422
        else:
            rows = [(n, r) for n, r in enumerate(records, start=1) if r is not None]
            report = services.import_items([r for _n, r in rows], actor=current_user)
            for error in report.errors:
                errors.append({**error, "row": rows[error["row"] - 1][0]})
            errors.sort(key=lambda e: e["row"])
    elif request.method == "POST":
        status = 422
    return render_hr(
        "hr_items_import.html", status, form=form, report=report, errors=errors
    )


@bp.route("/hr/items/export.<fmt>")
@roles_required(*HR)
def hr_items_export(fmt: str):
    items = services.list_items()
    if fmt == "json":
        body = json.dumps(
            [services.export_item(item) for item in items], ensure_ascii=False, indent=2
        )
        return Response(
            body,
            mimetype="application/json",
            headers={"Content-Disposition": 'attachment; filename="items.json"'},
        )
    if fmt != "csv":
        abort(404)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for item in items:
        data = services.export_item(item)
        writer.writerow(
            [
                data["key"],
                data["competency"] or "",
                ",".join(data["tags"]),
                data["difficulty"],
                data["status"],
                json.dumps(data["content"], ensure_ascii=False),
            ]
        )
    return csv_response(out.getvalue(), "items.csv")


# --- exams -----------------------------------------------------------------------


def _exam_data(form: ExamForm, with_sections: bool) -> tuple[dict, list[int]]:
    """The service's exam document, and the form row of each section sent."""
    zone = _zone()
    data: dict[str, Any] = {
        "title": {"zh": form.title_zh.data or "", "en": form.title_en.data or ""},
        "description": {
            "zh": form.description_zh.data or "",
            "en": form.description_en.data or "",
        },
        "time_limit_minutes": form.time_limit_minutes.data,
        "opens_at": form.opens_at.data.replace(tzinfo=zone)
        if form.opens_at.data
        else None,
        "closes_at": form.closes_at.data.replace(tzinfo=zone)
        if form.closes_at.data
        else None,
        "max_attempts": form.max_attempts.data,
        "wait_hours": form.wait_hours.data,
        "shuffle_items": form.shuffle_items.data,
        "shuffle_options": form.shuffle_options.data,
        "cut_score": form.cut_score.data / 100,
        "second_marking": form.second_marking.data,
        "marking_tolerance": form.marking_tolerance.data,
        "team_results_visible": form.team_results_visible.data,
    }
    rows: list[int] = []
    if with_sections:
        data["sections"] = []
        for index, entry in enumerate(form.sections.entries):
            row = entry.form
            if row.is_blank():
                continue
            rows.append(index)
            data["sections"].append(
                {
                    "title": {
                        "zh": row.title_zh.data or "",
                        "en": row.title_en.data or "",
                    },
                    "competency": row.competency.data or None,
                    "tag": (row.tag.data or "").strip() or None,
                    "item_count": row.item_count.data,
                    "min_score": None
                    if row.min_score.data is None
                    else row.min_score.data / 100,
                }
            )
    return data, rows


SECTION_FIELDS = {
    "title": "title_zh",
    "title.zh": "title_zh",
    "title.en": "title_en",
    "competency": "competency",
    "tag": "tag",
    "item_count": "item_count",
    "min_score": "min_score",
    "": "competency",
}
EXAM_FIELDS = {"title": "title_zh", "title.zh": "title_zh", "title.en": "title_en"}


def _exam_target(form: ExamForm, rows: list[int]):
    def target(name: str):
        if name.startswith("sections."):
            _prefix, index, *rest = name.split(".", 2)
            row = form.sections.entries[rows[int(index)]].form
            return getattr(row, SECTION_FIELDS.get(".".join(rest), "competency")), ""
        if name.startswith("description"):
            return form.description_zh, ""
        field = getattr(form, EXAM_FIELDS.get(name, name), None)
        return (field, "") if field is not None and name != "sections" else None

    return target


def _exam_form(exam: Exam | None = None) -> ExamForm:
    form = ExamForm()
    for entry in form.sections.entries:
        entry.form.competency.choices = _competency_choices(_l("— none —"))
    if exam is not None and request.method == "GET":
        form.key.data = exam.key
        for name in (
            "title_zh",
            "title_en",
            "description_zh",
            "description_en",
            "time_limit_minutes",
            "max_attempts",
            "wait_hours",
            "shuffle_items",
            "shuffle_options",
            "second_marking",
            "marking_tolerance",
            "team_results_visible",
        ):
            getattr(form, name).data = getattr(exam, name)
        form.cut_score.data = round(exam.cut_score * 100, 2)
        form.opens_at.data = _local(exam.opens_at)
        form.closes_at.data = _local(exam.closes_at)
        for entry, section in zip(form.sections.entries, exam.sections, strict=False):
            row = entry.form
            row.title_zh.data, row.title_en.data = section.title_zh, section.title_en
            row.competency.data = section.competency.key if section.competency else ""
            row.tag.data = section.tag or ""
            row.item_count.data = section.item_count
            row.min_score.data = (
                None if section.min_score is None else round(section.min_score * 100, 2)
            )
    return form


@bp.route("/hr/exams")
@roles_required(*HR)
def hr_exams():
    exams = db.session.scalars(sa.select(Exam).order_by(Exam.created_at.desc())).all()
    attempts = dict(
        db.session.execute(
            sa.select(Attempt.exam_id, sa.func.count()).group_by(Attempt.exam_id)
        ).all()
    )
    return render_hr("hr_exams.html", exams=exams, attempts=attempts)


@bp.route("/hr/exams/new", methods=["GET", "POST"])
@roles_required(*HR)
def hr_exam_new():
    form = _exam_form()
    problems: list[str] = []
    if form.validate_on_submit():
        data, rows = _exam_data(form, with_sections=True)
        data["key"] = (form.key.data or "").strip()
        try:
            exam = services.create_exam(data, actor=current_user)
        except Invalid as exc:
            problems = _place_errors(exc, _exam_target(form, rows))
        else:
            flash(_("Exam %(key)s created as a draft.", key=exam.key), "success")
            return redirect(url_for("assessments.hr_exam", key=exam.key))
    status = 422 if request.method == "POST" else 200
    return render_hr(
        "hr_exam_form.html",
        status,
        form=form,
        exam=None,
        problems=problems,
        sections_locked=False,
    )


@bp.route("/hr/exams/<key>/edit", methods=["GET", "POST"])
@roles_required(*HR)
def hr_exam_edit(key: str):
    exam = exam_or_404(key)
    form = _exam_form(exam)
    form.key.data = exam.key
    locked = services.has_attempts(exam)
    problems: list[str] = []
    if form.validate_on_submit():
        data, rows = _exam_data(form, with_sections=not locked)
        try:
            services.update_exam(exam, data, actor=current_user)
        except Invalid as exc:
            problems = _place_errors(exc, _exam_target(form, rows))
        else:
            flash(_("Exam %(key)s saved.", key=exam.key), "success")
            return redirect(url_for("assessments.hr_exam", key=exam.key))
    status = 422 if request.method == "POST" else 200
    return render_hr(
        "hr_exam_form.html",
        status,
        form=form,
        exam=exam,
        problems=problems,
        sections_locked=locked,
    )


@bp.route("/hr/exams/<key>")
@roles_required(*HR)
def hr_exam(key: str):
    exam = exam_or_404(key)
    graders_form = GradersForm(emails="\n".join(u.email for u in exam.graders))
    return render_hr(
        "hr_exam.html",
        exam=exam,
        problems=services.exam_problems(exam),
        pools={s.id: len(services.section_pool(s)) for s in exam.sections},
        graders_form=graders_form,
        confirm=ConfirmForm(),
        attempts=db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Attempt)
            .where(Attempt.exam_id == exam.id)
        ),
    )


@bp.route("/hr/exams/<key>/status", methods=["POST"])
@roles_required(*HR)
def hr_exam_status(key: str):
    exam = exam_or_404(key)
    if ConfirmForm().validate_on_submit():
        status = request.form.get("status", "")
        try:
            services.set_exam_status(exam, status, actor=current_user)
        except Invalid as exc:
            for messages in exc.fields.values():
                for message in messages:
                    flash(message, "error")
        else:
            flash(
                _("The exam is now %(status)s.", status=EXAM_STATUS_LABELS[status]),
                "success",
            )
    return redirect(url_for("assessments.hr_exam", key=exam.key))


@bp.route("/hr/exams/<key>/graders", methods=["POST"])
@roles_required(*HR)
def hr_exam_graders(key: str):
    exam = exam_or_404(key)
    form = GradersForm()
    if form.validate_on_submit():
        emails = [e.strip() for e in (form.emails.data or "").splitlines() if e.strip()]
        users, unknown = [], []
        for email in dict.fromkeys(emails):
            user = _user_by_email(email)
            (users if user else unknown).append(user or email)
        if unknown:
            form.emails.errors = [
                _("No user has the e-mail %(emails)s.", emails=", ".join(unknown))
            ]
            return render_hr(
                "hr_exam.html",
                422,
                exam=exam,
                problems=services.exam_problems(exam),
                pools={s.id: len(services.section_pool(s)) for s in exam.sections},
                graders_form=form,
                confirm=ConfirmForm(),
                attempts=0,
            )
        services.set_graders(exam, users, actor=current_user)
        flash(ngettext("%(num)d grader named.", "%(num)d graders named.", len(users)))
    return redirect(url_for("assessments.hr_exam", key=exam.key))


# --- cut scores: modified Angoff -------------------------------------------------


@bp.route("/hr/exams/<key>/angoff")
@roles_required(*HR)
def hr_angoff(key: str):
    exam = exam_or_404(key)
    panel = services.angoff_panel(exam)
    result = panel.result
    adopt_form = AdoptCutForm(cut=round(result.panel_cut * 100, 1) if result else None)
    return render_hr(
        "hr_angoff.html",
        exam=exam,
        panel=panel,
        result=result,
        invite_form=InviteJudgeForm(),
        adopt_form=adopt_form,
        is_judge=services.is_judge(exam, current_user),
    )


@bp.route("/hr/exams/<key>/angoff/invite", methods=["POST"])
@roles_required(*HR)
def hr_angoff_invite(key: str):
    exam = exam_or_404(key)
    form = InviteJudgeForm()
    if form.validate_on_submit():
        user = _user_by_email(form.email.data)
        if user is None:
            flash(
                _("No user has the e-mail %(emails)s.", emails=form.email.data), "error"
            )
        else:
            services.invite_judge(exam, user, actor=current_user)
            flash(_("%(name)s is a judge of this exam.", name=user.display_name))
    return redirect(url_for("assessments.hr_angoff", key=exam.key))


@bp.route("/hr/exams/<key>/angoff/adopt", methods=["POST"])
@roles_required(*HR)
def hr_angoff_adopt(key: str):
    exam = exam_or_404(key)
    form = AdoptCutForm()
    panel = services.angoff_panel(exam)
    if request.form.get("use") == "panel":
        if panel.result is None:
            flash(_("No judge has rated every item yet."), "error")
        else:
            services.adopt_cut_score(exam, panel.result.panel_cut, actor=current_user)
            flash(
                _("Cut score set to %(cut).1f%%.", cut=panel.result.panel_cut * 100),
                "success",
            )
        return redirect(url_for("assessments.hr_angoff", key=exam.key))
    if form.validate_on_submit() and not (form.reason.data or "").strip():
        form.reason.errors = [_("Say why you adopt a cut other than the panel's.")]
    elif form.validate_on_submit():
        cut = form.cut.data / 100
        services.adopt_cut_score(
            exam, cut, actor=current_user, source="other", reason=form.reason.data
        )
        flash(_("Cut score set to %(cut).1f%%.", cut=cut * 100), "success")
        return redirect(url_for("assessments.hr_angoff", key=exam.key))
    return render_hr(
        "hr_angoff.html",
        422,
        exam=exam,
        panel=panel,
        result=panel.result,
        invite_form=InviteJudgeForm(),
        adopt_form=form,
        is_judge=services.is_judge(exam, current_user),
    )


@bp.route("/hr/exams/<key>/angoff/rate", methods=["GET", "POST"])
@roles_required(ANY_ROLE)
def hr_angoff_rate(key: str):
    """A judge's ratings: for each item, the probability (in %) that a minimally
    competent manager answers it right. Only invited judges, whatever their role."""
    exam = exam_or_404(key)
    if not services.is_judge(exam, current_user):
        abort(403)
    form = ConfirmForm()
    panel = services.angoff_panel(exam)
    mine = dict(panel.ratings.get(current_user.id, {}))
    values = {
        item.id: "" if item.id not in mine else f"{mine[item.id] * 100:g}"
        for item in panel.items
    }
    errors: dict[int, list[str]] = {}
    status = 200
    if form.validate_on_submit():
        ratings: dict[int, float] = {}
        for item in panel.items:
            text = request.form.get(f"rating-{item.id}", "").strip()
            values[item.id] = text
            if not text:
                continue
            try:
                percent = float(text)
                if not 0 <= percent <= 100:
                    raise ValueError
            except ValueError:
                errors[item.id] = [_("A percentage from 0 to 100.")]
                continue
            ratings[item.id] = percent / 100
        if not errors:
            try:
                saved = services.rate_items(exam, current_user, ratings)
            except Invalid as exc:
                for name, messages in exc.fields.items():
                    errors[int(name.split(".")[-1])] = messages
            else:
                flash(
                    ngettext("%(num)d rating saved.", "%(num)d ratings saved.", saved),
                    "success",
                )
                return redirect(url_for("assessments.hr_angoff_rate", key=exam.key))
        status = 422
    return render_hr(
        "hr_angoff_rate.html",
        status,
        exam=exam,
        form=form,
        rows=[
            (item, _item_view(item.current.content), item.current.content)
            for item in panel.items
        ],
        values=values,
        errors=errors,
        rated=sum(1 for v in values.values() if v != ""),
    )


# --- certifications and promotion tracks ------------------------------------------


def _bilingual_target(form):
    names = {"name": "name_zh", "name.zh": "name_zh", "name.en": "name_en"}

    def target(name: str):
        base = name.split(".")[0]
        if base in ("exams", "certifications"):
            return getattr(form, base), ""
        field = getattr(form, names.get(name, name), None)
        return (field, "") if field is not None else None

    return target


@bp.route("/hr/certifications", methods=["GET", "POST"])
@roles_required(*HR)
def hr_certifications():
    form = CertificationForm()
    language = ui_language()
    exams = db.session.scalars(sa.select(Exam).order_by(Exam.key)).all()
    form.exams.choices = [
        SelectChoice(e.key, f"{e.text('title', language)} ({e.key})") for e in exams
    ]
    problems: list[str] = []
    status = 200
    if form.validate_on_submit():
        data = {
            "key": (form.key.data or "").strip(),
            "name": {"zh": form.name_zh.data or "", "en": form.name_en.data or ""},
            "description": {
                "zh": form.description_zh.data or "",
                "en": form.description_en.data or "",
            },
            "exams": form.exams.data,
            "validity_months": form.validity_months.data,
            "renewal_window_days": form.renewal_window_days.data,
        }
        try:
            certification = services.create_certification(data, actor=current_user)
        except Invalid as exc:
            problems = _place_errors(exc, _bilingual_target(form))
        else:
            flash(_("Certification %(key)s created.", key=certification.key), "success")
            return redirect(url_for("assessments.hr_certifications"))
        status = 422
    elif request.method == "POST":
        status = 422
    certifications = db.session.scalars(
        sa.select(Certification).order_by(Certification.id)
    ).all()
    holders = dict(
        db.session.execute(
            sa.select(Certificate.certification_id, sa.func.count())
            .where(Certificate.revoked_at.is_(None), Certificate.expires_at > utcnow())
            .group_by(Certificate.certification_id)
        ).all()
    )
    return render_hr(
        "hr_certifications.html",
        status,
        form=form,
        problems=problems,
        certifications=certifications,
        holders=holders,
    )


@bp.route("/hr/tracks", methods=["GET", "POST"])
@roles_required(*HR)
def hr_tracks():
    form = TrackForm()
    language = ui_language()
    certifications = db.session.scalars(
        sa.select(Certification).order_by(Certification.key)
    ).all()
    form.certifications.choices = [
        SelectChoice(c.key, c.text("name", language)) for c in certifications
    ]
    problems: list[str] = []
    status = 200
    if form.validate_on_submit():
        data = {
            "key": (form.key.data or "").strip(),
            "name": {"zh": form.name_zh.data or "", "en": form.name_en.data or ""},
            "certifications": form.certifications.data,
        }
        try:
            track = services.create_track(data, actor=current_user)
        except Invalid as exc:
            problems = _place_errors(exc, _bilingual_target(form))
        else:
            flash(_("Promotion track %(key)s created.", key=track.key), "success")
            return redirect(url_for("assessments.hr_track", key=track.key))
        status = 422
    elif request.method == "POST":
        status = 422
    tracks = db.session.scalars(
        sa.select(PromotionTrack).order_by(PromotionTrack.id)
    ).all()
    return render_hr(
        "hr_tracks.html", status, form=form, problems=problems, tracks=tracks
    )


@bp.route("/hr/tracks/<key>")
@roles_required(*HR)
def hr_track(key: str):
    track = db.session.scalar(
        sa.select(PromotionTrack).where(PromotionTrack.key == key)
    )
    if track is None:
        abort(404)
    rows = services.eligibility(track)
    return render_hr(
        "hr_track.html",
        track=track,
        rows=rows,
        eligible=sum(1 for r in rows if r["eligible"]),
    )


@bp.route("/hr/certificates")
@roles_required(*HR)
def hr_certificates():
    try:
        days = max(1, min(int(request.args.get("days", EXPIRY_DAYS)), 3650))
    except ValueError:
        days = EXPIRY_DAYS
    q = request.args.get("q", "").strip()
    query = (
        sa.select(Certificate)
        .join(User, User.id == Certificate.user_id)
        .order_by(Certificate.issued_at.desc())
        .limit(200)
    )
    if q:
        like = f"%{q.lower()}%"
        query = query.where(
            sa.or_(
                sa.func.lower(User.email).like(like),
                sa.func.lower(User.display_name).like(like),
                sa.func.lower(Certificate.code).like(like),
            )
        )
    return render_hr(
        "hr_certificates.html",
        days=days,
        q=q,
        expiring=services.expiring_certificates(days),
        certificates=db.session.scalars(query).unique().all(),
        revoke_form=RevokeForm(),
        now=utcnow(),
    )


@bp.route("/hr/certificates/<code>/revoke", methods=["POST"])
@roles_required(*HR)
def hr_certificate_revoke(code: str):
    certificate = services.find_certificate(code)
    if certificate is None:
        abort(404)
    form = RevokeForm()
    if form.validate_on_submit():
        try:
            services.revoke_certificate(
                certificate, form.reason.data, actor=current_user
            )
        except Invalid as exc:
            flash(exc.message, "error")
        else:
            flash(_("Certificate %(code)s revoked.", code=certificate.code), "success")
    else:
        for messages in form.errors.values():
            for message in messages:
                flash(message, "error")
    return redirect(url_for("assessments.hr_certificates"))


# --- reports ---------------------------------------------------------------------


def _header(name: str, exam: Exam) -> str:
    if name.startswith("section_"):
        section_id = int(name.removeprefix("section_"))
        section = next((s for s in exam.sections if s.id == section_id), None)
        if section is not None:
            return f"{section.title_zh} {section.title_en}"
    zh, en = REPORT_HEADERS.get(name, (name, name))
    return f"{zh} {en}"


def _report_rows(exam: Exam, table: str) -> list[dict[str, Any]]:
    if table == "results":
        return services.results_rows(exam)
    return services.cohort(exam, by=table)


def _frame(exam: Exam, table: str) -> pd.DataFrame:
    """A report table with bilingual headers: times local, shares as 0..1."""
    rows = _report_rows(exam, table)
    columns = (
        list(RESULT_COLUMNS)
        if table == "results"
        else ["group", "examinees", "pass_rate", "mean_score"]
    )
    columns += [f"section_{s.id}" for s in exam.sections]
    records = []
    for row in rows:
        record_ = {name: row.get(name) for name in columns}
        if "submitted_at" in record_:
            record_["submitted_at"] = _local(record_["submitted_at"])
        records.append(record_)
    frame = pd.DataFrame.from_records(records, columns=columns)
    return frame.rename(columns={name: _header(name, exam) for name in columns})


@bp.route("/hr/reports")
@roles_required(*HR)
def hr_reports():
    exams = db.session.scalars(sa.select(Exam).order_by(Exam.created_at.desc())).all()
    summary = {}
    for exam in exams:
        rows = services.results_rows(exam)
        summary[exam.id] = (
            len(rows),
            sum(bool(r["passed"]) for r in rows) / len(rows) if rows else None,
        )
    return render_hr("hr_reports.html", exams=exams, summary=summary)


@bp.route("/hr/reports/<key>")
@roles_required(*HR)
def hr_report(key: str):
    exam = exam_or_404(key)
    results = services.results_rows(exam)
    return render_hr(
        "hr_report.html",
        exam=exam,
        results=results,
        teams=services.cohort(exam, by="team"),
        regions=services.cohort(exam, by="region"),
        pass_rate=sum(bool(r["passed"]) for r in results) / len(results)
        if results
        else None,
        tables=REPORT_TABLES,
    )


@bp.route("/hr/reports/<key>/<table>.<fmt>")
@roles_required(*HR)
def hr_report_download(key: str, table: str, fmt: str):
    exam = exam_or_404(key)
    if table not in REPORT_TABLES:
        abort(404)
    return _download(_frame(exam, table), f"{exam.key}-{table}", fmt)


def _download(frame: pd.DataFrame, filename: str, fmt: str) -> Response:
    """A table as CSV (with a BOM for Excel) or as an Excel workbook."""
    if fmt == "csv":
        return csv_response(frame.to_csv(index=False), f"{filename}.csv")
    if fmt != "xlsx":
        abort(404)
    out = io.BytesIO()
    frame.to_excel(out, index=False, sheet_name=filename[:31], engine="openpyxl")
    return Response(
        out.getvalue(),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'},
    )


@bp.route("/hr/tracks/<key>/eligibility.<fmt>")
@roles_required(*HR)
def hr_track_download(key: str, fmt: str):
    """The promotion-eligibility list of a track, bilingual headers."""
    track = db.session.scalar(
        sa.select(PromotionTrack).where(PromotionTrack.key == key)
    )
    if track is None:
        abort(404)
    rows = [
        {
            "姓名 Name": r["user"].display_name,
            "邮箱 E-mail": r["user"].email,
            "团队 Team": r["user"].team or "",
            "区域 Region": r["user"].region or "",
            "有效证书 Valid certificates": ", ".join(
                f"{c.certification.name_zh} {c.certification.name_en} ({c.code})"
                for c in r["held"]
            ),
            "缺少 Missing": ", ".join(f"{c.name_zh} {c.name_en}" for c in r["missing"]),
            "符合资格 Eligible": r["eligible"],
        }
        for r in services.eligibility(track)
    ]
    return _download(pd.DataFrame.from_records(rows), f"{track.key}-eligibility", fmt)


@bp.route("/hr/certificates/expiring.<fmt>")
@roles_required(*HR)
def hr_expiring_download(fmt: str):
    """Certificates expiring within ``?days=`` (default 60), soonest first."""
    try:
        days = max(1, min(int(request.args.get("days", EXPIRY_DAYS)), 3650))
    except ValueError:
        days = EXPIRY_DAYS
    rows = [
        {
            "姓名 Name": c.user.display_name,
            "邮箱 E-mail": c.user.email,
            "团队 Team": c.user.team or "",
            "认证 Certification": " ".join(
                (c.certification.name_zh, c.certification.name_en)
            ),
            "证书编号 Code": c.code,
            "到期 Expires": _local(c.expires_at),
        }
        for c in services.expiring_certificates(days)
    ]
    return _download(pd.DataFrame.from_records(rows), f"expiring-{days}d", fmt)
