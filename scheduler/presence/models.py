from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..database import UTCDateTime, utcnow
from ..extensions import db


class Presence(db.Model):
    """Whether one participant was present on one day of a meeting, as the organiser marked it at check-in.

    `version` goes up with every change: a mark carries the version its
    organiser saw, so two organisers checking people in at once cannot
    silently overwrite each other (the second is told what the first did).
    """

    __tablename__ = "presences"
    __table_args__ = (UniqueConstraint("participant_id", "day", name="uq_presences_participant_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    present: Mapped[bool] = mapped_column()
    version: Mapped[int] = mapped_column(default=1)
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    marked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class WalkIn(db.Model):
    """Someone of a confirmed institution who came on the day without being declared, usually instead of a
    declared participant. Kept apart from the declared participants: a walk-in takes no seat."""

    __tablename__ = "walk_ins"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[str] = mapped_column(String(200), default="", server_default="")
    substitute_for_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Certificate(db.Model):
    """A certificate of attendance (zaświadczenie) issued to a participant who was present.

    The number is unique per organisation and year (ZS/2026/0042) and never
    reused; the name, institution and days are kept as issued, so the same
    record always gives the same document.
    """

    __tablename__ = "certificates"
    __table_args__ = (UniqueConstraint("organisation_id", "year", "number", name="uq_certificates_number"),
                      UniqueConstraint("event_id", "participant_id", name="uq_certificates_participant"))

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    year: Mapped[int] = mapped_column()
    number: Mapped[int] = mapped_column()
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200))
    institution: Mapped[str] = mapped_column(String(300))
    days: Mapped[list] = mapped_column(JSON)  # ISO dates attended
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    @property
    def code(self) -> str:
        return f"ZS/{self.year}/{self.number:04d}"
