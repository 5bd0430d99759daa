"""Assessments pages (评估) for examinees, graders and anyone verifying a
certificate: the landing page, an exam's introduction and start, the taking page,
results, the grading queue and form, printable certificates and the public
verification pages. HR's authoring pages live in ``assessments.authoring``.

Nothing secret reaches the taking page: questions are rendered from
``scoring.public_content`` only. The server's clock decides: the countdown on the
page only displays ``seconds_left``.
"""

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_decimal, format_percent
from flask_babel import gettext as _
from flask_login import current_user

from assessments import bp, credentials, services, simulations
from assessments.forms import (
    ATTEMPT_STATUS_LABELS,
    CERTIFICATE_STATUS_LABELS,
    ITEM_TYPE_HINTS,
    ITEM_TYPE_LABELS,
    AnswersForm,
    GradeForm,
    StartForm,
    VerifyForm,
)
from assessments.models import (
    Attempt,
    AttemptItem,
    AttemptStatus,
    Competency,
    Exam,
    ExamStatus,
)
from proving_ground.access import ANY_ROLE, Role, public, roles_required
from proving_ground.db import db, utcnow, writes_on_read
from proving_ground.i18n import current_language
from proving_ground.validation import Invalid

ONE_YEAR = 365 * 24 * 3600
STATIC = Path(__file__).parent / "static"
#: Typing pauses this long (ms) before a text answer is saved.
TEXT_DEBOUNCE_MS = 800
OVERSEERS = (Role.HR, Role.ADMIN)


# --- helpers ---------------------------------------------------------------------


@bp.context_processor
def pillar_globals() -> dict[str, Any]:
    return {
        "asset_url": _asset_url,
        "item_type_label": lambda kind: ITEM_TYPE_LABELS.get(kind, kind),
        "item_type_hint": lambda kind: ITEM_TYPE_HINTS.get(kind, ""),
        "certificate_status_label": lambda s: CERTIFICATE_STATUS_LABELS.get(s, s),
        "attempt_status_label": lambda s: ATTEMPT_STATUS_LABELS.get(s, s),
        "percent": _percent,
        "points": _points,
        "is_grader": current_user.is_authenticated and _is_grader(),
        "hr_url": _hr_url(),
    }


def _asset_url(filename: str) -> str:
    """The URL of a pillar asset, versioned by its modification time."""
    version = int((STATIC / filename).stat().st_mtime)
    return url_for("assessments.static", filename=filename, v=version)


def _percent(share: float | None) -> str:
    if share is None:
        return "—"
    return format_percent(share, "#,##0%")


def _points(value: float | None) -> str:
    """Points as people write them: 2, 1.5, never 2.0."""
    if value is None:
        return "—"
    return format_decimal(round(value, 2), "#,##0.##")


def _hr_url() -> str | None:
    """HR's pages, when the authoring module provides them, for HR only."""
    if not current_user.is_authenticated or not current_user.has_any_role(OVERSEERS):
        return None
    if "assessments.hr_index" not in current_app.view_functions:
        return None
    return url_for("assessments.hr_index")


def _is_grader() -> bool:
    return services.is_grader(current_user)


def _ui_language() -> str:
    """The content language of the interface: ``zh`` or ``en``."""
    return "en" if current_language() == "en" else "zh"


def _attempt_language(attempt: Attempt) -> str:
    """Items are shown in the language the attempt was started in."""
    return "en" if attempt.language == "en" else "zh"


def _text(value: Any, language: str) -> str:
    """A bilingual {"zh", "en"} text in ``language``, else the other one."""
    if isinstance(value, dict):
        other = "en" if language == "zh" else "zh"
        return value.get(language) or value.get(other) or ""
    return "" if value is None else str(value)


def _exam_or_404(key: str) -> Exam:
    exam = db.session.scalar(sa.select(Exam).where(Exam.key == key))
    if exam is None:
        abort(404)
    return exam


def _attempt_or_404(attempt_id: int) -> Attempt:
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None:
        abort(404)
    return attempt


