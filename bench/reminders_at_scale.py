"""Reminders at scale (issue 9): 10,000 due deadline reminders, planned and delivered to a local SMTP sink.

For each database (a throw-away PostgreSQL database and a SQLite file) it
migrates a fresh schema, seeds MEETINGS meetings whose 3-day deadline reminder
fell due a few seconds ago with INVITEES non-responding invitees each (plus
IDLE_MEETINGS upcoming meetings with invitees whose reminders are not due), and
measures, in `--runs` runs (3) on fresh due reminders that alternate which side goes first:

- the project through the clock: `flask --app wsgi tick` run as the clock
  would (every SCHEDULER_TICK_SECONDS, 30 s by default) until every reminder
  reached the sink, starting with nothing planned; wall time from the first
  tick to the last message, and each tick's own time and counts;
- the raw baseline: one INSERT … SELECT of the same rows into a scratch table,
  and raw smtplib on one connection sending 10,000 simple messages;
- at the end, an idle tick (`plan_due_reminders` + `dispatch_due` with nothing
  due), the median of 5.

The last lines (`ROW name<TAB>project<TAB>baseline<TAB>ratio`) are the medians
`bench/compare.py` (`make bench`) adds to its table.

Duplicates and misses are counted from what the sink received (it runs as a
separate process and writes one line per recipient). Only loopback addresses
are used.

    python bench/reminders_at_scale.py [--backend both|postgresql|sqlite] [--runs 3] [--invitees 500] [--meetings 20]
"""
from __future__ import annotations

import argparse
import os
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for path in (str(ROOT), str(HERE)):
    if path not in sys.path:
        sys.path.insert(0, path)

import load_declarations as ld  # noqa: E402  (databases, free ports, migrations)

IDLE_MEETINGS = 50
IDLE_INVITEES = 200


# --- the sink: a separate process, so it does not share the dispatcher's interpreter ---------------

def run_sink(port: int, out: str) -> None:
    from aiosmtpd.controller import Controller

    handle = open(out, "a", buffering=1)

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            for address in envelope.rcpt_tos:
                handle.write(address + "\n")
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


class Sink:
    def __init__(self) -> None:
        self.port = ld.free_port()
        self.file = tempfile.NamedTemporaryFile(prefix="sink-", suffix=".txt", delete=False).name
        self.process = None

    def __enter__(self):
        self.process = subprocess.Popen([sys.executable, __file__, "--sink", str(self.port), self.file])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=2) as smtp:
                    smtp.noop()
                break
            except OSError:
                time.sleep(0.2)
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=10)
        os.unlink(self.file)

    def received(self) -> list[str]:
        with open(self.file) as handle:
            return [line.strip() for line in handle if line.strip()]

    def reset(self) -> None:
        open(self.file, "w").close()


# --- data ---------------------------------------------------------------------

def seed(app, meetings: int, invitees: int, *, due: bool, tag: str) -> list[str]:
    """Published meetings with invitees who have not answered; `due`: the 3-day reminder fell due 5 s ago."""
    from scheduler.auth.services import create_user, get_or_create_organisation
    from scheduler.events.models import Event
    from scheduler.extensions import db
    from scheduler.invitations.models import Invitation
    from scheduler.tokens import digest

    with app.app_context():
        organisation = get_or_create_organisation("Regionalny Ośrodek Polityki Społecznej w Rzeszowie",
                                                  short_name="ROPS Rzeszów")
        organiser = create_user(f"bench-{uuid.uuid4().hex[:8]}@example.org", ld.PASSWORD, organisation)
        now = datetime.now(timezone.utc).replace(microsecond=0)
        deadline = now + timedelta(days=3) - timedelta(seconds=5) if due else now + timedelta(days=30)
        emails = []
        for n in range(meetings):
            event = Event(
                organisation_id=organisation.id, created_by_id=organiser.id, kind="information_session",
                title=f"Spotkanie informacyjne nr {n} dla PCPR i OPS", starts_at=deadline + timedelta(days=5),
                ends_at=deadline + timedelta(days=5, hours=3), venue="ROPS Rzeszów",
                address="ul. Hetmańska 9, 35-045 Rzeszów", reference=f"PF.0702.{n}.2019.LK",
                contact_email="biuro@example.org", capacity=1000, quotas={}, declaration_deadline=deadline,
                invite_only=True, status="published", ical_uid=f"{uuid.uuid4()}@bench.local",
                published_at=now, reminders={"before_deadline": ["P3D", "P1D"], "before_meeting": ["P1D"]})
            db.session.add(event)
            db.session.flush()
            rows = []
            for i in range(invitees):
                token = uuid.uuid4().hex + uuid.uuid4().hex[:11]
                email = f"pcpr-{tag}-{n}-{i}@example.org"
                emails.append(email)
                rows.append({"event_id": event.id, "institution": f"PCPR {tag} {n}.{i}", "category": "powiat",
                             "email": email, "language": "pl", "token": token, "token_digest": digest(token),
                             "created_at": now, "sent_at": now})
            db.session.execute(Invitation.__table__.insert(), rows)
        db.session.commit()
        db.session.remove()
    return emails


# --- runs -------------------------------------------------------------------------

def tick_env(url: str, port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN_", "APP_ENV"))}
    env.update(DATABASE_URL=url, SCHEDULER_ENABLED="false", PYTHONPATH=str(ROOT), MAIL_SERVER="127.0.0.1",
               MAIL_PORT=str(port))
    return env


def through_the_clock(url: str, sink: Sink, expected: int, tick_seconds: int = 30, max_ticks: int = 20) -> dict:
    env = tick_env(url, sink.port)
    started = time.monotonic()
    ticks = []
    for number in range(max_ticks):
        at = started + number * tick_seconds
        if time.monotonic() < at:
            time.sleep(at - time.monotonic())
        begun = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "tick"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=600)
        ticks.append((round(time.monotonic() - begun, 2), result.stdout.strip()[-300:]))
        if result.returncode != 0:
            raise SystemExit(result.stderr[-3000:])
        if len(sink.received()) >= expected:
            break
    return {"seconds": time.monotonic() - started, "ticks": ticks}


