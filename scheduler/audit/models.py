from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..database import UTCDateTime, utcnow
from ..extensions import db


class AuditEntry(db.Model):
    """One change an organiser made to a meeting, an invitation or a declaration, written in the same transaction.

    Meeting, declaration and invitation are plain ids (no foreign keys): the
    record outlives what it is about. Personal data and secrets are never
    stored: for those fields the entry says only that they changed, so an
    erasure of personal data leaves the trail complete and anonymous.
    """

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_event", "event_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The organiser's address when it happened (kept if the account's address changes later).
    actor: Mapped[str] = mapped_column(String(254))
    via: Mapped[str] = mapped_column(String(10))          # web, api
    action: Mapped[str] = mapped_column(String(100))      # the page or API operation (its endpoint)
    event_id: Mapped[int | None] = mapped_column()
    registration_id: Mapped[int | None] = mapped_column(index=True)
    invitation_id: Mapped[int | None] = mapped_column()
    subject: Mapped[str] = mapped_column(String(40))      # event, registration, participant, invitation, scan
    subject_id: Mapped[int | None] = mapped_column()
    change: Mapped[str] = mapped_column(String(10))       # created, changed, deleted
    # {field: [before, after]}; a personal or secret field: {field: null} (changed, values not kept).
    fields: Mapped[dict] = mapped_column(JSON, default=dict)
