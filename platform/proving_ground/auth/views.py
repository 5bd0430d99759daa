"""Sign-in, account and user administration pages."""

import sqlalchemy as sa
from flask import (
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from proving_ground.access import ANY_ROLE, Role, public, roles_required
from proving_ground.audit.services import record
from proving_ground.auth import bp, services
from proving_ground.auth.forms import (
    ConfirmForm,
    LoginForm,
    PasswordChangeForm,
    ProfileForm,
    TokenCreateForm,
    UserCreateForm,
    UserEditForm,
)
from proving_ground.auth.login import end_session, start_session
from proving_ground.auth.models import ApiToken, User, UserRole
from proving_ground.db import db
from proving_ground.limits import counts_as_failed_login, failed_login_key, limiter


def _login_limits():
    return current_app.config["LOGIN_RATE_LIMIT"]


def _address_limits():
    return current_app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"]


def _safe_next(target: str | None) -> str:
    """Only same-site paths are followed after sign-in."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("core.home")


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(
    _login_limits,
    key_func=failed_login_key,
    methods=["POST"],
    deduct_when=counts_as_failed_login,
)
@limiter.limit(_address_limits, methods=["POST"], deduct_when=counts_as_failed_login)
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is not None:
            start_session(user)
            return redirect(_safe_next(request.args.get("next")))
        g.login_failed = True
        form.password.errors.append(_("The e-mail or password is wrong."))
    return render_template("auth/login.html", form=form)


@bp.errorhandler(429)
def too_many_attempts(error):
    form = LoginForm()
    message = _(
        "Too many failed sign-in attempts. Wait %(wait)s and try again.",
        wait=_retry_after_text(error),
    )
    return render_template("auth/login.html", form=form, blocked=message), 429


def _retry_after_text(error) -> str:
    retry = None
    if getattr(error, "response", None) is not None:
        retry = error.response.headers.get("Retry-After")
    limit = getattr(error, "limit", None)
    if retry is None and limit is not None:
        retry = limit.limit.get_expiry()
    minutes = max(1, -(-int(retry or 900) // 60))
    return _("%(n)d minutes", n=minutes) if minutes > 1 else _("a minute")


@bp.route("/logout", methods=["POST"])
@roles_required(ANY_ROLE)
def logout():
    user = current_user._get_current_object()
    services.end_sessions(user)
    record(user, "auth.logout", user)
    end_session()
    flash(_("You have signed out on every device."), "success")
    return redirect(url_for("auth.login"))


# --- Account ----------------------------------------------------------------------


def _account_page(**forms):
    forms.setdefault("profile_form", ProfileForm(obj=current_user, prefix="profile"))
    if forms["profile_form"].locale.data is None:
        forms["profile_form"].locale.data = ""
    forms.setdefault("password_form", PasswordChangeForm(prefix="password"))
    forms.setdefault("token_form", TokenCreateForm(prefix="token"))
    return render_template(
        "auth/account.html",
        tokens=services.list_tokens(current_user),
        revoke_form=ConfirmForm(),
        **forms,
    )


@bp.route("/account")
@roles_required(ANY_ROLE)
def account():
    return _account_page()


@bp.route("/account/profile", methods=["POST"])
@roles_required(ANY_ROLE)
def update_profile():
    form = ProfileForm(prefix="profile")
    if not form.validate():
        return _account_page(profile_form=form), 200
    current_user.display_name = form.display_name.data.strip()
    services.set_locale(current_user, form.locale.data or None)
    flash(_("Your profile is saved."), "success")
    return redirect(url_for("auth.account"))


@bp.route("/account/password", methods=["POST"])
@roles_required(ANY_ROLE)
def change_password():
    form = PasswordChangeForm(prefix="password")
    if form.validate():
        try:
            services.change_password(
                current_user, form.current_password.data, form.new_password.data
            )
        except services.ServiceError as exc:
            getattr(form, exc.field).errors.append(exc.message)
        else:
            # This session goes on with the new session version; the others end.
            start_session(current_user._get_current_object())
            flash(
                _("Your password is changed. Other sessions were signed out."),
                "success",
            )
            return redirect(url_for("auth.account"))
    return _account_page(password_form=form), 200


@bp.route("/account/tokens", methods=["POST"])
@roles_required(ANY_ROLE)
def create_token():
    form = TokenCreateForm(prefix="token")
    if form.validate():
        try:
            _token, secret = services.create_token(current_user, form.name.data)
        except services.ServiceError as exc:
            form.name.errors.append(exc.message)
        else:
            return _account_page(
                token_form=TokenCreateForm(prefix="token"), new_secret=secret
            )
    return _account_page(token_form=form), 200


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@roles_required(ANY_ROLE)
def revoke_token(token_id: int):
    token = db.get_or_404(ApiToken, token_id)
    if token.user_id != current_user.id and not current_user.has_role(Role.ADMIN):
        abort(404)
    services.revoke_token(token, actor=current_user)
    flash(_("The token “%(name)s” is revoked.", name=token.name), "success")
    return redirect(_safe_next(request.form.get("next") or url_for("auth.account")))


# --- User administration -----------------------------------------------------------


@bp.route("/admin/users")
@roles_required(Role.ADMIN)
def users():
    q = request.args.get("q", "").strip()
    role = request.args.get("role", "")
    status = request.args.get("status", "")
    stmt = sa.select(User).order_by(User.email)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(
            sa.or_(
                User.email.like(like),
                sa.func.lower(User.display_name).like(like),
                sa.func.lower(User.team).like(like),
            )
        )
    if role in {r.value for r in Role}:
        stmt = stmt.where(User.role_rows.any(UserRole.role == role))
    if status == "active":
        stmt = stmt.where(User.active.is_(True))
    elif status == "inactive":
        stmt = stmt.where(User.active.is_(False))
    page = db.paginate(stmt, per_page=50, max_per_page=200)
    return render_template(
        "auth/users.html", page=page, q=q, role=role, status=status, roles=list(Role)
    )


@bp.route("/admin/users/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def create_user():
    form = UserCreateForm()
    if form.validate_on_submit():
        try:
            user = services.create_user(
                email=form.email.data,
                display_name=form.display_name.data,
                password=form.password.data,
                roles=form.roles.data,
                locale=form.locale.data or None,
                team=form.team.data or None,
                region=form.region.data or None,
                actor=current_user,
            )
        except services.ServiceError as exc:
            getattr(form, exc.field).errors.append(exc.message)
        else:
            flash(_("User %(email)s is created.", email=user.email), "success")
            return redirect(url_for("auth.users"))
    return render_template("auth/user_new.html", form=form)


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_user(user_id: int):
    user = db.get_or_404(User, user_id)
    form = UserEditForm(obj=user)
    if request.method == "GET":
        form.roles.data = sorted(r.value for r in user.roles)
    if form.validate_on_submit():
        if user.id == current_user.id and (
            not form.active.data or Role.ADMIN.value not in form.roles.data
        ):
            form.roles.errors.append(
                _(
                    "You cannot remove your own administrator role "
                    "or deactivate yourself."
                )
            )
        else:
            user.display_name = form.display_name.data.strip()
            user.team = form.team.data or None
            user.region = form.region.data or None
            services.set_roles(user, form.roles.data, actor=current_user)
            services.set_active(user, form.active.data, actor=current_user)
            flash(_("User %(email)s is saved.", email=user.email), "success")
            return redirect(url_for("auth.users"))
    return render_template(
        "auth/user_edit.html",
        form=form,
        user=user,
        tokens=services.list_tokens(user),
        confirm_form=ConfirmForm(),
    )


@bp.route("/admin/users/<int:user_id>/end-sessions", methods=["POST"])
@roles_required(Role.ADMIN)
def end_user_sessions(user_id: int):
    user = db.get_or_404(User, user_id)
    services.end_sessions(user)
    record(current_user, "auth.sessions_ended", user)
    flash(_("Every session of %(email)s is ended.", email=user.email), "success")
    return redirect(url_for("auth.edit_user", user_id=user.id))
