"""The asset library JSON API: search, recommendations, assets with their
versions, lifecycle, evidence and usage, imports and exports, and the managed
vocabularies and synonym table.

Members (and every other role) read, search and mark usage; managers and
admins create, edit, import and export, move assets through their lifecycle and
set evidence; admins manage vocabularies and synonyms. Drafts, assets in review
and archived assets are visible to managers and admins only: for everyone else
they do not exist (404).
"""

import json
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import Response, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_smorest import Blueprint, abort
from sqlalchemy.orm import selectinload

from asset_library import services
from asset_library.models import (
    LANGUAGES,
    Asset,
    AssetKind,
    AssetStatus,
    AssetVersion,
    Facet,
    SynonymGroup,
    UsageKind,
)
from proving_ground.access import ANY_ROLE, Role, roles_required
from proving_ground.api import PaginationArgs, page_schema, paginate
from proving_ground.auth.models import User
from proving_ground.db import db
from proving_ground.i18n import current_language
from proving_ground.validation import Invalid

assets_api = Blueprint(
    "assets_api",
    __name__,
    url_prefix="/api/v1/assets",
    description="Asset library: search, assets, versions, evidence, usage, "
    "imports, exports, vocabularies and synonyms.",
)

EDITORS = (Role.MANAGER, Role.ADMIN)
ADMINS = (Role.ADMIN,)
#: Fields a create or edit body may carry besides the asset's own.
ASSET_FIELDS = {
    *services.TEXT_FIELDS,
    *services.FACET_FIELDS,
    "kind",
    "language",
    "tags",
    "steps",
    "verification_interval_days",
}
SEARCH_PER_PAGE_MAX = 100


def json_body(schema: type[ma.Schema] | dict) -> dict:
    """An OpenAPI request body of ``schema`` as JSON (for bodies that services
    validate themselves)."""
    return {"content": {"application/json": {"schema": schema}}}


def _body() -> dict:
    """The JSON object in the request body (services check its fields)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400, message="The body must be a JSON object.")
    return data


def _can_edit() -> bool:
    return current_user.has_any_role(EDITORS)


def _asset_or_404(asset_id: int) -> Asset:
    """The asset, if the caller may see it (unpublished ones: editors only)."""
    asset = services.get_asset(asset_id)
    if asset is None or (not _can_edit() and asset.status not in services.SEARCHABLE):
        abort(404, message=f"No asset with id {asset_id}.")
    return asset


def _check_fields(data: dict, allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise Invalid({name: [str(_l("Unknown field."))] for name in unknown})


def _language(value: str | None) -> str:
    """``zh`` or ``en``: the one asked for, else the caller's UI language."""
    if value:
        return value
    return "en" if current_language() == "en" else "zh"


# --- schemas ----------------------------------------------------------------------


class EvidenceSchema(ma.Schema):
    experiment_id = ma.fields.String(metadata={"example": "tradeshow-48h"})
    metric = ma.fields.String(allow_none=True)
    variant = ma.fields.String(allow_none=True)
    lift = ma.fields.Float(
        allow_none=True, metadata={"description": "Relative, 0.09 = +9 %"}
    )
    ci_low = ma.fields.Float(allow_none=True)
    ci_high = ma.fields.Float(allow_none=True)
    p_value = ma.fields.Float(allow_none=True)
    confidence = ma.fields.Float(
        allow_none=True,
        metadata={"description": "Interval level or chance to beat control, 0..1"},
    )
    sample_size = ma.fields.Integer(allow_none=True)
    decision = ma.fields.String(
        allow_none=True, metadata={"enum": ["adopt", "iterate", "abandon"]}
    )


class AssetPersonSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    email = ma.fields.String()


class UsageNoteSchema(ma.Schema):
    user = ma.fields.Nested(AssetPersonSchema, allow_none=True)
    outcome = ma.fields.String()
    created_at = ma.fields.AwareDateTime()


