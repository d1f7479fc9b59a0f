"""Organisers, organisations, passwords and API tokens."""
from __future__ import annotations

import math
import re
import unicodedata
from datetime import datetime

from flask import current_app, g
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext as _ln
from sqlalchemy import case, delete, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from ..database import UTCDateTime, utcnow
from ..errors import DomainError, Forbidden, NotFound, TooManyAttempts, Unauthorized, ValidationFailed
from ..extensions import db
from ..tokens import digest, new_token
from ..validation import clean_email, clean_text
from .models import ApiToken, LoginFailure, Organisation, User
from .passwords import hash_password, password_problem, spend_verification_time, verify_password



def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name.replace("ł", "l").replace("Ł", "L")).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60] or "organisation"


def get_or_create_organisation(name: str, *, short_name: str = "", address: str = "") -> Organisation:
    organisation = db.session.execute(
        select(Organisation).where(func.lower(Organisation.name) == name.strip().lower())).scalar_one_or_none()
    if organisation is None:
        organisation = Organisation(name=name.strip(), slug=slugify(short_name or name),
                                    short_name=short_name, address=address)
        db.session.add(organisation)
        db.session.flush()
    return organisation


def _clean_organisation(name, short_name, address, *, current: Organisation | None = None) -> dict:
    errors: dict = {}
    values = {
        "name": clean_text(name, max_length=200, required=True, field="name", errors=errors),
        "short_name": clean_text(short_name, max_length=60, field="short_name", errors=errors),
        "address": clean_text(address, max_length=300, field="address", errors=errors),
    }
    if "name" not in errors:
        taken = select(Organisation.id).where(func.lower(Organisation.name) == values["name"].lower())
        if current is not None:
            taken = taken.where(Organisation.id != current.id)
        if db.session.execute(taken).first():
            errors["name"] = _l("An organisation with this name already exists.")
    if errors:
        raise ValidationFailed(fields=errors)
    return values


def _free_slug(base: str) -> str:
    slug, number = base, 1
    while db.session.execute(select(Organisation.id).where(Organisation.slug == slug)).first():
        number += 1
        slug = f"{base[:55]}-{number}"
    return slug


def create_organisation(name, *, short_name="", address="") -> Organisation:
    """A new organisation (a regional centre); ValidationFailed with field messages for bad or taken names."""
    values = _clean_organisation(name, short_name, address)
    organisation = Organisation(slug=_free_slug(slugify(values["short_name"] or values["name"])), **values)
    db.session.add(organisation)
    try:
        db.session.commit()
    except IntegrityError as exc:  # the same name created at the same moment by someone else
        db.session.rollback()
        raise ValidationFailed(fields={"name": _l("An organisation with this name already exists.")}) from exc
    return organisation


def update_organisation(organisation: Organisation, name, *, short_name="", address="") -> Organisation:
    """Rename or re-address an organisation; its slug (used on the command line) stays what it was."""
    for field, value in _clean_organisation(name, short_name, address, current=organisation).items():
        setattr(organisation, field, value)
    db.session.commit()
    return organisation


class OwnOrganisation(DomainError):
    code = "own_organisation"
    status = 409
    default_message = _l("You cannot deactivate your own organisation: you would lock yourself out.")


def set_organisation_active(actor: User, organisation: Organisation, active: bool, *,
                            now: datetime | None = None) -> Organisation:
    """Deactivate (or reactivate) an organisation: its meetings and history stay; its organisers are logged out
    everywhere and their API tokens revoked at once, and they cannot log in while it is inactive."""
    if not active and organisation.id == actor.organisation_id:
        raise OwnOrganisation()
    organisation.is_active = active
    if not active:
        members = select(User.id).where(User.organisation_id == organisation.id)
        db.session.execute(update(User).where(User.organisation_id == organisation.id)
                           .values(session_version=User.session_version + 1))
        db.session.execute(update(ApiToken).where(ApiToken.user_id.in_(members), ApiToken.revoked_at.is_(None))
                           .values(revoked_at=now or utcnow()))
    db.session.commit()
    return organisation


