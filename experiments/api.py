"""The experiments JSON API: metrics, experiments, assignment, events, write keys."""

import json

import marshmallow as ma
from flask import Response, current_app, g, jsonify, request, url_for
from flask_login import current_user
from flask_smorest import Blueprint, abort

from experiments import attribution as attribution_service
from experiments import ingest, segments, services
from experiments import results as results_module
from experiments.csvfiles import read_csv
from experiments.models import EventImport, Experiment, Metric, MetricRole
from proving_ground.access import ANY_ROLE, Role, roles_required, write_key_allowed
from proving_ground.actions import services as action_services
from proving_ground.api import PaginationArgs, page_schema, paginate
from proving_ground.auth import services as auth_services
from proving_ground.auth.models import ApiToken
from proving_ground.db import db, writes_on_read
from proving_ground.limits import limiter
from proving_ground.validation import Invalid

DESIGNERS = (Role.MANAGER, Role.ADMIN)

metrics_api = Blueprint(
    "metrics_api",
    __name__,
    url_prefix="/api/v1/metrics",
    description="The metric catalogue shared by all experiments.",
)
experiments_api = Blueprint(
    "experiments_api",
    __name__,
    url_prefix="/api/v1/experiments",
    description="Experiment designs, lifecycle and assignment.",
)
events_api = Blueprint(
    "events_api",
    __name__,
    url_prefix="/api/v1",
    description="Tracking: event batches, CSV imports and write keys.",
)


# --- schemas ----------------------------------------------------------------------


class BilingualSchema(ma.Schema):
    zh = ma.fields.String()
    en = ma.fields.String()


class DenominatorSchema(ma.Schema):
    event_type = ma.fields.String()
    event_types = ma.fields.List(ma.fields.String())
    aggregate = ma.fields.String(metadata={"enum": ["count", "sum"]})


class CappingSchema(ma.Schema):
    kind = ma.fields.String(metadata={"enum": ["absolute", "percentile"]})
    value = ma.fields.Float()


class MetricSchema(ma.Schema):
    """A metric as returned and as accepted (``key`` only on creation)."""

    key = ma.fields.String(metadata={"example": "deal_value"})
    name = ma.fields.Nested(BilingualSchema)
    description = ma.fields.Nested(BilingualSchema)
    kind = ma.fields.String(metadata={"enum": ["proportion", "mean", "ratio"]})
    event_type = ma.fields.Raw(
        load_only=True, metadata={"description": "One event type (or use event_types)"}
    )
    event_types = ma.fields.List(ma.fields.String())
    aggregate = ma.fields.String(metadata={"enum": ["count", "sum"]})
    denominator = ma.fields.Nested(DenominatorSchema, allow_none=True)
    window_days = ma.fields.Integer(metadata={"example": 30})
    direction = ma.fields.String(metadata={"enum": ["increase", "decrease"]})
    capping = ma.fields.Nested(CappingSchema, allow_none=True)
    cuped_lookback_days = ma.fields.Integer(allow_none=True)
    in_use = ma.fields.Boolean(dump_only=True)


def metric_json(metric: Metric) -> dict:
    return {
        "key": metric.key,
        "name": {"zh": metric.name_zh, "en": metric.name_en},
        "description": {"zh": metric.description_zh, "en": metric.description_en},
        "kind": metric.kind,
        "event_types": metric.event_types,
        "aggregate": metric.aggregate,
        "denominator": (
            {
                "event_types": metric.denominator_event_types,
                "aggregate": metric.denominator_aggregate,
            }
            if metric.denominator_event_types
            else None
        ),
        "window_days": metric.window_days,
        "direction": metric.direction,
        "capping": (
            {"kind": metric.cap_kind, "value": metric.cap_value}
            if metric.cap_kind
            else None
        ),
        "cuped_lookback_days": metric.cuped_lookback_days,
    }


class VariantSchema(ma.Schema):
    key = ma.fields.String(required=True)
    name = ma.fields.String()
    description = ma.fields.String()
    weight = ma.fields.Float(required=True)
    control = ma.fields.Boolean()


class HypothesisSchema(ma.Schema):
    if_ = ma.fields.String(data_key="if")
    then = ma.fields.String()
    because = ma.fields.String()


