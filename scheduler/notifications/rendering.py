"""Rendering at delivery: a compact outbox row becomes subject, text, HTML and .ics when it is sent.

The dispatcher calls `render` after the claim's transaction has committed,
outside any lock, for each message planned with a payload. What was frozen
when the message was planned (status, seats, waiting position, previous
status, changed fields, the attendee's answer) comes from the payload;
everything else (the meeting's time, place and title, the institution's name,
the current personal or manage link) is read as it is now, so a meeting moved
after the message was planned goes out with its new time. Templates are
compiled once per process (Jinja's cache); links come from `links`, without
a request context.

A message that cannot be rendered (its declaration or invitation is gone, a
template error) raises here, inside the dispatcher's per-message build step:
that message fails, the rest of its batch goes on.
"""
from __future__ import annotations

import re
from dataclasses import replace

from flask import render_template
from flask_babel import force_locale

from .. import links
from ..calendar import ical
from ..events.models import Event
from ..registration.overview import event_overview
from ..extensions import db
from ..projects.services import funding_sentence
from ..invitations.models import Invitation
from ..registration.models import CHANNEL_LABELS, Channel, Registration, RegistrationStatus
from ..human_time import event_when
from .mail import Outgoing
from .messages import SUBJECTS, subject_line
from .models import Message


class Gone(LookupError):
    """What the message is about no longer exists; it cannot be rendered."""


class FrozenDeclaration:
    """A declaration as the templates see it: live, except the facts frozen when the message was planned."""

    def __init__(self, registration: Registration, facts: dict):
        self._registration = registration
        self.status = facts.get("status", registration.status)
        self.seats = facts.get("seats", registration.seats)

    @property
    def status_enum(self) -> RegistrationStatus:
        return RegistrationStatus(self.status)

    def __getattr__(self, name):
        return getattr(self._registration, name)


def _get(model, ident):
    if ident is None:
        return None
    found = db.session.get(model, ident)
    if found is None:
        raise Gone(f"{model.__name__} {ident} no longer exists")
    return found


def _link(kind: str | None, event: Event, invitation: Invitation | None, registration: Registration | None):
    if kind == "personal" and invitation is not None:
        return links.personal(invitation.token)
    if kind == "manage" and registration is not None:
        return links.manage(registration.manage_token)
    if kind == "organiser":
        return links.organiser_overview(event.id)
    return None


def _channel_label(registration: Registration) -> str:
    try:
        return str(CHANNEL_LABELS[Channel(registration.channel)])
    except ValueError:
        return registration.channel


def _texts(template: str, **context) -> tuple[str, str]:
    text = render_template(f"email/{template}.txt", **context)
    html = render_template(f"email/{template}.html", **context)
    # Text templates keep the line breaks of their tags; no more than one blank line in a row.
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n", html


def render(outgoing: Outgoing) -> Outgoing:
    """The message with its subject, bodies and .ics rendered now; a message without payload as it is."""
    payload = outgoing.payload
    if not payload:
        return outgoing
    event = _get(Event, outgoing.event_id)
    invitation = _get(Invitation, outgoing.invitation_id)
    registration = _get(Registration, outgoing.registration_id)
    facts = dict(payload.get("facts") or {})
    template = payload["template"]
    link = _link(payload.get("link"), event, invitation, registration)
    context = {
        "event": event, "place": ical.location(event), "event_url": links.event_page(event.id),
        "ics_url": links.event_ics(event.id), "footer": funding_sentence(event), "link": link,
        "queue_position": facts.get("queue_position"), "change": facts.get("change"),
        "previous": facts.get("previous"), "method_cancel": facts.get("method_cancel", False),
        "changed": set(facts.get("changed") or ()),
    }
    if registration is not None:
        context["r"] = FrozenDeclaration(registration, facts)
    if invitation is not None:
        context["institution"] = invitation.institution
    attendee = None
    with force_locale(outgoing.language):
        context["when"] = event_when(event)
        if template == "declaration_copy":
            context["channel_label"] = _channel_label(registration)
        if template == "deadline_summary":
            context["overview"] = event_overview(event)
        subject_key = payload.get("subject")
        if subject_key in SUBJECTS and registration is not None and "institution" in facts:
            facts["institution"] = registration.institution  # as it is now (it may have been corrected)
        subject = subject_line(event, subject_key, outgoing.language, facts) if subject_key in SUBJECTS \
            else outgoing.subject
        text, html = _texts(template, **context)
        if outgoing.ics_method:
            who = payload.get("attendee") or {}
            name = who.get("name") or (registration.institution if registration is not None
                                       else invitation.institution if invitation is not None else "")
            attendee = ical.Attendee(outgoing.recipient, name, who.get("partstat", "NEEDS-ACTION"))
            ics = ical.invite(event, method=outgoing.ics_method, attendee=attendee, link=link,
                              stamp=outgoing.planned_at)
        else:
            ics = None
    return replace(outgoing, subject=" ".join(subject.split())[:400], body_text=text, body_html=html, ics=ics)


def outgoing_of(message: Message) -> Outgoing:
    """What the dispatcher reads of a claimed row: plain values, so no transaction stays open while sending."""
    return Outgoing(
        id=message.id, recipient=message.recipient, subject=message.subject, body_text=message.body_text,
        body_html=message.body_html, ics=message.ics, ics_method=message.ics_method, message_id=message.message_id,
        reply_to=((message.event.contact_email or message.event.organisation.sender_email or None)
                  if message.event is not None else None),
        sender_name=(message.event.organisation.sender_name or None) if message.event is not None else None,
        payload=message.payload, kind=message.kind, language=message.language, event_id=message.event_id,
        invitation_id=message.invitation_id, registration_id=message.registration_id, planned_at=message.created_at)


def preview(message: Message) -> Outgoing:
    """The message as it would be sent now (the mail log's preview of a queued message; tests)."""
    return render(outgoing_of(message))