class UsageSchema(ma.Schema):
    views = ma.fields.Integer()
    copies = ma.fields.Integer()
    used = ma.fields.Integer(metadata={"description": '"I used this" marks'})
    rating = ma.fields.Float(allow_none=True, metadata={"description": "1 to 5"})
    ratings = ma.fields.Integer()
    notes = ma.fields.List(
        ma.fields.Nested(UsageNoteSchema),
        metadata={"description": "The latest outcome notes"},
    )


class VersionRefSchema(ma.Schema):
    number = ma.fields.Integer()
    title = ma.fields.String()
    note = ma.fields.String()
    created_by = ma.fields.Nested(AssetPersonSchema, allow_none=True)
    created_at = ma.fields.AwareDateTime()


class VersionSchema(VersionRefSchema):
    summary = ma.fields.String()
    body = ma.fields.String(metadata={"description": "Markdown"})
    tags = ma.fields.List(ma.fields.String())
    when_to_use = ma.fields.String()
    when_not_to_use = ma.fields.String()
    steps = ma.fields.List(ma.fields.String())


class AssetSummarySchema(ma.Schema):
    id = ma.fields.Integer()
    external_id = ma.fields.String(allow_none=True)
    title = ma.fields.String()
    kind = ma.fields.String(metadata={"enum": [k.value for k in AssetKind]})
    status = ma.fields.String(metadata={"enum": [s.value for s in AssetStatus]})
    language = ma.fields.String(metadata={"enum": list(LANGUAGES)})
    industry = ma.fields.String(allow_none=True)
    customer_type = ma.fields.String(allow_none=True)
    scenario = ma.fields.String(allow_none=True)
    version = ma.fields.Integer(metadata={"description": "Current version number"})
    owner = ma.fields.Nested(AssetPersonSchema, allow_none=True)
    has_evidence = ma.fields.Boolean()
    verification_due_at = ma.fields.AwareDateTime(allow_none=True)
    updated_at = ma.fields.AwareDateTime()


class AssetSchema(AssetSummarySchema):
    """An asset: its current version's text, facets, lifecycle, evidence, usage
    and versions. As a request body (create, edit) the text and facet fields are
    accepted, with ``evidence`` and ``note`` (what changed)."""

    summary = ma.fields.String()
    body = ma.fields.String(metadata={"description": "Markdown"})
    tags = ma.fields.List(ma.fields.String())
    when_to_use = ma.fields.String()
    when_not_to_use = ma.fields.String()
    steps = ma.fields.List(ma.fields.String(), metadata={"description": "Checklists"})
    verifier = ma.fields.Nested(AssetPersonSchema, allow_none=True)
    verified_at = ma.fields.AwareDateTime(allow_none=True)
    verification_interval_days = ma.fields.Integer(metadata={"example": 90})
    created_at = ma.fields.AwareDateTime()
    evidence = ma.fields.Nested(EvidenceSchema, allow_none=True)
    usage = ma.fields.Nested(UsageSchema)
    versions = ma.fields.List(ma.fields.Nested(VersionRefSchema))
    note = ma.fields.String(load_only=True)


class AssetListArgs(PaginationArgs):
    status = ma.fields.String(
        validate=ma.validate.OneOf([s.value for s in AssetStatus]),
        metadata={"description": "Managers and admins see every status"},
    )
    mine = ma.fields.Boolean(
        load_default=False, metadata={"description": "Only assets I own"}
    )


class SearchArgs(ma.Schema):
    q = ma.fields.String(load_default="", metadata={"example": "集采"})
    industry = ma.fields.String()
    customer_type = ma.fields.String()
    scenario = ma.fields.String()
    kind = ma.fields.String(validate=ma.validate.OneOf([k.value for k in AssetKind]))
    language = ma.fields.String(validate=ma.validate.OneOf(LANGUAGES))
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1))
    per_page = ma.fields.Integer(
        load_default=20, validate=ma.validate.Range(min=1, max=SEARCH_PER_PAGE_MAX)
    )


