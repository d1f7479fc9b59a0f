"""The e-mails the service writes: what each says, to whom, with which calendar object.

Each function renders one kind of message in the recipient's language
(templates/email/<template>.txt and .html) and writes it to the outbox with a
dedupe key naming its cause, so a repeated cause never queues a second copy.
Nothing here sends; the dispatcher does.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass

from flask import current_app, has_request_context, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from ..calendar import ical
from ..database import utcnow
from ..events.models import Event
from ..extensions import db
from ..invitations.models import Invitation
from ..registration.models import ACTIVE_STATUSES, Registration, RegistrationStatus
from .models import Message, MessageStatus
from .outbox import enqueue, next_number

CONFIRMED = RegistrationStatus.CONFIRMED.value
WAITLISTED = RegistrationStatus.WAITLISTED.value
PENDING = RegistrationStatus.PENDING.value
REJECTED = RegistrationStatus.REJECTED.value
WITHDRAWN = RegistrationStatus.WITHDRAWN.value


# --- links ---------------------------------------------------------------------

@contextmanager
def _urls():
    """url_for needs a request; the clock and the CLI have none. Links are absolute on BASE_URL either way."""
    if has_request_context():
        yield
    else:
        with current_app.test_request_context():
            yield


def absolute(endpoint: str, **values) -> str:
    with _urls():
        return current_app.config["BASE_URL"] + url_for(endpoint, **values)


def personal_link(invitation: Invitation) -> str:
    from ..invitations.services import personal_url

    with _urls():
        return personal_url(invitation)


def manage_link(registration: Registration) -> str:
    return absolute("registration.manage", manage_token=registration.manage_token)


def event_link(event: Event) -> str:
    return absolute("registration.event_page", event_id=event.id)


def organiser_link(event: Event) -> str:
    return absolute("events.overview", event_id=event.id)


# --- rendering -------------------------------------------------------------------

def _render(template: str, language: str, **context) -> tuple[str, str]:
    with _urls():
        text = render_template(f"email/{template}.txt", **context)
        html = render_template(f"email/{template}.html", **context)
    # Text templates keep the line breaks of their tags; no more than one blank line in a row.
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n", html


def _base_context(event: Event) -> dict:
    from ..web.filters import event_when

    return {
        "event": event, "when": event_when(event), "place": ical.location(event),
        "event_url": event_link(event), "ics_url": absolute("calendar.event_ics", event_id=event.id),
        "footer": current_app.config["FUNDING_FOOTER"],
    }


def queue_message(*, event: Event, kind: str, template: str, recipient: str, language: str, subject,
                  dedupe_key: str, ics_method: str | None = None, attendee: ical.Attendee | None = None,
                  link: str | None = None, invitation: Invitation | None = None,
                  registration: Registration | None = None, **context) -> Message | None:
    """Render templates/email/<template>.{txt,html} in the recipient's language and put it in the outbox.

    `subject` is a callable so it is translated inside the recipient's locale;
    the meeting's title and reference number are appended to it.
    """
    language = language if language in current_app.config["LANGUAGES"] else current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(language):
        full_subject = f"{subject()} – {event.title}"
        if event.reference:
            full_subject += f" ({event.reference})"
        text, html = _render(template, language, **_base_context(event), link=link, **context)
        ics = ical.invite(event, method=ics_method, attendee=attendee, link=link) if ics_method else None
    return enqueue(event=event, kind=kind, recipient=recipient, language=language, subject=full_subject,
                   body_text=text, body_html=html, ics=ics, ics_method=ics_method, dedupe_key=dedupe_key,
                   invitation=invitation, registration=registration)


# --- invitations -----------------------------------------------------------------

def queue_invitation(invitation: Invitation, dedupe_key: str) -> Message | None:
    """The invitation with the personal link, the deadline and a REQUEST invite."""
    return queue_message(
        event=invitation.event, kind="invitation", template="invitation", recipient=invitation.email,
        language=invitation.language, subject=lambda: _("Invitation"), dedupe_key=dedupe_key,
        ics_method="REQUEST", attendee=ical.Attendee(invitation.email, invitation.institution, "NEEDS-ACTION"),
        link=personal_link(invitation), invitation=invitation, institution=invitation.institution)


# --- declarations --------------------------------------------------------------

_RECEIVED_SUBJECTS = {
    CONFIRMED: lambda: _("Declaration received: place confirmed"),
    WAITLISTED: lambda: _("Declaration received: on the waiting list"),
    PENDING: lambda: _("Declaration received: awaiting approval"),
}


def _to_declarant(registration: Registration, *, kind: str, template: str, subject, dedupe_key: str,
                  ics_method: str | None = None, partstat: str = "ACCEPTED", **context) -> Message | None:
    from ..registration.services import waiting_list_position

    attendee = ical.Attendee(registration.email, registration.institution, partstat) if ics_method else None
    position = waiting_list_position(registration) if registration.status == WAITLISTED else None
    return queue_message(event=registration.event, kind=kind, template=template, recipient=registration.email,
                  language=registration.language, subject=subject, dedupe_key=dedupe_key, ics_method=ics_method,
                  attendee=attendee, link=manage_link(registration), registration=registration,
                  invitation=registration.invitation, r=registration, queue_position=position,
                  method_cancel=ics_method == "CANCEL", **context)


def declaration_received(registration: Registration) -> None:
    """A new declaration: the declarant learns its outcome (with an invite if confirmed), the organiser gets a copy."""
    prefix = f"registration:{registration.id}:created:"
    status = registration.status
    _to_declarant(registration, kind=f"declaration_{status}", template="declaration_received",
                  subject=_RECEIVED_SUBJECTS.get(status, lambda: _("Declaration received")),
                  dedupe_key=f"{prefix}{next_number(prefix)}",
                  ics_method="REQUEST" if status == CONFIRMED else None)
    organiser_copy(registration)


def organiser_copy(registration: Registration) -> Message | None:
    event = registration.event
    address = event.contact_email or (event.created_by.email if event.created_by else "")
    if not address:
        return None
    prefix = f"registration:{registration.id}:copy:"
    return queue_message(event=event, kind="declaration_copy", template="declaration_copy", recipient=address,
                  language=current_app.config["BABEL_DEFAULT_LOCALE"],
                  subject=lambda: _("New declaration: %(institution)s", institution=registration.institution),
                  dedupe_key=f"{prefix}{next_number(prefix)}", link=organiser_link(event), r=registration,
                  registration=registration, channel_label=_channel_label(registration))


def _channel_label(registration: Registration) -> str:
    from ..registration.models import CHANNEL_LABELS, Channel

    try:
        return str(CHANNEL_LABELS[Channel(registration.channel)])
    except ValueError:
        return registration.channel


def declaration_status_changed(registration: Registration, previous: str) -> None:
    """Tell the declarant what the change means; a new place comes with an invite, a lost one with a CANCEL."""
    status = registration.status
    if status == previous:
        return
    if status == CONFIRMED:
        change = "promoted" if previous == WAITLISTED else "accepted"
        subject = (lambda: _("A place has become free: your participation is confirmed")) if change == "promoted" \
            else (lambda: _("Declaration accepted: place confirmed"))
        method, partstat = "REQUEST", "ACCEPTED"
    elif status == WAITLISTED:
        change, subject, method, partstat = "waitlisted", lambda: _("Declaration accepted: on the waiting list"), None, ""
    elif status == REJECTED:
        change, subject, partstat = "rejected", lambda: _("Declaration not accepted"), "DECLINED"
        method = "CANCEL" if previous == CONFIRMED else None
    elif status == WITHDRAWN:
        change, subject, partstat = "withdrawn", lambda: _("Declaration withdrawn"), "DECLINED"
        method = "CANCEL" if previous == CONFIRMED else None
    else:
        return
    prefix = f"registration:{registration.id}:status:{status}:"
    _to_declarant(registration, kind=f"declaration_{change}", template="declaration_status", subject=subject,
                  dedupe_key=f"{prefix}{next_number(prefix)}", ics_method=method, partstat=partstat or "ACCEPTED",
                  change=change, previous=previous)


def manage_link_replaced(registration: Registration) -> Message | None:
    if not registration.email:
        return None
    prefix = f"registration:{registration.id}:new-link:"
    return _to_declarant(registration, kind="manage_link_replaced", template="manage_link_replaced",
                         subject=lambda: _("New link to your declaration"),
                         dedupe_key=f"{prefix}{next_number(prefix)}")


# --- the meeting changes or is cancelled ---------------------------------------

@dataclass
class CalendarHolder:
    """Someone told about the meeting: an invitee who was sent the invitation, or an active declarant."""

    email: str
    language: str
    name: str
    partstat: str
    link: str
    has_invite: bool
    invitation: Invitation | None = None
    registration: Registration | None = None


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
            "DECLINED" if invitation.declined_at else "NEEDS-ACTION", personal_link(invitation), True,
            invitation=invitation))
    registrations = db.session.execute(select(Registration).where(
        Registration.event_id == event.id, Registration.status.in_(ACTIVE_STATUSES)).order_by(Registration.id)).scalars()
    for registration in registrations:
        key = registration.email.lower()
        earlier = holders.get(key)
        confirmed = registration.status == CONFIRMED
        holders[key] = CalendarHolder(
            registration.email, registration.language, registration.institution,
            "ACCEPTED" if confirmed else "TENTATIVE", manage_link(registration),
            confirmed or (earlier is not None and earlier.has_invite),
            invitation=registration.invitation or (earlier.invitation if earlier else None), registration=registration)
    return list(holders.values())


def meeting_changed(event: Event, changed_fields: list[str]) -> None:
    """Time or place changed: everyone told about the meeting gets the news and, if they hold it, a new invite."""
    for holder in calendar_holders(event, include_revoked=False):
        queue_message(event=event, kind="event_changed", template="event_changed", recipient=holder.email,
               language=holder.language, subject=lambda: _("Meeting changed"),
               dedupe_key=f"event:{event.id}:changed:{event.ical_sequence}:{holder.email.lower()}",
               ics_method="REQUEST" if holder.has_invite else None,
               attendee=ical.Attendee(holder.email, holder.name, holder.partstat), link=holder.link,
               invitation=holder.invitation, registration=holder.registration,
               changed=set(changed_fields))


def meeting_cancelled(event: Event) -> None:
    """A CANCEL (same UID, raised SEQUENCE) to every invitee sent an invitation and every active declarant."""
    for holder in calendar_holders(event, include_revoked=True):
        queue_message(event=event, kind="event_cancelled", template="event_cancelled", recipient=holder.email,
               language=holder.language, subject=lambda: _("Meeting cancelled"),
               dedupe_key=f"event:{event.id}:cancelled:{holder.email.lower()}", ics_method="CANCEL",
               attendee=ical.Attendee(holder.email, holder.name, holder.partstat), link=holder.link,
               invitation=holder.invitation, registration=holder.registration)
