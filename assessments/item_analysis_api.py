"""Exams seen as response matrices: external exams, imported responses and
item analysis. HR and admins only; every statistic is a fraction."""

import marshmallow as ma
import sqlalchemy as sa
from flask import request
from flask_login import current_user
from flask_smorest import Blueprint, abort

from assessments import api, irt, item_analysis, psychometrics, services
from assessments.models import Exam
from proving_ground.access import roles_required
from proving_ground.db import db

exams_api = Blueprint(
    "exams_api",
    __name__,
    url_prefix="/api/v1/exams",
    description="External exams, imported responses and item analysis.",
)


class ExternalExamSchema(api.ExamSchema):
    external = ma.fields.Boolean(
        metadata={
            "description": "true: an exam that only holds responses collected "
            "elsewhere (key and title only; title a string or {zh, en})"
        }
    )


class ResponseErrorSchema(ma.Schema):
    row = ma.fields.Integer(
        metadata={"description": "1 = the first data row after the header"}
    )
    examinee = ma.fields.String(allow_none=True)
    fields = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.List(ma.fields.String())
    )


class ResponseImportSchema(ma.Schema):
    accepted = ma.fields.Integer(
        metadata={"description": "Rows kept (new or replacing an earlier score)"}
    )
    replaced = ma.fields.Integer()
    created_items = ma.fields.List(
        ma.fields.String(), metadata={"description": "External items created"}
    )
    errors = ma.fields.List(ma.fields.Nested(ResponseErrorSchema))


RESPONSES_BODY = {
    "required": True,
    "content": {
        "text/csv": {
            "schema": {"type": "string"},
            "example": "examinee,item,score,max_score,option\n"
            "E1001,q01,1,1,b\nE1001,q02,0,1,c\n",
        }
    },
    "description": "UTF-8 CSV (with or without BOM), header required: "
    "examinee,item,score[,max_score,option].",
}


class ItemAnalysisArgs(ma.Schema):
    attempts = ma.fields.String(
        load_default="first",
        validate=ma.validate.OneOf(item_analysis.ATTEMPT_MODES),
        metadata={"description": "Which released attempts count per examinee"},
    )
    model = ma.fields.String(
        load_default=None,
        validate=ma.validate.OneOf(item_analysis.MODELS),
        metadata={
            "description": "2pl: also fit the two-parameter logistic model "
            "(marginal maximum likelihood) and return it as irt"
        },
    )


class ItemFlagSchema(ma.Schema):
    code = ma.fields.String(metadata={"enum": list(psychometrics.FLAG_CODES)})
    value = ma.fields.Float(allow_none=True)
    option = ma.fields.String(allow_none=True)
    reason = ma.fields.String()


class DistractorOptionSchema(ma.Schema):
    option = ma.fields.String()
    key = ma.fields.Boolean()
    count = ma.fields.Integer()
    share = ma.fields.Float()
    by_quartile = ma.fields.List(
        ma.fields.Float(allow_none=True),
        metadata={"description": "Share per score quartile, bottom first"},
    )
    mean_score = ma.fields.Float()


class ItemAnalysisItemSchema(ma.Schema):
    item = ma.fields.String()
    n = ma.fields.Integer()
    max_score = ma.fields.Float()
    facility = ma.fields.Float(allow_none=True)
    sd = ma.fields.Float(allow_none=True)
    discrimination_index = ma.fields.Float(allow_none=True)
    discriminative_efficiency = ma.fields.Float(allow_none=True)
    point_biserial = ma.fields.Float(allow_none=True)
    effective_weight = ma.fields.Float(allow_none=True)
    intended_weight = ma.fields.Float()
    flags = ma.fields.List(ma.fields.Nested(ItemFlagSchema))
    quartile_n = ma.fields.List(ma.fields.Integer(), allow_none=True)
    options = ma.fields.List(ma.fields.Nested(DistractorOptionSchema), allow_none=True)


class ItemAnalysisTestSchema(ma.Schema):
    n = ma.fields.Integer()
    items = ma.fields.Integer()
    mean = ma.fields.Float(allow_none=True)
    sd = ma.fields.Float(allow_none=True)
    skewness = ma.fields.Float(allow_none=True)
    kurtosis = ma.fields.Float(allow_none=True)
    alpha = ma.fields.Float(allow_none=True)
    alpha_ci = ma.fields.List(ma.fields.Float(), allow_none=True)
    kr20 = ma.fields.Float(allow_none=True)
    error_ratio = ma.fields.Float(allow_none=True)
    sem = ma.fields.Float(allow_none=True)