class SearchHitSchema(ma.Schema):
    id = ma.fields.Integer()
    external_id = ma.fields.String(allow_none=True)
    title = ma.fields.String()
    title_html = ma.fields.String(metadata={"description": "Matches in <mark>"})
    kind = ma.fields.String()
    snippet = ma.fields.String(metadata={"description": "HTML, matches in <mark>"})
    score = ma.fields.Float()
    evidence = ma.fields.Nested(EvidenceSchema, allow_none=True)
    status = ma.fields.String()
    industry = ma.fields.String(allow_none=True)
    customer_type = ma.fields.String(allow_none=True)
    scenario = ma.fields.String(allow_none=True)
    language = ma.fields.String()
    tags = ma.fields.List(ma.fields.String())


class SearchResultSchema(ma.Schema):
    total = ma.fields.Integer()
    results = ma.fields.List(ma.fields.Nested(SearchHitSchema))
    facets = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer()),
        metadata={
            "description": "Per facet (kind, industry, customer_type, scenario, "
            "language): value → matching assets, with the other facets' filters"
        },
    )
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()


class RecommendArgs(ma.Schema):
    industry = ma.fields.String()
    customer_type = ma.fields.String()
    scenario = ma.fields.String()
    limit = ma.fields.Integer(load_default=5, validate=ma.validate.Range(1, 50))

    @ma.validates_schema
    def _situation(self, data, **_kwargs):
        if not any(data.get(name) for name in services.FACET_FIELDS):
            raise ma.ValidationError(
                str(_l("Give an industry, a customer type or a scenario."))
            )


class RecommendationSchema(AssetSummarySchema):
    summary = ma.fields.String()
    evidence = ma.fields.Nested(EvidenceSchema, allow_none=True)
    score = ma.fields.Float()
    matched = ma.fields.List(
        ma.fields.String(), metadata={"description": "The facets that matched"}
    )


class RecommendationsSchema(ma.Schema):
    results = ma.fields.List(ma.fields.Nested(RecommendationSchema))


class DiffArgs(ma.Schema):
    from_ = ma.fields.Integer(
        data_key="from", metadata={"description": "Default: the version before"}
    )
    to = ma.fields.Integer(metadata={"description": "Default: the current version"})


class DiffLineSchema(ma.Schema):
    op = ma.fields.String(metadata={"enum": [" ", "-", "+"]})
    text = ma.fields.String()


class DiffFieldSchema(ma.Schema):
    field = ma.fields.String()
    lines = ma.fields.List(ma.fields.Nested(DiffLineSchema))


class DiffSchema(ma.Schema):
    from_ = ma.fields.Integer(data_key="from")
    to = ma.fields.Integer()
    changes = ma.fields.List(ma.fields.Nested(DiffFieldSchema))


class AssetTransitionSchema(ma.Schema):
    action = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(list(services.TRANSITIONS)),
        metadata={"description": "draft → in review → published → archived"},
    )
    verifier_id = ma.fields.Integer(
        metadata={"description": "Publish/verify: the verifier (default: you)"}
    )


class UsageInSchema(ma.Schema):
    kind = ma.fields.String(
        required=True, validate=ma.validate.OneOf([k.value for k in UsageKind])
    )
    outcome = ma.fields.String(load_default="", metadata={"description": "For used"})


class RatingSchema(ma.Schema):
    stars = ma.fields.Integer(required=True, validate=ma.validate.Range(1, 5))


class ExportArgs(ma.Schema):
    format = ma.fields.String(
        load_default="jsonl", validate=ma.validate.OneOf(["jsonl", "markdown"])
    )
    status = ma.fields.String(
        validate=ma.validate.OneOf([s.value for s in AssetStatus])
    )
    language = ma.fields.String(
        validate=ma.validate.OneOf(["zh", "en"]),
        metadata={"description": "Labels in Markdown (default: your language)"},
    )


