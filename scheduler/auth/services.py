"""Organisers, organisations, passwords and API tokens."""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from ..database import utcnow
from ..errors import Unauthorized, ValidationFailed
from ..extensions import db
from ..tokens import digest, new_token
from ..validation import clean_email
from .models import ApiToken, Organisation, User

MIN_PASSWORD_LENGTH = 10
# Compared against when the e-mail is unknown, so both paths cost the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password-0000")


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


def list_organisations() -> list[Organisation]:
    return list(db.session.execute(select(Organisation).order_by(Organisation.name)).scalars())


def find_organisation(name_or_slug: str) -> Organisation | None:
    key = name_or_slug.strip().lower()
    return db.session.execute(select(Organisation).where(
        (func.lower(Organisation.name) == key) | (Organisation.slug == key)
        | (func.lower(Organisation.short_name) == key))).scalars().first()


def create_user(email: str, password: str, organisation: Organisation, *, name: str = "", is_admin: bool = False) -> User:
    errors: dict = {}
    email = clean_email(email, field="email", errors=errors)
    if len(password or "") < MIN_PASSWORD_LENGTH:
        errors["password"] = _l("The password must have at least %(n)d characters.", n=MIN_PASSWORD_LENGTH)
    if not errors and db.session.execute(select(User.id).where(func.lower(User.email) == email.lower())).first():
        errors["email"] = _l("A user with this e-mail already exists.")
    if errors:
        raise ValidationFailed(fields=errors)
    user = User(email=email.lower(), name=name, password_hash=generate_password_hash(password),
                organisation=organisation, is_admin=is_admin, feed_token=new_token())
    db.session.add(user)
    db.session.commit()
    return user


def authenticate(email: str, password: str) -> User | None:
    """The user with this e-mail and password, or None; takes the same time either way."""
    user = None
    if isinstance(email, str) and email:
        user = db.session.execute(select(User).where(func.lower(User.email) == email.strip().lower())).scalar_one_or_none()
    if user is None or not user.is_active:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    return user if check_password_hash(user.password_hash, password or "") else None


def issue_api_token(user: User) -> tuple[str, ApiToken]:
    token = new_token()
    record = ApiToken(user=user, digest=digest(token), expires_at=utcnow() + current_app.config["API_TOKEN_LIFETIME"])
    db.session.add(record)
    db.session.commit()
    return token, record


def user_for_api_token(token: str | None, now: datetime | None = None) -> User:
    if not token:
        raise Unauthorized()
    record = db.session.execute(select(ApiToken).where(ApiToken.digest == digest(token))).scalar_one_or_none()
    now = now or utcnow()
    if record is None or record.revoked_at is not None or record.expires_at < now or not record.user.is_active:
        raise Unauthorized(_l("The API token is invalid or has expired."))
    return record.user


def user_for_feed_token(token: str) -> User | None:
    from ..tokens import looks_like_token

    if not looks_like_token(token):
        return None
    return db.session.execute(select(User).where(User.feed_token == token)).scalar_one_or_none()
