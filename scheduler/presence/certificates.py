"""Certificates of attendance: issued after the meeting to every participant marked present on at least one day,
and, if the organiser chooses, e-mailed to the institutions that declared them.

Numbers are given under a lock on the organisation's row, so two organisers
issuing at once never get the same number, and a participant gets one
certificate per meeting however often "issue" is pressed. E-mailing takes the
same lock and asks the outbox which certificates are already on their way, so
a double submit, or "e-mail" pressed again, sends each certificate once.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..auth.models import Organisation, User
from ..collation import polish_key
from ..database import utcnow
from ..documents.pdf import render_pdf
from ..errors import InvalidState
from ..events.access import require_manage
from ..events.models import Event
from ..extensions import db
from ..projects.services import funding_sentence, letterhead_lines, logo_strip_data_uri
from ..registration.models import Participant, Registration
from ..timeutil import to_local
from .models import Certificate, Presence
from .signals import certificate_mail_states, certificates_to_be_mailed


def issue_certificates(user: User, event: Event) -> int:
    """Number and store a certificate for each participant present on some day who has none yet; how many new."""
    require_manage(user, event)
    # One issuer at a time per organisation: the numbers of a year follow each other without gaps or repeats.
    db.session.execute(select(Organisation.id).where(Organisation.id == event.organisation_id).with_for_update())
    attended: dict[int, list[date]] = {}
    for participant_id, day in db.session.execute(
            select(Presence.participant_id, Presence.day).where(Presence.event_id == event.id,
                                                                Presence.present.is_(True)).order_by(Presence.day)):
        attended.setdefault(participant_id, []).append(day)
    have = set(db.session.execute(select(Certificate.participant_id).where(Certificate.event_id == event.id)).scalars())
    people = db.session.execute(
        select(Participant.id, Participant.name, Registration.institution)
        .join(Registration).where(Participant.id.in_(set(attended) - have))).all()
    year = to_local(event.ends_at, event.timezone).year
    last = db.session.execute(select(func.max(Certificate.number)).where(
        Certificate.organisation_id == event.organisation_id, Certificate.year == year)).scalar_one() or 0
    for offset, (participant_id, name, institution) in enumerate(
            sorted(people, key=lambda row: (polish_key(row.institution), polish_key(row.name))), start=1):
        db.session.add(Certificate(organisation_id=event.organisation_id, year=year, number=last + offset,
                                   event_id=event.id, participant_id=participant_id, name=name,
                                   institution=institution, days=[d.isoformat() for d in attended[participant_id]],
                                   issued_at=utcnow(), issued_by_id=user.id))
    db.session.commit()
    return len(people)


def certificates_of(event: Event) -> list[Certificate]:
    return list(db.session.execute(select(Certificate).where(Certificate.event_id == event.id)
                                   .order_by(Certificate.number)).scalars())


def place_of_issue(organisation: Organisation) -> str:
    """The town of the organisation's address ("ul. Hetmańska 9, 35-045 Rzeszów" -> "Rzeszów"), for "Rzeszów, date"."""
    last = organisation.address.rsplit(",", 1)[-1].strip() if organisation.address else ""
    return re.sub(r"^\d{2}-\d{3}\s+", "", last)


def certificates_pdf(event: Event, certificates: list[Certificate]) -> bytes:
    """The certificates as one A4 PDF, a page each, in the current language."""
    return render_pdf("documents/certificate.html", event=event, certificates=certificates,
                      organiser=event.organisation, letterhead=letterhead_lines(event), funding=funding_sentence(event),
                      strip=logo_strip_data_uri(event.project), place=place_of_issue(event.organisation))


def certificates_by_id(ids) -> list[Certificate]:
    """The certificates with these ids that still exist, by number."""
    return list(db.session.execute(select(Certificate).where(Certificate.id.in_(list(ids)))
                                   .order_by(Certificate.number)).scalars())


# --- e-mailing them ------------------------------------------------------------------

@dataclass
class MailBatch:
    """The certificates one declaration's contact gets in one e-mail."""

    registration_id: int
    institution: str
    email: str
    language: str
    certificates: list[Certificate] = field(default_factory=list)


def mail_states(event: Event) -> dict:
    """{certificate id: status of the e-mail carrying it (queued, sent, failed…)} for those e-mailed or on their way."""
    states: dict = {}
    for _receiver, answer in certificate_mail_states.send(event):
        states.update(answer or {})
    return states


def certificates_to_mail(event: Event) -> list[MailBatch]:
    """The meeting's certificates not yet e-mailed, per declaration (institutions in Polish order).

    A certificate whose participant was removed, or whose declaration has no
    contact address, cannot be e-mailed and is left out.
    """
    planned = mail_states(event)
    rows = db.session.execute(
        select(Certificate, Registration.id, Registration.institution, Registration.email, Registration.language)
        .join(Participant, Participant.id == Certificate.participant_id)
        .join(Registration, Registration.id == Participant.registration_id)
        .where(Certificate.event_id == event.id, Registration.email != "").order_by(Certificate.number)).all()
    batches: dict[int, MailBatch] = {}
    for certificate, registration_id, institution, email, language in rows:
        if certificate.id not in planned:
            batches.setdefault(registration_id, MailBatch(registration_id, institution, email, language)) \
                .certificates.append(certificate)
    return sorted(batches.values(), key=lambda batch: polish_key(batch.institution))


def mailing_stamp(batches: list[MailBatch]) -> str:
    """Names what a confirmation page offers to send: the same certificates, the same stamp."""
    ids = ",".join(str(c.id) for batch in batches for c in batch.certificates)
    return hashlib.sha256(ids.encode()).hexdigest()[:16]


def meeting_ended(event: Event, now: datetime | None = None) -> bool:
    return event.ends_at <= (now or utcnow())


def mail_certificates(user: User, event: Event, now: datetime | None = None) -> tuple[int, int]:
    """Have each declaration's contact e-mailed the certificates of its present participants not e-mailed before;
    (e-mails, certificates) planned. Only after the meeting has ended."""
    require_manage(user, event)
    if not meeting_ended(event, now):
        raise InvalidState(_l("Certificates can be e-mailed after the meeting has ended."))
    # The issuing lock: certificates issued meanwhile wait for the next click, and a second submit waits here,
    # then finds these in the outbox and plans nothing.
    db.session.execute(select(Organisation.id).where(Organisation.id == event.organisation_id).with_for_update())
    batches = certificates_to_mail(event)
    if batches:
        certificates_to_be_mailed.send(event, batches=batches)
    db.session.commit()
    return len(batches), sum(len(batch.certificates) for batch in batches)