class AnalysisSchema(ma.Schema):
    alpha = ma.fields.Float(metadata={"example": 0.05})
    power = ma.fields.Float(metadata={"example": 0.8})
    mde = ma.fields.Float(
        allow_none=True, metadata={"description": "Relative, 0.05 = +5 %"}
    )
    planned_units = ma.fields.Integer(
        allow_none=True,
        metadata={
            "description": "Planned sample size, units per variant (N* of the "
            "sequential intervals is twice it); null: derived from the MDE"
        },
    )
    sequential = ma.fields.Boolean()
    cuped = ma.fields.Boolean()


class CriteriaSchema(ma.Schema):
    success = ma.fields.String()
    early_stop = ma.fields.String()


class ExperimentSchema(ma.Schema):
    key = ma.fields.String(metadata={"example": "price-objection-script"})
    name = ma.fields.String()
    hypothesis = ma.fields.Raw(
        metadata={
            "description": (
                'Object {"if", "then", "because"} or one sentence '
                '"If …, then …, because …"'
            )
        }
    )
    owner = ma.fields.String(dump_only=True)
    team = ma.fields.String(allow_none=True)
    unit_type = ma.fields.String(
        metadata={"enum": ["lead", "customer", "account", "rep", "store"]}
    )
    randomisation = ma.fields.String(metadata={"enum": ["unit", "cluster"]})
    cluster_attribute = ma.fields.String(allow_none=True)
    variants = ma.fields.List(ma.fields.Nested(VariantSchema))
    primary_metrics = ma.fields.List(ma.fields.String())
    secondary_metrics = ma.fields.List(ma.fields.String())
    guardrail_metrics = ma.fields.List(ma.fields.String())
    analysis = ma.fields.Nested(AnalysisSchema)
    planned_duration_days = ma.fields.Integer()
    decision_criteria = ma.fields.Nested(CriteriaSchema)
    status = ma.fields.String(dump_only=True)
    run = ma.fields.Integer(dump_only=True)
    started_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    stopped_at = ma.fields.AwareDateTime(dump_only=True, allow_none=True)
    launch_checklist = ma.fields.List(ma.fields.Dict(), dump_only=True)


def experiment_json(experiment: Experiment) -> dict:
    return {
        "key": experiment.key,
        "name": experiment.name,
        "hypothesis": {
            "if": experiment.hypothesis_if,
            "then": experiment.hypothesis_then,
            "because": experiment.hypothesis_because,
        },
        "owner": experiment.owner.email if experiment.owner else None,
        "team": experiment.team,
        "unit_type": experiment.unit_type,
        "randomisation": "cluster" if experiment.cluster_attribute else "unit",
        "cluster_attribute": experiment.cluster_attribute,
        "variants": [
            {
                "key": v.key,
                "name": v.name,
                "description": v.description,
                "weight": v.weight,
                "control": v.is_control,
            }
            for v in experiment.variants
        ],
        **{
            f"{role.value}_metrics": [m.key for m in experiment.metrics(role)]
            for role in MetricRole
        },
        "analysis": {
            "alpha": experiment.alpha,
            "power": experiment.power,
            "mde": experiment.mde,
            "planned_units": experiment.planned_units,
            "sequential": experiment.sequential,
            "cuped": experiment.cuped,
        },
        "planned_duration_days": experiment.planned_duration_days,
        "decision_criteria": {
            "success": experiment.success_criteria,
            "early_stop": experiment.early_stop_criteria,
        },
        "status": experiment.status,
        "run": experiment.run,
        "started_at": experiment.started_at,
        "stopped_at": experiment.stopped_at,
        "launch_checklist": [
            {"key": i.key, "label": i.label, "ok": i.ok, "required": i.required}
            for i in services.launch_checklist(experiment)
        ],
    }


def json_body(schema: type[ma.Schema]) -> dict:
    """An OpenAPI request body of ``schema`` as JSON (for bodies that services
    validate themselves)."""
    return {"content": {"application/json": {"schema": schema}}}


#: An OpenAPI request body carrying a CSV file in the form field ``file``.
CSV_UPLOAD = {
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        }
    }
}


