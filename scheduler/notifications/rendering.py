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

Images and files: every e-mail about a meeting whose project has a logo strip
shows the strip in its HTML part (an inline `cid:` image, with the funding
sentence); the strip's part is built once per process per strip version
(`strip_image`). A confirmation carries each participant's check-in code as
a QR image; a certificates e-mail has the certificates attached as PDFs, made
here from the Certificate records whose ids the outbox row holds.

A message that cannot be rendered (its declaration or invitation is gone, a
template error) raises here, inside the dispatcher's per-message build step:
that message fails, the rest of its batch goes on.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, replace

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import select

from .. import links
from ..calendar import ical
from ..database import reads_before_lock
from ..events.models import Event
from ..registration.overview import event_overview
from ..extensions import db
from ..presence.certificates import certificates_by_id, certificates_pdf
from ..presence.codes import check_in_png, check_in_url
from ..projects.models import Project
from ..projects.services import funding_sentence
from ..invitations.models import Invitation
from ..registration.models import CHANNEL_LABELS, Channel, Registration, RegistrationStatus
from ..human_time import event_when
from . import render_cache
from .mail import Attachment, InlineImage, Outgoing
from .messages import CERTIFICATES, SUBJECTS, subject_line
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


# --- the logo strip -------------------------------------------------------------------

# (project id, strip version) -> the strip as an inline image; the version is the PNG's digest, so an entry
# never goes stale. A handful of projects: cleared rather than evicted one by one.
_STRIPS: dict[tuple[int, str], InlineImage] = {}
_STRIP_CID = "logo-strip."


def strip_image(project: Project | None) -> InlineImage | None:
    """The project's logo strip as an inline image (None without one), read and encoded once per version."""
    if project is None or not project.logo_strip_version:
        return None
    key = (project.id, project.logo_strip_version)
    image = _STRIPS.get(key)
    if image is None:
        # Rendering reads outside the claim: on SQLite that read must not take the write lock for the rest of
        # the batch (a no-op inside a transaction, e.g. when planning).
        with reads_before_lock():
            data, version = db.session.execute(select(Project.logo_strip, Project.logo_strip_version)
                                               .where(Project.id == project.id)).one()
        if not data:
            return None
        domain = current_app.config["MAIL_MESSAGE_ID_DOMAIN"]
        image = InlineImage.of(data, f"{_STRIP_CID}{version}@{domain}", "fundusze-europejskie.png")
        if version == key[1]:  # not replaced since the meeting was read
            if len(_STRIPS) >= 64:
                _STRIPS.clear()
            _STRIPS[key] = image
    return image


_GIVEN_STRIP = re.compile(r'<img [^>]*src="cid:(' + re.escape(_STRIP_CID) + r'[^"]*)"[^>]*>')


def _strip_of_given(html: str, project: Project | None) -> tuple[str, tuple[InlineImage, ...]]:
    """A message written when planned (a survey link) shows the strip as it is when sent: replaced since, the
    new one; removed since, none (rather than a broken image)."""
    found = _GIVEN_STRIP.search(html)
    if found is None:
        return html, ()
    strip = strip_image(project)
    if strip is None:
        return _GIVEN_STRIP.sub("", html), ()
    return html.replace(found.group(1), strip.content_id), (strip,)


# --- check-in codes and certificates ----------------------------------------------------

@dataclass(frozen=True)
class CheckInCode:
    """A participant's check-in link, and its QR code as an image of the message."""

    name: str
    url: str
    image: InlineImage


def _check_in_codes(outgoing: Outgoing, event: Event, registration: Registration | None, frozen) -> list[CheckInCode]:
    """The confirmed declaration's participants' codes (none if it is no longer confirmed, or the meeting is off)."""
    confirmed = RegistrationStatus.CONFIRMED.value
    if registration is None or frozen.status != confirmed or registration.status != confirmed or event.is_cancelled:
        return []
    domain = current_app.config["MAIL_MESSAGE_ID_DOMAIN"]
    return [CheckInCode(person.name, check_in_url(person.id),
                        InlineImage.of(check_in_png(person.id), f"check-in.{person.id}.{outgoing.id}@{domain}",
                                       f"kod-{number}.png"))
            for number, person in enumerate(registration.participants, start=1)]


# WeasyPrint is not documented as safe to run in several threads at once, and the dispatcher renders in several.
_PDF_LOCK = threading.Lock()


