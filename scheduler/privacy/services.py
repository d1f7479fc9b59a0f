"""Personal data of declarants (RODO/GDPR): access, erasure and retention.

What counts as personal data here: the contact person's name, e-mail and
phone, the participants' names, positions and needs, free-text notes, the
uploaded scan, the e-mail address of an invitation and the e-mails sent to it.
What stays after erasure is anonymous: the institution's name and category,
the status, the channel and dates, and the number of seats (participant rows
are kept with their fields emptied, because `occupancy` counts seats as
participant rows and confirmed seats must not be freed by erasing data).
"""
from __future__ import annotations

from datetime import datetime, timedelta

import click
from flask import Blueprint, current_app
from sqlalchemy import func, or_, select

from ..auth.models import User
from ..database import utcnow
from ..errors import NotFound
from ..events.access import require_manage
from ..events.models import Event
from ..extensions import db
from ..invitations.models import Invitation
from ..notifications.models import Message
from ..registration.models import Registration
from ..tokens import new_token

cli = Blueprint("privacy_cli", __name__, cli_group=None)

# A reserved, never-deliverable domain (RFC 2606): an anonymised invitation keeps a unique, harmless address.
_ERASED_DOMAIN = "anonymised.invalid"
_ERASED = "—"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _matching(event: Event, email: str) -> tuple[list[Registration], list[Invitation], list[Message]]:
    key = (email or "").strip().lower()
    if not key:
        raise NotFound()
    registrations = list(db.session.execute(
        select(Registration).where(Registration.event_id == event.id, func.lower(Registration.email) == key)
        .order_by(Registration.id)).scalars())
    invitations = list(db.session.execute(
        select(Invitation).where(Invitation.event_id == event.id, func.lower(Invitation.email) == key)
        .order_by(Invitation.id)).scalars())
    for registration in registrations:
        if registration.invitation is not None and registration.invitation not in invitations:
            invitations.append(registration.invitation)
    conditions = [func.lower(Message.recipient) == key]
    if invitations:
        conditions.append(Message.invitation_id.in_([i.id for i in invitations]))
    if registrations:
        conditions.append(Message.registration_id.in_([r.id for r in registrations]))
    messages = list(db.session.execute(
        select(Message).where(Message.event_id == event.id, or_(*conditions)).order_by(Message.id)).scalars())
    return registrations, invitations, messages


def _registration_data(registration: Registration) -> dict:
    scan = registration.scan
    return {
        "id": registration.id,
        "institution": registration.institution,
        "category": registration.category,
        "contact_name": registration.contact_name,
        "email": registration.email,
        "phone": registration.phone,
        "language": registration.language,
        "notes": registration.notes,
        "status": registration.status,
        "channel": registration.channel,
        "counted_at": _iso(registration.counted_at),
        "queued_at": _iso(registration.queued_at),
        "created_at": _iso(registration.created_at),
        "updated_at": _iso(registration.updated_at),
        "decided_at": _iso(registration.decided_at),
        "withdrawn_at": _iso(registration.withdrawn_at),
        "anonymised_at": _iso(registration.anonymised_at),
        "participants": [{"name": p.name, "position": p.position, "needs": p.needs} for p in registration.participants],
        "consents": {"rodo": registration.consent_rodo, "statements": list(registration.statements_accepted or [])},
        # The file itself is downloadable by the organiser; the export says what is stored.
        "scan": None if scan is None else {"filename": scan.filename, "content_type": scan.content_type,
                                           "size": scan.size, "uploaded_at": _iso(scan.uploaded_at)},
    }


def _invitation_data(invitation: Invitation) -> dict:
    return {
        "id": invitation.id, "institution": invitation.institution, "category": invitation.category,
        "email": invitation.email, "language": invitation.language, "created_at": _iso(invitation.created_at),
        "sent_at": _iso(invitation.sent_at), "opened_at": _iso(invitation.opened_at),
        "answered_at": _iso(invitation.answered_at), "declined_at": _iso(invitation.declined_at),
        "revoked_at": _iso(invitation.revoked_at),
    }


def _message_data(message: Message) -> dict:
    return {
        "id": message.id, "kind": message.kind, "recipient": message.recipient, "subject": message.subject,
        "body_text": message.body_text, "status": message.status, "created_at": _iso(message.created_at),
        "sent_at": _iso(message.sent_at),
    }


