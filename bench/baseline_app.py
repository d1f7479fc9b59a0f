"""The bare baseline for bench/compare.py: the physically necessary work, in plain Flask + Flask-SQLAlchemy.

It runs under gunicorn beside the project, on the same database, so the
comparison shows what the project's structure costs on top of the work itself:

- POST /meetings/<id>/declarations: lock the meeting row (SELECT … FOR UPDATE;
  on SQLite a write that takes the database's write lock), count confirmed
  seats, decide, insert the declaration, its participants and one outbox row,
  commit, answer JSON. Its own small tables (baseline_*), so nothing of the
  project's schema is needed.
- GET /calendar.ics: ETag from one aggregate over the project's published and
  cancelled meetings; 304 without building, else raw icalendar building the
  same VEVENTs from a plain query (no cache).
- GET /home, GET /dashboard: the same shape of page as the project's (a page of
  upcoming and of past meetings, counts by aggregate) with a bare template.

    gunicorn -w 4 --pythonpath bench baseline_app:app   (DATABASE_URL as for the project)
"""
from __future__ import annotations

import hashlib
import os
import secrets
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import icalendar
from flask import Flask, abort, jsonify, render_template_string, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, event, func, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

PUBLIC = ("published", "cancelled")


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Meeting(db.Model):
    __tablename__ = "baseline_meetings"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    capacity: Mapped[int] = mapped_column(Integer)