class AssetExportArgs(ExportArgs):
    format = ma.fields.String(
        load_default="json", validate=ma.validate.OneOf(["json", "markdown"])
    )


class ImportArgs(ma.Schema):
    publish = ma.fields.Boolean(
        load_default=False, metadata={"description": "Publish the new assets"}
    )


class AssetImportErrorSchema(ma.Schema):
    line = ma.fields.Integer(metadata={"description": "1 = the first line"})
    id = ma.fields.Raw(allow_none=True)
    fields = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.List(ma.fields.String())
    )


class AssetImportResultSchema(ma.Schema):
    created = ma.fields.List(ma.fields.String())
    updated = ma.fields.List(ma.fields.String())
    errors = ma.fields.List(ma.fields.Nested(AssetImportErrorSchema))


#: The import's request body: JSON Lines as the body, or a file in ``file``.
IMPORT_BODY = {
    "content": {
        "application/x-ndjson": {"schema": {"type": "string"}},
        "text/plain": {"schema": {"type": "string"}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        },
    }
}


class VocabularyValueSchema(ma.Schema):
    key = ma.fields.String(dump_only=True)
    zh = ma.fields.String(dump_only=True)
    en = ma.fields.String(dump_only=True)
    active = ma.fields.Boolean(dump_only=True)


class VocabularyValueInSchema(ma.Schema):
    label_zh = ma.fields.String(required=True, metadata={"example": "医药"})
    label_en = ma.fields.String(required=True, metadata={"example": "Pharma"})
    active = ma.fields.Boolean(load_default=True)


class VocabulariesSchema(ma.Schema):
    """Per facet its values in order, retired ones marked inactive."""

    industry = ma.fields.List(ma.fields.Nested(VocabularyValueSchema))
    customer_type = ma.fields.List(ma.fields.Nested(VocabularyValueSchema))
    scenario = ma.fields.List(ma.fields.Nested(VocabularyValueSchema))


class SynonymGroupSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    terms = ma.fields.List(
        ma.fields.String(),
        required=True,
        metadata={"example": ["续约", "renewal", "renew"]},
    )
    updated_at = ma.fields.AwareDateTime(dump_only=True)


# --- serialisation ----------------------------------------------------------------


def person_json(user: User | None) -> dict | None:
    if user is None:
        return None
    return {"id": user.id, "name": user.display_name, "email": user.email}


def summary_json(asset: Asset) -> dict[str, Any]:
    version = asset.current
    return {
        "id": asset.id,
        "external_id": asset.external_id,
        "title": version.title,
        "kind": asset.kind,
        "status": asset.status,
        "language": asset.language,
        "industry": asset.industry,
        "customer_type": asset.customer_type,
        "scenario": asset.scenario,
        "version": version.number,
        "owner": person_json(asset.owner),
        "has_evidence": asset.evidence is not None,
        "verification_due_at": asset.verification_due_at,
        "updated_at": asset.updated_at,
    }


def version_json(version: AssetVersion, *, text: bool = True) -> dict[str, Any]:
    out = {
        "number": version.number,
        "title": version.title,
        "note": version.note,
        "created_by": person_json(version.created_by),
        "created_at": version.created_at,
    }
    if text:
        out.update({name: getattr(version, name) for name in services.VERSION_FIELDS})
    return out


def usage_json(asset: Asset) -> dict[str, Any]:
    usage = services.usage(asset)
    return {
        "views": usage.views,
        "copies": usage.copies,
        "used": usage.used,
        "rating": usage.rating,
        "ratings": usage.ratings,
        "notes": [
            {
                "user": person_json(note.user),
                "outcome": note.outcome,
                "created_at": note.created_at,
            }
            for note in usage.notes
        ],
    }


