"""Small builders for test data; each takes overrides for what a test cares about."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

from scheduler.auth.services import create_user, get_or_create_organisation
from scheduler.events.services import create_event, publish_event
from scheduler.extensions import db
from scheduler.invitations.services import add_invitations

_counter = itertools.count(1)
PASSWORD = "correct horse battery"


def now() -> datetime:
    return datetime.now(timezone.utc)


def organisation(name: str = "Regionalny Ośrodek Polityki Społecznej w Rzeszowie", short_name: str = "ROPS Rzeszów"):
    org = get_or_create_organisation(name, short_name=short_name)
    db.session.commit()
    return org


def user(org=None, *, email: str | None = None, is_admin: bool = False, password: str = PASSWORD):
    org = org or organisation()
    return create_user(email or f"organiser{next(_counter)}@example.org", password, org, is_admin=is_admin)


def event_data(**overrides) -> dict:
    start = (now() + timedelta(days=20)).replace(microsecond=0)
    data = {
        "title": "Spotkanie informacyjne dla PCPR",
        "kind": "information_session",
        "starts_at": start,
        "ends_at": start + timedelta(hours=3),
        "declaration_deadline": start - timedelta(days=5),
        "venue": "ROPS Rzeszów",
        "address": "ul. Hetmańska 9, 35-045 Rzeszów",
        "room": "sala konferencyjna, II piętro",
        "reference": "PF.0702.10.2019.LK",
        "contact_name": "Biuro projektu",
        "contact_email": "biuro@example.org",
        "contact_phone": "(17) 8507928",
        "capacity": 30,
        "invite_only": False,
    }
    data.update(overrides)
    return data


def event(organiser=None, *, published: bool = True, **overrides):
    organiser = organiser or user()
    created = create_event(organiser, event_data(**overrides))
    if published:
        publish_event(organiser, created)
    return created


def invitations(organiser, event, count: int = 1, category: str = "powiat"):
    rows = [{"institution": f"PCPR {next(_counter)}", "category": category, "email": f"pcpr{next(_counter)}@example.org"}
            for _ in range(count)]
    created, _ = add_invitations(organiser, event, rows)
    return created


def declaration(seats: int = 1, category: str = "powiat", **overrides) -> dict:
    n = next(_counter)
    data = {
        "institution": f"Powiatowe Centrum Pomocy Rodzinie nr {n}",
        "category": category,
        "contact_name": "Anna Kowalska",
        "email": f"pcpr{n}@example.org",
        "phone": "17 123 45 67",
        "participants": [{"name": f"Uczestnik {i + 1}", "position": "pracownik socjalny", "needs": ""}
                         for i in range(seats)],
        "consents": {"rodo": True, "statements": []},
    }
    data.update(overrides)
    return data


def close_declarations(event) -> None:
    """Move the meeting's declaration deadline into the past, as if the invitee came too late."""
    event.declaration_deadline = now() - timedelta(minutes=1)
    db.session.commit()


def png_bytes() -> bytes:
    """A real 1×1 PNG image, for scan uploads judged by their content."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\xff\xff\xff"))
            + chunk(b"IEND", b""))


def login(client, account, password: str = PASSWORD, lang: str = "en"):
    """Log in through the real login form (CSRF is off in TestConfig), reading pages in `lang`."""
    client.get(f"/login?lang={lang}")  # the locale selector keeps ?lang= in the session
    response = client.post("/login", data={"email": account.email, "password": password})
    assert response.status_code == 302, response.data[:500]
    return response


def pdf_bytes() -> bytes:
    """The smallest thing the scan check recognises as a PDF."""
    return b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


# --- e-mail and calendars (tests/test_mail*.py, tests/test_calendar*.py) ---------

def api_token(account) -> str:
    from scheduler.auth.services import issue_api_token

    token, _record = issue_api_token(account)
    return token


def check_ics(text: str | bytes) -> "icalendar.Calendar":
    """Parse a calendar object with icalendar AND vobject, compare them field by field, and let Radicale verify it.

    icalendar's own validation checks little, so every component's `errors`
    (what its parser had to skip) must be empty as well. Radicale is run as
    `radicale --verify-item <file>` (its CLI offers that), one item per UID as
    a CalDAV server stores them.
    """
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    import icalendar
    import vobject

    raw = text.decode("utf-8") if isinstance(text, bytes) else text
    assert "\r\n" in raw and all(len(line.encode()) <= 75 for line in raw.split("\r\n")), "lines must be CRLF-folded"
    calendar = icalendar.Calendar.from_ical(raw)
    assert [(c.name, c.errors) for c in calendar.walk() if c.errors] == []
    assert str(calendar["VERSION"]) == "2.0" and calendar.get("PRODID")
    parsed = vobject.readOne(raw)
    vevents = getattr(parsed, "vevent_list", [])
    ievents = calendar.walk("VEVENT")
    assert len(vevents) == len(ievents)
    for mine, theirs in zip(ievents, vevents):
        assert str(mine["UID"]) == theirs.uid.value
        assert int(mine["SEQUENCE"]) == int(theirs.sequence.value)
        assert mine.decoded("DTSTART") == theirs.dtstart.value
        assert mine.decoded("DTEND") == theirs.dtend.value
        assert mine.decoded("DTSTAMP") == theirs.dtstamp.value
        assert str(mine["SUMMARY"]) == theirs.summary.value
        assert str(mine.get("LOCATION", "")) == (theirs.location.value if hasattr(theirs, "location") else "")
        assert str(mine["DESCRIPTION"]) == theirs.description.value
        assert str(mine["STATUS"]) == theirs.status.value
        assert mine["DTSTART"].params["TZID"] == "Europe/Warsaw"
    # A CalDAV server stores one object per UID (Radicale refuses several in one item): verify a feed per meeting.
    items = [raw]
    if len(ievents) > 1:
        items = []
        for vevent in ievents:
            item = icalendar.Calendar()
            for name, value in calendar.property_items(recursive=False)[1:-1]:
                item.add(name, value)
            for timezone_component in calendar.walk("VTIMEZONE"):
                item.add_component(timezone_component)
            item.add_component(vevent)
            items.append(item.to_ical().decode("utf-8"))
    radicale = Path(sys.executable).with_name("radicale")
    with tempfile.TemporaryDirectory() as folder:
        for number, item in enumerate(items):
            path = Path(folder) / f"item{number}.ics"
            path.write_text(item, encoding="utf-8", newline="")
            result = subprocess.run([str(radicale), "--verify-item", str(path)], capture_output=True, text=True,
                                    timeout=60)
            problems = [line for line in result.stderr.splitlines() if "ERROR" in line or "problem" in line]
            assert result.returncode == 0, problems or result.stderr[-2000:]
    return calendar


def messages(**filters):
    """Outbox rows matching `filters` (column=value), oldest first, freshly read from the database."""
    from sqlalchemy import select

    from scheduler.notifications.models import Message

    stmt = select(Message).order_by(Message.id)
    for name, value in filters.items():
        stmt = stmt.where(getattr(Message, name) == value)
    return list(db.session.execute(stmt.execution_options(populate_existing=True)).scalars())