def _own(attempt: Attempt, *, overseers: bool = False) -> Attempt:
    """The examinee's own attempt (HR and administrators too when ``overseers``)."""
    if attempt.user_id == current_user.id:
        return attempt
    if overseers and current_user.has_any_role(OVERSEERS):
        return attempt
    abort(403)


def _seconds_left(attempt: Attempt) -> int:
    return max(0, int((attempt.deadline_at - utcnow()).total_seconds()))


def _public(row: AttemptItem, language: str) -> dict[str, Any]:
    return services.public_question(row, language)


def _is_blank(answer: Any) -> bool:
    return answer is None or answer in ("", [], {})


def _question(row: AttemptItem, language: str) -> dict[str, Any]:
    """A question of the taking page: public content, the saved answer and, for
    ordering items, the options in the order the examinee left them."""
    public_item = _public(row, language)
    options = public_item.get("options")
    if public_item["type"] == "ordering" and isinstance(row.answer, list):
        by_id = {option["id"]: option for option in options}
        options = [by_id[i] for i in row.answer if i in by_id]
    section = row.section
    return {
        "position": row.position,
        "type": public_item["type"],
        "item": public_item,
        "options": options,
        "answer": row.answer,
        "answered": not _is_blank(row.answer),
        "revision": row.revision,
        "section": section.text("title", language) if section else "",
    }


def _stimulus_id(prefix: str, position: int) -> str:
    return f"{prefix}-{position}"


# --- landing ---------------------------------------------------------------------


@bp.route("/")
@roles_required(ANY_ROLE)
def index():
    exams = db.session.scalars(
        sa.select(Exam)
        .where(Exam.status == ExamStatus.PUBLISHED)
        .order_by(Exam.title_en, Exam.id)
    ).all()
    now = utcnow()
    offers = [
        {"exam": exam, "availability": services.availability(exam, current_user, now)}
        for exam in exams
    ]
    attempts = db.session.scalars(
        sa.select(Attempt)
        .where(Attempt.user_id == current_user.id)
        .order_by(Attempt.started_at.desc())
    ).all()
    certificates = [
        {"certificate": c, "status": services.certificate_status(c, now)}
        for c in services.certificates_of(current_user)
    ]
    profile = services.capability_profile(current_user)
    return render_template(
        "assessments/index.html",
        offers=offers,
        attempts=attempts,
        certificates=certificates,
        profile=profile,
        team=services.team_results(current_user),
        language=_ui_language(),
        queue_size=len(services.grading_queue(current_user)) if _is_grader() else 0,
    )


# --- exams and attempts ----------------------------------------------------------


@bp.route("/exams/<key>")
@roles_required(ANY_ROLE)
def exam(key: str):
    exam = _exam_or_404(key)
    attempts = services.attempts_of(exam, current_user)
    if exam.status != ExamStatus.PUBLISHED and not attempts:
        abort(404)
    return render_template(
        "assessments/exam.html",
        exam=exam,
        attempts=attempts,
        availability=services.availability(exam, current_user),
        form=StartForm(),
        language=_ui_language(),
        item_total=sum(section.item_count for section in exam.sections),
    )


@bp.route("/exams/<key>/start", methods=["POST"])
@roles_required(ANY_ROLE)
def start(key: str):
    exam = _exam_or_404(key)
    try:
        attempt = services.start_attempt(
            exam, current_user, language=current_language()
        )
    except Invalid as exc:
        flash(exc.message, "error")
        return redirect(url_for("assessments.exam", key=exam.key))
    return redirect(url_for("assessments.attempt", attempt_id=attempt.id))


@bp.route("/attempts/<int:attempt_id>")
@roles_required(ANY_ROLE)
@writes_on_read
def attempt(attempt_id: int):
    attempt = _own(_attempt_or_404(attempt_id))
    if services.expire_if_overdue(attempt):
        flash(_("Time is up: your attempt was submitted with the saved answers."))
    if attempt.status != AttemptStatus.IN_PROGRESS:
        return redirect(url_for("assessments.result", attempt_id=attempt.id))
    language = _attempt_language(attempt)
    questions = [_question(row, language) for row in attempt.items]
    return render_template(
        "assessments/attempt.html",
        attempt=attempt,
        exam=attempt.exam,
        questions=questions,
        answered=sum(q["answered"] for q in questions),
        seconds_left=_seconds_left(attempt),
        form=AnswersForm(),
        language=language,
        debounce_ms=TEXT_DEBOUNCE_MS,
    )