def asset_json(asset: Asset) -> dict[str, Any]:
    version = asset.current
    return {
        **summary_json(asset),
        **{name: getattr(version, name) for name in services.VERSION_FIELDS},
        "verifier": person_json(asset.verifier),
        "verified_at": asset.verified_at,
        "verification_interval_days": asset.verification_interval_days,
        "created_at": asset.created_at,
        "evidence": services.evidence_dict(asset.evidence),
        "usage": usage_json(asset),
        "versions": [version_json(v, text=False) for v in reversed(asset.versions)],
    }


# --- search and recommendations -------------------------------------------------


@assets_api.route("/search")
@roles_required(ANY_ROLE)
@assets_api.arguments(SearchArgs, location="query")
@assets_api.response(200, SearchResultSchema)
def search(args):
    """Search published assets in Chinese, English or both: ranked hits (one per
    asset, its current version) with highlighted snippets, and facet counts."""
    filters = {
        name: args.get(name)
        for name in ("kind", *services.FACET_FIELDS, "language")
        if args.get(name)
    }
    result, assets = services.run_search(
        args["q"], filters, page=args["page"], per_page=args["per_page"]
    )
    results = []
    for hit in result.hits:
        asset = assets.get(hit.id)
        if asset is None:  # deleted since the index was read
            continue
        results.append(
            {
                "id": asset.id,
                "external_id": asset.external_id,
                "title": asset.current.title,
                "title_html": hit.title_html,
                "kind": asset.kind,
                "snippet": hit.snippet_html,
                "score": hit.score,
                "evidence": services.evidence_dict(asset.evidence),
                "status": asset.status,
                "industry": asset.industry,
                "customer_type": asset.customer_type,
                "scenario": asset.scenario,
                "language": asset.language,
                "tags": asset.current.tags,
            }
        )
    return {
        "total": result.total,
        "results": results,
        "facets": result.facets,
        "page": args["page"],
        "per_page": args["per_page"],
    }


@assets_api.route("/recommendations")
@roles_required(ANY_ROLE)
@assets_api.arguments(RecommendArgs, location="query")
@assets_api.response(200, RecommendationsSchema)
def recommendations(args):
    """The best-matching proven assets for a situation (industry, customer type,
    scenario; the scenario counts most), evidence first among equals."""
    picks = services.recommend(
        args.get("industry"),
        args.get("customer_type"),
        args.get("scenario"),
        limit=args["limit"],
    )
    return {
        "results": [
            {
                **summary_json(asset),
                "summary": asset.current.summary,
                "evidence": services.evidence_dict(asset.evidence),
                "score": pick.score,
                "matched": list(pick.matched),
            }
            for asset, pick in picks
        ]
    }


# --- assets -----------------------------------------------------------------------


@assets_api.route("")
@roles_required(ANY_ROLE)
@assets_api.arguments(AssetListArgs, location="query")
@assets_api.response(200, page_schema(AssetSummarySchema))
def list_assets(args):
    """Assets, most recently changed first. Members see published ones only."""
    stmt = sa.select(Asset).order_by(Asset.updated_at.desc(), Asset.id.desc())
    if not _can_edit():
        stmt = stmt.where(Asset.status.in_(services.SEARCHABLE))
    if args.get("status"):
        stmt = stmt.where(Asset.status == args["status"])
    if args["mine"]:
        stmt = stmt.where(Asset.owner_id == current_user.id)
    page = paginate(stmt, args)
    return {**page, "items": [summary_json(asset) for asset in page["items"]]}


@assets_api.route("", methods=["POST"])
@roles_required(EDITORS)
@assets_api.doc(requestBody=json_body(AssetSchema))
@assets_api.response(201, AssetSchema)
def create_asset():
    """Add a draft asset (title, kind, summary, body, facets, language, tags,
    conditions, steps; optional ``evidence``, ``external_id`` and ``note``)."""
    data = _body()
    _check_fields(data, ASSET_FIELDS | {"evidence", "external_id", "note"})
    fields = {name: value for name, value in data.items() if name in ASSET_FIELDS}
    external_id = data.get("external_id")
    if external_id is not None and services.get_by_external_id(str(external_id)):
        raise Invalid("external_id", str(_l("Another asset has this id.")), status=409)
    asset = services.create_asset(
        fields,
        actor=current_user,
        external_id=str(external_id) if external_id is not None else None,
        note=str(data.get("note") or ""),
    )
    if data.get("evidence") is not None:
        services.set_evidence(asset, data["evidence"], actor=current_user)
    return asset_json(asset)


