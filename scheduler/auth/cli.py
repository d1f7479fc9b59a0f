import sys

import click
from flask import Blueprint

from ..errors import ValidationFailed
from .services import create_user, find_organisation

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
