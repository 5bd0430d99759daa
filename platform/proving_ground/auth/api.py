"""Users and API tokens over the JSON API."""

import marshmallow as ma
import sqlalchemy as sa
from flask_login import current_user
from flask_smorest import Blueprint, abort

from proving_ground.access import ANY_ROLE, Role, roles_required
from proving_ground.api import MeSchema, PaginationArgs, page_schema, paginate
from proving_ground.auth import services
from proving_ground.auth.models import ApiToken, User, UserRole
from proving_ground.db import db

users_api = Blueprint(
    "users_api",
    __name__,
    url_prefix="/api/v1/users",
    description="User accounts (administrators).",
)
tokens_api = Blueprint(
    "tokens_api",
    __name__,
    url_prefix="/api/v1/tokens",
    description="The caller's API tokens.",
)


class UserSchema(MeSchema):
    active = ma.fields.Boolean()
    created_at = ma.fields.AwareDateTime()
    last_login_at = ma.fields.AwareDateTime(allow_none=True)


class UserFilterArgs(PaginationArgs):
    q = ma.fields.String(metadata={"description": "Part of e-mail or name"})
    role = ma.fields.String(validate=ma.validate.OneOf([r.value for r in Role]))
    active = ma.fields.Boolean()


class UserCreateSchema(ma.Schema):
    email = ma.fields.Email(required=True)
    display_name = ma.fields.String(
        required=True, validate=ma.validate.Length(min=1, max=120)
    )
    password = ma.fields.String(
        required=True, load_only=True, validate=ma.validate.Length(max=128)
    )
    roles = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf([r.value for r in Role])),
        required=True,
    )
    locale = ma.fields.String(
        load_default=None, allow_none=True, validate=ma.validate.OneOf(["zh_CN", "en"])
    )
    team = ma.fields.String(load_default=None, allow_none=True)
    region = ma.fields.String(load_default=None, allow_none=True)


@users_api.route("")
@roles_required(Role.ADMIN)
@users_api.arguments(UserFilterArgs, location="query")
@users_api.response(200, page_schema(UserSchema))
def list_users(args):
    """Users, by e-mail."""
    stmt = sa.select(User).order_by(User.email)
    if args.get("q"):
        like = f"%{args['q'].lower()}%"
        stmt = stmt.where(
            sa.or_(User.email.like(like), sa.func.lower(User.display_name).like(like))
        )
    if args.get("role"):
        stmt = stmt.where(User.role_rows.any(UserRole.role == args["role"]))
    if "active" in args:
        stmt = stmt.where(User.active.is_(args["active"]))
    return paginate(stmt, args)


@users_api.route("", methods=["POST"])
@roles_required(Role.ADMIN)
@users_api.arguments(UserCreateSchema)
@users_api.response(201, UserSchema)
def create_user(data):
    """Create a user. Passwords follow the same policy as the pages."""
    try:
        return services.create_user(actor=current_user, **data)
    except services.ServiceError as exc:
        abort(exc.status, message=exc.message, fields={exc.field: [exc.message]})


class TokenSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    prefix = ma.fields.String(metadata={"description": "First characters of the token"})
    created_at = ma.fields.AwareDateTime()
    last_used_at = ma.fields.AwareDateTime(allow_none=True)
    revoked_at = ma.fields.AwareDateTime(allow_none=True)


class NewTokenSchema(TokenSchema):
    token = ma.fields.String(metadata={"description": "The secret; shown only once"})


class TokenCreateSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))


@tokens_api.route("")
@roles_required(ANY_ROLE)
@tokens_api.response(200, TokenSchema(many=True))
def list_tokens():
    """The caller's tokens, newest first (secrets are never shown again)."""
    return services.list_tokens(current_user)


@tokens_api.route("", methods=["POST"])
@roles_required(ANY_ROLE)
@tokens_api.arguments(TokenCreateSchema)
@tokens_api.response(201, NewTokenSchema)
def create_token(data):
    """Create a token for the caller; the response holds its secret, once."""
    token, secret = services.create_token(current_user, data["name"])
    fields = {name: getattr(token, name) for name in TokenSchema().fields}
    return {**fields, "token": secret}


@tokens_api.route("/<int:token_id>", methods=["DELETE"])
@roles_required(ANY_ROLE)
@tokens_api.response(204)
def revoke_token(token_id: int):
    """Revoke one of the caller's tokens (administrators: anyone's)."""
    token = db.session.get(ApiToken, token_id)
    if token is None or (
        token.user_id != current_user.id and not current_user.has_role(Role.ADMIN)
    ):
        abort(404, message="No such token.")
    services.revoke_token(token, actor=current_user)