@assets_api.route("/<int:asset_id>")
@roles_required(ANY_ROLE)
@assets_api.response(200, AssetSchema)
def get_asset(asset_id):
    """An asset: current version, facets, lifecycle, evidence, usage summary and
    the list of its versions (newest first)."""
    return asset_json(_asset_or_404(asset_id))


@assets_api.route("/<int:asset_id>", methods=["PATCH"])
@roles_required(EDITORS)
@assets_api.doc(requestBody=json_body(AssetSchema))
@assets_api.response(200, AssetSchema)
def update_asset(asset_id):
    """Edit an asset: a changed text is a new version (``note`` says what
    changed); facets, kind and language change on the asset; ``evidence`` (an
    object, or null to remove it) replaces the evidence."""
    asset = _asset_or_404(asset_id)
    data = _body()
    _check_fields(data, ASSET_FIELDS | {"evidence", "note"})
    fields = {name: value for name, value in data.items() if name in ASSET_FIELDS}
    services.update_asset(
        asset, fields, actor=current_user, note=str(data.get("note") or "")
    )
    if "evidence" in data:
        services.set_evidence(asset, data["evidence"], actor=current_user)
    return asset_json(asset)


@assets_api.route("/<int:asset_id>/versions")
@roles_required(ANY_ROLE)
@assets_api.response(200, VersionRefSchema(many=True))
def list_versions(asset_id):
    """The asset's versions, newest first."""
    asset = _asset_or_404(asset_id)
    return [version_json(v, text=False) for v in reversed(asset.versions)]


def _version_or_404(asset: Asset, number: int) -> AssetVersion:
    version = next((v for v in asset.versions if v.number == number), None)
    if version is None:
        abort(404, message=f"Asset {asset.id} has no version {number}.")
    return version


@assets_api.route("/<int:asset_id>/versions/<int:number>")
@roles_required(ANY_ROLE)
@assets_api.response(200, VersionSchema)
def get_version(asset_id, number):
    """One version's text."""
    return version_json(_version_or_404(_asset_or_404(asset_id), number))


@assets_api.route("/<int:asset_id>/diff")
@roles_required(ANY_ROLE)
@assets_api.arguments(DiffArgs, location="query")
@assets_api.response(200, DiffSchema)
def diff(args, asset_id):
    """What changed between two versions, per field, line by line."""
    asset = _asset_or_404(asset_id)
    new = args.get("to", asset.current.number)
    old = args.get("from_", max(new - 1, 1))
    changes = services.diff_versions(asset, old, new)
    return {
        "from_": old,
        "to": new,
        "changes": [
            {
                "field": change["field"],
                "lines": [{"op": op, "text": text} for op, text in change["lines"]],
            }
            for change in changes
        ],
    }


@assets_api.route("/<int:asset_id>/versions/<int:number>/restore", methods=["POST"])
@roles_required(EDITORS)
@assets_api.response(201, VersionSchema)
def restore_version(asset_id, number):
    """Make an earlier version's text current again, as a new version."""
    asset = _asset_or_404(asset_id)
    _version_or_404(asset, number)
    return version_json(services.restore_version(asset, number, actor=current_user))


