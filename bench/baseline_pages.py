"""The bare baseline for bench/organiser_pages.py: the same organiser pages with only the necessary work.

A minimal Flask + Flask-SQLAlchemy app over the project's own tables: plain SQL that reads the rows each
page shows, a bare Jinja template (no layout, no babel, no url_for per row) or the csv module. No login:
the bare app is what the page would cost with nothing of the project's structure around it.
"""
from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import Flask, Response, abort
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import text

db = SQLAlchemy()

ACTIVE = ("confirmed", "waitlisted", "pending")
PAGE_SIZE = 50  # the project's declarations page size (registration/organiser_lists.PAGE_SIZE)


@dataclass(frozen=True)
class Texts:
    """The Polish words the pages print, fixed once at start: a bare app has them as constants, not gettext."""

    csv_header: list[str]
    status: dict[str, str]
    category: dict[str, str]
    channel: dict[str, str]
    yes: str = "tak"
    no: str = "nie"

OVERVIEW = """<h1>{{ e.title }}</h1><p>{{ e.status }} {{ e.kind }} {{ e.reference }} {{ e.organisation }}</p>
<p>{{ e.starts_at }} {{ e.venue }} {{ e.address }} {{ e.room }} {{ e.declaration_deadline }}</p>
<p>{{ e.contact_name }} {{ e.contact_email }} {{ e.contact_phone }}</p>
<table>{% for d in presence %}<tr><td>{{ d.day }}</td><td>{{ d.present }}</td><td>{{ d.absent }}</td>
<td>{{ d.unmarked }}</td><td>{{ d.by_category }}</td></tr>{% endfor %}</table>
<p>{{ seats }} / {{ e.capacity }}; {{ confirmed }}; {{ waiting|length }}; {{ pending|length }}</p>
{% for title, rows in lists %}<h2>{{ title }}</h2>
<ol>{% for r in rows %}<li>{{ r.institution }} {{ r.seats }}</li>{% endfor %}</ol>{% endfor %}
<table>{% for c, n in categories.items() %}<tr><td>{{ c }}</td><td>{{ n.confirmed }}</td><td>{{ n.waitlisted }}</td>
<td>{{ n.pending }}</td><td>{{ quotas.get(c, '') }}</td></tr>{% endfor %}</table>
<p>{{ invited }} {{ silent|length }} {{ declined|length }}</p>
<h2>not answered</h2><ul>{% for i in silent %}<li>{{ i.institution }} &lt;{{ i.email }}&gt;</li>{% endfor %}</ul>
<h2>declined</h2><ul>{% for i in declined %}<li>{{ i.institution }} &lt;{{ i.email }}&gt;</li>{% endfor %}</ul>"""

DECLARATIONS = """<h1>{{ e.title }}</h1><p>{{ e.declaration_deadline }}
{% for s, n in counts.items() %}{{ t.status.get(s, s) }}: {{ n }} {% endfor %}</p>
<table>{% for r in rows %}<tr>
<td><a href="/organiser/events/{{ e.id }}/declarations/{{ r.id }}/decide">{{ r.institution }}</a></td>
<td>{{ t.category.get(r.category, r.category) }}</td><td>{{ t.status.get(r.status, r.status) }}</td>
<td>{{ t.channel.get(r.channel, r.channel) }} {{ r.counted_at }}</td>
<td>{{ r.contact_name }} {{ r.email }} {{ r.phone }}</td><td>{{ people[r.id]|length }}</td>
<td>{% for p in people[r.id] %}{{ p.name }} {{ p.position }} {{ p.needs }}<br>{% endfor %}{{ r.notes }}</td>
<td>{{ 'scan' if r.has_scan }}</td><td>{{ 'invited' if r.invitation_id }}</td></tr>{% endfor %}</table>
<p>{{ page }} / {{ pages }}</p>"""

ATTENDANCE = """<h1>{{ e.title }}</h1><p>{{ e.reference }} {{ e.starts_at }} {{ e.venue }}</p>
{% for b in blocks %}<h2>{{ b.institution }}</h2><ol>
{% for p in b.people %}<li>{{ p.name }} {{ p.position }}</li>{% endfor %}</ol>{% endfor %}"""

INVITATIONS = """<h1>{{ e.title }}</h1><table>{% for i in rows %}<tr><td>{{ i.institution }}</td>
<td>{{ t.category.get(i.category, i.category) }}</td>
<td>{{ i.email }}</td><td>{{ i.sent_at or '' }}</td><td>{{ i.opened_at or '' }}</td><td>{{ i.answered_at or '' }}</td>
<td>{{ i.declined_at or '' }}</td><td>{{ i.revoked_at or '' }}</td><td>{{ t.status.get(i.status, '') }}</td>
<td>/i/{{ i.token }}</td></tr>{% endfor %}</table><p>{{ page }} / {{ pages }}</p>"""


