from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..events.models import Event
from ..extensions import db


class MessageStatus(str, enum.Enum):
    QUEUED = "queued"            # waiting for its due time or a retry
    SENDING = "sending"          # claimed by a dispatcher (claimed_at/claimed_by); the claim expires
    SENT = "sent"                # accepted by the SMTP server; never sent again
    # refused for good (5xx, an address or content that cannot be sent), refused MAIL_MAX_ATTEMPTS times
    # (4xx), or the server unreachable past deliver_by; the organiser may retry it
    FAILED = "failed"
    SKIPPED = "skipped"          # no longer relevant when its turn came (last_error says why)
    UNDELIVERABLE = "undeliverable"  # no SMTP server configured; the organiser may retry it later

    @property
    def label(self):
        return MESSAGE_STATUS_LABELS[self]


MESSAGE_STATUS_LABELS = {
    MessageStatus.QUEUED: _l("Queued"),
    MessageStatus.SENDING: _l("Sending"),
    MessageStatus.SENT: _l("Sent"),
    MessageStatus.FAILED: _l("Failed"),
    MessageStatus.SKIPPED: _l("Not sent (no longer relevant)"),
    MessageStatus.UNDELIVERABLE: _l("Not delivered (no mail server configured)"),
}
# Statuses the organiser may send again from the mail log.
RETRYABLE_STATUSES = (MessageStatus.FAILED.value, MessageStatus.UNDELIVERABLE.value)


class Message(db.Model):
    """One e-mail in the outbox. Written with the change that causes it; the dispatcher delivers it.

    `dedupe_key` is unique: the same message can be planned any number of
    times and is stored, and so sent, once.
    """

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    # What the message is about, for the mail log and for marking an invitation sent. Plain ids, no
    # foreign keys: the record of what was sent outlives an invitation or declaration removed later.
    invitation_id: Mapped[int | None] = mapped_column(index=True)
    registration_id: Mapped[int | None] = mapped_column()
    kind: Mapped[str] = mapped_column(String(60))
    recipient: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(5), default="pl")
    # The subject line as planned (for the mail log); a rendered message's is written again when it is sent.
    subject: Mapped[str] = mapped_column(String(400))
    # The e-mail as sent: written when the mail server accepted it for messages rendered at delivery
    # (`payload` set), or given when planned for a message whose text is fixed (`payload` None).
    body_text: Mapped[str | None] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text, default="")
    # The iCalendar object sent with the message, and its METHOD (REQUEST, CANCEL; fixed when planned).
    ics: Mapped[str | None] = mapped_column(Text)
    ics_method: Mapped[str | None] = mapped_column(String(20))
    # Rendered at delivery: {"template", "subject", "link", "attendee", "facts"} (see messages.row), the
    # facts frozen when the message was planned. None: the message's text is in the body columns.
    payload: Mapped[dict | None] = mapped_column(JSON)
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    # queued, sending, sent, failed, skipped, undeliverable (no SMTP configured)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Tries the mail server refused (4xx); an unreachable server is not the message's fault and is
    # counted in `deferrals` instead, which only sets the back-off.
    attempts: Mapped[int] = mapped_column(default=0)
    deferrals: Mapped[int] = mapped_column(default=0, server_default="0")
    # Retries stop here (planned or queued again + MAIL_RETRY_HORIZON_HOURS); None: created_at + horizon.
    deliver_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    message_id: Mapped[str | None] = mapped_column(String(300))

    event: Mapped[Event | None] = relationship()

    @property
    def status_enum(self) -> MessageStatus:
        return MessageStatus(self.status)

    @property
    def can_retry(self) -> bool:
        return self.status in RETRYABLE_STATUSES

    @property
    def waiting_for_server(self) -> bool:
        """Queued again because the mail server could not be reached (no attempt charged)."""
        return self.status == MessageStatus.QUEUED.value and self.deferrals > 0
