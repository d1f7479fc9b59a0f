"""The e-mails the service writes: what each says, to whom, and which facts it freezes when planned.

Planning (the functions below, called by the subscribers in the transaction
of the change) writes compact outbox rows: kind, ids, recipient, language,
dedupe key, Message-ID, the calendar METHOD, a one-line subject for the mail
log, and a small JSON payload with the template and the facts that must stay
as they were at that moment (status, seats, waiting position, previous status,
changed fields, the attendee's answer). Nothing is rendered here:
`rendering.render` builds subject, text, HTML and .ics when the message is
delivered, from the payload and the meeting as it is then.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from ..events.models import Event
from ..extensions import db
from ..invitations.models import Invitation
from ..registration.models import ACTIVE_STATUSES, Registration, RegistrationStatus
from .models import Message, MessageStatus
from .outbox import plan_rows

# --- wording: subjects by key (one place, used when planning and when delivering) ------------------------

SUBJECTS = {
    "invitation": lambda facts: _("Invitation"),
    "received_confirmed": lambda facts: _("Declaration received: place confirmed"),
    "received_waitlisted": lambda facts: _("Declaration received: on the waiting list"),
    "received_pending": lambda facts: _("Declaration received: awaiting approval"),
    "received": lambda facts: _("Declaration received"),
    "copy": lambda facts: _("New declaration: %(institution)s", institution=facts.get("institution", "")),
    "promoted": lambda facts: _("A place has become free: your participation is confirmed"),
    "accepted": lambda facts: _("Declaration accepted: place confirmed"),
    "waitlisted": lambda facts: _("Declaration accepted: on the waiting list"),
    "rejected": lambda facts: _("Declaration not accepted"),
    "withdrawn": lambda facts: _("Declaration withdrawn"),
    "new_link": lambda facts: _("New link to your declaration"),
    "event_changed": lambda facts: _("Meeting changed"),
    "event_cancelled": lambda facts: _("Meeting cancelled"),
    "reminder_before_deadline": lambda facts: _("Reminder: declaration deadline approaching"),
    "reminder_before_meeting": lambda facts: _("Reminder: the meeting is coming up"),
    "reminder_deadline_summary": lambda facts: _("Declaration deadline reached: summary"),
    "certificates": lambda facts: _("Certificates of attendance"),
}


def language_of(language: str | None) -> str:
    return language if language in current_app.config["LANGUAGES"] else current_app.config["BABEL_DEFAULT_LOCALE"]


def subject_line(event: Event, key: str, language: str, facts: dict) -> str:
    """The subject in the recipient's language, with the meeting's title and reference number."""
    with force_locale(language):
        subject = f"{SUBJECTS[key](facts)} – {event.title}"
    if event.reference:
        subject += f" ({event.reference})"
    return subject


def row(*, event: Event, kind: str, template: str, subject: str, recipient: str, language: str, dedupe_key: str,
        ics_method: str | None = None, link: str | None = None, attendee: dict | None = None,
        invitation_id: int | None = None, registration_id: int | None = None, subjects: dict | None = None,
        **facts) -> dict:
    """One compact outbox row. `subjects` caches subject lines per (key, language) within one planning call."""
    language = language_of(language)
    cache_key = (subject, language, facts.get("institution"))
    if subjects is not None and cache_key in subjects:
        line = subjects[cache_key]
    else:
        line = subject_line(event, subject, language, facts)
        if subjects is not None:
            subjects[cache_key] = line
    return {
        "event_id": event.id, "kind": kind, "recipient": recipient, "language": language, "subject": line,
        "dedupe_key": dedupe_key, "ics_method": ics_method, "invitation_id": invitation_id,
        "registration_id": registration_id,
        "payload": {"template": template, "subject": subject, "link": link, "attendee": attendee, "facts": facts},
    }


# --- invitations -------------------------------------------------------------------

def invitation_row(invitation: Invitation, event: Event, dedupe_key: str, subjects: dict | None = None) -> dict:
    """The invitation with the personal link, the deadline and a REQUEST invite."""
    return row(event=event, kind="invitation", template="invitation", subject="invitation",
               recipient=invitation.email, language=invitation.language, dedupe_key=dedupe_key,
               ics_method="REQUEST", link="personal", attendee={"partstat": "NEEDS-ACTION"},
               invitation_id=invitation.id, subjects=subjects)


# --- declarations --------------------------------------------------------------

def _declaration_facts(registration: Registration, position: int | None) -> dict:
    return {"status": registration.status, "seats": registration.seats, "queue_position": position}


def _cause(registration: Registration) -> str:
    """Names this change of the declaration in dedupe keys: every change stamps `updated_at`.

    A declaration can be confirmed, withdrawn and confirmed again; each time is
    a new cause, found without counting earlier messages in the outbox.
    """
    return registration.updated_at.strftime("%Y%m%dT%H%M%S%f")


def organiser_address(event: Event) -> str:
    return event.contact_email or (event.created_by.email if event.created_by else "")


def declaration_received(registration: Registration, position: int | None) -> list[dict]:
    """A new declaration: the declarant learns its outcome (with an invite if confirmed), the organiser gets a copy."""
    event = registration.event
    status = registration.status
    number = _cause(registration)
    facts = _declaration_facts(registration, position)
    confirmed = status == RegistrationStatus.CONFIRMED.value
    rows = [row(event=event, kind=f"declaration_{status}", template="declaration_received",
                subject=f"received_{status}" if f"received_{status}" in SUBJECTS else "received",
                recipient=registration.email, language=registration.language,
                dedupe_key=f"registration:{registration.id}:created:{number}",
                ics_method="REQUEST" if confirmed else None, link="manage",
                attendee={"partstat": "ACCEPTED"} if confirmed else None,
                invitation_id=registration.invitation_id, registration_id=registration.id, **facts)]
    address = organiser_address(event)
    if address:
        rows.append(row(event=event, kind="declaration_copy", template="declaration_copy", subject="copy",
                        recipient=address, language=current_app.config["BABEL_DEFAULT_LOCALE"],
                        dedupe_key=f"registration:{registration.id}:copy:{number}", link="organiser",
                        registration_id=registration.id, institution=registration.institution, **facts))
    return rows


def declaration_status_changed(registration: Registration, previous: str, position: int | None) -> list[dict]:
    """Tell the declarant what the change means; a new place comes with an invite, a lost one with a CANCEL."""
    status = registration.status
    if status == previous:
        return []
    was_confirmed = previous == RegistrationStatus.CONFIRMED.value
    if status == RegistrationStatus.CONFIRMED.value:
        change = "promoted" if previous == RegistrationStatus.WAITLISTED.value else "accepted"
        method, partstat = "REQUEST", "ACCEPTED"
    elif status == RegistrationStatus.WAITLISTED.value:
        change, method, partstat = "waitlisted", None, "ACCEPTED"
    elif status in (RegistrationStatus.REJECTED.value, RegistrationStatus.WITHDRAWN.value):
        change, partstat = status, "DECLINED"
        method = "CANCEL" if was_confirmed else None
    else:
        return []
    return [row(event=registration.event, kind=f"declaration_{change}", template="declaration_status",
                subject=change, recipient=registration.email, language=registration.language,
                dedupe_key=f"registration:{registration.id}:status:{status}:{_cause(registration)}",
                ics_method=method, link="manage", attendee={"partstat": partstat} if method else None,
                invitation_id=registration.invitation_id, registration_id=registration.id,
                change=change, previous=previous, method_cancel=method == "CANCEL",
                **_declaration_facts(registration, position))]


def manage_link_replaced(registration: Registration) -> list[dict]:
    if not registration.email:
        return []
    return [row(event=registration.event, kind="manage_link_replaced", template="manage_link_replaced",
                subject="new_link", recipient=registration.email, language=registration.language,
                dedupe_key=f"registration:{registration.id}:new-link:{_cause(registration)}", link="manage",
                invitation_id=registration.invitation_id, registration_id=registration.id,
                **_declaration_facts(registration, None))]


# --- the meeting changes or is cancelled ---------------------------------------

@dataclass
class CalendarHolder:
    """Someone told about the meeting: an invitee who was sent the invitation, or an active declarant."""

    email: str
    language: str
    name: str
    partstat: str
    link: str  # "personal" or "manage": which of the person's links the e-mail carries
    has_invite: bool
    invitation_id: int | None = None
    registration_id: int | None = None


def calendar_holders(event: Event, *, include_revoked: bool) -> list[CalendarHolder]:
    """One entry per address: invitees whose invitation went out (or is going out), and active declarations.

    `has_invite` says whether the person got an .ics before (the invitation,
    or a confirmation), and so should get the updated or cancelled one.
    """
    delivered = select(Message.invitation_id).where(
        Message.event_id == event.id, Message.kind == "invitation",
        Message.status.in_([MessageStatus.SENT.value, MessageStatus.SENDING.value]))
    stmt = select(Invitation).where(Invitation.event_id == event.id, Invitation.id.in_(delivered))
    if not include_revoked:
        stmt = stmt.where(Invitation.revoked_at.is_(None))
    holders: dict[str, CalendarHolder] = {}
    for invitation in db.session.execute(stmt.order_by(Invitation.id)).scalars():
        holders.setdefault(invitation.email.lower(), CalendarHolder(
            invitation.email, invitation.language, invitation.institution,
            "DECLINED" if invitation.declined_at else "NEEDS-ACTION", "personal", True, invitation_id=invitation.id))
    registrations = db.session.execute(select(Registration).where(
        Registration.event_id == event.id, Registration.status.in_(ACTIVE_STATUSES)).order_by(Registration.id)).scalars()
    for registration in registrations:
        key = registration.email.lower()
        earlier = holders.get(key)
        confirmed = registration.status == RegistrationStatus.CONFIRMED.value
        holders[key] = CalendarHolder(
            registration.email, registration.language, registration.institution,
            "ACCEPTED" if confirmed else "TENTATIVE", "manage",
            confirmed or (earlier is not None and earlier.has_invite),
            invitation_id=registration.invitation_id or (earlier.invitation_id if earlier else None),
            registration_id=registration.id)
    return list(holders.values())


def meeting_changed(event: Event, changed_fields: list[str]) -> list[dict]:
    """Time or place changed: everyone told about the meeting gets the news and, if they hold it, a new invite."""
    subjects: dict = {}
    return [row(event=event, kind="event_changed", template="event_changed", subject="event_changed",
                recipient=holder.email, language=holder.language,
                dedupe_key=f"event:{event.id}:changed:{event.ical_sequence}:{holder.email.lower()}",
                ics_method="REQUEST" if holder.has_invite else None, link=holder.link,
                attendee={"name": holder.name, "partstat": holder.partstat}, invitation_id=holder.invitation_id,
                registration_id=holder.registration_id, subjects=subjects, changed=sorted(changed_fields))
            for holder in calendar_holders(event, include_revoked=False)]


def meeting_cancelled(event: Event) -> list[dict]:
    """A CANCEL (same UID, raised SEQUENCE) to every invitee sent an invitation and every active declarant."""
    subjects: dict = {}
    return [row(event=event, kind="event_cancelled", template="event_cancelled", subject="event_cancelled",
                recipient=holder.email, language=holder.language,
                dedupe_key=f"event:{event.id}:cancelled:{holder.email.lower()}", ics_method="CANCEL",
                link=holder.link, attendee={"name": holder.name, "partstat": holder.partstat},
                invitation_id=holder.invitation_id, registration_id=holder.registration_id, subjects=subjects)
            for holder in calendar_holders(event, include_revoked=True)]


# --- after the meeting: certificates ----------------------------------------------

CERTIFICATES = "certificates"


def certificates_mail(event: Event, *, batches, **_) -> list[dict]:
    """One e-mail per declaration with its participants' certificates; the row holds their ids, the PDFs are
    made when it is sent. Each certificate is in one such e-mail only, so the lowest id names it."""
    subjects: dict = {}
    rows = []
    for batch in batches:
        ids = sorted(certificate.id for certificate in batch.certificates)
        rows.append(row(event=event, kind=CERTIFICATES, template="certificates", subject="certificates",
                        recipient=batch.email, language=batch.language,
                        dedupe_key=f"certificates:{batch.registration_id}:{ids[0]}",
                        registration_id=batch.registration_id, subjects=subjects, certificates=ids))
    return rows


def plan_certificates_mail(event: Event, *, batches, **_) -> int:
    """The receiver of presence's `certificates_to_be_mailed`: plans `certificates_mail`."""
    return plan(certificates_mail(event, batches=batches))


def certificate_mail_states(event: Event, **_) -> dict[int, MessageStatus]:
    """{certificate id: status of the e-mail carrying it} for the meeting's certificates e-mailed or on their way."""
    states: dict[int, MessageStatus] = {}
    for status, payload in db.session.execute(select(Message.status, Message.payload).where(
            Message.event_id == event.id, Message.kind == CERTIFICATES).order_by(Message.id)):
        for certificate_id in ((payload or {}).get("facts") or {}).get("certificates") or ():
            states[certificate_id] = MessageStatus(status)
    return states


def plan(rows: list[dict]) -> int:
    """Write planned rows to the outbox (one statement); return how many were new."""
    return plan_rows(rows)