def _body() -> dict:
    """The JSON object in the request body (services check its fields)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, message="The body must be a JSON object.")
    return data


# --- metrics ----------------------------------------------------------------------


@metrics_api.route("")
@roles_required(ANY_ROLE)
@metrics_api.arguments(PaginationArgs, location="query")
@metrics_api.response(200, page_schema(MetricSchema))
def list_metrics(args):
    """The metric catalogue, by key."""
    page = paginate(services.list_metrics(), args)
    return {**page, "items": [metric_json(m) for m in page["items"]]}


@metrics_api.route("", methods=["POST"])
@roles_required(DESIGNERS)
@metrics_api.doc(requestBody=json_body(MetricSchema))
@metrics_api.response(201, MetricSchema)
def create_metric():
    """Add a metric to the catalogue."""
    return metric_json(services.create_metric(_body(), actor=current_user))


def _metric_or_404(key: str) -> Metric:
    metric = services.get_metric(key)
    if metric is None:
        abort(404, message=f"No metric with key {key}.")
    return metric


@metrics_api.route("/<key>")
@roles_required(ANY_ROLE)
@metrics_api.response(200, MetricSchema)
def get_metric(key):
    """One metric."""
    return metric_json(_metric_or_404(key))


@metrics_api.route("/<key>", methods=["PATCH"])
@roles_required(DESIGNERS)
@metrics_api.doc(requestBody=json_body(MetricSchema))
@metrics_api.response(200, MetricSchema)
def update_metric(key):
    """Change a metric; its definition is locked while a running experiment uses it."""
    return metric_json(
        services.update_metric(_metric_or_404(key), _body(), actor=current_user)
    )


# --- experiments ------------------------------------------------------------------


class ExperimentFilterArgs(PaginationArgs):
    status = ma.fields.String()
    owner = ma.fields.String(metadata={"description": "Owner's e-mail"})
    q = ma.fields.String()


@experiments_api.route("")
@roles_required(ANY_ROLE)
@experiments_api.arguments(ExperimentFilterArgs, location="query")
@experiments_api.response(200, page_schema(ExperimentSchema))
def list_experiments(args):
    """Experiments, most recently changed first."""
    owner = (
        auth_services.get_user_by_email(args["owner"]) if args.get("owner") else None
    )
    stmt = services.list_experiments(
        status=args.get("status"), owner_id=owner.id if owner else None, q=args.get("q")
    )
    page = paginate(stmt, args)
    return {**page, "items": [experiment_json(e) for e in page["items"]]}


@experiments_api.route("", methods=["POST"])
@roles_required(DESIGNERS)
@experiments_api.doc(requestBody=json_body(ExperimentSchema))
@experiments_api.response(201, ExperimentSchema)
def create_experiment():
    """Design a new experiment (a draft)."""
    return experiment_json(services.create_experiment(_body(), actor=current_user))


def _experiment_or_404(key: str) -> Experiment:
    experiment = services.get_experiment(key)
    if experiment is None:
        abort(404, message=f"No experiment with key {key}.")
    return experiment


def _owned(experiment: Experiment) -> Experiment:
    """Only the owner or an administrator changes an experiment."""
    if experiment.owner_id != current_user.id and not current_user.has_role(Role.ADMIN):
        abort(
            403,
            message="Only the experiment's owner or an administrator may change it.",
        )
    return experiment


@experiments_api.route("/<key>")
@roles_required(ANY_ROLE)
@experiments_api.response(200, ExperimentSchema)
def get_experiment(key):
    """One experiment with its launch checklist."""
    return experiment_json(_experiment_or_404(key))


@experiments_api.route("/<key>", methods=["PATCH"])
@roles_required(DESIGNERS)
@experiments_api.doc(requestBody=json_body(ExperimentSchema))
@experiments_api.response(200, ExperimentSchema)
def update_experiment(key):
    """Change a draft; once started only name, team and owner may change (409)."""
    experiment = _owned(_experiment_or_404(key))
    return experiment_json(
        services.update_experiment(experiment, _body(), actor=current_user)
    )


class TransitionSchema(ma.Schema):
    reason = ma.fields.String(load_default="")


def _transition(key: str, action: str):
    experiment = _owned(_experiment_or_404(key))
    data = request.get_json(silent=True) or {}
    reason = str(data.get("reason") or "") if isinstance(data, dict) else ""
    return experiment_json(
        services.transition(experiment, action, actor=current_user, reason=reason)
    )


@experiments_api.route("/<key>/start", methods=["POST"])
@roles_required(DESIGNERS)
@experiments_api.response(200, ExperimentSchema)
def start_experiment(key):
    """Launch (from draft, after the checklist) or resume (from paused)."""
    return _transition(key, "start")


@experiments_api.route("/<key>/pause", methods=["POST"])
@roles_required(DESIGNERS)
@experiments_api.response(200, ExperimentSchema)
def pause_experiment(key):
    """Pause: no new assignments until resumed."""
    return _transition(key, "pause")


@experiments_api.route("/<key>/stop", methods=["POST"])
@roles_required(DESIGNERS)
@experiments_api.response(200, ExperimentSchema)
def stop_experiment(key):
    """Stop for good: no new exposures; ready for analysis and decision."""
    return _transition(key, "stop")


@experiments_api.route("/<key>/archive", methods=["POST"])
@roles_required(DESIGNERS)
@experiments_api.response(200, ExperimentSchema)
def archive_experiment(key):
    """Archive a draft, stopped or decided experiment."""
    return _transition(key, "archive")


@experiments_api.route("/<key>/restart", methods=["POST"])
@roles_required(DESIGNERS)
@experiments_api.doc(requestBody=json_body(TransitionSchema))
@experiments_api.response(200, ExperimentSchema)
def restart_experiment(key):
    """Back to draft with a new run so the design can change (audited, with reason)."""
    return _transition(key, "restart")


class AssignSchema(ma.Schema):
    unit_id = ma.fields.Raw(required=True, metadata={"example": "lead-10482"})
    attributes = ma.fields.Dict(
        load_default=dict, metadata={"example": {"rep_id": "r7"}}
    )


class AssignmentSchema(ma.Schema):
    variant = ma.fields.String()
    experiment = ma.fields.String()
    unit_id = ma.fields.String()


@experiments_api.route("/<key>/assign", methods=["POST"])
@roles_required(DESIGNERS)
@write_key_allowed
@experiments_api.arguments(AssignSchema)
@experiments_api.response(200, AssignmentSchema)
def assign(data, key):
    """The unit's variant (deterministic and sticky); records its first exposure."""
    experiment = _experiment_or_404(key)
    variant = services.assign(experiment, data["unit_id"], data.get("attributes"))
    return {
        "variant": variant,
        "experiment": experiment.key,
        "unit_id": str(data["unit_id"]).strip(),
    }