def can_manage_organisation(user: User, organisation: Organisation) -> bool:
    """Who edits an organisation's settings: an admin, or the organisation's own lead organiser."""
    return user.is_admin or (user.is_lead and user.organisation_id == organisation.id)


SETTINGS_FIELDS = ("sender_name", "sender_email", "dpo_contact", "legal_basis", "accessibility_contact_name",
                   "accessibility_contact_email", "accessibility_contact_phone")


def update_settings(user: User, organisation: Organisation, values: dict) -> Organisation:
    """Save an organisation's settings; Forbidden for anyone but its lead or an admin, ValidationFailed per field."""
    if not can_manage_organisation(user, organisation):
        raise Forbidden()
    errors: dict = {}
    cleaned = {
        "sender_name": clean_text(values.get("sender_name"), max_length=200, field="sender_name", errors=errors),
        "sender_email": clean_email(values.get("sender_email"), field="sender_email", errors=errors, required=False),
        "dpo_contact": clean_text(values.get("dpo_contact"), max_length=300, field="dpo_contact", errors=errors),
        "legal_basis": clean_text(values.get("legal_basis"), max_length=500, field="legal_basis", errors=errors),
        "accessibility_contact_name": clean_text(values.get("accessibility_contact_name"), max_length=200,
                                                 field="accessibility_contact_name", errors=errors),
        "accessibility_contact_email": clean_email(values.get("accessibility_contact_email"),
                                                   field="accessibility_contact_email", errors=errors, required=False),
        "accessibility_contact_phone": clean_text(values.get("accessibility_contact_phone"), max_length=60,
                                                  field="accessibility_contact_phone", errors=errors),
    }
    if errors:
        raise ValidationFailed(fields=errors)
    for field, value in cleaned.items():
        setattr(organisation, field, value if value or not field.startswith("accessibility_") else None)
    db.session.commit()
    return organisation


def list_organisations() -> list[Organisation]:
    return list(db.session.execute(select(Organisation).order_by(Organisation.name)).scalars())


def find_organisation(name_or_slug: str) -> Organisation | None:
    key = name_or_slug.strip().lower()
    return db.session.execute(select(Organisation).where(
        (func.lower(Organisation.name) == key) | (Organisation.slug == key)
        | (func.lower(Organisation.short_name) == key))).scalars().first()


def set_organisation_sender(organisation: Organisation, email: str) -> Organisation:
    """Set the address calendars name as ORGANIZER for the organisation's meetings without a contact e-mail."""
    errors: dict = {}
    organisation.sender_email = clean_email(email, field="sender_email", errors=errors, required=False)
    if errors:
        raise ValidationFailed(fields=errors)
    db.session.commit()
    return organisation


def _check_password(password, errors: dict, *, personal: tuple[str, ...] = ()) -> None:
    problem = password_problem(password, personal=personal)
    if problem:
        errors["password"] = problem


def create_user(email: str, password: str, organisation: Organisation, *, name: str = "", is_admin: bool = False,
                is_lead: bool = False) -> User:
    errors: dict = {}
    email = clean_email(email, field="email", errors=errors)
    _check_password(password, errors, personal=(email, name))
    if not errors and db.session.execute(select(User.id).where(func.lower(User.email) == email.lower())).first():
        errors["email"] = _l("A user with this e-mail already exists.")
    if errors:
        raise ValidationFailed(fields=errors)
    user = User(email=email.lower(), name=name, password_hash=hash_password(password),
                organisation=organisation, is_admin=is_admin, is_lead=is_lead, feed_token=new_token())
    db.session.add(user)
    db.session.commit()
    return user