def _certificate_files(event: Event, ids) -> tuple[list, tuple[Attachment, ...]]:
    with reads_before_lock():  # see strip_image: the PDFs take a while, the write lock stays free
        certificates = certificates_by_id(ids or ())
    if not certificates:
        raise Gone(f"the certificates {ids} no longer exist")
    files = []
    for certificate in certificates:
        # In Polish whatever the e-mail's language, as the certificates the organiser prints: documents the
        # institution files with the project's.
        with _PDF_LOCK, force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
            data = certificates_pdf(event, [certificate])
        files.append(Attachment(f"{certificate.code.replace('/', '-')}.pdf", data))
    return certificates, tuple(files)


def _texts(template: str, **context) -> tuple[str, str]:
    text = render_template(f"email/{template}.txt", **context)
    html = render_template(f"email/{template}.html", **context)
    # Text templates keep the line breaks of their tags; no more than one blank line in a row.
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n", html


def _about(event: Event) -> dict:
    """What the templates show of the meeting itself, in the current language."""
    return {"place": ical.location(event), "event_url": links.event_page(event.id), "ics_url": links.event_ics(event.id),
            "footer": funding_sentence(event), "when": event_when(event)}


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
    with force_locale(outgoing.language):
        # The same for every message of a batch about this meeting in this language (the claim loaded it once).
        about = render_cache.once(("event", id(event), event.id, event.updated_at, outgoing.language),
                                  lambda: _about(event))
    context = {
        **about, "event": event, "link": link,
        "queue_position": facts.get("queue_position"), "change": facts.get("change"),
        "previous": facts.get("previous"), "method_cancel": facts.get("method_cancel", False),
        "changed": set(facts.get("changed") or ()),
    }
    strip = strip_image(event.project)
    images = [strip] if strip is not None else []
    files: tuple[Attachment, ...] = ()
    context["strip"] = strip
    if registration is not None:
        context["r"] = FrozenDeclaration(registration, facts)
    if invitation is not None:
        context["institution"] = invitation.institution
    # The codes to show at the entrance: with the confirmation, and again with the reminder before the meeting.
    if template in ("declaration_received", "declaration_status", "reminder_meeting"):
        context["codes"] = _check_in_codes(outgoing, event, registration, context.get("r"))
        images += [code.image for code in context["codes"]]
    if template == CERTIFICATES:
        context["certificates"], files = _certificate_files(event, facts.get("certificates"))
    attendee = None
    with force_locale(outgoing.language):
        if template == "declaration_copy":
            context["channel_label"] = _channel_label(registration)
        if template == "deadline_summary":
            context["overview"] = event_overview(event)
        subject_key = payload.get("subject")
        if subject_key in SUBJECTS and registration is not None and "institution" in facts:
            facts["institution"] = registration.institution  # as it is now (it may have been corrected)
        subject = subject_line(event, subject_key, outgoing.language, facts) if subject_key in SUBJECTS \
            else outgoing.subject
        text, html = render_cache.texts(template, context, _texts)  # shared within a dispatcher's batch
        if outgoing.ics_method:
            who = payload.get("attendee") or {}
            name = who.get("name") or (registration.institution if registration is not None
                                       else invitation.institution if invitation is not None else "")
            attendee = ical.Attendee(outgoing.recipient, name, who.get("partstat", "NEEDS-ACTION"))
            ics = ical.invite(event, method=outgoing.ics_method, attendee=attendee, link=link,
                              stamp=outgoing.planned_at)
        else:
            ics = None
    return replace(outgoing, subject=" ".join(subject.split())[:400], body_text=text, body_html=html, ics=ics,
                   inline_images=tuple(images), attachments=files)


def outgoing_of(message: Message) -> Outgoing:
    """What the dispatcher reads of a claimed row: plain values, so no transaction stays open while sending."""
    html, images = message.body_html, ()
    if message.payload is None and html and message.event is not None and _STRIP_CID in html:
        html, images = _strip_of_given(html, message.event.project)
    return Outgoing(
        id=message.id, recipient=message.recipient, subject=message.subject, body_text=message.body_text,
        body_html=html, inline_images=images, ics=message.ics, ics_method=message.ics_method,
        message_id=message.message_id,
        reply_to=((message.event.contact_email or message.event.organisation.sender_email or None)
                  if message.event is not None else None),
        sender_name=(message.event.organisation.sender_name or None) if message.event is not None else None,
        payload=message.payload, kind=message.kind, language=message.language, event_id=message.event_id,
        invitation_id=message.invitation_id, registration_id=message.registration_id, planned_at=message.created_at)


def preview(message: Message) -> Outgoing:
    """The message as it would be sent now (the mail log's preview of a queued message; tests)."""
    return render(outgoing_of(message))