@experiments_api.route("/<key>/assignments.csv", methods=["POST"])
@roles_required(DESIGNERS)
@experiments_api.doc(requestBody=CSV_UPLOAD)
@experiments_api.response(200, description="The same CSV with a variant column")
def assign_csv(key):
    """Assign every unit of a CSV: a ``unit_id`` column, other columns attributes."""
    experiment = _experiment_or_404(key)
    upload = request.files.get("file")
    if upload is None:
        raise Invalid("file", "Upload a CSV file in the field 'file'.")
    frame = services.assign_units(experiment, read_csv(upload.read()))
    return Response(
        frame.to_csv(index=False),
        mimetype="text/csv",
        headers={
            "Content-Disposition": (
                f'attachment; filename="{experiment.key}-assignments.csv"'
            )
        },
    )


class TrackingSchema(ma.Schema):
    exposures = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    planned_share = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Float())
    daily = ma.fields.List(ma.fields.Dict())
    events_by_type = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    last_event_at = ma.fields.AwareDateTime(allow_none=True)
    multiple_exposures = ma.fields.Integer()
    total_units = ma.fields.Integer()


@experiments_api.route("/<key>/tracking")
@roles_required(ANY_ROLE)
@experiments_api.response(200, TrackingSchema)
def tracking(key):
    """Live tracking: exposures per variant and day, events, multiple exposures."""
    summary = services.tracking_summary(_experiment_or_404(key))
    return {
        "exposures": summary.exposures,
        "planned_share": summary.planned_share,
        "daily": [
            {"day": d, "variant": v, "exposures": n} for d, v, n in summary.daily
        ],
        "events_by_type": dict(summary.events_by_type),
        "last_event_at": summary.last_event_at,
        "multiple_exposures": summary.multiple_exposures,
        "total_units": summary.total_units,
    }


# --- events -----------------------------------------------------------------------


class RejectedSchema(ma.Schema):
    index = ma.fields.Integer()
    event_id = ma.fields.String(allow_none=True)
    errors = ma.fields.Dict()