@assets_api.route("/<int:asset_id>/transitions", methods=["POST"])
@roles_required(EDITORS)
@assets_api.arguments(AssetTransitionSchema)
@assets_api.response(200, AssetSchema)
@assets_api.alt_response(409, description="Not possible from the current status")
def transition(data, asset_id):
    """submit (draft → in review), publish, verify (starts a new verification
    interval), archive, reopen (back to draft)."""
    asset = _asset_or_404(asset_id)
    verifier = None
    if data.get("verifier_id") is not None:
        verifier = db.session.get(User, data["verifier_id"])
        if verifier is None or not verifier.active:
            raise Invalid("verifier_id", str(_l("No active user has this id.")))
    services.transition(asset, data["action"], actor=current_user, verifier=verifier)
    db.session.expire(asset, ["verifier"])  # the service sets verifier_id only
    return asset_json(asset)


@assets_api.route("/<int:asset_id>/evidence", methods=["PUT"])
@roles_required(EDITORS)
@assets_api.doc(requestBody=json_body(EvidenceSchema))
@assets_api.response(200, AssetSchema)
def set_evidence(asset_id):
    """Attach the experiment result behind the asset, or remove it with null."""
    asset = _asset_or_404(asset_id)
    data = request.get_json(silent=True)
    if data is None and request.get_data().strip() != b"null":
        abort(400, message="The body must be a JSON object or null.")
    services.set_evidence(asset, data, actor=current_user)
    return asset_json(asset)


@assets_api.route("/<int:asset_id>/usage", methods=["POST"])
@roles_required(ANY_ROLE)
@assets_api.arguments(UsageInSchema)
@assets_api.response(201, UsageSchema)
def record_usage(data, asset_id):
    """Mark a view, a copy, or "I used this" with an optional outcome note;
    returns the asset's usage summary."""
    asset = _asset_or_404(asset_id)
    services.record_usage(asset, current_user, data["kind"], data["outcome"])
    return usage_json(asset)


@assets_api.route("/<int:asset_id>/rating", methods=["PUT"])
@roles_required(ANY_ROLE)
@assets_api.arguments(RatingSchema)
@assets_api.response(200, UsageSchema)
def rate(data, asset_id):
    """Rate the asset (1 to 5 stars; rating again replaces your rating)."""
    asset = _asset_or_404(asset_id)
    services.rate(asset, current_user, data["stars"])
    return usage_json(asset)


@assets_api.route("/<int:asset_id>/export")
@roles_required(ANY_ROLE)
@assets_api.arguments(AssetExportArgs, location="query")
@assets_api.response(200, description="The asset in the import format, or Markdown")
def export_asset(args, asset_id):
    """One asset as a JSON object in the import format, or as Markdown."""
    asset = _asset_or_404(asset_id)
    name = asset.external_id or f"asset-{asset.id}"
    if args["format"] == "markdown":
        return Response(
            services.export_markdown(asset, _language(args.get("language"))),
            mimetype="text/markdown",
            headers={"Content-Disposition": f'attachment; filename="{name}.md"'},
        )
    return Response(
        json.dumps(services.export_record(asset), ensure_ascii=False, indent=2),
        mimetype="application/json",
    )


# --- import and export ------------------------------------------------------------


def _decode(data: bytes, field: str) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Invalid(field, str(_l("The file is not text.")))  # pragma: no cover


