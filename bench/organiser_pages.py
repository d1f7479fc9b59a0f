"""Organiser pages of a big meeting: 350 invitations and 1,000 declarations (issue 9's table row).

Builds the meeting in a fresh database, logs an organiser in through the test client and times the overview,
the declarations list (first page), the attendance list, the CSV export and the invitations list (first page),
with the SQL statements and gettext calls one request makes. Beside each page it times the bare baseline
(bench/baseline_pages.py: plain Flask + Flask-SQLAlchemy, the same rows by plain SQL, a bare Jinja template or
the csv module) on the same meeting in the same database. `--runs` rounds of `--requests` requests per page
and side, the side that goes first alternating by round; medians over all, and the ratio baseline / project
(1.0 is parity, higher is better). The last lines, `ROW <page> <project_ms> <baseline_ms> <ratio>`, are for
scripts. The baseline's CSV is checked to be byte-for-byte the project's.

    python bench/organiser_pages.py --database postgresql://postgres@127.0.0.1:5432/test
    python bench/organiser_pages.py              # a SQLite file in a temporary directory
"""
from __future__ import annotations

import argparse
import csv
import io
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # baseline_pages

from sqlalchemy import create_engine, event as sa_event, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

# The bare app's address for each page (bench/baseline_pages.py): no /organiser prefix, no login.
BARE_PAGES = {
    "overview": "/events/{id}",
    "declarations": "/events/{id}/declarations",
    "attendance": "/events/{id}/attendance",
    "csv": "/events/{id}/declarations.csv",
    "invitations": "/events/{id}/invitations",
}
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


def _texts(app, csv_body: bytes):
    """The Polish words the bare app prints, taken once from the project: its CSV header and its labels."""
    from flask_babel import gettext

    from baseline_pages import Texts
    from scheduler.registration.organiser_lists import Labels

    header = next(csv.reader(io.StringIO(csv_body.decode("utf-8-sig")), delimiter=";"))
    with app.test_request_context(headers={"Accept-Language": "pl"}):
        labels = Labels.current()
        return Texts(csv_header=header, status=labels.status, category=labels.category, channel=labels.channel,
                     yes=gettext("yes"), no=gettext("no"))


def _time(client, target: str, requests: int) -> list[float]:
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(target)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (target, response.status_code)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="PostgreSQL URL to create a scratch database on (default: SQLite)")
    parser.add_argument("--runs", type=int, default=3, help="alternating rounds (project first, then baseline first)")
    parser.add_argument("--requests", type=int, default=5, help="requests per page per side in each round")
    parser.add_argument("--invitations", type=int, default=350)
    parser.add_argument("--declarations", type=int, default=1000)
    args = parser.parse_args()

    from babel.support import Translations

    from baseline_pages import create_baseline_app
    from baseline_pages import db as bare_db
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
        project_csv = client.get(PAGES["csv"].format(id=event_id)).data
        bare = create_baseline_app(url, _texts(app, project_csv))
        bare_client = bare.test_client()

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
        bare_statements = []
        with bare.app_context():
            sa_event.listen(bare_db.engine, "before_cursor_execute", lambda *a: bare_statements.append(a[2]))

        # One warm-up request per side and page, which also counts the statements and checks the pages answer.
        facts = {}
        for name, path in PAGES.items():
            target, bare_target = path.format(id=event_id), BARE_PAGES[name].format(id=event_id)
            for c, t in ((client, target), (bare_client, bare_target)):
                response = c.get(t)
                assert response.status_code == 200, (t, response.status_code, response.data[:300])
            statements.clear()
            bare_statements.clear()
            calls["gettext"] = 0
            response = client.get(target)
            sql, translated = len([s for s in statements if not s.startswith(("BEGIN", "PRAGMA"))]), calls["gettext"]
            bare_response = bare_client.get(bare_target)
            bare_sql = len([s for s in bare_statements if not s.startswith(("BEGIN", "PRAGMA"))])
            facts[name] = (sql, translated, len(response.data), bare_sql, len(bare_response.data))
            if name == "csv" and response.data != bare_response.data:
                print("note: the baseline's CSV differs from the project's", file=sys.stderr)

        # Rounds alternate which side goes first, so neither always runs on a warmer cache or a cooler CPU.
        times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in PAGES}
        for round_ in range(args.runs):
            for name, path in PAGES.items():
                sides = [(client, path, 0), (bare_client, BARE_PAGES[name], 1)]
                for c, p, side in (sides if round_ % 2 == 0 else sides[::-1]):
                    times[name][side].extend(_time(c, p.format(id=event_id), args.requests))
        Translations.ugettext = plain

        print(f"{args.runs} rounds x {args.requests} requests per page per side; ratio = baseline / project "
              f"(1.0 parity, higher is better)")
        print(f"{'page':<14}{'project ms':>11}{'baseline ms':>12}{'ratio':>7}{'SQL':>5}{'gettext':>8}{'bytes':>9}"
              f"{'bare SQL':>9}{'bare bytes':>11}")
        rows = []
        for name in PAGES:
            project_ms, bare_ms = (statistics.median(t) for t in times[name])
            sql, translated, size, bare_sql, bare_size = facts[name]
            rows.append((name, project_ms, bare_ms, bare_ms / project_ms))
            print(f"{name:<14}{project_ms:>11.1f}{bare_ms:>12.1f}{bare_ms / project_ms:>7.2f}{sql:>5}{translated:>8}"
                  f"{size:>9}{bare_sql:>9}{bare_size:>11}")
        for name, project_ms, bare_ms, ratio in rows:
            print(f"ROW {name} {project_ms:.1f} {bare_ms:.1f} {ratio:.2f}")
        with app.app_context():
            db.engine.dispose()
        with bare.app_context():
            bare_db.engine.dispose()
    finally:
        drop()


if __name__ == "__main__":
    main()
