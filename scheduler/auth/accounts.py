"""Organiser accounts run by people, not by SQL: invitations, forgotten passwords, deactivation.

Both invitations and resets are one-time, expiring links sent through the
outbox (the notifications feature listens to `account_link_issued`): only the
link's digest is stored, using it sets a password and spends it (with every
other open link of that account), and it dies with the account's deactivation.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from .. import links
from ..database import utcnow
from ..errors import DomainError, Forbidden, ValidationFailed
from ..extensions import db
from ..tokens import digest, looks_like_token, new_token
from ..validation import clean_email, clean_text
from .models import AccountLink, AccountLinkPurpose, Organisation, User
from .services import can_manage_organisation, deactivate_user, set_password
from .signals import account_link_issued


class LinkNotUsable(DomainError):
    code = "link_not_usable"
    status = 410
    default_message = _l("This link has expired or has already been used. Ask for a new one: on the login page "
                         "choose “Forgot your password?”, or ask the person who invited you.")


class OwnAccount(DomainError):
    code = "own_account"
    status = 409
    default_message = _l("You cannot deactivate your own account.")


def _lifetime(purpose: AccountLinkPurpose) -> timedelta:
    if purpose is AccountLinkPurpose.INVITE:
        return timedelta(hours=current_app.config["ACCOUNT_INVITE_HOURS"])
    return timedelta(minutes=current_app.config["PASSWORD_RESET_MINUTES"])


def _issue(user: User, purpose: AccountLinkPurpose, *, invited_by: User | None = None,
           now: datetime | None = None) -> AccountLink:
    now = now or utcnow()
    token = new_token()
    record = AccountLink(user=user, purpose=purpose.value, digest=digest(token), created_at=now,
                         expires_at=now + _lifetime(purpose))
    db.session.add(record)
    db.session.flush()
    account_link_issued.send(user, purpose=purpose, link=links.set_password(token), expires_at=record.expires_at,
                             invited_by=invited_by)
    return record


def invite_organiser(actor: User, organisation: Organisation, email, *, name="", is_lead: bool = False) -> User:
    """A new organiser of `organisation`, who sets their own password through the e-mailed link.

    Only an admin, or the organisation's own lead organiser, may invite; only
    an admin may invite into another organisation.
    """
    if not can_manage_organisation(actor, organisation) or not organisation.is_active:
        raise Forbidden()
    errors: dict = {}
    email = clean_email(email, field="email", errors=errors)
    name = clean_text(name, max_length=200, field="name", errors=errors)
    if not errors and db.session.execute(select(User.id).where(func.lower(User.email) == email.lower())).first():
        errors["email"] = _l("A user with this e-mail already exists.")
    if errors:
        raise ValidationFailed(fields=errors)
    # No password yet: an empty hash matches nothing, so the account cannot log in before the link is used.
    user = User(email=email.lower(), name=name, password_hash="", organisation=organisation, is_lead=is_lead,
                feed_token=new_token())
    db.session.add(user)
    _issue(user, AccountLinkPurpose.INVITE, invited_by=actor)
    db.session.commit()
    return user


def request_password_reset(email, *, now: datetime | None = None) -> None:
    """E-mail a reset link if an active account has this address; says nothing either way (no enumeration).

    At most one link per PASSWORD_RESET_MINUTES is sent for an account, so
    repeated requests do not flood its mailbox.
    """
    now = now or utcnow()
    if not isinstance(email, str) or not email.strip():
        return
    user = db.session.execute(select(User).where(func.lower(User.email) == email.strip().lower())
                              .with_for_update()).scalar_one_or_none()
    if user is None or not user.is_active:
        db.session.rollback()
        return
    recent = db.session.execute(select(AccountLink.id).where(
        AccountLink.user_id == user.id, AccountLink.purpose == AccountLinkPurpose.RESET.value,
        AccountLink.used_at.is_(None), AccountLink.expires_at > now)).first()
    if recent is None:
        _issue(user, AccountLinkPurpose.RESET, now=now)
    db.session.commit()


def usable_link(token: str, *, now: datetime | None = None) -> AccountLink:
    """The live link for `token`; LinkNotUsable for a wrong, spent or expired one (the same answer for each)."""
    record = None
    if looks_like_token(token):
        record = db.session.execute(select(AccountLink).where(AccountLink.digest == digest(token))
                                    ).scalar_one_or_none()
    if record is None or not record.is_usable(now or utcnow()):
        raise LinkNotUsable()
    return record


def use_link(token: str, password: str, *, now: datetime | None = None) -> User:
    """Set the account's password through the link and spend it (and every other open link of the account).

    The link's row is locked (PostgreSQL) so a double submit sets the password
    once and the second gets LinkNotUsable.
    """
    now = now or utcnow()
    record = usable_link(token, now=now)
    db.session.execute(select(AccountLink.id).where(AccountLink.id == record.id).with_for_update())
    db.session.refresh(record)
    if not record.is_usable(now):
        raise LinkNotUsable()
    user = record.user
    set_password(user, password, now=now, commit=False)
    db.session.execute(update(AccountLink).where(AccountLink.user_id == user.id, AccountLink.used_at.is_(None))
                       .values(used_at=now))
    db.session.commit()
    return user


def set_account_active(actor: User, user: User, active: bool) -> User:
    """Deactivate (sessions end and API tokens are revoked at once) or reactivate a colleague's account."""
    if not can_manage_organisation(actor, user.organisation):
        raise Forbidden()
    if user.id == actor.id and not active:
        raise OwnAccount()
    if active:
        user.is_active_account = True
        db.session.commit()
    else:
        deactivate_user(user)
    return user


def team(organisation: Organisation) -> list[User]:
    return list(db.session.execute(select(User).where(User.organisation_id == organisation.id)
                                   .order_by(User.is_active_account.desc(), User.email)).scalars())
