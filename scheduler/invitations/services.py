"""Invitations: adding invitees one by one or from a CSV list, and their personal links."""
from __future__ import annotations

import codecs
import csv
import io
import unicodedata
from typing import NamedTuple

import charset_normalizer
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..events.access import require_manage
from ..auth.models import User
from ..database import utcnow
from ..errors import InvalidState, NotFound, ValidationFailed
from ..events.models import Event, InstitutionCategory
from ..extensions import db
from ..links import personal
from ..tokens import new_token
from ..validation import clean_email, clean_text, text_problem
from .models import Invitation

# Headers people put in spreadsheets, Polish and English, mapped to our fields.
CSV_HEADERS = {
    "institution": "institution", "instytucja": "institution", "nazwa": "institution", "name": "institution",
    "category": "category", "kategoria": "category", "typ": "category",
    "email": "email", "e-mail": "email", "adres e-mail": "email", "mail": "email",
    "language": "language", "język": "language", "jezyk": "language",
}
CATEGORY_ALIASES = {
    "starostwo": "powiat", "pcpr": "powiat", "ops": "gmina", "gops": "gmina", "urząd gminy": "gmina",
    "województwo": "voivodeship", "wojewodztwo": "voivodeship", "sąd": "court", "sad": "court",
    "policja": "police", "oświata": "education", "kuratorium": "education", "zdrowie": "health",
    "urząd pracy": "labour", "organizacja pozarządowa": "ngo", "inna": "other", "inne": "other",
}


def personal_url(invitation: Invitation) -> str:
    return personal(invitation.token)


def list_invitations(event: Event) -> list[Invitation]:
    stmt = (select(Invitation).where(Invitation.event_id == event.id)
            .options(selectinload(Invitation.registration))  # Invitation.status reads it for every row
            .order_by(Invitation.institution, Invitation.id))
    return list(db.session.execute(stmt).scalars())


def _clean_row(row: dict, prefix: str, errors: dict) -> dict:
    c = Invitation.__table__.c
    category = str(row.get("category") or "").strip().lower()
    category = CATEGORY_ALIASES.get(category, category)
    if category not in {k.value for k in InstitutionCategory}:
        errors[f"{prefix}category"] = _l("Unknown institution category.")
    language = str(row.get("language") or "pl").strip().lower() or "pl"
    if language not in current_app.config["LANGUAGES"]:
        errors[f"{prefix}language"] = _l("Language must be pl or en.")
    return {
        "institution": clean_text(row.get("institution"), column=c.institution, required=True,
                                  field=f"{prefix}institution", errors=errors),
        "category": category,
        "email": clean_email(row.get("email"), field=f"{prefix}email", errors=errors),
        "language": language,
    }


def add_invitations(user: User, event: Event, rows: list[dict]) -> tuple[list[Invitation], list[dict]]:
    """Invite institutions; all rows are added or, if any is wrong, none.

    Returns the new invitations and the rows skipped because the same
    institution and e-mail were already invited.
    """
    require_manage(user, event)
    if event.is_cancelled:
        raise InvalidState(_l("A cancelled meeting cannot get new invitations."))
    if not rows:
        raise ValidationFailed(fields={"invitations": _l("Add at least one invitee.")})
    limit = current_app.config["MAX_INVITATIONS_PER_IMPORT"]
    if len(rows) > limit:
        raise ValidationFailed(fields={"invitations": _l("At most %(limit)d invitations at once.", limit=limit)})
    errors: dict = {}
    cleaned = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            errors[f"{index}"] = _l("Each invitation needs institution, category and e-mail.")
            continue
        unknown = set(row) - {"institution", "category", "email", "language"}
        if unknown:
            errors[f"{index}.{sorted(unknown)[0]}"] = _l("Unknown field.")
            continue
        cleaned.append(_clean_row(row, f"{index}.", errors))
    if errors:
        raise ValidationFailed(fields=errors)
    existing = {
        (email.lower(), institution.lower())
        for email, institution in db.session.execute(
            select(func.lower(Invitation.email), func.lower(Invitation.institution)).where(Invitation.event_id == event.id))
    }
    created, skipped = [], []
    for row in cleaned:
        key = (row["email"].lower(), row["institution"].lower())
        if key in existing:
            skipped.append(row)
            continue
        existing.add(key)
        invitation = Invitation(event_id=event.id, token=new_token(), **row)
        db.session.add(invitation)
        created.append(invitation)
    db.session.commit()
    return created, skipped