def _event(event_id: int):
    row = db.session.execute(text("SELECT * FROM events WHERE id = :id"), {"id": event_id}).mappings().first()
    if row is None:
        abort(404)
    return row


def _aware(value) -> datetime:
    # Text SQL on SQLite gives the stored string; PostgreSQL gives an aware datetime.
    value = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _safe(value) -> str:
    # The same formula-injection rule as the project's CSV: it is part of the necessary work.
    value = "" if value is None else str(value)
    return "'" + value if value.startswith(("=", "+", "-", "@", "\t", "\r")) else value


def create_baseline_app(url: str, texts: Texts) -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    db.init_app(app)
    # Compiled once, as a file template would be cached; render_template_string would compile on every request.
    pages = {name: app.jinja_env.from_string(source) for name, source in (
        ("overview", OVERVIEW), ("declarations", DECLARATIONS), ("attendance", ATTENDANCE),
        ("invitations", INVITATIONS))}

    @app.get("/events/<int:event_id>")
    def overview(event_id: int):
        params = {"id": event_id}
        e = db.session.execute(text(
            "SELECT e.*, COALESCE(NULLIF(o.short_name, ''), o.name) AS organisation FROM events e "
            "JOIN organisations o ON o.id = e.organisation_id WHERE e.id = :id"), params).mappings().first()
        if e is None:
            abort(404)
        active = db.session.execute(text(
            "SELECT r.id, r.institution, r.category, r.status, COUNT(p.id) AS seats FROM registrations r "
            "LEFT JOIN participants p ON p.registration_id = r.id "
            "WHERE r.event_id = :id AND r.status IN ('confirmed', 'waitlisted', 'pending') "
            "GROUP BY r.id, r.institution, r.category, r.status, r.queued_at ORDER BY r.queued_at, r.id"),
            params).all()
        invitations = db.session.execute(text(
            "SELECT i.institution, i.email, i.declined_at, i.answered_at, "
            "EXISTS (SELECT 1 FROM registrations r WHERE r.invitation_id = i.id) AS declared "
            "FROM invitations i WHERE i.event_id = :id AND i.revoked_at IS NULL ORDER BY i.institution, i.id"),
            params).all()
        # Presence by day as the project shows it: marks of confirmed participants and walk-ins per category.
        marks = db.session.execute(text(
            "SELECT pr.day, pr.present, r.category, COUNT(*) FROM presences pr "
            "JOIN participants p ON p.id = pr.participant_id JOIN registrations r ON r.id = p.registration_id "
            "WHERE pr.event_id = :id AND r.status = 'confirmed' GROUP BY pr.day, pr.present, r.category"),
            params).all()
        walk_ins = db.session.execute(text(
            "SELECT w.day, r.category, COUNT(*) FROM walk_ins w JOIN registrations r ON r.id = w.registration_id "
            "WHERE w.event_id = :id GROUP BY w.day, r.category"), params).all()
        confirmed = [r for r in active if r.status == "confirmed"]
        seats = sum(r.seats for r in confirmed)
        categories: dict[str, dict[str, int]] = {}
        for r in active:
            count = categories.setdefault(r.category, {"confirmed": 0, "waitlisted": 0, "pending": 0})
            count[r.status] += 1
        starts, ends = _aware(e["starts_at"]), _aware(e["ends_at"])
        zone = ZoneInfo(e["timezone"])
        day, last = starts.astimezone(zone).date(), ends.astimezone(zone).date()
        presence = []
        while day <= last:
            present = {c: n for d, p, c, n in marks if str(d) == str(day) and p}
            absent = sum(n for d, p, _c, n in marks if str(d) == str(day) and not p)
            extra = {c: n for d, c, n in walk_ins if str(d) == str(day)}
            presence.append({"day": day, "present": sum(present.values()) + sum(extra.values()), "absent": absent,
                             "unmarked": seats - sum(present.values()) - absent,
                             "by_category": {c: present.get(c, 0) + extra.get(c, 0) for c in {*present, *extra}}})
            day += timedelta(days=1)
        quotas = e["quotas"] if isinstance(e["quotas"], dict) else json.loads(e["quotas"] or "{}")
        waiting = [r for r in active if r.status == "waitlisted"]
        pending = [r for r in active if r.status == "pending"]
        return pages["overview"].render(
            e=e, seats=seats, confirmed=len(confirmed), waiting=waiting, pending=pending,
            lists=[("waiting", waiting), ("pending", pending)], categories=categories, quotas=quotas,
            presence=presence, invited=len(invitations),
            silent=[i for i in invitations if not (i.declined_at or i.answered_at or i.declared)],
            declined=[i for i in invitations if i.declined_at])

    @app.get("/events/<int:event_id>/declarations")
    def declarations(event_id: int):
        e = _event(event_id)
        params = {"id": event_id}
        counts = dict(db.session.execute(text(
            "SELECT status, COUNT(*) FROM registrations WHERE event_id = :id GROUP BY status"), params).all())
        rows = db.session.execute(text(
            "SELECT r.id, r.institution, r.category, r.status, r.channel, r.counted_at, r.contact_name, r.email, "
            "r.phone, r.notes, r.invitation_id, "
            "EXISTS (SELECT 1 FROM scans s WHERE s.registration_id = r.id) AS has_scan "
            "FROM registrations r WHERE r.event_id = :id ORDER BY r.queued_at, r.id LIMIT :n"),
            {**params, "n": PAGE_SIZE}).all()
        people: dict[int, list] = {r.id: [] for r in rows}
        if rows:
            ids = ", ".join(str(r.id) for r in rows)  # integers from the database, not user input
            for p in db.session.execute(text(
                    f"SELECT registration_id, name, position, needs FROM participants "
                    f"WHERE registration_id IN ({ids}) ORDER BY registration_id, ordinal, id")):
                people[p.registration_id].append(p)
        total = sum(counts.values())
        return pages["declarations"].render(e=e, t=texts, counts=counts, rows=rows, people=people, page=1,
                                              pages=max(1, -(-total // PAGE_SIZE)))

    @app.get("/events/<int:event_id>/attendance")
    def attendance(event_id: int):
        e = _event(event_id)
        blocks: dict[int, dict] = {}
        for row in db.session.execute(text(
                "SELECT r.id, r.institution, p.name, p.position FROM registrations r "
                "LEFT JOIN participants p ON p.registration_id = r.id "
                "WHERE r.event_id = :id AND r.status = 'confirmed' ORDER BY r.id, p.ordinal, p.id"),
                {"id": event_id}):
            block = blocks.setdefault(row.id, {"institution": row.institution, "people": []})
            if row.name is not None:
                block["people"].append(row)
        ordered = sorted(blocks.items(), key=lambda item: (item[1]["institution"].casefold(), item[0]))
        return pages["attendance"].render(e=e, blocks=[b for _id, b in ordered])

    @app.get("/events/<int:event_id>/declarations.csv")
    def declarations_csv(event_id: int):
        e = _event(event_id)
        tz = ZoneInfo(e["timezone"])
        params = {"id": event_id}
        people: dict[int, list] = {}
        for registration_id, name, position, needs in db.session.execute(text(
                "SELECT p.registration_id, p.name, p.position, p.needs FROM participants p "
                "JOIN registrations r ON r.id = p.registration_id WHERE r.event_id = :id "
                "ORDER BY p.registration_id, p.ordinal, p.id"), params):
            people.setdefault(registration_id, []).append((name, position, needs))
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(texts.csv_header)
        stmt = text("SELECT id, institution, category, status, channel, counted_at, contact_name, email, phone, "
                    "notes, invitation_id FROM registrations WHERE event_id = :id ORDER BY queued_at, id")
        for (id_, institution, category, status, channel, counted_at, contact_name, email, phone, notes,
             invitation_id) in db.session.execute(stmt, params):
            persons = people.get(id_, [])
            writer.writerow([_safe(v) for v in (
                institution, texts.category.get(category, category), texts.status.get(status, status),
                texts.channel.get(channel, channel), _aware(counted_at).astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                contact_name, email, phone, len(persons),
                ", ".join(f"{name} ({position})" if position else name for name, position, _needs in persons),
                "; ".join(f"{name}: {needs}" for name, _position, needs in persons if needs),
                notes, texts.yes if invitation_id else texts.no)])
        return Response(codecs.BOM_UTF8 + out.getvalue().encode("utf-8"), mimetype="text/csv")

    @app.get("/events/<int:event_id>/invitations")
    def invitations(event_id: int):
        e = _event(event_id)
        total = db.session.execute(text("SELECT COUNT(*) FROM invitations WHERE event_id = :id"),
                                   {"id": event_id}).scalar_one()
        rows = db.session.execute(text(
            "SELECT i.institution, i.category, i.email, i.token, i.sent_at, i.opened_at, i.answered_at, "
            "i.declined_at, i.revoked_at, r.status FROM invitations i "
            "LEFT JOIN registrations r ON r.invitation_id = i.id "
            "WHERE i.event_id = :id ORDER BY i.institution, i.id LIMIT :n"), {"id": event_id, "n": PAGE_SIZE}).all()
        return pages["invitations"].render(e=e, t=texts, rows=rows, page=1,
                                             pages=max(1, -(-total // PAGE_SIZE)))

    return app