def idle_tick(app) -> float:
    from scheduler.clock import tick

    times = []
    for _ in range(5):
        started = time.perf_counter()
        tick(app)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def baseline(url: str, port: int, event_ids: list[int], tag: str) -> dict:
    """The physically necessary work: one INSERT … SELECT of this run's rows, raw smtplib on one connection."""
    from sqlalchemy import bindparam, create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS bench_outbox (key varchar(300) PRIMARY KEY, "
                                "recipient varchar(254), subject varchar(400))"))
        connection.execute(text(
            "INSERT INTO bench_outbox (key, recipient, subject) SELECT :tag || CAST(id AS VARCHAR), email, "
            "'Przypomnienie' FROM invitations WHERE event_id IN :ids ON CONFLICT (key) DO NOTHING")
            .bindparams(bindparam("ids", expanding=True)), {"tag": f"reminder:{tag}:", "ids": event_ids})
    plan = time.perf_counter() - started
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT key, recipient, subject FROM bench_outbox WHERE key LIKE :prefix"),
                                  {"prefix": f"reminder:{tag}:%"}).all()
    engine.dispose()
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for key, recipient, subject in rows:
            message = EmailMessage()
            message["From"] = "noreply@liderzy-kooperacji.local"
            message["To"] = recipient
            message["Subject"] = subject
            message["Message-ID"] = f"<{key.replace(':', '.')}@bench.local>"
            message.set_content("Przypominamy o terminie składania deklaracji.\n")
            smtp.send_message(message)
    return {"plan": plan, "send": time.perf_counter() - started, "count": len(rows)}


def _event_ids(app, tag: str) -> list[int]:
    from sqlalchemy import select

    from scheduler.extensions import db
    from scheduler.invitations.models import Invitation

    with app.app_context():
        ids = sorted(set(db.session.execute(select(Invitation.event_id)
                                            .where(Invitation.email.like(f"pcpr-{tag}-%"))).scalars()))
        db.session.remove()
    return ids


def run_backend(backend: str, args) -> str:
    """`args.runs` runs, each on fresh due reminders, alternating whether the project or the baseline goes first."""
    from scheduler import create_app
    from scheduler.extensions import db

    expected = args.meetings * args.invitees
    lines = [f"== {backend}: {args.meetings} meetings x {args.invitees} invitees = {expected} due reminders, "
             f"plus {IDLE_MEETINGS} x {IDLE_INVITEES} not due; {args.runs} alternating runs"]
    project, raw, faults = [], [], []
    with ld.fresh_database(backend, args.postgres) as url, Sink() as sink:
        ld.migrate(url)
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": sink.port})
        seed(app, IDLE_MEETINGS, IDLE_INVITEES, due=False, tag="idle")
        for number in range(args.runs):
            tag = f"r{number}"
            emails = seed(app, args.meetings, args.invitees, due=True, tag=tag)
            for side in (("project", "baseline") if number % 2 == 0 else ("baseline", "project")):
                sink.reset()
                if side == "project":
                    # Through the clock from nothing planned: `flask tick` every 30 s until all arrived.
                    run = through_the_clock(url, sink, expected)
                    counts = Counter(address for address in sink.received() if f"-{tag}-" in address)
                    duplicates = sum(n - 1 for n in counts.values() if n > 1)
                    misses = len(set(emails) - set(counts))
                    project.append(run["seconds"])
                    faults.append(duplicates + misses)
                    lines.append(f"run {number + 1}: project {run['seconds']:.1f} s "
                                 f"({len(counts) / run['seconds']:.0f} msg/s), duplicates {duplicates}, "
                                 f"misses {misses}")
                    for seconds, output in run["ticks"]:
                        lines.append(f"  tick {seconds:6.2f} s  {output}")
                else:
                    result = baseline(url, sink.port, _event_ids(app, tag), tag)
                    raw.append(result["plan"] + result["send"])
                    lines.append(f"run {number + 1}: baseline INSERT … SELECT {result['plan']:.2f} s, smtplib one "
                                 f"connection {result['send']:.1f} s ({result['count'] / result['send']:.0f} msg/s)")
        with app.app_context():
            idle = idle_tick(app)
            db.session.remove()
            db.engine.dispose()
    p, b = statistics.median(project), statistics.median(raw)
    lines.append(f"idle tick (median of 5, {IDLE_MEETINGS * IDLE_INVITEES + args.runs * expected} invitations "
                 f"in the database): {idle * 1000:.1f} ms")
    lines.append(f"ROW {expected} due reminders, planned + delivered (s)\t{p:.1f}\t{b:.1f}\t{b / p:.2f}")
    lines.append(f"ROW   duplicates + misses (must be 0)\t{max(faults)}\t0\t")
    lines.append(f"ROW idle tick, {IDLE_MEETINGS * IDLE_INVITEES + args.runs * expected} invitations (ms)\t"
                 f"{idle * 1000:.1f}\t\t")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["both", "postgresql", "sqlite"], default="both")
    parser.add_argument("--meetings", type=int, default=20)
    parser.add_argument("--invitees", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3, help="alternating runs; the median is reported")
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL",
                                                              "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--sink", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sink:
        run_sink(int(args.sink[0]), args.sink[1])
        return 0
    backends = ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]
    for backend in backends:
        print(run_backend(backend, args), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