def _form_answer(row: AttemptItem, form) -> tuple[bool, Any]:
    """The answer a plain form POST carries for ``row``: (present, answer)."""
    name = f"q{row.position}"
    kind = row.version.type
    if kind == "single":
        return True, form.get(name) or None
    if kind == "multiple":
        return True, form.getlist(name)
    if kind == "true_false":
        value = form.get(name)
        return True, {"true": True, "false": False}.get(value)
    if kind == "ordering":
        ids = [i for i in form.get(name, "").split(",") if i]
        return bool(ids), ids or None
    if kind == "matching":
        prefix = f"{name}."
        pairs = {
            field[len(prefix) :]: value
            for field, value in form.items()
            if field.startswith(prefix) and value
        }
        return True, pairs
    if name not in form:
        return False, None
    return True, form.get(name, "")


@bp.route("/attempts/<int:attempt_id>", methods=["POST"])
@roles_required(ANY_ROLE)
def save_attempt(attempt_id: int):
    """The taking page as a plain form: saves every changed answer, then hands in
    when the submit button was pressed. The page's script saves each answer as it
    changes through the JSON API; this is its fallback and its submit."""
    attempt = _own(_attempt_or_404(attempt_id))
    AnswersForm()  # the CSRF token was checked before the view ran
    if services.expire_if_overdue(attempt) or (
        attempt.status != AttemptStatus.IN_PROGRESS
    ):
        flash(_("Time is up: your attempt was submitted with the saved answers."))
        return redirect(url_for("assessments.result", attempt_id=attempt.id))
    problems = []
    shown = {int(p) for p in request.form.getlist("shown") if p.isdigit()}
    for row in attempt.items:
        if row.position not in shown:
            continue
        present, answer = _form_answer(row, request.form)
        if not present or (_is_blank(answer) and _is_blank(row.answer)):
            continue
        if answer == row.answer:
            continue
        try:
            services.save_answer(attempt, row.position, answer)
        except Invalid as exc:
            if exc.status == 409:
                flash(exc.message, "error")
                return redirect(url_for("assessments.result", attempt_id=attempt.id))
            problems.append(
                _("Question %(n)d: %(message)s", n=row.position, message=exc.message)
            )
    for problem in problems:
        flash(problem, "error")
    if request.form.get("action") == "submit" and not problems:
        services.submit_attempt(attempt)
        flash(_("Your answers are handed in."), "success")
        return redirect(url_for("assessments.result", attempt_id=attempt.id))
    if not problems:
        flash(_("Your answers are saved."), "success")
    return redirect(url_for("assessments.attempt", attempt_id=attempt.id))


# --- results ---------------------------------------------------------------------


def _option_texts(content: dict, language: str) -> dict[str, str]:
    options = content.get("options") or []
    if isinstance(options, dict):
        options = options["left"] + options["right"]
    return {option["id"]: _text(option["text"], language) for option in options}


def _describe(content: dict, answer: Any, language: str) -> list[str]:
    """An answer (the examinee's, or the key's in the same shape) as lines."""
    if _is_blank(answer):
        return []
    texts = _option_texts(content, language)
    kind = content["type"]
    if kind == "single":
        return [texts.get(answer, answer)]
    if kind in ("multiple", "ordering"):
        return [texts.get(i, i) for i in answer]
    if kind == "true_false":
        return [_("True") if answer else _("False")]
    if kind == "matching":
        left = [option["id"] for option in content["options"]["left"]]
        return [
            f"{texts.get(i, i)} → {texts.get(answer[i], answer[i])}"
            for i in left
            if i in answer
        ]
    return [str(answer)]


