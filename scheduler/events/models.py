from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import Organisation, User
from ..database import UTCDateTime, utcnow
from ..extensions import db
from ..projects.models import Project


class EventKind(str, enum.Enum):
    INFORMATION_SESSION = "information_session"
    TRAINING = "training"
    STEERING_COMMITTEE = "steering_committee"
    TEAM_MEETING = "team_meeting"
    AGREEMENT_SIGNING = "agreement_signing"
    OTHER = "other"

    @property
    def label(self):
        return EVENT_KIND_LABELS[self]


EVENT_KIND_LABELS = {
    EventKind.INFORMATION_SESSION: _l("Information session"),
    EventKind.TRAINING: _l("Training (Macroregional School of Cooperation)"),
    EventKind.STEERING_COMMITTEE: _l("Steering Committee session"),
    EventKind.TEAM_MEETING: _l("Team meeting"),
    EventKind.AGREEMENT_SIGNING: _l("Agreement signing"),
    EventKind.OTHER: _l("Other meeting"),
}


class EventStatus(str, enum.Enum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CANCELLED = "cancelled"

    @property
    def label(self):
        return EVENT_STATUS_LABELS[self]


EVENT_STATUS_LABELS = {
    EventStatus.DRAFT: _l("Draft"),
    EventStatus.PUBLISHED: _l("Published"),
    EventStatus.CANCELLED: _l("Cancelled"),
}


class InstitutionCategory(str, enum.Enum):
    """Kinds of institution invited to the project's meetings; quotas count these."""

    POWIAT = "powiat"
    GMINA = "gmina"
    VOIVODESHIP = "voivodeship"
    COURT = "court"
    POLICE = "police"
    EDUCATION = "education"
    HEALTH = "health"
    LABOUR = "labour"
    NGO = "ngo"
    OTHER = "other"

    @property
    def label(self):
        return CATEGORY_LABELS[self]


CATEGORY_LABELS = {
    InstitutionCategory.POWIAT: _l("District (powiat: starostwo, family support centre PCPR)"),
    InstitutionCategory.GMINA: _l("Municipality (gmina office, social welfare centre OPS)"),
    InstitutionCategory.VOIVODESHIP: _l("Voivodeship institution"),
    InstitutionCategory.COURT: _l("Court"),
    InstitutionCategory.POLICE: _l("Police"),
    InstitutionCategory.EDUCATION: _l("Education (regional education authority, school)"),
    InstitutionCategory.HEALTH: _l("Health and sanitary services"),
    InstitutionCategory.LABOUR: _l("Labour office"),
    InstitutionCategory.NGO: _l("Non-governmental organisation"),
    InstitutionCategory.OTHER: _l("Other institution"),
}


DEFAULT_REMINDERS = {"before_deadline": ["P3D", "P1D"], "before_meeting": ["P1D"]}


class Event(db.Model):
    """A meeting: one or more days at one venue, with its rules for declarations."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    # The EU project the meeting belongs to (its funding identity on pages, e-mails and documents).
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="SET NULL"), index=True)
    # Shared by its organiser with the project's partner organisations, who see it read-only (a joint meeting).
    shared_with_partners: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(40), default=EventKind.OTHER.value)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Warsaw")
    venue: Mapped[str] = mapped_column(String(300), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    room: Mapped[str] = mapped_column(String(200), default="")
    reference: Mapped[str] = mapped_column(String(100), default="")
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    contact_phone: Mapped[str] = mapped_column(String(100), default="")
    # Seats are counted in participants; None means no limit.
    capacity: Mapped[int | None] = mapped_column(Integer)
    seats_per_institution: Mapped[int | None] = mapped_column(Integer)
    # Institution category -> how many institutions of it may take part.
    quotas: Mapped[dict] = mapped_column(JSON, default=dict)
    declaration_deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    invite_only: Mapped[bool] = mapped_column(default=True)
    moderated: Mapped[bool] = mapped_column(default=False)
    statements: Mapped[list] = mapped_column(JSON, default=list)
    scan_required: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(20), default=EventStatus.DRAFT.value, index=True)
    # iCalendar identity: UID never changes, SEQUENCE rises on each significant change.
    ical_uid: Mapped[str] = mapped_column(String(200), unique=True)
    ical_sequence: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # ISO 8601 offsets: {"before_deadline": ["P3D", "P1D"], "before_meeting": ["P1D"]}; see notifications/reminders.py.
    reminders: Mapped[dict] = mapped_column(JSON, default=lambda: dict(DEFAULT_REMINDERS))
    # Reminders the organiser chose not to send, as "kind:offset" keys.
    skipped_reminders: Mapped[list] = mapped_column(JSON, default=list)
    # The earliest reminder moment the planner has not handled yet; None: none left or not published. Kept by
    # events/reminder_settings.py whenever what the moments depend on changes, and by the planner after a pass.
    reminders_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    organisation: Mapped[Organisation] = relationship()
    project: Mapped[Project | None] = relationship()
    created_by: Mapped[User | None] = relationship()

    @property
    def kind_enum(self) -> EventKind:
        return EventKind(self.kind)

    @property
    def status_enum(self) -> EventStatus:
        return EventStatus(self.status)

    @property
    def is_published(self) -> bool:
        return self.status == EventStatus.PUBLISHED.value

    @property
    def is_cancelled(self) -> bool:
        return self.status == EventStatus.CANCELLED.value

    def __str__(self) -> str:
        return self.title