def export_institution_data(user: User, event: Event, email: str) -> dict:
    """Everything stored about the institution behind `email` in this meeting, as a JSON-able dict.

    The RODO right of access: declarations (with participants, consents and
    what scan is stored), invitations and the e-mails the outbox holds for it.
    Only an organiser of the meeting (or an admin) may export; raises
    Forbidden otherwise and NotFound when nothing is stored for that e-mail.
    """
    require_manage(user, event)
    registrations, invitations, messages = _matching(event, email)
    if not registrations and not invitations and not messages:
        raise NotFound()
    return {
        "exported_at": utcnow().isoformat(),
        "event": {"id": event.id, "title": event.title, "reference": event.reference,
                  "starts_at": _iso(event.starts_at), "organisation": event.organisation.name},
        "email": email.strip(),
        "registrations": [_registration_data(r) for r in registrations],
        "invitations": [_invitation_data(i) for i in invitations],
        "messages": [_message_data(m) for m in messages],
    }


def _anonymise_registration(registration: Registration, now: datetime) -> None:
    registration.contact_name = _ERASED
    registration.email = ""
    registration.phone = ""
    registration.notes = ""
    registration.idempotency_key = None
    # The old manage link would show an empty declaration; make it lead nowhere.
    registration.manage_token = new_token()
    for participant in registration.participants:
        # Rows stay so the seat count (and with it occupancy) does not change.
        participant.name = _ERASED
        participant.position = ""
        participant.needs = ""
    registration.scan = None
    registration.anonymised_at = now


def _anonymise_invitation(invitation: Invitation, now: datetime) -> None:
    invitation.email = f"invitation-{invitation.id}@{_ERASED_DOMAIN}"
    # A new token kills the personal link; revoking keeps reminders from being planned for it.
    invitation.token = new_token()
    invitation.revoked_at = invitation.revoked_at or now


def _anonymise_message(message: Message) -> None:
    message.recipient = ""
    message.body_text = ""
    message.body_html = ""
    message.ics = None
    if message.status in ("queued", "sending", "failed", "undeliverable"):
        message.status = "skipped"
        message.last_error = "personal data erased"


def erase_institution_data(user: User, event: Event, email: str, *, now: datetime | None = None) -> dict:
    """Erase the personal data of the institution behind `email` in this meeting (RODO right to erasure).

    Contact person, e-mail, phone, notes, participants' names, positions and
    needs and the scan are removed; its invitations get an undeliverable
    address and a dead personal link; e-mails to it lose recipient and body
    (and are not sent any more). Kept: institution, category, status and the
    seat count, so the meeting's occupancy and reports do not change.
    Returns how many declarations, invitations and messages were anonymised.
    Raises Forbidden for other organisations' meetings, NotFound when nothing
    is stored for that e-mail.
    """
    now = now or utcnow()
    require_manage(user, event)
    registrations, invitations, messages = _matching(event, email)
    if not registrations and not invitations and not messages:
        raise NotFound()
    for registration in registrations:
        _anonymise_registration(registration, now)
    for invitation in invitations:
        _anonymise_invitation(invitation, now)
    for message in messages:
        _anonymise_message(message)
    db.session.commit()
    return {"registrations": len(registrations), "invitations": len(invitations), "messages": len(messages)}


def purge_expired_personal_data(now: datetime | None = None) -> dict:
    """Anonymise every declaration, invitation and e-mail of meetings that ended long enough ago.

    "Long enough" is PERSONAL_DATA_RETENTION_DAYS after the meeting's end.
    Declarations already anonymised are left alone, so running it again (from
    cron or by hand) changes nothing. Returns counts of what was anonymised.
    """
    now = now or utcnow()
    cutoff = now - timedelta(days=current_app.config["PERSONAL_DATA_RETENTION_DAYS"])
    expired = select(Event.id).where(Event.ends_at < cutoff)
    registrations = list(db.session.execute(select(Registration).where(
        Registration.event_id.in_(expired), Registration.anonymised_at.is_(None))).scalars())
    for registration in registrations:
        _anonymise_registration(registration, now)
    invitations = list(db.session.execute(select(Invitation).where(
        Invitation.event_id.in_(expired), ~Invitation.email.endswith("@" + _ERASED_DOMAIN))).scalars())
    for invitation in invitations:
        _anonymise_invitation(invitation, now)
    messages = list(db.session.execute(select(Message).where(
        Message.event_id.in_(expired), Message.recipient != "")).scalars())
    for message in messages:
        _anonymise_message(message)
    db.session.commit()
    return {"registrations": len(registrations), "invitations": len(invitations), "messages": len(messages)}


@cli.cli.command("purge-personal-data")
def purge_personal_data_command() -> None:
    """Anonymise personal data of meetings that ended more than PERSONAL_DATA_RETENTION_DAYS ago."""
    counts = purge_expired_personal_data()
    click.echo(f"Anonymised {counts['registrations']} declarations, {counts['invitations']} invitations "
               f"and {counts['messages']} e-mails of meetings that ended more than "
               f"{current_app.config['PERSONAL_DATA_RETENTION_DAYS']} days ago.")