class IngestResultSchema(ma.Schema):
    accepted = ma.fields.Integer()
    duplicates = ma.fields.Integer()
    rejected = ma.fields.List(ma.fields.Nested(RejectedSchema))


class EventSchema(ma.Schema):
    event_id = ma.fields.String(
        required=True, metadata={"description": "Idempotency key"}
    )
    type = ma.fields.String(required=True, metadata={"example": "deal_won"})
    unit_id = ma.fields.String(required=True)
    rep_id = ma.fields.String()
    customer_id = ma.fields.String()
    value = ma.fields.Float()
    occurred_at = ma.fields.String(
        required=True, metadata={"example": "2026-11-02T10:15:00+08:00"}
    )
    properties = ma.fields.Dict()
    experiment = ma.fields.String(metadata={"description": "Exposure events only"})
    variant = ma.fields.String(metadata={"description": "Exposure events only"})


class EventBatchSchema(ma.Schema):
    events = ma.fields.List(ma.fields.Nested(EventSchema))


def _rate_limit_key() -> str:
    credential = g.get("write_key") or g.get("token")
    return f"events:{credential.id}" if credential else f"events:{request.remote_addr}"


def _events_rate_limit() -> str:
    return current_app.config["EVENTS_RATE_LIMIT"]


@events_api.route("/events", methods=["POST"])
@roles_required(DESIGNERS)
@write_key_allowed
@limiter.limit(_events_rate_limit, key_func=_rate_limit_key)
@events_api.doc(requestBody=json_body(EventBatchSchema))
@events_api.response(200, IngestResultSchema)
def post_events():
    """Send a batch of up to 1,000 events (1 MB): good events are stored once,
    bad ones are reported by index, duplicates are counted."""
    if (request.content_length or 0) > ingest.MAX_BATCH_BYTES:
        abort(413, message=f"A batch is at most {ingest.MAX_BATCH_BYTES:,} bytes.")
    raw = request.get_data(cache=False)
    if len(raw) > ingest.MAX_BATCH_BYTES:
        abort(413, message=f"A batch is at most {ingest.MAX_BATCH_BYTES:,} bytes.")
    try:
        body = json.loads(raw)
    except UnicodeDecodeError:
        abort(400, message="The body is not valid UTF-8.")
    except ValueError as exc:
        abort(400, message=f"The body is not valid JSON: {exc}")
    events = body.get("events") if isinstance(body, dict) else body
    if not isinstance(events, list):
        raise Invalid("events", 'Send {"events": [...]} or a JSON array of events.')
    if len(events) > ingest.MAX_BATCH_EVENTS:
        abort(
            413,
            message=f"A batch holds at most {ingest.MAX_BATCH_EVENTS:,} events.",
        )
    return ingest.ingest(events).as_dict()


class ImportSchema(ma.Schema):
    id = ma.fields.Integer()
    filename = ma.fields.String()
    rows = ma.fields.Integer()
    accepted = ma.fields.Integer()
    duplicates = ma.fields.Integer()
    rejected = ma.fields.Integer()
    created_at = ma.fields.AwareDateTime()
    error_report_url = ma.fields.String(allow_none=True)


def import_json(job: EventImport) -> dict:
    return {
        "id": job.id,
        "filename": job.filename,
        "rows": job.rows,
        "accepted": job.accepted,
        "duplicates": job.duplicates,
        "rejected": job.rejected,
        "created_at": job.created_at,
        "error_report_url": (
            url_for("events_api.import_errors", import_id=job.id)
            if job.rejected
            else None
        ),
    }


@events_api.route("/events/import", methods=["POST"])
@roles_required(DESIGNERS)
@events_api.doc(requestBody=CSV_UPLOAD)
@events_api.response(201, ImportSchema)
def import_events():
    """Import a CSV of events (columns as the event fields; ``properties.<name>``
    columns become properties). Rejected rows go to a downloadable report."""
    upload = request.files.get("file")
    if upload is None:
        raise Invalid("file", "Upload a CSV file in the field 'file'.")
    try:
        job, _result = ingest.import_csv(
            upload.read(), filename=upload.filename or "events.csv", actor=current_user
        )
    except ValueError as exc:
        raise Invalid("file", str(exc)) from None
    return import_json(job)