def _key_lines(content: dict, language: str) -> list[str]:
    """The correct answer as lines (nothing for rubric items)."""
    key = content.get("key") or {}
    kind = content["type"]
    if kind == "single":
        return _describe(content, key["option"], language)
    if kind == "multiple":
        return _describe(content, key["options"], language)
    if kind == "true_false":
        return _describe(content, key["value"], language)
    if kind == "ordering":
        return _describe(content, key["order"], language)
    if kind == "matching":
        return _describe(content, key["pairs"], language)
    if kind == "numeric":
        value, tolerance = key["value"], key.get("tolerance", 0)
        if not tolerance:
            return [f"{value:g}"]
        if key.get("tolerance_kind") == "relative":
            return [f"{value:g} ± {_percent(tolerance)}"]
        return [f"{value:g} ± {tolerance:g}"]
    return []


def _result_item(row: AttemptItem, language: str) -> dict[str, Any]:
    content = row.version.content
    return {
        "position": row.position,
        "type": content["type"],
        "stem": _text(content["stem"], language),
        "stimulus": _public(row, language).get("stimulus"),
        "answer": _describe(content, row.answer, language),
        "key": _key_lines(content, language),
        "points": row.points,
        "max_points": row.max_points,
        "correct": row.correct,
        "feedback": _text(content.get("feedback"), language),
        "comments": [g.comment for g in row.grades if g.comment],
        "section": row.section.text("title", language) if row.section else "",
    }


@bp.route("/attempts/<int:attempt_id>/result")
@roles_required(ANY_ROLE)
@writes_on_read
def result(attempt_id: int):
    attempt = _attempt_or_404(attempt_id)
    if not services.may_view_results(attempt, current_user):
        abort(403)
    services.expire_if_overdue(attempt)
    if attempt.status == AttemptStatus.IN_PROGRESS:
        if attempt.user_id == current_user.id:
            return redirect(url_for("assessments.attempt", attempt_id=attempt.id))
        abort(404)
    context: dict[str, Any] = {
        "attempt": attempt,
        "exam": attempt.exam,
        "language": _attempt_language(attempt),
    }
    if attempt.status == AttemptStatus.RELEASED:
        language = _attempt_language(attempt)
        titles = {
            section.id: section.text("title", language)
            for section in attempt.exam.sections
        }
        sections = [
            {**row, "title": titles.get(row["section_id"], "—")}
            for row in attempt.section_scores or []
        ]
        competencies = []
        for competency_id, (points, maximum) in services.competency_scores(
            [attempt]
        ).items():
            competency = db.session.get(Competency, competency_id)
            competencies.append(
                {
                    "name": competency.text("name", language),
                    "position": competency.position,
                    "points": points,
                    "max_points": maximum,
                    "share": points / maximum if maximum else 0.0,
                }
            )
        competencies.sort(key=lambda row: row["position"])
        context |= {
            "sections": sections,
            "competencies": competencies,
            "items": [_result_item(row, language) for row in attempt.items],
            "certificates": [
                c
                for c in services.certificates_of(attempt.user)
                if attempt.id in c.attempt_ids
            ],
        }
    return render_template("assessments/result.html", **context)


# --- grading ---------------------------------------------------------------------


def _grader_only() -> None:
    if not _is_grader():
        abort(403)


@bp.route("/grading")
@roles_required(ANY_ROLE)
def grading():
    _grader_only()
    language = _ui_language()
    rows = [
        {
            "row": row,
            "exam": row.attempt.exam.text("title", language),
            "stem": _text(row.version.content["stem"], language),
            "kind": services.next_grade_kind(row),
        }
        for row in services.grading_queue(current_user)
    ]
    return render_template("assessments/grading.html", rows=rows)