def parse_csv(text: str) -> list[dict]:
    """Read a pasted or uploaded list: a header row, then institution, category, e-mail.

    Accepts comma, semicolon (Polish Excel) or tab separators. Raises
    ValidationFailed naming the line when the list cannot be read.
    """
    text = (text or "").lstrip("\ufeff").strip()
    if not text:
        raise ValidationFailed(fields={"csv": _l("The list is empty.")})
    for number, line in enumerate(text.split("\n"), start=1):
        problem = text_problem(line, multiline=True)
        if problem is not None:
            raise ValidationFailed(fields={"csv": _l("Line %(line)d: %(message)s", line=number, message=problem)})
    try:
        dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=";,\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        lines = [row for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:  # e.g. a cell over the csv module's size limit
        raise ValidationFailed(fields={"csv": _l("The list cannot be read as CSV.")}) from exc
    if not lines:
        raise ValidationFailed(fields={"csv": _l("The list is empty.")})
    header = [cell.strip().lower() for cell in lines[0]]
    has_header = all(h in CSV_HEADERS for h in header if h)
    if has_header:
        columns = [CSV_HEADERS.get(h) for h in header]
        lines = lines[1:]
    else:
        columns = ["institution", "category", "email", "language"]
    if not {"institution", "category", "email"} <= set(columns):
        raise ValidationFailed(fields={"csv": _l("The first line must name the columns: institution, category, e-mail.")})
    rows = []
    for number, cells in enumerate(lines, start=2 if has_header else 1):
        if len(cells) > len(columns):
            raise ValidationFailed(fields={"csv": _l("Line %(line)d has too many columns.", line=number)})
        rows.append({col: cell for col, cell in zip(columns, cells) if col})
    return rows


class DecodedList(NamedTuple):
    text: str
    encoding: str  # as shown to the organiser, e.g. "Windows-1250"


ENCODING_NAMES = {"utf_8": "UTF-8", "utf_8_sig": "UTF-8", "utf_16": "UTF-16", "cp1250": "Windows-1250",
                  "iso8859_2": "ISO-8859-2"}
_BOMS = ((codecs.BOM_UTF8, "utf_8_sig"), (codecs.BOM_UTF16_LE, "utf_16"), (codecs.BOM_UTF16_BE, "utf_16"))
POLISH_LETTERS = frozenset("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ")


def _encoding_name(codec: str) -> str:
    name = codecs.lookup(codec).name.replace("-", "_")
    return ENCODING_NAMES.get(name, name.upper().replace("_", "-"))


def _decode(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _plausible(text: str | None) -> bool:
    # Control characters other than line ends and tabs (C1 ones above all) are what a wrong single-byte
    # reading produces; no spreadsheet writes them.
    return text is not None and "\ufffd" not in text and not any(
        unicodedata.category(ch) == "Cc" and ch not in "\r\n\t" for ch in text)


def _latin(text: str) -> bool:
    return all(ch.isascii() or not ch.isalpha() or unicodedata.name(ch, "").startswith("LATIN") for ch in text)


def _read(data: bytes) -> tuple[str, str] | None:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            # A byte-order mark says what the file is: no second guess if it does not decode.
            text = _decode(data, codec)
            return (codec, text) if text is not None else None
    text = _decode(data, "utf_8")
    if text is not None:
        return "utf_8", text
    readings = [(codec, text) for codec in ("cp1250", "iso8859_2") if _plausible(text := _decode(data, codec))]
    if readings:
        # max() keeps the first of equals: Windows-1250, by far the commoner of the two.
        return max(readings, key=lambda reading: sum(ch in POLISH_LETTERS for ch in reading[1]))
    # The detector's candidates, most likely first; on short lists its favourite is often an Asian code page,
    # so only readings in Latin letters count, and among them the most Polish one.
    guesses = [(match.encoding, text) for match in charset_normalizer.from_bytes(data)
               if _plausible(text := _decode(data, match.encoding)) and _latin(text)]
    if guesses:
        return max(guesses, key=lambda reading: sum(ch in POLISH_LETTERS for ch in reading[1]))
    return None


def decode_upload(data: bytes) -> DecodedList:
    """Read an uploaded list in whatever encoding a spreadsheet saved it, or refuse it.

    A byte-order mark decides first (UTF-8 or UTF-16, as Excel's "CSV UTF-8" and
    "Unicode text" save), then strict UTF-8. Polish Windows saves Windows-1250 and
    older systems ISO-8859-2: both decode almost any bytes, and they differ exactly
    in ą, ś, ź, Ą, Ś, Ź, so the one that yields more Polish letters wins (a tie
    means the two readings are the same text). Only when neither reads cleanly are
    charset-normalizer's candidates tried (e.g. UTF-16 without a byte-order mark),
    judged the same way; its favourite alone mistakes short Polish lists for
    Windows-1252 or ISO-8859-3. What does not decode cleanly is refused,
    naming the encodings that work, instead of being stored with U+FFFD; the
    characters of a decoded list are then checked line by line by parse_csv.
    """
    found = _read(data)
    if found is None:
        raise ValidationFailed(fields={"csv": _l(
            "The file cannot be read: it is not text in UTF-8, UTF-16, Windows-1250 or ISO-8859-2. In Excel choose "
            "\"Save as\" and the type \"CSV UTF-8\", then upload the file again.")})
    codec, text = found
    return DecodedList(text.lstrip("\ufeff"), _encoding_name(codec))


def revoke_invitation(user: User, invitation: Invitation) -> Invitation:
    """Turn off a personal link; a declaration already made through it stays."""
    require_manage(user, invitation.event)
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
        db.session.commit()
    return invitation


def get_managed_invitation(user: User, invitation_id: int) -> Invitation:
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None:
        raise NotFound()
    require_manage(user, invitation.event)
    return invitation
