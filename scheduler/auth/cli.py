import sys

import click
from flask import Blueprint
from sqlalchemy import func, select

from ..errors import ValidationFailed
from ..extensions import db
from .models import User
from .services import (create_organisation, create_user, deactivate_user, find_organisation, set_organisation_sender,
                       set_password)

cli = Blueprint("auth_cli", __name__, cli_group=None)


def _problems(exc: ValidationFailed) -> click.ClickException:
    return click.ClickException("; ".join(f"{k}: {v}" for k, v in exc.fields.items()))


@cli.cli.command("create-organisation")
@click.argument("name")
@click.option("--short-name", default="", help="How people call it, e.g. 'ROPS Rzeszów' (also accepted by create-user).")
@click.option("--address", default="", help="Postal address, e.g. 'ul. Hetmańska 9, 35-045 Rzeszów'.")
def create_organisation_command(name, short_name, address):
    """Create an organisation (a regional centre that organises meetings); the first step of a new install."""
    try:
        org = create_organisation(name, short_name=short_name, address=address)
    except ValidationFailed as exc:
        raise _problems(exc) from exc
    click.echo(f"Utworzono organizację / created: {org.name} (--organisation {org.slug})")


@cli.cli.command("create-user")
@click.argument("email")
@click.option("--organisation", required=True, help="Organisation name, short name or slug, e.g. 'ROPS Rzeszów'.")
@click.option("--admin", is_flag=True, help="Administrator: manages every organisation's meetings.")
@click.option("--lead", is_flag=True, help="The organisation's lead organiser: manages its settings.")
@click.option("--name", default="", help="The organiser's full name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user_command(email, organisation, admin, lead, name, password_stdin):
    """Create an organiser account."""
    org = find_organisation(organisation)
    if org is None:
        raise click.ClickException(f"Nie ma organizacji „{organisation}” / no such organisation.")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Hasło / password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(email, password, org, name=name, is_admin=admin, is_lead=lead)
    except ValidationFailed as exc:
        raise _problems(exc) from exc
    click.echo(f"Utworzono / created: {user.email} ({org.name}{', admin' if admin else ''}{', lead' if lead else ''})")


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
        raise _problems(exc) from exc
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
        raise _problems(exc) from exc
    click.echo(f"{org.name}: {org.sender_email or '-'}")
