"""HR pages of item analysis: an exam's analysis (attempt selector, test summary,
item table with flags, distractors, CSV import and export) and external exams."""

import sqlalchemy as sa
from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from assessments import item_analysis, psychometrics
from assessments.authoring import HR, csv_response, exam_or_404, render_hr
from assessments.models import Attempt, AttemptStatus, Exam
from assessments.views import bp
from proving_ground.access import roles_required
from proving_ground.db import db
from proving_ground.validation import Invalid

ATTEMPT_LABELS = {
    "first": _l("First attempts"),
    "last": _l("Last attempts"),
    "best": _l("Best attempts"),
    "all": _l("All attempts"),
}


class ResponsesForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[FileRequired()])


class ExternalExamForm(FlaskForm):
    key = StringField(_l("Key"), validators=[DataRequired(), Length(max=64)])
    title_zh = StringField(
        _l("Title (Chinese)"), validators=[DataRequired(), Length(max=200)]
    )
    title_en = StringField(
        _l("Title (English)"), validators=[DataRequired(), Length(max=200)]
    )


def attempts_mode() -> str:
    mode = request.args.get("attempts", "first")
    return mode if mode in item_analysis.ATTEMPT_MODES else "first"


def _model() -> str | None:
    model = request.args.get("model")
    return model if model in item_analysis.MODELS else None


def _page(exam: Exam, mode: str, form: ResponsesForm, report=None, status=200):
    model = _model()
    analysis = item_analysis.item_analysis(exam, mode, model)
    released = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Attempt)
        .where(Attempt.exam_id == exam.id, Attempt.status == AttemptStatus.RELEASED)
    )
    few = [
        item
        for item in (analysis or {}).get("items", [])
        if any(flag["code"] == "few_responses" for flag in item["flags"])
    ]
    return render_hr(
        "analysis_exam.html",
        status,
        exam=exam,
        analysis=analysis,
        few=few,
        min_responses=psychometrics.MIN_RESPONSES,
        mode=mode,
        model=model,
        attempt_labels=ATTEMPT_LABELS,
        released=released,
        imported=item_analysis.response_count(exam),
        form=form,
        report=report,
    )


@bp.route("/hr/exams/<key>/item-analysis")
@roles_required(*HR)
def hr_exam_item_analysis(key: str):
    exam = exam_or_404(key)
    return _page(exam, attempts_mode(), ResponsesForm())[0]


@bp.route("/hr/exams/<key>/item-analysis", methods=["POST"])
@roles_required(*HR)
def hr_exam_item_analysis_import(key: str):
    """Import responses from the uploaded CSV; the page shows each refused row."""
    exam = exam_or_404(key)
    form = ResponsesForm()
    report = None
    if form.validate_on_submit():
        try:
            report = item_analysis.import_responses(
                exam, form.file.data.read(), actor=current_user
            )
        except Invalid as exc:
            form.file.errors = [
                f"{name}: {message}" if name != "body" else message
                for name, messages in exc.fields.items()
                for message in messages
            ]
        else:
            flash(
                _("%(n)d rows imported.", n=report.accepted),
                "success" if not report.errors else "warning",
            )
    status = 200 if report is not None else 422
    return _page(exam, attempts_mode(), form, report, status)


@bp.route("/hr/exams/<key>/item-analysis.csv")
@roles_required(*HR)
def hr_exam_item_analysis_csv(key: str):
    exam = exam_or_404(key)
    mode = attempts_mode()
    analysis = item_analysis.item_analysis(exam, mode)
    return csv_response(
        item_analysis.analysis_csv(analysis), item_analysis.csv_filename(exam, mode)
    )


@bp.route("/hr/exams/external", methods=["GET", "POST"])
@roles_required(*HR)
def hr_exams_external():
    """External exams (responses collected elsewhere) and a form to add one."""
    form = ExternalExamForm()
    status = 200
    if form.validate_on_submit():
        try:
            exam = item_analysis.create_exam_api(
                {
                    "key": (form.key.data or "").strip(),
                    "title": {"zh": form.title_zh.data, "en": form.title_en.data},
                    "external": True,
                },
                actor=current_user,
            )
        except Invalid as exc:
            for name, messages in exc.fields.items():
                target = {"key": form.key, "title.zh": form.title_zh}.get(
                    name, form.title_en
                )
                target.errors = [*target.errors, *messages]
        else:
            flash(_("External exam %(key)s created.", key=exam.key), "success")
            return redirect(url_for("assessments.hr_exam_item_analysis", key=exam.key))
    if request.method == "POST":
        status = 422
    exams = item_analysis.external_exams()
    counts = {exam.id: item_analysis.response_count(exam) for exam in exams}
    return render_hr(
        "analysis_external.html", status, exams=exams, counts=counts, form=form
    )
