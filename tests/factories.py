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
