"""Certificates of attendance: issued after the meeting to every participant marked present on at least one day.

Numbers are given under a lock on the organisation's row, so two organisers
issuing at once never get the same number, and a participant gets one
certificate per meeting however often "issue" is pressed.
"""
from __future__ import annotations

import re
from datetime import date

from sqlalchemy import func, select

from ..auth.models import Organisation, User
from ..collation import polish_key
from ..database import utcnow
from ..events.access import require_manage
from ..events.models import Event
from ..extensions import db
from ..registration.models import Participant, Registration
from ..timeutil import to_local
from .models import Certificate, Presence


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
