"""The ``proving-ground`` command: the Flask CLI of this app plus its own groups."""

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from proving_ground.access import Role
from proving_ground.auth import services as auth_services
from proving_ground.auth.models import User
from proving_ground.db import db
from proving_ground.demo import DEMO_USERS, load

# --- users ------------------------------------------------------------------------

users_cli = click.Group("users", help="Create and list users.")


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", "display_name", help="Display name (default: the e-mail).")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice([r.value for r in Role]),
    help="Repeat for several roles.",
)
@click.option("--password", help="Prompted for (hidden) when absent.")
@click.option("--team")
@click.option("--region")
@click.option("--locale", type=click.Choice(["zh_CN", "en"]))
@with_appcontext
def create_user(email, display_name, roles, password, team, region, locale):
    """Create a user."""
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = auth_services.create_user(
            email=email,
            display_name=display_name or email.split("@")[0],
            password=password,
            roles=roles,
            team=team,
            region=region,
            locale=locale,
        )
    except auth_services.ServiceError as exc:
        db.session.rollback()
        raise click.UsageError(f"{exc.field}: {exc.message}") from None
    db.session.commit()
    click.echo(f"Created {user.email} ({', '.join(sorted(roles))}).")


@users_cli.command("list")
@with_appcontext
def list_users():
    """List users with their roles."""
    users = db.session.scalars(sa.select(User).order_by(User.email)).all()
    if not users:
        click.echo("No users.")
        return
    width = max(len(u.email) for u in users)
    for user in users:
        roles = ",".join(sorted(r.value for r in user.roles)) or "-"
        state = "" if user.active else "  (inactive)"
        click.echo(f"{user.email:<{width}}  {roles:<28} {user.display_name}{state}")


# --- tokens -----------------------------------------------------------------------

tokens_cli = click.Group("tokens", help="Create and revoke API tokens.")


def _user_or_fail(email: str) -> User:
    user = auth_services.get_user_by_email(email)
    if user is None:
        raise click.UsageError(f"No user with e-mail {email}.")
    return user


@tokens_cli.command("create")
@click.option("--email", required=True, help="The user the token acts for.")
@click.option("--name", required=True, help="What the token is for.")
@with_appcontext
def create_token(email, name):
    """Create a token; its secret is printed alone on the last line."""
    user = _user_or_fail(email)
    try:
        token, secret = auth_services.create_token(user, name)
    except auth_services.ServiceError as exc:
        raise click.UsageError(f"{exc.field}: {exc.message}") from None
    db.session.commit()
    click.echo(f"Token {token.id} “{token.name}” for {user.email}. Shown only once:")
    click.echo(secret)


@tokens_cli.command("list")
@click.option("--email", required=True)
@with_appcontext
def list_tokens(email):
    """List a user's tokens."""
    for token in auth_services.list_tokens(_user_or_fail(email)):
        state = "revoked" if token.revoked_at else "active"
        used = (
            token.last_used_at.isoformat(timespec="seconds")
            if token.last_used_at
            else "never"
        )
        click.echo(
            f"{token.id:>5}  {token.prefix}…  {state:<8} last used {used}  {token.name}"
        )


@tokens_cli.command("revoke")
@click.option("--email", required=True)
@click.option("--name", help="Revoke the user's tokens with this name.")
@click.option("--id", "token_id", type=int, help="Revoke the token with this id.")
@click.option("--all", "revoke_all", is_flag=True, help="Revoke all the user's tokens.")
@with_appcontext
def revoke_token(email, name, token_id, revoke_all):
    """Revoke tokens of a user, chosen by name, id or all."""
    if sum(bool(x) for x in (name, token_id, revoke_all)) != 1:
        raise click.UsageError("Give exactly one of --name, --id or --all.")
    tokens = [
        t
        for t in auth_services.list_tokens(_user_or_fail(email))
        if t.revoked_at is None and (revoke_all or t.name == name or t.id == token_id)
    ]
    if not tokens:
        raise click.UsageError("No matching active token.")
    for token in tokens:
        auth_services.revoke_token(token, actor=None)
    db.session.commit()
    click.echo(f"Revoked {len(tokens)} token(s).")


# --- write keys -------------------------------------------------------------------

write_keys_cli = click.Group(
    "write-keys", help="Ingest-only keys that can send events."
)


@write_keys_cli.command("create")
@click.option("--name", required=True, help="Which system sends with it.")
@click.option("--email", help="Record this user as its creator.")
@with_appcontext
def create_write_key(name, email):
    """Create a write key; the key is printed alone on the last line."""
    creator = _user_or_fail(email) if email else None
    try:
        token, secret = auth_services.create_token(creator, name, kind="ingest")
    except auth_services.ServiceError as exc:
        raise click.UsageError(f"{exc.field}: {exc.message}") from None
    db.session.commit()
    click.echo(f"Write key {token.id} “{token.name}”. Shown only once:")
    click.echo(secret)


@write_keys_cli.command("list")
@with_appcontext
def list_write_keys():
    """List write keys."""
    for token in auth_services.list_write_keys():
        state = "revoked" if token.revoked_at else "active"
        used = (
            token.last_used_at.isoformat(timespec="seconds")
            if token.last_used_at
            else "never"
        )
        click.echo(
            f"{token.id:>5}  {token.prefix}…  {state:<8} last used {used}  {token.name}"
        )


@write_keys_cli.command("revoke")
@click.option("--id", "key_id", type=int, required=True)
@with_appcontext
def revoke_write_key(key_id):
    """Revoke a write key by id."""
    token = next((t for t in auth_services.list_write_keys() if t.id == key_id), None)
    if token is None or token.revoked_at is not None:
        raise click.UsageError("No active write key with this id.")
    auth_services.revoke_token(token, actor=None)
    db.session.commit()
    click.echo(f"Revoked write key {key_id}.")


# --- demo -------------------------------------------------------------------------

demo_cli = click.Group("demo", help="Bilingual demo data.")


@demo_cli.command("load")
@click.option(
    "--if-empty", is_flag=True, help="Do nothing when the database already has users."
)
@with_appcontext
def load_demo(if_empty):
    """Load demo data; running it twice changes nothing."""
    admin = DEMO_USERS[0]["email"]
    if if_empty and db.session.scalar(sa.select(sa.func.count()).select_from(User)):
        click.echo("The database has users already; demo data not loaded.")
    else:
        created = load(progress=lambda label: click.echo(f"  · {label}", err=True))
        db.session.commit()
        click.echo(f"Demo data loaded ({created} new records).")
    if auth_services.get_user_by_email(admin) is not None:
        click.echo(
            f"Sign in as {admin} with password {current_app.config['DEMO_PASSWORD']}"
        )


def init_app(app) -> None:
    for group in (users_cli, tokens_cli, write_keys_cli, demo_cli):
        app.cli.add_command(group)