@events_api.route("/event-imports/<int:import_id>")
@roles_required(DESIGNERS)
@events_api.response(200, ImportSchema)
def get_import(import_id):
    """One CSV import's counts."""
    return import_json(db.get_or_404(EventImport, import_id))


@events_api.route("/event-imports/<int:import_id>/errors.csv")
@roles_required(DESIGNERS)
@events_api.response(200, description="The rejected rows with their errors, as CSV")
def import_errors(import_id):
    """The rejected rows of an import, with a ``row`` and an ``errors`` column."""
    job = db.get_or_404(EventImport, import_id)
    return Response(
        job.error_report,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="import-{job.id}-errors.csv"'
        },
    )


class WriteKeySchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    prefix = ma.fields.String()
    created_by = ma.fields.String(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    last_used_at = ma.fields.AwareDateTime(allow_none=True)
    revoked_at = ma.fields.AwareDateTime(allow_none=True)


class NewWriteKeySchema(WriteKeySchema):
    key = ma.fields.String(metadata={"description": "The secret; shown only once"})


class WriteKeyCreateSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))


def write_key_json(token: ApiToken) -> dict:
    return {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "created_by": token.user.email if token.user else None,
        "created_at": token.created_at,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
    }


@events_api.route("/write-keys")
@roles_required(DESIGNERS)
@events_api.response(200, WriteKeySchema(many=True))
def list_write_keys():
    """Ingest-only write keys, newest first."""
    return [write_key_json(t) for t in auth_services.list_write_keys()]


@events_api.route("/write-keys", methods=["POST"])
@roles_required(DESIGNERS)
@events_api.arguments(WriteKeyCreateSchema)
@events_api.response(201, NewWriteKeySchema)
def create_write_key(data):
    """Create a write key: it can only send events and assign units."""
    token, secret = auth_services.create_token(
        current_user._get_current_object(), data["name"], kind="ingest"
    )
    return {**write_key_json(token), "key": secret}


@events_api.route("/write-keys/<int:key_id>", methods=["DELETE"])
@roles_required(DESIGNERS)
@events_api.response(204)
def revoke_write_key(key_id):
    """Revoke a write key."""
    token = db.session.get(ApiToken, key_id)
    if token is None or token.kind != "ingest":
        abort(404, message="No such write key.")
    auth_services.revoke_token(token, actor=current_user)


# --- results and decisions --------------------------------------------------------


class EstimateSchema(ma.Schema):
    estimate = ma.fields.Float(allow_none=True)
    ci_low = ma.fields.Float(allow_none=True)
    ci_high = ma.fields.Float(allow_none=True)
    p_value = ma.fields.Float(allow_none=True)
    std_error = ma.fields.Float(allow_none=True)


class VariantResultSchema(ma.Schema):
    variant = ma.fields.String()
    n = ma.fields.Integer()
    mean = ma.fields.Float(allow_none=True)
    std = ma.fields.Float(allow_none=True)
    absolute = ma.fields.Nested(EstimateSchema, allow_none=True)
    relative = ma.fields.Nested(
        EstimateSchema,
        allow_none=True,
        metadata={"description": "Fractions: 0.05 = +5 %"},
    )
    adjusted_p_value = ma.fields.Float(allow_none=True)
    bayesian = ma.fields.Dict(allow_none=True)
    control_mean = ma.fields.Float(allow_none=True)
    treatment_mean = ma.fields.Float(
        allow_none=True, metadata={"description": "CUPED-adjusted when applied"}
    )
    cuped_applied = ma.fields.Boolean()
    variance_reduction = ma.fields.Float(allow_none=True)
    sequential_tuning = ma.fields.Integer(metadata={"description": "N* used"})
    warnings = ma.fields.List(ma.fields.String())


class MetricResultSchema(ma.Schema):
    metric = ma.fields.String()
    name = ma.fields.Nested(BilingualSchema)
    kind = ma.fields.String()
    role = ma.fields.String()
    direction = ma.fields.String()
    cuped = ma.fields.Boolean()
    variants = ma.fields.List(ma.fields.Nested(VariantResultSchema))


class ResultsSchema(ma.Schema):
    experiment = ma.fields.String()
    run = ma.fields.Integer()
    computed_at = ma.fields.String()
    options = ma.fields.Dict()
    srm = ma.fields.Dict()
    units = ma.fields.Dict(metadata={"description": "per_variant, multiple_exposures"})
    metrics = ma.fields.List(ma.fields.Nested(MetricResultSchema))
    warnings = ma.fields.List(ma.fields.String())
    recommendation = ma.fields.Dict()


