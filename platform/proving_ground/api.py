"""JSON API plumbing: flask-smorest for validation and the OpenAPI document.

flask-smorest (marshmallow-code) is chosen because one marshmallow schema does three
jobs: it validates the request (422 with per-field messages), serialises the
response, and documents both in ``/api/v1/openapi.json``.

Pagination convention, for every list endpoint: ``?page=`` (from 1) and
``?per_page=`` (default 50, at most 200); the body is
``{"items": [...], "page": 1, "per_page": 50, "total": 123, "pages": 3}``.
"""

from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import Flask, current_app, jsonify
from flask_smorest import Api as SmorestApi
from flask_smorest import Blueprint

from proving_ground.access import ANY_ROLE, public, roles_required
from proving_ground.db import db


class ErrorBodySchema(ma.Schema):
    code = ma.fields.String(metadata={"description": "Machine-readable error code"})
    message = ma.fields.String(metadata={"description": "Human-readable message"})
    fields = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "Problems per input field"},
    )


class ErrorSchema(ma.Schema):
    error = ma.fields.Nested(ErrorBodySchema)


class Api(SmorestApi):
    """flask-smorest's Api with the project's error shape (see errors.py)."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        """Errors are handled app-wide by proving_ground.errors, for API and pages."""


api = Api()


class PaginationArgs(ma.Schema):
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1))
    per_page = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1))


def page_schema(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    """A response schema for one page of ``item_schema`` objects."""
    return ma.Schema.from_dict(
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema)),
            "page": ma.fields.Integer(),
            "per_page": ma.fields.Integer(),
            "total": ma.fields.Integer(),
            "pages": ma.fields.Integer(),
        },
        name=f"{item_schema.__name__.removesuffix('Schema')}PageSchema",
    )


def paginate(stmt: sa.Select, args: dict[str, Any]) -> dict[str, Any]:
    """One page of ``stmt`` following the pagination convention above."""
    config = current_app.config
    per_page = min(
        args.get("per_page") or config["API_PER_PAGE_DEFAULT"],
        config["API_PER_PAGE_MAX"],
    )
    page = db.paginate(
        stmt, page=args.get("page", 1), per_page=per_page, error_out=False
    )
    return {
        "items": page.items,
        "page": page.page,
        "per_page": page.per_page,
        "total": page.total,
        "pages": page.pages,
    }


core_api = Blueprint(
    "api", __name__, url_prefix="/api/v1", description="Health and the current user."
)


class HealthSchema(ma.Schema):
    status = ma.fields.String(metadata={"example": "ok"})
    database = ma.fields.String(metadata={"example": "ok"})


@core_api.route("/health")
@public
@core_api.response(200, HealthSchema)
@core_api.alt_response(503, schema=HealthSchema, description="Database unreachable")
def health():
    """Is the service up and its database reachable?"""
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        db.session.rollback()
        current_app.logger.warning("health check: database unreachable: %s", exc)
        response = jsonify(
            {
                "status": "error",
                "database": "unreachable",
                "error": {
                    "code": "service_unavailable",
                    "message": "The database is unreachable.",
                },
            }
        )
        response.status_code = 503
        return response
    return {"status": "ok", "database": "ok"}


class MeSchema(ma.Schema):
    id = ma.fields.Integer()
    email = ma.fields.String()
    display_name = ma.fields.String()
    roles = ma.fields.List(ma.fields.String(), attribute="role_names")
    locale = ma.fields.String(allow_none=True)
    team = ma.fields.String(allow_none=True)
    region = ma.fields.String(allow_none=True)


@core_api.route("/me")
@roles_required(ANY_ROLE)
@core_api.response(200, MeSchema)
def me():
    """The user the request acts for."""
    from flask_login import current_user

    return current_user._get_current_object()


def init_app(app: Flask) -> None:
    api.init_app(
        app,
        spec_kwargs={
            "info": {
                "description": (
                    "Proving Ground JSON API. Authenticate with "
                    "`Authorization: Bearer <token>` (create tokens on your account "
                    "page or with `proving-ground tokens create`). Errors share one "
                    'shape: `{"error": {"code", "message", "fields"}}`. Lists take '
                    "`?page=` and `?per_page=` (default 50, at most 200)."
                )
            },
        },
    )
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer"}
    )
    api.spec.options["security"] = [{"bearerAuth": []}]
    api.register_blueprint(core_api)
