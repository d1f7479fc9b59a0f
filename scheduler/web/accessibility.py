"""The accessibility statement (deklaracja dostępności): its dates and whom to contact.

Polish public bodies must publish one for every website (act of 4 April 2019
on the digital accessibility of public bodies' websites and mobile
applications), in the structure of the minister's template. The text lives in
templates/web/accessibility.html; what changes with the data is here.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import exists, select

from ..auth.models import Organisation
from ..events.models import Event, EventStatus
from ..extensions import db

# Change LAST_UPDATED (and ASSESSED when the self-assessment is repeated) with every substantive
# change of the statement: the law asks for both dates.
PUBLISHED = date(2026, 11, 26)
LAST_UPDATED = date(2026, 11, 26)
ASSESSED = date(2026, 11, 26)


@dataclass(frozen=True)
class AccessibilityContact:
    """Whom to ask about accessibility at one organisation."""

    organisation: str
    address: str
    name: str
    email: str
    phone: str

    @classmethod
    def of(cls, org: Organisation) -> AccessibilityContact:
        # No coordinator recorded yet: the organisation's own address and e-mail still reach it.
        return cls(organisation=org.name, address=org.address or "",
                   name=org.accessibility_contact_name or "",
                   email=org.accessibility_contact_email or org.sender_email or "",
                   phone=org.accessibility_contact_phone or "")


def statement_contacts() -> list[AccessibilityContact]:
    """The contact of every organisation that runs meetings here (has a published or cancelled one), by name.

    Before any meeting is published, every organisation on record is listed.
    """
    runs_meetings = exists().where(Event.organisation_id == Organisation.id,
                                   Event.status != EventStatus.DRAFT.value)
    organisations = db.session.execute(select(Organisation).where(runs_meetings).order_by(Organisation.name)).scalars()
    found = list(organisations) or list(db.session.execute(select(Organisation).order_by(Organisation.name)).scalars())
    return [AccessibilityContact.of(org) for org in found]