class ResultsArgs(ma.Schema):
    cuped = ma.fields.String(metadata={"enum": ["0", "1"]})
    sequential = ma.fields.String(metadata={"enum": ["0", "1"]})
    sequential_tuning = ma.fields.String(metadata={"description": "N* in units"})
    alpha = ma.fields.String()
    correction = ma.fields.String(metadata={"enum": ["holm", "bh", "none"]})
    dimension = ma.fields.String(
        metadata={
            "description": "Break the results down by this unit attribute "
            "(region) or event property (event.<name>): the response is then "
            '{"dimension", "warning", "segments": [{"level", "units", "srm", '
            '"results"}]}; see /results/dimensions'
        }
    )


@experiments_api.route("/<key>/results")
@roles_required(ANY_ROLE)
@writes_on_read
@experiments_api.arguments(ResultsArgs, location="query")
@experiments_api.response(200, ResultsSchema)
def get_results(args, key):
    """Lift per metric and variant against control, with intervals, p-values
    (raw and adjusted), CUPED, sequential intervals on request, a Bayesian view,
    the SRM check and the pre-registered recommendation. Cached until new data.

    With ``dimension``: the same analysis per segment (top 20 levels by units,
    the rest as "(other)", units without a value as "(none)"), SRM per segment,
    p-values corrected across all segments shown, and a warning that segment
    results are exploratory unless the design pre-registered the dimension."""
    experiment = _experiment_or_404(key)
    options = results_module.Options.of(experiment, args)
    if "dimension" in args:
        return jsonify(segments.segment_results(experiment, options, args["dimension"]))
    return results_module.results(experiment, options)


class DimensionSchema(ma.Schema):
    name = ma.fields.String(metadata={"example": "region"})
    source = ma.fields.String(metadata={"enum": ["attribute", "event"]})
    key = ma.fields.String()


@experiments_api.route("/<key>/results/dimensions")
@roles_required(ANY_ROLE)
@experiments_api.response(200, DimensionSchema(many=True))
def get_result_dimensions(key):
    """The dimensions results can be broken down by: the unit attributes of the
    run's exposures, then event properties seen on its units' latest events."""
    experiment = _experiment_or_404(key)
    return [d.to_dict() for d in segments.dimensions(experiment)]


@experiments_api.route("/<key>/results.csv")
@roles_required(ANY_ROLE)
@writes_on_read
@experiments_api.arguments(ResultsArgs, location="query")
@experiments_api.response(200, description="One row per metric and variant")
def get_results_csv(args, key):
    """The results as CSV (one row per metric and variant)."""
    experiment = _experiment_or_404(key)
    payload = results_module.results(
        experiment, results_module.Options.of(experiment, args)
    )
    return Response(
        "\ufeff" + results_module.as_csv(payload),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{key}-results.csv"'},
    )


class LevelsSchema(ma.Schema):
    rep = ma.fields.Float(allow_none=True)
    customer = ma.fields.Float(allow_none=True)
    interaction = ma.fields.Float(allow_none=True)


class GroupEffectSchema(ma.Schema):
    rep = ma.fields.String(metadata={"description": "Per-rep entries"})
    name = ma.fields.String(metadata={"description": "The rep's name, if known"})
    segment = ma.fields.String(metadata={"description": "Per-segment entries"})
    variant = ma.fields.String()
    control_n = ma.fields.Integer()
    treatment_n = ma.fields.Integer()
    raw = ma.fields.Nested(EstimateSchema)
    shrunk = ma.fields.Nested(EstimateSchema)
    weight = ma.fields.Float(
        allow_none=True, metadata={"description": "Share of the raw deviation kept"}
    )
    overall = ma.fields.Nested(EstimateSchema)
    tau2 = ma.fields.Float(allow_none=True)


class SegmentsSchema(ma.Schema):
    dimension = ma.fields.String(allow_none=True)
    available = ma.fields.List(ma.fields.String())
    groups = ma.fields.List(ma.fields.Nested(GroupEffectSchema))