def authenticate(email: str, password: str) -> User | None:
    """The user with this e-mail and password, or None; takes the same time either way."""
    user = None
    if isinstance(email, str) and email:
        user = db.session.execute(select(User).where(func.lower(User.email) == email.strip().lower())).scalar_one_or_none()
    if user is None or not user.is_active:
        spend_verification_time(password or "")
        return None
    matches, upgraded = verify_password(user.password_hash, password or "")
    if not matches:
        return None
    if upgraded:
        user.password_hash = upgraded  # committed with the login (log_in clears the failure count)
    return user


# --- failed logins, counted per account in the database ------------------------

def _login_key(email) -> str:
    # Unknown addresses are counted too, under the same kind of key, so a lockout tells nobody an account exists.
    normalised = email.strip().lower()[:254] if isinstance(email, str) else ""
    return digest(normalised)


def _locked_for(key: str, now: datetime) -> int:
    """Seconds until the e-mail `key` may try again; 0 if it may now."""
    row = db.session.get(LoginFailure, key)
    if row is None or row.failures < current_app.config["LOGIN_FAILURE_LIMIT"]:
        return 0
    ends = row.window_started_at + current_app.config["LOGIN_FAILURE_WINDOW"]
    return max(math.ceil((ends - now).total_seconds()), 0)


def _record_failure(key: str, now: datetime) -> None:
    window_start = now - current_app.config["LOGIN_FAILURE_WINDOW"]
    table = LoginFailure.__table__
    insert = postgresql_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    stale = table.c.window_started_at <= window_start
    # One statement, so failures arriving at once in several processes or machines are all counted.
    db.session.execute(insert(table).values(key=key, failures=1, window_started_at=now).on_conflict_do_update(
        index_elements=[table.c.key],
        set_={"failures": case((stale, 1), else_=table.c.failures + 1),
              "window_started_at": case((stale, literal(now, UTCDateTime())), else_=table.c.window_started_at)}))
    # Windows long over say nothing any more; dropping them keeps the table as small as the attacks are recent.
    db.session.execute(delete(LoginFailure).where(LoginFailure.window_started_at < window_start))
    db.session.commit()


def log_in(email, password, *, now: datetime | None = None) -> User | None:
    """`authenticate`, counting failures per e-mail address tried, whoever tries it from wherever.

    Raises TooManyAttempts (429, with the seconds to wait) while the address
    has had LOGIN_FAILURE_LIMIT failures within LOGIN_FAILURE_WINDOW, even
    with the right password, and whether or not an account has it. Only a
    refused password counts: an error on our side raises before counting.
    A successful login clears the count.
    """
    now = now or utcnow()
    key = _login_key(email)
    wait = _locked_for(key, now)
    if wait:
        minutes = math.ceil(wait / 60)
        raise TooManyAttempts(_ln("Too many failed login attempts for this account. Please try again in %(num)d minute.",
                                  "Too many failed login attempts for this account. Please try again in %(num)d minutes.",
                                  minutes), retry_after=wait)
    user = authenticate(email, password)
    if user is None:
        _record_failure(key, now)
    else:
        db.session.execute(delete(LoginFailure).where(LoginFailure.key == key))
        db.session.commit()
    return user


# --- sessions ------------------------------------------------------------------

def _end_sessions(user: User) -> None:
    # In SQL, so two bumps at once both count; every session holding the old number is refused from now on.
    user.session_version = User.session_version + 1


def _revoke_all_tokens(user: User, now: datetime) -> None:
    db.session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                       .values(revoked_at=now))


def end_all_sessions(user: User) -> None:
    """Log the user out everywhere (every browser's session); API tokens stay, they are revoked one by one."""
    _end_sessions(user)
    db.session.commit()


def set_password(user: User, password: str, *, now: datetime | None = None, commit: bool = True) -> None:
    """A new password: ends every session and revokes every API token, as either may be in wrong hands."""
    errors: dict = {}
    _check_password(password, errors, personal=(user.email, user.name))
    if errors:
        raise ValidationFailed(fields=errors)
    user.password_hash = hash_password(password)
    _end_sessions(user)
    _revoke_all_tokens(user, now or utcnow())
    if commit:
        db.session.commit()