@bp.route("/grading/<int:answer_id>", methods=["GET", "POST"])
@roles_required(ANY_ROLE)
def grade(answer_id: int):
    _grader_only()
    row = db.session.get(AttemptItem, answer_id)
    if row is None:
        abort(404)
    if not services.may_grade(row.attempt.exam, current_user):
        abort(403)
    if row.attempt.user_id == current_user.id:
        abort(403)
    if not row.needs_grading or any(g.grader_id == current_user.id for g in row.grades):
        flash(_("This answer needs no more marks from you."))
        return redirect(url_for("assessments.grading"))
    form = GradeForm()
    content = row.version.content
    criteria = content["rubric"]["criteria"]
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
                services.grade_answer(row, current_user, chosen, form.comment.data)
            except Invalid as exc:
                flash(exc.message, "error")
            else:
                flash(_("Marks saved for answer #%(id)d.", id=row.id), "success")
                queue = services.grading_queue(current_user)
                if queue:
                    return redirect(url_for("assessments.grade", answer_id=queue[0].id))
                flash(_("The grading queue is empty."), "success")
                return redirect(url_for("assessments.grading"))
        else:
            flash(_("Choose a level for every criterion."), "error")
    language = _ui_language()
    kind = services.next_grade_kind(row)
    return render_template(
        "assessments/grade.html",
        row=row,
        form=form,
        kind=kind,
        exam=row.attempt.exam.text("title", language),
        stem=_text(content["stem"], language),
        stimulus_data=_public(row, language).get("stimulus"),
        criteria=[
            {
                "id": criterion["id"],
                "name": _text(criterion["name"], language),
                "levels": [
                    {
                        "index": index,
                        "points": level["points"],
                        "description": _text(level["description"], language),
                    }
                    for index, level in enumerate(criterion["levels"])
                ],
            }
            for criterion in criteria
        ],
        chosen=chosen,
        missing=missing,
        earlier=[g.points for g in row.grades] if kind == "resolution" else [],
        remaining=len(services.grading_queue(current_user)),
    )


# --- certificates ----------------------------------------------------------------


def _verify_url(code: str) -> str:
    return url_for("assessments.verify_code", code=code, _external=True)


def _badge_url(code: str) -> str:
    return f"/api/v1/assessments/certificates/{code}/badge"


@bp.route("/certificates/<code>")
@roles_required(ANY_ROLE)
def certificate(code: str):
    found = services.find_certificate(code)
    if found is None:
        abort(404)
    if found.user_id != current_user.id and not current_user.has_any_role(OVERSEERS):
        abort(403)
    if found.code != code:
        return redirect(url_for("assessments.certificate", code=found.code))
    verify_url = _verify_url(found.code)
    return render_template(
        "assessments/certificate.html",
        certificate=found,
        status=services.certificate_status(found),
        language=_ui_language(),
        verify_url=verify_url,
        badge_url=_badge_url(found.code),
        qr=credentials.qr_svg(verify_url, title=_("Scan to verify")),
    )


@bp.route("/verify")
@public
def verify():
    form = VerifyForm(request.args)
    if request.args and form.validate():
        canonical = credentials.normalise_code(form.code.data)
        if canonical is not None:
            return redirect(url_for("assessments.verify_code", code=canonical))
        form.code.errors.append(
            _("This is not a verification code: it has 16 letters and digits.")
        )
    return render_template("assessments/verify.html", form=form)


@bp.route("/verify/<code>")
@public
def verify_code(code: str):
    found = services.find_certificate(code)
    if found is None:
        form = VerifyForm(data={"code": code})
        return render_template(
            "assessments/verify.html", form=form, not_found=True
        ), 404
    if found.code != code:
        return redirect(url_for("assessments.verify_code", code=found.code))
    return render_template(
        "assessments/verify_result.html",
        certificate=found,
        status=services.certificate_status(found),
        language=_ui_language(),
        badge_url=_badge_url(found.code),
    )


# --- command line ----------------------------------------------------------------


@bp.cli.command("sweep")
def sweep() -> None:
    """Submit every exam and simulation attempt past its deadline with what was
    saved (run it every few minutes; attempts are also submitted when next
    opened)."""
    submitted = services.submit_overdue()
    simulated = simulations.submit_overdue()
    db.session.commit()
    print(f"{submitted} overdue attempt(s) submitted.")
    print(f"{simulated} overdue simulation attempt(s) submitted.")
