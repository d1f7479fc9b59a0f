"""The audit trail of a meeting, and of one declaration, for the meeting's organisers (admins: every meeting)."""
from __future__ import annotations

from datetime import timedelta

import click
from flask import Blueprint, current_app, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import delete, select

from ..database import utcnow
from ..events.services import get_managed_event
from ..extensions import db
from ..invitations.models import Invitation
from ..registration.models import Registration
from .models import AuditEntry

bp = Blueprint("audit", __name__, cli_group=None)

PAGE_SIZE = 200

# What the organiser did, by the page or API operation that did it; an unknown one shows its technical name.
ACTIONS = {
    "events.new": _l("Meeting created"),
    "events.edit": _l("Meeting edited"),
    "events.publish": _l("Meeting published"),
    "events.cancel": _l("Meeting cancelled"),
    "declarations.decide": _l("Declaration accepted or rejected"),
    "declarations.withdraw": _l("Declaration withdrawn on the institution's behalf"),
    "declarations.new_link": _l("Manage link replaced"),
    "declarations.enter": _l("Paper declaration entered"),
    "invitations.add": _l("Invitations added"),
    "invitations.import_confirm": _l("Invitations imported"),
    "invitations.revoke": _l("Invitation link revoked"),
    "notifications.send": _l("Invitations sent"),
    "reminders.send": _l("Reminder sent now"),
    "reminders.skip": _l("Reminder skipped or restored"),
    "privacy.erase": _l("Personal data erased"),
}
SUBJECTS = {"event": _l("meeting"), "registration": _l("declaration"), "participant": _l("participant"),
            "invitation": _l("invitation"), "scan": _l("signed scan")}
CHANGES = {"created": _l("created"), "changed": _l("changed"), "deleted": _l("deleted")}


def action_label(action: str) -> str:
    if action in ACTIONS:
        return str(ACTIONS[action])
    if action.startswith("api."):
        return f"API: {action[4:].replace('_', ' ')}"
    return action


@bp.get("/organiser/events/<int:event_id>/history")
@login_required
def history(event_id: int):
    event = get_managed_event(current_user, event_id)
    registration_id = request.args.get("registration", type=int)
    stmt = select(AuditEntry).where(AuditEntry.event_id == event.id)
    if registration_id is not None:
        stmt = stmt.where(AuditEntry.registration_id == registration_id)
    entries = list(db.session.execute(stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                                      .limit(PAGE_SIZE)).scalars())
    # Institutions by id, once per page: the entries keep ids, the names are read as they are now.
    registrations = dict(db.session.execute(select(Registration.id, Registration.institution).where(
        Registration.id.in_({e.registration_id for e in entries if e.registration_id}))).all())
    invitations = dict(db.session.execute(select(Invitation.id, Invitation.institution).where(
        Invitation.id.in_({e.invitation_id for e in entries if e.invitation_id}))).all())
    return render_template("audit/history.html", event=event, entries=entries, registration_id=registration_id,
                           registrations=registrations, invitations=invitations, action_label=action_label,
                           subjects=SUBJECTS, changes=CHANGES, page_size=PAGE_SIZE)


def purge_old_entries(now=None) -> int:
    """Delete audit entries older than AUDIT_RETENTION_DAYS; returns how many."""
    cutoff = (now or utcnow()) - timedelta(days=current_app.config["AUDIT_RETENTION_DAYS"])
    deleted = db.session.execute(delete(AuditEntry).where(AuditEntry.at < cutoff)).rowcount
    db.session.commit()
    return deleted


@bp.cli.command("purge-audit")
def purge_audit_command() -> None:
    """Delete audit entries older than AUDIT_RETENTION_DAYS (the clock does it too, with the retention pass)."""
    count = purge_old_entries()
    click.echo(f"Usunięto {count} wpisów dziennika zmian starszych niż "
               f"{current_app.config['AUDIT_RETENTION_DAYS']} dni / deleted {count} audit entries.")
