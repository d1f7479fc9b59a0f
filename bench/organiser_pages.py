"""Organiser pages of a big meeting: 350 invitations and 1,000 declarations (issue 9's table row).

Builds the meeting in a fresh database, logs an organiser in through the test client and times the overview,
the declarations list (first page), the attendance list and the CSV export: median of `--runs` requests
each, with the SQL statements and gettext calls one request makes.

    python bench/organiser_pages.py --database postgresql://postgres@127.0.0.1:5432/test
    python bench/organiser_pages.py              # a SQLite file in a temporary directory
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, event as sa_event, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

PAGES = {
    "overview": "/organiser/events/{id}",
    "declarations": "/organiser/events/{id}/declarations",
    "attendance": "/organiser/events/{id}/attendance",
    "csv": "/organiser/events/{id}/declarations.csv",
    "invitations": "/organiser/events/{id}/invitations",
}


def _database(url: str | None):
    if url is None:
        path = Path(tempfile.mkdtemp()) / "bench.db"
        return f"sqlite:///{path}", lambda: None
    base = make_url(url).set(drivername="postgresql+psycopg")
    name = f"bench_pages_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


def _seed(invitations: int, declarations: int):
    from scheduler.auth.services import create_user, get_or_create_organisation
    from scheduler.database import utcnow
    from scheduler.events.services import create_event, publish_event
    from scheduler.extensions import db
    from scheduler.invitations.services import add_invitations
    from scheduler.registration.models import Participant, Registration
    from scheduler.tokens import new_token

    organisation = get_or_create_organisation("Regionalny Ośrodek Polityki Społecznej w Rzeszowie",
                                              short_name="ROPS Rzeszów")
    db.session.commit()
    organiser = create_user("bench@example.org", "correct horse battery", organisation)
    start = (utcnow() + timedelta(days=30)).replace(microsecond=0)
    meeting = create_event(organiser, {
        "title": "Spotkanie informacyjne dla PCPR", "kind": "information_session", "starts_at": start,
        "ends_at": start + timedelta(hours=3), "declaration_deadline": start - timedelta(days=5),
        "venue": "ROPS Rzeszów", "address": "ul. Hetmańska 9", "room": "sala", "reference": "PF.0702.10.2019.LK",
        "contact_name": "Biuro", "contact_email": "biuro@example.org", "contact_phone": "17 850 79 28",
        "capacity": 1500, "invite_only": False, "moderated": False,
        "quotas": {"powiat": 400, "gmina": 600}})
    publish_event(organiser, meeting)
    categories = ["powiat", "gmina", "ngo", "court", "police"]
    rows = [{"institution": f"Instytucja zaproszona nr {n}", "category": categories[n % 3],
             "email": f"zaproszona{n}@example.org"} for n in range(invitations)]
    invited, _skipped = add_invitations(organiser, meeting, rows)
    statuses = ["confirmed"] * 6 + ["waitlisted"] * 2 + ["pending", "withdrawn"]
    now = utcnow()
    for n in range(declarations):
        registration = Registration(
            event_id=meeting.id, invitation_id=invited[n].id if n < len(invited) // 2 else None,
            institution=f"Powiatowe Centrum Pomocy Rodzinie nr {n}", category=categories[n % len(categories)],
            contact_name="Anna Kowalska", email=f"pcpr{n}@example.org", phone="17 123 45 67",
            status=statuses[n % len(statuses)], channel=["online", "post", "email_scan"][n % 3],
            counted_at=now - timedelta(minutes=declarations - n), queued_at=now - timedelta(minutes=declarations - n),
            consent_rodo=True, notes="" if n % 4 else "=SUM(A1)", manage_token=new_token())
        registration.participants = [
            Participant(ordinal=i, name=f"Uczestnik {n}.{i}", position="pracownik socjalny",
                        needs="dieta" if i == 1 else "") for i in range(1 + n % 3)]
        db.session.add(registration)
        if n % 200 == 199:
            db.session.commit()
    db.session.commit()
    return meeting.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="PostgreSQL URL to create a scratch database on (default: SQLite)")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--invitations", type=int, default=350)
    parser.add_argument("--declarations", type=int, default=1000)
    args = parser.parse_args()

    from babel.support import Translations

    from scheduler import create_app
    from scheduler.extensions import db

    url, drop = _database(args.database)
    try:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            event_id = _seed(args.invitations, args.declarations)
            db.session.remove()
        client = app.test_client()
        client.post("/login", data={"email": "bench@example.org", "password": "correct horse battery"})

        calls = {"gettext": 0}
        plain = Translations.ugettext  # what flask_babel's gettext and the templates' _() both call

        def counting(self, *args, **kwargs):
            calls["gettext"] += 1
            return plain(self, *args, **kwargs)

        Translations.ugettext = counting
        statements = []
        with app.app_context():
            engine = db.engine
        sa_event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        print(f"{'page':<14}{'median ms':>10}{'min ms':>9}{'SQL':>6}{'gettext':>9}{'bytes':>10}")
        for name, path in PAGES.items():
            target = path.format(id=event_id)
            response = client.get(target)
            assert response.status_code == 200, (target, response.status_code, response.data[:300])
            statements.clear()
            calls["gettext"] = 0
            client.get(target)
            sql, translated = len([s for s in statements if not s.startswith(("BEGIN", "PRAGMA"))]), calls["gettext"]
            times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                response = client.get(target)
                times.append((time.perf_counter() - started) * 1000)
            print(f"{name:<14}{statistics.median(times):>10.1f}{min(times):>9.1f}{sql:>6}{translated:>9}"
                  f"{len(response.data):>10}")
        Translations.ugettext = plain
        with app.app_context():
            db.engine.dispose()
    finally:
        drop()


if __name__ == "__main__":
    main()
