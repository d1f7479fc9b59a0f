from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..database import UTCDateTime, utcnow
from ..extensions import db


class Organisation(db.Model):
    """A regional centre (ROPS/MCPS) that organises meetings."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    short_name: Mapped[str] = mapped_column(String(60), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    # The centre's own region (regions.Voivodeship); what its invitations default to (project report).
    voivodeship: Mapped[str | None] = mapped_column(String(20))
    # The address calendars name as ORGANIZER when a meeting has no contact e-mail (never a login).
    sender_email: Mapped[str] = mapped_column(String(254), default="", server_default="")
    # The accessibility coordinator the accessibility statement names (by law); empty: the statement falls back
    # to sender_email and address.
    accessibility_contact_name: Mapped[str | None] = mapped_column(String(200))
    accessibility_contact_email: Mapped[str | None] = mapped_column(String(254))
    accessibility_contact_phone: Mapped[str | None] = mapped_column(String(60))
    # Settings its lead organiser edits: the name e-mails go out under (replies go to sender_email), and the
    # data protection officer's contact and legal basis the privacy clause names.
    sender_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    dpo_contact: Mapped[str] = mapped_column(String(300), default="", server_default="")
    legal_basis: Mapped[str] = mapped_column(String(500), default="", server_default="")
    # The reminder schedule the organisation's new meetings start with; None: the service's default.
    default_reminders: Mapped[dict | None] = mapped_column(JSON)
    # A deactivated organisation keeps its meetings and history; its organisers can no longer log in.
    is_active: Mapped[bool] = mapped_column(default=True, server_default=sa_true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    users: Mapped[list[User]] = relationship(back_populates="organisation")

    def __str__(self) -> str:
        return self.name


class User(UserMixin, db.Model):
    """An organiser (or, with is_admin, an administrator who sees all organisations)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    is_admin: Mapped[bool] = mapped_column(default=False)
    # The organisation's lead organiser: manages its settings (an admin manages every organisation's).
    is_lead: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    is_active_account: Mapped[bool] = mapped_column(default=True)
    # A random token for the organiser's private calendar feed (drafts included).
    feed_token: Mapped[str] = mapped_column(String(64), unique=True)
    # Stored in the session at login and compared on every request; raising it ends every session of the user.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation: Mapped[Organisation] = relationship(back_populates="users")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.is_active_account and self.organisation.is_active


class ApiToken(db.Model):
    """A bearer token for the JSON API; only its SHA-256 digest is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    # What the organiser called it ("export script"), so the list of tokens says which to revoke.
    name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    def is_live(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now


class LoginFailure(db.Model):
    """Failed logins for one e-mail address tried, counted in the database so every process and machine agrees.

    Keyed by the SHA-256 digest of the normalised address, so addresses that
    belong to nobody are counted the same way (no hint which accounts exist)
    without being stored.
    """

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class AccountLinkPurpose(str, enum.Enum):
    INVITE = "invite"  # a new organiser sets their first password
    RESET = "reset"    # a forgotten password


class AccountLink(db.Model):
    """A one-time, expiring link e-mailed to an organiser to set a password; only its SHA-256 digest is kept."""

    __tablename__ = "account_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    def is_usable(self, now: datetime) -> bool:
        return self.used_at is None and self.expires_at > now and self.user.is_active