class Declaration(db.Model):
    __tablename__ = "baseline_declarations"
    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("baseline_meetings.id"), index=True)
    institution: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(40))
    email: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(20))
    manage_token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Participant(db.Model):
    __tablename__ = "baseline_participants"
    id: Mapped[int] = mapped_column(primary_key=True)
    declaration_id: Mapped[int] = mapped_column(ForeignKey("baseline_declarations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[str] = mapped_column(String(200))


class Outbox(db.Model):
    __tablename__ = "baseline_outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(254))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    declaration_id: Mapped[int] = mapped_column(Integer)
    facts: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def _url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith("postgresql://") else url


def create_app(database_url: str) -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = _url(database_url)
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            @event.listens_for(db.engine, "connect")
            def _pragmas(connection, _record):
                cursor = connection.cursor()
                cursor.execute("PRAGMA busy_timeout = 30000")
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.close()

    @app.get("/healthz")
    def healthz():
        db.session.execute(text("SELECT 1"))
        return jsonify(status="ok")

    @app.post("/meetings")
    def create_meeting():
        meeting = Meeting(title="Baseline meeting", capacity=int(request.json["capacity"]))
        db.session.add(meeting)
        db.session.commit()
        return jsonify(id=meeting.id), 201

    @app.post("/meetings/<int:meeting_id>/declarations")
    def declare(meeting_id: int):
        data = request.get_json()
        people = data.get("participants") or []
        if not data.get("institution") or not data.get("email") or not people or not data["consents"]["rodo"]:
            abort(422)
        if db.engine.dialect.name == "sqlite":
            # The first statement writes, so it waits for and takes SQLite's write lock: the meeting lock there.
            locked = db.session.execute(text("UPDATE baseline_meetings SET id = id WHERE id = :id"),
                                        {"id": meeting_id}).rowcount
            capacity = db.session.execute(select(Meeting.capacity).where(Meeting.id == meeting_id)).scalar()
        else:
            capacity = db.session.execute(select(Meeting.capacity).where(Meeting.id == meeting_id)
                                          .with_for_update()).scalar()
            locked = capacity is not None
        if not locked:
            abort(404)
        taken = db.session.execute(
            select(func.count(Participant.id)).join(Declaration, Participant.declaration_id == Declaration.id)
            .where(Declaration.meeting_id == meeting_id, Declaration.status == "confirmed")).scalar()
        status = "confirmed" if taken + len(people) <= capacity else "waitlisted"
        now = datetime.now(timezone.utc)
        declaration = Declaration(meeting_id=meeting_id, institution=data["institution"], category=data["category"],
                                  email=data["email"], status=status, manage_token=secrets.token_urlsafe(32),
                                  created_at=now)
        db.session.add(declaration)
        db.session.flush()
        db.session.add_all([Participant(declaration_id=declaration.id, name=p["name"], position=p.get("position", ""))
                            for p in people])
        db.session.add(Outbox(kind="confirmation", recipient=declaration.email,
                              dedupe_key=f"declared:{declaration.id}", declaration_id=declaration.id,
                              facts={"status": status, "seats": len(people)}, created_at=now))
        answer = {"id": declaration.id, "status": status, "manage_token": declaration.manage_token}
        db.session.commit()
        return jsonify(answer), 201

    @app.get("/calendar.ics")
    def feed():
        count, latest = db.session.execute(text(
            "SELECT count(id), max(updated_at) FROM events WHERE status IN ('published', 'cancelled')")).one()
        etag = hashlib.sha256(f"{count}:{latest}".encode()).hexdigest()[:32]
        if request.if_none_match.contains(etag):
            return "", 304, {"ETag": f'"{etag}"'}
        return raw_feed(), 200, {"ETag": f'"{etag}"', "Content-Type": "text/calendar; charset=utf-8"}

    @app.get("/home")
    def home():
        upcoming, past, counts = _pages()
        return render_template_string(PAGE, upcoming=upcoming, past=past, counts=counts, seats=None)

    @app.get("/dashboard")
    def dashboard():
        upcoming, past, counts = _pages()
        ids = [row.id for row in upcoming + past]
        seats = dict(db.session.execute(text(
            "SELECT r.event_id, count(p.id) FROM registrations r JOIN participants p ON p.registration_id = r.id "
            "WHERE r.status = 'confirmed' AND r.event_id IN (" + ",".join(map(str, ids or [0])) + ") "
            "GROUP BY r.event_id")).all())
        return render_template_string(PAGE, upcoming=upcoming, past=past, counts=counts, seats=seats)

    return app


COLUMNS = ("id, ical_uid, ical_sequence, title, description, starts_at, ends_at, timezone, venue, room, address, "
           "reference, contact_name, contact_email, contact_phone, status, created_at, updated_at")

PAGE = """<!doctype html><title>Meetings</title><h1>Meetings ({{ counts[0] }})</h1>
<h2>Upcoming</h2><ul>{% for e in upcoming %}<li><a href="/events/{{ e.id }}">{{ e.title }}</a> {{ e.starts_at }}
{{ e.venue }}{% if seats is not none %} {{ seats.get(e.id, 0) }}{% endif %}</li>{% endfor %}</ul>
<h2>Past</h2><ul>{% for e in past %}<li><a href="/events/{{ e.id }}">{{ e.title }}</a> {{ e.starts_at }}
{{ e.venue }}{% if seats is not none %} {{ seats.get(e.id, 0) }}{% endif %}</li>{% endfor %}</ul>
<a href="?past=2">Older</a>"""


def _moment(value) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _pages():
    now = datetime.now(timezone.utc)
    if db.engine.dialect.name == "sqlite":
        now = now.replace(tzinfo=None).isoformat(sep=" ")
    where = "status IN ('published', 'cancelled')"
    counts = db.session.execute(text(f"SELECT count(id), sum(CASE WHEN ends_at >= :now THEN 1 ELSE 0 END) "
                                     f"FROM events WHERE {where}"), {"now": now}).one()
    upcoming = db.session.execute(text(f"SELECT id, title, starts_at, venue FROM events WHERE {where} "
                                       "AND ends_at >= :now ORDER BY starts_at, id LIMIT 20"), {"now": now}).all()
    past = db.session.execute(text(f"SELECT id, title, starts_at, venue FROM events WHERE {where} "
                                   "AND ends_at < :now ORDER BY starts_at DESC, id DESC LIMIT 20"), {"now": now}).all()
    return upcoming, past, counts


_ZONES: dict[str, icalendar.Timezone] = {}


def raw_feed() -> bytes:
    """The same VEVENTs as the project's feed, built with icalendar from a plain query each time."""
    rows = db.session.execute(text(f"SELECT {COLUMNS} FROM events WHERE status IN ('published', 'cancelled') "
                                   "ORDER BY starts_at, id")).all()
    cal = icalendar.Calendar()
    cal.add("prodid", "-//baseline//EN")
    cal.add("version", "2.0")
    for name in sorted({row.timezone for row in rows}):
        if name not in _ZONES:
            _ZONES[name] = icalendar.Timezone.from_tzinfo(ZoneInfo(name))
        cal.add_component(_ZONES[name])
    base = os.environ.get("BASE_URL", "http://127.0.0.1:5000")
    for row in rows:
        tz = ZoneInfo(row.timezone)
        updated = _moment(row.updated_at)
        vevent = icalendar.Event()
        vevent.add("uid", row.ical_uid)
        vevent.add("sequence", row.ical_sequence)
        vevent.add("dtstamp", updated)
        vevent.add("created", _moment(row.created_at))
        vevent.add("last-modified", updated)
        vevent.add("dtstart", _moment(row.starts_at).astimezone(tz))
        vevent.add("dtend", _moment(row.ends_at).astimezone(tz))
        vevent.add("summary", row.title)
        vevent.add("location", ", ".join(p for p in (row.venue, row.room, row.address) if p))
        link = f"{base}/events/{row.id}"
        vevent.add("description", "\n\n".join(p for p in (row.description, f"Znak sprawy: {row.reference}",
                                                            f"Kontakt: {row.contact_name}, {row.contact_phone}",
                                                            link) if p))
        vevent.add("url", link)
        organizer = icalendar.vCalAddress(f"mailto:{row.contact_email or 'noreply@example.org'}")
        organizer.params["CN"] = row.contact_name
        vevent.add("organizer", organizer)
        vevent.add("status", "CANCELLED" if row.status == "cancelled" else "CONFIRMED")
        vevent.add("transp", "OPAQUE")
        vevent.add("class", "PUBLIC")
        cal.add_component(vevent)
    return cal.to_ical()


def create_tables(database_url: str) -> None:
    app = create_app(database_url)
    with app.app_context():
        db.create_all()
        db.engine.dispose()


app = create_app(os.environ["DATABASE_URL"]) if os.environ.get("DATABASE_URL") else None
