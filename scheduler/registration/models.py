from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from ..database import UTCDateTime, utcnow
from ..events.models import Event
from ..extensions import db
from ..invitations.models import Invitation
from ..tokens import digest


class RegistrationStatus(str, enum.Enum):
    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    PENDING = "pending"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"

    @property
    def label(self):
        return REGISTRATION_STATUS_LABELS[self]


REGISTRATION_STATUS_LABELS = {
    RegistrationStatus.CONFIRMED: _l("Confirmed"),
    RegistrationStatus.WAITLISTED: _l("On the waiting list"),
    RegistrationStatus.PENDING: _l("Awaiting the organiser's approval"),
    RegistrationStatus.REJECTED: _l("Rejected"),
    RegistrationStatus.WITHDRAWN: _l("Withdrawn"),
}


class Channel(str, enum.Enum):
    ONLINE = "online"
    EMAIL_SCAN = "email_scan"
    POST = "post"

    @property
    def label(self):
        return CHANNEL_LABELS[self]


CHANNEL_LABELS = {
    Channel.ONLINE: _l("Online form"),
    Channel.EMAIL_SCAN: _l("Scan sent by e-mail"),
    Channel.POST: _l("By post"),
}


class Registration(db.Model):
    """A declaration of participation by one institution in one meeting."""

    __tablename__ = "registrations"
    __table_args__ = (
        Index("ix_registrations_event_status_queue", "event_id", "status", "queued_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    # One declaration per invitation; declaring again after a withdrawal reuses it.
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id", ondelete="SET NULL"), unique=True)
    institution: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(40))
    contact_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(100), default="")
    language: Mapped[str] = mapped_column(String(5), default="pl")
    status: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20), default=Channel.ONLINE.value)
    # The moment that counts for the deadline: submission time online, postmark or sending date otherwise.
    counted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Place in the queue for seats: first come, first served on the waiting list.
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    consent_rodo: Mapped[bool] = mapped_column(default=False)
    statements_accepted: Mapped[list] = mapped_column(JSON, default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    manage_token: Mapped[str] = mapped_column(String(64), unique=True)
    manage_token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the personal data was erased (on request or after the retention period); counts stay.
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event: Mapped[Event] = relationship()
    invitation: Mapped[Invitation | None] = relationship(back_populates="registration")
    participants: Mapped[list[Participant]] = relationship(
        back_populates="registration", cascade="all, delete-orphan", order_by="Participant.ordinal"
    )
    scan: Mapped[Scan | None] = relationship(back_populates="registration", cascade="all, delete-orphan", uselist=False)

    @validates("manage_token")
    def _keep_digest(self, _key, token: str) -> str:
        self.manage_token_digest = digest(token)
        return token

    @property
    def status_enum(self) -> RegistrationStatus:
        return RegistrationStatus(self.status)

    @property
    def seats(self) -> int:
        return len(self.participants)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


ACTIVE_STATUSES = (RegistrationStatus.CONFIRMED.value, RegistrationStatus.WAITLISTED.value, RegistrationStatus.PENDING.value)


class Participant(db.Model):
    __tablename__ = "participants"

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[str] = mapped_column(String(200), default="")
    needs: Mapped[str] = mapped_column(String(1000), default="")

    registration: Mapped[Registration] = relationship(back_populates="participants")


class Scan(db.Model):
    """The signed declaration scan. Kept in the database so backups and instances share it."""

    __tablename__ = "scans"

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column()
    data: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    registration: Mapped[Registration] = relationship(back_populates="scan")