@assets_api.route("/import", methods=["POST"])
@roles_required(EDITORS)
@assets_api.arguments(ImportArgs, location="query")
@assets_api.doc(requestBody=IMPORT_BODY)
@assets_api.response(200, AssetImportResultSchema)
def import_assets(args):
    """Import JSON Lines (the body, or a file in the form field ``file``): one
    asset per line with ``id`` (importing an id again adds a version to that
    asset), title, summary, body, kind, facets, language, tags, optional
    evidence. Good lines are kept; each bad line is reported by number."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise Invalid("file", str(_l("Choose a JSON Lines file.")))
        text = _decode(upload.read(), "file")
    else:  # the raw body, whatever its type claims (curl --data-binary says form)
        text = _decode(request.get_data(), "body")
    if not text.strip():
        raise Invalid("file", str(_l("The file is empty.")))
    report = services.import_lines(
        text.splitlines(), actor=current_user, publish=args["publish"]
    )
    return {
        "created": report.created,
        "updated": report.updated,
        "errors": report.errors,
    }


def export_query(status: str | None = None) -> sa.Select:
    """Every asset (of ``status``), oldest first, with its versions loaded."""
    stmt = sa.select(Asset).options(selectinload(Asset.versions)).order_by(Asset.id)
    if status:
        stmt = stmt.where(Asset.status == status)
    return stmt


@assets_api.route("/export")
@roles_required(EDITORS)
@assets_api.arguments(ExportArgs, location="query")
@assets_api.response(200, description="JSON Lines in the import format, or Markdown")
def export_assets(args):
    """Every asset (or those of ``status``) as JSON Lines in the import format,
    or as one Markdown document (assets separated by ``---``)."""
    assets = db.session.scalars(export_query(args.get("status"))).unique()
    if args["format"] == "markdown":
        language = _language(args.get("language"))
        text = "\n---\n\n".join(services.export_markdown(a, language) for a in assets)
        return Response(
            text,
            mimetype="text/markdown",
            headers={"Content-Disposition": 'attachment; filename="assets.md"'},
        )
    lines = (
        json.dumps(services.export_record(a), ensure_ascii=False) + "\n" for a in assets
    )
    return Response(
        "".join(lines),
        mimetype="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="assets.jsonl"'},
    )


# --- vocabularies and synonyms ----------------------------------------------------


@assets_api.route("/vocabularies")
@roles_required(ANY_ROLE)
@assets_api.response(200, VocabulariesSchema)
def vocabularies():
    """The managed facet vocabularies with bilingual labels."""
    return {
        facet.value: [
            {"key": v.key, "zh": v.label_zh, "en": v.label_en, "active": v.active}
            for v in services.facet_values(facet.value, active_only=False)
        ]
        for facet in Facet
    }


@assets_api.route("/vocabularies/<facet>/<key>", methods=["PUT"])
@roles_required(ADMINS)
@assets_api.arguments(VocabularyValueInSchema)
@assets_api.response(200, VocabularyValueSchema)
def save_vocabulary_value(data, facet, key):
    """Add a facet value or change its labels; ``active: false`` retires it."""
    row = services.save_facet_value(
        facet,
        key,
        data["label_zh"],
        data["label_en"],
        active=data["active"],
        actor=current_user,
    )
    return {
        "key": row.key,
        "zh": row.label_zh,
        "en": row.label_en,
        "active": row.active,
    }


def _group_or_404(group_id: int) -> SynonymGroup:
    group = db.session.get(SynonymGroup, group_id)
    if group is None:
        abort(404, message=f"No synonym group with id {group_id}.")
    return group


@assets_api.route("/synonyms")
@roles_required(ANY_ROLE)
@assets_api.response(200, SynonymGroupSchema(many=True))
def synonyms():
    """The bilingual synonym table that search expands queries with."""
    return services.synonym_groups()


@assets_api.route("/synonyms", methods=["POST"])
@roles_required(ADMINS)
@assets_api.doc(requestBody=json_body(SynonymGroupSchema))
@assets_api.response(201, SynonymGroupSchema)
def create_synonym_group():
    """Add a group of terms that mean the same (at least two, any language)."""
    return services.save_synonym_group(None, _body().get("terms"), actor=current_user)


@assets_api.route("/synonyms/<int:group_id>", methods=["PUT"])
@roles_required(ADMINS)
@assets_api.doc(requestBody=json_body(SynonymGroupSchema))
@assets_api.response(200, SynonymGroupSchema)
def update_synonym_group(group_id):
    """Replace a group's terms."""
    group = _group_or_404(group_id)
    return services.save_synonym_group(group, _body().get("terms"), actor=current_user)


@assets_api.route("/synonyms/<int:group_id>", methods=["DELETE"])
@roles_required(ADMINS)
@assets_api.response(204)
def delete_synonym_group(group_id):
    """Remove a group."""
    services.delete_synonym_group(_group_or_404(group_id), actor=current_user)