class AttributionSchema(ma.Schema):
    experiment = ma.fields.String()
    run = ma.fields.Integer()
    computed_at = ma.fields.String()
    metric = ma.fields.Dict()
    control = ma.fields.String()
    variants = ma.fields.List(ma.fields.String())
    units = ma.fields.Integer()
    levels = ma.fields.Nested(
        LevelsSchema,
        allow_none=True,
        metadata={"description": "Shares of outcome variance, summing to 1"},
    )
    treatment_effect = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Nested(EstimateSchema),
        metadata={"description": "Variant → mixed-model effect against control"},
    )
    variance = ma.fields.Dict(allow_none=True)
    reps = ma.fields.List(ma.fields.Nested(GroupEffectSchema))
    segments = ma.fields.Nested(SegmentsSchema, allow_none=True)
    touchpoints = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Dict(),
        metadata={
            "description": "Variant → method → touchpoint type → share (summing "
            "to 1 per method; empty with a reason in touchpoint_details)"
        },
    )
    touchpoint_details = ma.fields.Dict()
    touchpoint_types = ma.fields.List(ma.fields.String())
    half_life = ma.fields.Float()
    methods = ma.fields.List(ma.fields.String())
    notes = ma.fields.List(ma.fields.String())


class AttributionArgs(ma.Schema):
    metric = ma.fields.String(metadata={"description": "Default: the primary metric"})
    half_life = ma.fields.String(metadata={"description": "Time-decay days (7)"})
    segment = ma.fields.String(metadata={"description": "A unit attribute"})
    touchpoints = ma.fields.String(
        metadata={"description": "Touchpoint event types, comma-separated"}
    )


@experiments_api.route("/<key>/attribution")
@roles_required(ANY_ROLE)
@writes_on_read
@experiments_api.arguments(AttributionArgs, location="query")
@experiments_api.response(200, AttributionSchema)
def get_attribution(args, key):
    """Attribution at rep → customer → interaction level: the mixed model's
    variance shares and treatment effect, per-rep and per-segment effects with
    empirical-Bayes shrinkage, and touchpoint attribution per variant (six
    methods). Cached until new data."""
    experiment = _experiment_or_404(key)
    return attribution_service.attribution(
        experiment, attribution_service.Options.of(experiment, args)
    )


class DecisionSchema(ma.Schema):
    decision = ma.fields.String(
        required=True, metadata={"enum": ["adopt", "iterate", "abandon"]}
    )
    rationale = ma.fields.String(required=True)


class DecisionOutSchema(DecisionSchema):
    experiment = ma.fields.String()
    decided_by = ma.fields.String(allow_none=True)
    decided_at = ma.fields.AwareDateTime()
    recommendation = ma.fields.Dict()


@experiments_api.route("/<key>/decision", methods=["POST"])
@roles_required(DESIGNERS)
@experiments_api.arguments(DecisionSchema)
@experiments_api.response(201, DecisionOutSchema)
def decide(data, key):
    """Record adopt / iterate / abandon with a rationale on a stopped experiment
    (audited; adopting drafts a playbook in the asset library)."""
    experiment = _owned(_experiment_or_404(key))
    row = results_module.decide(
        experiment, data["decision"], data["rationale"], actor=current_user
    )
    return {
        "experiment": experiment.key,
        "decision": row.decision,
        "rationale": row.rationale,
        "decided_by": current_user.email,
        "decided_at": row.decided_at,
        "recommendation": row.results["recommendation"],
    }


class ActionItemSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    title = ma.fields.String(required=True)
    assignee = ma.fields.Email(required=True, metadata={"description": "E-mail"})
    due_on = ma.fields.Date(allow_none=True, load_default=None)
    done = ma.fields.Boolean(dump_only=True)


@experiments_api.route("/<key>/action-items", methods=["POST"])
@roles_required(DESIGNERS)
@experiments_api.arguments(ActionItemSchema)
@experiments_api.response(201, ActionItemSchema)
def create_action_item(data, key):
    """A follow-up (what, who, by when) that shows on the assignee's home page."""
    experiment = _owned(_experiment_or_404(key))
    item = action_services.create_action_item(
        title=data["title"],
        assignee=auth_services.get_user_by_email(data["assignee"]),
        due_on=data.get("due_on"),
        source=f"experiment:{experiment.key}",
        actor=current_user,
    )
    return {
        "id": item.id,
        "title": item.title,
        "assignee": item.assignee.email,
        "due_on": item.due_on,
        "done": item.is_done,
    }
