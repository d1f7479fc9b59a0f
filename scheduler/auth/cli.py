import sys

import click
from flask import Blueprint
from sqlalchemy import func, select

from ..errors import ValidationFailed
from ..extensions import db
from .models import User
from .services import create_user, deactivate_user, find_organisation, set_organisation_sender, set_password

cli = Blueprint("auth_cli", __name__, cli_group=None)


@cli.cli.command("create-user")
@click.argument("email")
@click.option("--organisation", required=True, help="Organisation name, short name or slug, e.g. 'ROPS Rzeszów'.")
@click.option("--admin", is_flag=True, help="Administrator: manages every organisation's meetings.")
@click.option("--name", default="", help="The organiser's full name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user_command(email, organisation, admin, name, password_stdin):
    """Create an organiser account."""
    org = find_organisation(organisation)
    if org is None:
        raise click.ClickException(f"Nie ma organizacji „{organisation}” / no such organisation.")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Hasło / password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(email, password, org, name=name, is_admin=admin)
    except ValidationFailed as exc:
        raise click.ClickException("; ".join(f"{k}: {v}" for k, v in exc.fields.items())) from exc
    click.echo(f"Utworzono / created: {user.email} ({org.name}{', admin' if admin else ''})")


def _user(email: str) -> User:
    user = db.session.execute(select(User).where(func.lower(User.email) == email.strip().lower())).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"Nie ma użytkownika „{email}” / no such user.")
    return user


@cli.cli.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def set_password_command(email, password_stdin):
    """Set an organiser's password; ends all their sessions and revokes their API tokens."""
    user = _user(email)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Nowe hasło / new password", hide_input=True, confirmation_prompt=True)
    try:
        set_password(user, password)
    except ValidationFailed as exc:
        raise click.ClickException("; ".join(f"{k}: {v}" for k, v in exc.fields.items())) from exc
    click.echo(f"Zmieniono hasło / password changed: {user.email}")


@cli.cli.command("deactivate-user")
@click.argument("email")
def deactivate_user_command(email):
    """Block an organiser's account: no login, every session ended, every API token revoked."""
    user = _user(email)
    deactivate_user(user)
    click.echo(f"Zablokowano / deactivated: {user.email}")


@cli.cli.command("organisation-sender")
@click.argument("organisation")
@click.argument("email", default="")
def organisation_sender_command(organisation, email):
    """Set the address calendars show as organiser when a meeting has no contact e-mail (empty: the service's)."""
    org = find_organisation(organisation)
    if org is None:
        raise click.ClickException(f"Nie ma organizacji „{organisation}” / no such organisation.")
    try:
        set_organisation_sender(org, email)
    except ValidationFailed as exc:
        raise click.ClickException("; ".join(f"{k}: {v}" for k, v in exc.fields.items())) from exc
    click.echo(f"{org.name}: {org.sender_email or '-'}")