class IrtItemSchema(ma.Schema):
    item = ma.fields.String()
    a = ma.fields.Float(metadata={"description": "Discrimination (slope)"})
    a_se = ma.fields.Float(allow_none=True)
    b = ma.fields.Float(
        metadata={"description": "Difficulty: the ability with a 50 % chance"}
    )
    b_se = ma.fields.Float(allow_none=True)
    n = ma.fields.Integer(metadata={"description": "Examinees who had the item"})


class IrtPersonSchema(ma.Schema):
    examinee = ma.fields.String(
        metadata={"description": "Imported examinee code, or the user's email"}
    )
    theta = ma.fields.Float(metadata={"description": "EAP ability, N(0, 1) scale"})
    theta_sd = ma.fields.Float(metadata={"description": "Posterior SD"})
    n = ma.fields.Integer(metadata={"description": "Modelled items answered"})


class IrtExcludedSchema(ma.Schema):
    item = ma.fields.String()
    reason = ma.fields.String(metadata={"enum": list(irt.EXCLUSION_CODES)})


class IrtNoteSchema(ma.Schema):
    code = ma.fields.String(metadata={"enum": list(irt.NOTE_CODES)})
    items = ma.fields.List(ma.fields.String())
    value = ma.fields.Float(allow_none=True)
    message = ma.fields.String()


class IrtSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(IrtItemSchema))
    persons = ma.fields.List(ma.fields.Nested(IrtPersonSchema))
    excluded = ma.fields.List(ma.fields.Nested(IrtExcludedSchema))
    log_likelihood = ma.fields.Float(allow_none=True)
    converged = ma.fields.Boolean()
    iterations = ma.fields.Integer()
    quadrature_points = ma.fields.Integer()
    notes = ma.fields.List(ma.fields.Nested(IrtNoteSchema))


class ItemAnalysisSchema(ma.Schema):
    attempts = ma.fields.String()
    test = ma.fields.Nested(ItemAnalysisTestSchema)
    items = ma.fields.List(ma.fields.Nested(ItemAnalysisItemSchema))
    irt = ma.fields.Nested(
        IrtSchema,
        metadata={"description": "The 2PL model; only with model=2pl"},
    )


def _exam_or_404(key: str) -> Exam:
    exam = db.session.scalar(sa.select(Exam).where(Exam.key == key))
    if exam is None:
        abort(404, message=f"No exam with key {key}.")
    return exam


@exams_api.route("", methods=["POST"])
@roles_required(api.STAFF)
@exams_api.doc(requestBody=api.json_body(ExternalExamSchema))
@exams_api.response(201, ExternalExamSchema)
def create_exam():
    """An exam. With ``"external": true`` an external exam that holds responses
    collected elsewhere (key and title only; never published or sat); otherwise
    a draft exam with sections, as ``POST /api/v1/assessments/exams``."""
    data = api.json_request()
    graders = None if data.get("external") else api.graders_from(data)
    exam = item_analysis.create_exam_api(data, actor=current_user)
    if graders is not None:
        services.set_graders(exam, graders, actor=current_user)
    return {**api.exam_json(exam), "external": exam.external}


@exams_api.route("/<key>/responses", methods=["POST"])
@roles_required(api.STAFF)
@exams_api.doc(requestBody=RESPONSES_BODY)
@exams_api.response(200, ResponseImportSchema)
@exams_api.alt_response(400, description="No row of the CSV could be used")
def import_responses(key):
    """Import scores collected elsewhere as CSV ``examinee,item,score[,max_score,
    option]``. Good rows are kept (an examinee's item imported again replaces the
    score) and each bad row is reported with its number and fields. On an external
    exam unknown item codes become external items."""
    exam = _exam_or_404(key)
    report = item_analysis.import_responses(
        exam, request.get_data(cache=False), actor=current_user
    )
    return {
        "accepted": report.accepted,
        "replaced": report.replaced,
        "created_items": report.created_items,
        "errors": report.errors,
    }


@exams_api.route("/<key>/item-analysis")
@roles_required(api.STAFF)
@exams_api.arguments(ItemAnalysisArgs, location="query")
@exams_api.response(200, ItemAnalysisSchema)
def get_item_analysis(args, key):
    """Item analysis of released attempts (first, last, best or all per examinee)
    and imported responses: facility, SD, discrimination index, discriminative
    efficiency, point-biserial, effective weight, distractors by score quartile;
    for the test n, mean, SD, skewness, kurtosis, Cronbach's α with its Feldt 95 %
    interval, KR-20, error ratio and SEM. Fractions, not percentages. With
    ``model=2pl`` also the two-parameter logistic model fitted by marginal
    maximum likelihood: per item discrimination ``a`` and difficulty ``b`` with
    standard errors, per examinee the EAP ability and its posterior SD."""
    return item_analysis.item_analysis(
        _exam_or_404(key), args["attempts"], args["model"]
    )