def deactivate_user(user: User, *, now: datetime | None = None) -> None:
    """The account can no longer log in; its sessions end and its API tokens are revoked at once."""
    user.is_active_account = False
    _end_sessions(user)
    _revoke_all_tokens(user, now or utcnow())
    db.session.commit()


def session_is_current(user: User, version) -> bool:
    """Whether a session that recorded `version` at login still belongs to the active user."""
    return user.is_active and isinstance(version, int) and version == user.session_version


# --- API tokens ----------------------------------------------------------------

# last_used_at is written at most this often per token, so reads do not each become a write.
_LAST_USED_PRECISION_SECONDS = 60


class TooManyTokens(DomainError):
    code = "too_many_tokens"
    default_message = _l("You have too many active API tokens.")


def _live_tokens(user: User, now: datetime):
    return select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None),
                                  ApiToken.expires_at > now)


def issue_api_token(user: User, name: str = "", *, now: datetime | None = None) -> tuple[str, ApiToken]:
    """A new token (returned once, only its digest is kept); TooManyTokens past MAX_LIVE_API_TOKENS live ones.

    Refusing (rather than revoking the oldest) leaves the organiser to decide
    which script loses its access.
    """
    now = now or utcnow()
    errors: dict = {}
    name = clean_text(name, max_length=100, field="name", errors=errors)
    if errors:
        raise ValidationFailed(fields=errors)
    # Lock the user's row (PostgreSQL) so two requests at once cannot both take the last free place.
    db.session.execute(select(User.id).where(User.id == user.id).with_for_update())
    limit = current_app.config["MAX_LIVE_API_TOKENS"]
    live = db.session.execute(select(func.count()).select_from(_live_tokens(user, now).subquery())).scalar_one()
    if live >= limit:
        raise TooManyTokens(_ln(
            "You already have %(num)d active API token, the most allowed. Revoke one you no longer use and try again.",
            "You already have %(num)d active API tokens, the most allowed. Revoke one you no longer use and try again.",
            limit))
    token = new_token()
    record = ApiToken(user=user, name=name, digest=digest(token), created_at=now,
                      expires_at=now + current_app.config["API_TOKEN_LIFETIME"])
    db.session.add(record)
    db.session.commit()
    return token, record


def list_api_tokens(user: User, *, now: datetime | None = None) -> list[ApiToken]:
    """The user's live tokens, newest first."""
    return list(db.session.execute(_live_tokens(user, now or utcnow()).order_by(
        ApiToken.created_at.desc(), ApiToken.id.desc())).scalars())


def revoke_api_token(user: User, token_id: int, *, now: datetime | None = None) -> ApiToken:
    """Revoke one of the user's own tokens (at once, for every client using it); NotFound for anyone else's."""
    record = db.session.get(ApiToken, token_id)
    if record is None or record.user_id != user.id:
        raise NotFound()
    if record.revoked_at is None:
        record.revoked_at = now or utcnow()
        db.session.commit()
    return record


def user_for_api_token(token: str | None, now: datetime | None = None) -> User:
    """The active user behind a live token; Unauthorized otherwise. The token's record is kept in g.api_token."""
    if not token:
        raise Unauthorized()
    record = db.session.execute(select(ApiToken).where(ApiToken.digest == digest(token))).scalar_one_or_none()
    now = now or utcnow()
    if record is None or not record.is_live(now) or not record.user.is_active:
        raise Unauthorized(_l("The API token is invalid or has expired."))
    if record.last_used_at is None or (now - record.last_used_at).total_seconds() >= _LAST_USED_PRECISION_SECONDS:
        # Routes check the token before doing anything else, so this commit carries nothing of theirs.
        record.last_used_at = now
        db.session.commit()
    g.api_token = record
    return record.user


def user_for_feed_token(token: str) -> User | None:
    from ..tokens import looks_like_token

    if not looks_like_token(token):
        return None
    return db.session.execute(select(User).where(User.feed_token == token)).scalar_one_or_none()
