from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from ..database import UTCDateTime, utcnow
from ..events.models import Event
from ..extensions import db
from ..tokens import digest


class Invitation(db.Model):
    """An institution invited to a meeting, reached through its personal link."""

    __tablename__ = "invitations"
    __table_args__ = (UniqueConstraint("event_id", "email", "institution", name="uq_invitations_event_email_institution"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    institution: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(40))
    # The invited institution's region (regions.Voivodeship); the inviting organisation's when not given.
    voivodeship: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(5), default="pl")
    # The token is kept so the organiser can copy the link; lookups go by its digest (see tokens.py).
    token: Mapped[str] = mapped_column(String(64), unique=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    declined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event: Mapped[Event] = relationship()
    registration = relationship("Registration", back_populates="invitation", uselist=False)

    @validates("token")
    def _keep_digest(self, _key, token: str) -> str:
        self.token_digest = digest(token)
        return token

    @property
    def status(self) -> str:
        """The latest answer the organiser sees: revoked, declared, declined, withdrawn, rejected, opened, sent or new.

        Declaring clears `declined_at`, and declining is refused while a declaration stands, so a decline that is
        still set came after any withdrawal; a withdrawn or rejected declaration outranks the mere opening.
        """
        registration = self.registration
        if self.revoked_at:
            return "revoked"
        if registration is not None and registration.is_active:
            return "declared"
        if self.declined_at:
            return "declined"
        if registration is not None and registration.status in ("withdrawn", "rejected"):
            return registration.status
        if self.opened_at:
            return "opened"
        if self.sent_at:
            return "sent"
        return "new"
