"""Chaos benchmark: e-mail goes out once and none is lost, whatever breaks.

Runs the real clock (`flask --app wsgi run-scheduler`, as production does)
as separate processes against a fresh database (a SQLite file, and a
PostgreSQL database created and dropped here when the server answers), with
an SMTP sink (aiosmtpd, in this process) that records every Message-ID it
accepts. Each scenario queues N invitation e-mails through the domain
functions (add_invitations + send_invitations, as the organiser's click
does), breaks something, and waits until every message has arrived:

  smtp down 10 s     the sink is away for 10 s while the clock ticks
  smtp down 40 min   the same for 40 minutes of the clock's time: dispatcher
                     passes every SCHEDULER_TICK_SECONDS of simulated time
                     with `now` moved ahead (the production back-off and
                     retry horizon apply unchanged; only the waiting is
                     skipped), then the sink returns; nobody clicks anything
  kill -9 x3         the clock process is killed three times in the middle
                     of a batch against a slow sink (a delay per message)
                     and restarted at once, as a supervisor would; messages
                     it had claimed are taken over when its lease runs out
  two clocks         two clock processes at once on one database
  pg terminated      (PostgreSQL) every connection of the database is
                     terminated with pg_terminate_backend, again and again,
                     while two clocks deliver against a slow sink

Each row: queued; sent (status in the database); delivered (distinct
Message-IDs at the sink); duplicated (deliveries beyond the first of a
Message-ID); lost (queued but never delivered); faults (processes killed
or connections terminated); recovered (seconds from the end of the fault
until the last message was delivered; for the 40-minute outage in the
clock's time). A message accepted by the sink whose "sent" was not yet
committed when the process or its connection died goes out again with the
same Message-ID: the documented limit is one duplicate per fault and per
batch the dying process was sending (MAIL_DISPATCH_THREADS on PostgreSQL, one
on SQLite), times MAIL_SENT_GROUP_SIZE.

    python bench/chaos.py            # about 8 minutes: production lease (60 s) and back-off (60 s)
    python bench/chaos.py --quick    # 1-2 minutes: lease, back-off and tick scaled down (printed)

Settings come from config.py's environment variables; the run passes its
own to the clock processes (printed at the start). Only loopback addresses
are used. Exit status 1 if any message was lost, or more were duplicated
than that limit allows.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
PASSWORD = "bench-password-not-secret"

# What the clock processes run with. "full" keeps production's lease and back-off (config.py defaults) and only
# ticks more often than the default 30 s, which adds latency, nothing else; "quick" scales the waiting down.
MODES = {
    "full": {"messages": 100, "slow_delay": 0.1, "env": {
        "SCHEDULER_TICK_SECONDS": "5", "MAIL_TIMEOUT_SECONDS": "5"}},
    "quick": {"messages": 40, "slow_delay": 0.05, "env": {
        "SCHEDULER_TICK_SECONDS": "1", "MAIL_TIMEOUT_SECONDS": "3", "MAIL_CLAIM_LEASE_SECONDS": "6",
        "MAIL_RETRY_BASE_SECONDS": "2", "MAIL_RETRY_MAX_SECONDS": "8", "MAIL_OUTAGE_RETRY_MAX_SECONDS": "8", "MAIL_BATCH_SIZE": "10",
        "MAIL_DRAIN_SECONDS": "10"}},
}
# The settings each run prints, with config.py's defaults where the mode does not set them.
SHOWN = ("SCHEDULER_TICK_SECONDS", "MAIL_CLAIM_LEASE_SECONDS", "MAIL_RETRY_BASE_SECONDS", "MAIL_RETRY_MAX_SECONDS", "MAIL_OUTAGE_RETRY_MAX_SECONDS",
         "MAIL_RETRY_HORIZON_HOURS", "MAIL_BATCH_SIZE", "MAIL_DRAIN_SECONDS", "MAIL_TIMEOUT_SECONDS")


# --- the SMTP sink ---------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Handler:
    def __init__(self, sink: "Sink"):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):
        headers = BytesHeaderParser(policy=policy.default).parsebytes(envelope.original_content or envelope.content)
        # Recorded as soon as the data is in, then answered slowly: a client killed while it waits for the answer
        # leaves a delivered message it could not mark sent (the case that can duplicate).
        self.sink.record(str(headers.get("Message-ID", "")).strip())
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)
        return "250 OK"


class Sink:
    """aiosmtpd on a fixed loopback port; `stop()`/`start()` take it away and bring it back; `delay` slows it."""

    def __init__(self):
        self.port = free_port()
        self.delay = 0.0
        self._lock = threading.Lock()
        self._arrivals: list[tuple[str, float]] = []
        self._controller = None

    def record(self, message_id: str) -> None:
        with self._lock:
            self._arrivals.append((message_id, time.monotonic()))

    def arrivals(self, wanted: set[str]) -> list[tuple[str, float]]:
        with self._lock:
            return [(mid, at) for mid, at in self._arrivals if mid in wanted]

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


# --- databases -------------------------------------------------------------------

def _check_loopback(url: str) -> None:
    host = urlsplit(url.replace("+psycopg", "")).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"refusing a database that is not on this machine: {host}")


def postgres_reachable(url: str) -> bool:
    try:
        import psycopg

        psycopg.connect(url, connect_timeout=3).close()
        return True
    except Exception:
        return False


@contextmanager
def fresh_database(backend: str, postgres_url: str):
    """A new, migrated database for this run; removed afterwards. Yields (url, admin engine or None, name)."""
    if backend == "sqlite":
        directory = tempfile.mkdtemp(prefix="chaos-sqlite-")
        try:
            url = f"sqlite:///{directory}/chaos.db"
            migrate(url)
            yield url, None, None
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    _check_loopback(postgres_url)
    url = make_url(postgres_url).set(drivername="postgresql+psycopg")
    name = f"chaos_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        database_url = url.set(database=name).render_as_string(hide_password=False)
        migrate(database_url)
        yield database_url, admin, name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def migrate(database_url: str) -> None:
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"]
    subprocess.run(command, cwd=ROOT, env=clock_env(database_url, {}, 25), check=True, capture_output=True,
                   timeout=180)


def terminate_connections(admin, name: str) -> int:
    """pg_terminate_backend on every client connection to the database; how many were terminated."""
    from sqlalchemy import text

    with admin.connect() as connection:
        return connection.execute(text(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity "
            "WHERE datname = :name AND pid <> pg_backend_pid() AND backend_type = 'client backend') t WHERE done"),
            {"name": name}).scalar_one()


# --- the application: queueing and counting, in this process ---------------------------

class Outbox:
    """This process's view of the database: queue invitation e-mails and read their statuses."""

    def __init__(self, database_url: str, sink_port: int):
        from scheduler import create_app

        # config.py's settings, as in production: the 40-minute scenario dispatches from here on the clock's time.
        self.app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "MAIL_SERVER": "127.0.0.1",
                               "MAIL_PORT": sink_port, "MAIL_TIMEOUT_SECONDS": 5})
        self.organiser_id = None

    def queue(self, count: int, label: str) -> tuple[int, set[str]]:
        """A published meeting with `count` invitations, sent: `count` outbox rows. Returns (meeting id, Message-IDs)."""
        from sqlalchemy import select

        from scheduler.auth.models import User
        from scheduler.auth.services import create_user, get_or_create_organisation
        from scheduler.events.services import create_event, publish_event
        from scheduler.extensions import db
        from scheduler.invitations.services import add_invitations
        from scheduler.notifications.models import Message
        from scheduler.notifications.services import send_invitations

        with self.app.app_context():
            if self.organiser_id is None:
                organisation = get_or_create_organisation("Regionalny Ośrodek Polityki Społecznej w Rzeszowie",
                                                          short_name="ROPS Rzeszów")
                self.organiser_id = create_user(f"chaos-{uuid.uuid4().hex[:8]}@example.org", PASSWORD,
                                                organisation).id
            organiser = db.session.get(User, self.organiser_id)
            start = (datetime.now(timezone.utc) + timedelta(days=30)).replace(microsecond=0)
            event = create_event(organiser, {
                "title": f"Spotkanie zespołów Modelu ({label})", "kind": "team_meeting",
                "starts_at": start, "ends_at": start + timedelta(hours=3),
                "declaration_deadline": start - timedelta(days=5), "venue": "ROPS Rzeszów",
                "address": "ul. Hetmańska 9, 35-045 Rzeszów", "capacity": count, "invite_only": True,
            })
            publish_event(organiser, event)
            tag = uuid.uuid4().hex[:6]
            add_invitations(organiser, event, [
                {"institution": f"PCPR testowy {tag}-{n}", "category": "powiat", "email": f"pcpr-{tag}-{n}@example.org"}
                for n in range(count)])
            send_invitations(organiser, event)
            event_id = event.id
            ids = set(db.session.execute(select(Message.message_id).where(Message.event_id == event_id)).scalars())
            db.session.remove()
        if len(ids) != count:
            raise RuntimeError(f"queued {len(ids)} messages, expected {count}")
        return event_id, ids

    def statuses(self, event_id: int) -> Counter:
        from sqlalchemy import func, select

        from scheduler.extensions import db
        from scheduler.notifications.models import Message

        with self.app.app_context():
            try:
                rows = db.session.execute(select(Message.status, func.count(Message.id))
                                          .where(Message.event_id == event_id).group_by(Message.status)).all()
            finally:
                db.session.remove()
        return Counter(dict(rows))

    def dispatch(self, now: datetime) -> dict:
        from scheduler.extensions import db
        from scheduler.notifications.dispatcher import dispatch_due

        with self.app.app_context():
            try:
                return dispatch_due(now=now, worker_id="chaos-bench:simulated-clock")
            finally:
                db.session.remove()

    def close(self) -> None:
        from scheduler.extensions import db

        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()


# --- clock processes ------------------------------------------------------------------------

def clock_env(database_url: str, overrides: dict, sink_port: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN_", "APP_ENV", "MAIL_", "SCHEDULER_"))}
    env.update(DATABASE_URL=database_url, PYTHONPATH=str(ROOT), MAIL_SERVER="127.0.0.1", MAIL_PORT=str(sink_port),
               SCHEDULER_ENABLED="true", RATELIMIT_ENABLED="false", PYTHONUNBUFFERED="1", **overrides)
    return env


class Clocks:
    """`flask --app wsgi run-scheduler` processes, their logs in one directory."""

    def __init__(self, env: dict, log_dir: Path):
        self.env = env
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def start(self) -> subprocess.Popen:
        log = self.log_dir / f"clock-{len(self.logs) + 1}.log"
        handle = log.open("wb")
        process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "run-scheduler"], cwd=ROOT,
                                   env=self.env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
        handle.close()
        self.processes.append(process)
        self.logs.append(log)
        return process

    @staticmethod
    def kill9(process: subprocess.Popen) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def _count(self, text: str) -> int:
        return sum(log.read_text(errors="replace").count(text) for log in self.logs if log.exists())

    def failed_ticks(self) -> int:
        return self._count("clock tick failed")

    def taken_over(self) -> int:
        """Messages a clock took over from another whose lease had run out (the dispatcher logs each)."""
        return self._count("taking over message")

    def tail(self, lines: int = 15) -> str:
        parts = []
        for log in self.logs:
            text = log.read_text(errors="replace").splitlines() if log.exists() else []
            parts.append(f"--- {log.name}\n" + "\n".join(text[-lines:]))
        return "\n".join(parts)


# --- scenarios -------------------------------------------------------------------------------

@dataclass
class Row:
    backend: str
    scenario: str
    queued: int = 0
    sent: int = 0
    delivered: int = 0
    duplicated: int = 0
    lost: int = 0
    faults: int = 0
    recovered: str = "-"
    note: str = ""
    problems: list[str] = field(default_factory=list)
    window: int = 1  # messages one fault may send again (see the module's docstring)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated <= self.faults * self.window and not self.problems


class Run:
    def __init__(self, backend: str, database_url: str, admin, db_name: str | None, mode: dict, sink: Sink,
                 log_dir: Path):
        self.backend = backend
        self.database_url = database_url
        self.admin = admin
        self.db_name = db_name
        self.mode = mode
        self.sink = sink
        self.log_dir = log_dir
        self.env = clock_env(database_url, mode["env"], sink.port)
        self.outbox = Outbox(database_url, sink.port)
        self.lease = int(self.env.get("MAIL_CLAIM_LEASE_SECONDS") or self.outbox.app.config["MAIL_CLAIM_LEASE_SECONDS"])
        self.retry_max = int(self.env.get("MAIL_OUTAGE_RETRY_MAX_SECONDS") or self.outbox.app.config["MAIL_OUTAGE_RETRY_MAX_SECONDS"])
        setting = lambda name: int(self.env.get(name) or self.outbox.app.config[name])  # noqa: E731
        # A dying process can leave one group of accepted, unmarked messages per batch it was sending.
        self.window = setting("MAIL_SENT_GROUP_SIZE") * (setting("MAIL_DISPATCH_THREADS") if backend == "postgresql"
                                                          else 1)

    def clocks(self, name: str) -> Clocks:
        directory = self.log_dir / f"{self.backend}-{name}"
        directory.mkdir(parents=True, exist_ok=True)
        return Clocks(self.env, directory)

    def wait_all(self, event_id: int, ids: set[str], timeout: float) -> float | None:
        """Until every message is delivered and marked sent; the monotonic time of the last first arrival."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            arrivals = self.sink.arrivals(ids)
            statuses = self.outbox.statuses(event_id)
            if len({mid for mid, _at in arrivals}) == len(ids) and statuses["sent"] == len(ids):
                first = {}
                for mid, at in arrivals:
                    first.setdefault(mid, at)
                return max(first.values())
            if statuses["queued"] + statuses["sending"] == 0 and statuses["sent"] < len(ids):
                return None  # some ended failed or skipped: they will not arrive
            time.sleep(0.25)
        return None

    def row(self, scenario: str, event_id: int, ids: set[str], faults: int = 0) -> Row:
        arrivals = self.sink.arrivals(ids)
        distinct = {mid for mid, _at in arrivals}
        statuses = self.outbox.statuses(event_id)
        row = Row(self.backend, scenario, queued=len(ids), sent=statuses["sent"], delivered=len(distinct),
                  duplicated=len(arrivals) - len(distinct), lost=len(ids - distinct), faults=faults,
                  window=self.window)
        others = {status: n for status, n in statuses.items() if status != "sent" and n}
        if others:
            row.note = "not sent: " + ", ".join(f"{n} {status}" for status, n in sorted(others.items()))
        return row

    # smtp down 10 s ---------------------------------------------------------------------------
    def smtp_down(self, seconds: float = 10.0) -> Row:
        event_id, ids = self.outbox.queue(self.mode["messages"], "smtp down")
        self.sink.delay = 0.0
        self.sink.stop()
        clocks = self.clocks("smtp-down")
        try:
            clocks.start()
            time.sleep(seconds)
            self.sink.start()
            back = time.monotonic()
            last = self.wait_all(event_id, ids, timeout=self.retry_max + 120)
        finally:
            if self.sink._controller is None:
                self.sink.start()
            clocks.stop_all()
        row = self.row(f"smtp down {seconds:g} s", event_id, ids)
        row.recovered = f"{last - back:.0f} s" if last else "never"
        return self._checked(row, clocks)

    # smtp down 40 min, on the clock's time ---------------------------------------------------------
    def smtp_down_simulated(self, minutes: int = 40) -> Row:
        event_id, ids = self.outbox.queue(self.mode["messages"], "smtp down 40 min")
        # Production's tick, back-off and horizon (config.py), whatever the mode: only the waiting is skipped.
        tick = timedelta(seconds=int(self.outbox.app.config["SCHEDULER_TICK_SECONDS"]))
        self.sink.delay = 0.0
        self.sink.stop()
        start = datetime.now(timezone.utc)
        now = start
        back_at = start + timedelta(minutes=minutes)
        horizon = back_at + timedelta(hours=6)
        delivered_at = None
        passes = 0
        quiet = logging.getLogger("scheduler")
        level = quiet.level
        quiet.setLevel(logging.ERROR)  # one "could not connect" per pass would bury the table
        try:
            while now < horizon:
                if now >= back_at and self.sink._controller is None:
                    self.sink.start()
                self.outbox.dispatch(now)
                passes += 1
                if now >= back_at and len({m for m, _ in self.sink.arrivals(ids)}) == len(ids):
                    delivered_at = now
                    break
                now += tick
        finally:
            quiet.setLevel(level)
            if self.sink._controller is None:
                self.sink.start()
        row = self.row(f"smtp down {minutes} min", event_id, ids)
        if delivered_at is not None:
            row.recovered = f"{(delivered_at - back_at).total_seconds() / 60:.0f} min"
        else:
            row.recovered = "never"
        row.note = (row.note + "; " if row.note else "") + f"clock's time, {passes} passes"
        return row

    # kill -9 three times mid-batch against a slow sink -------------------------------------------------
    def kills(self, times: int = 3, per_process: int = 4) -> Row:
        event_id, ids = self.outbox.queue(self.mode["messages"], "kill -9")
        self.sink.delay = self.mode["slow_delay"]
        clocks = self.clocks("kill")
        killed = 0
        last_kill = None
        try:
            process = clocks.start()
            for _ in range(times):
                before = len(self.sink.arrivals(ids))
                deadline = time.monotonic() + 2 * self.lease + 60
                while len(self.sink.arrivals(ids)) < before + per_process and time.monotonic() < deadline:
                    time.sleep(0.02)
                clocks.kill9(process)
                killed += 1
                last_kill = time.monotonic()
                process = clocks.start()  # restarted at once, as a supervisor would
            last = self.wait_all(event_id, ids, timeout=3 * self.lease + 120)
        finally:
            clocks.stop_all()
            self.sink.delay = 0.0
        row = self.row(f"kill -9 x{times} (slow sink)", event_id, ids, faults=killed)
        row.recovered = f"{last - last_kill:.0f} s" if last else "never"
        row.note = (row.note + "; " if row.note else "") + f"lease {self.lease} s, {clocks.taken_over()} taken over"
        return self._checked(row, clocks)

    # two clocks at once -------------------------------------------------------------------------------------
    def two_clocks(self) -> Row:
        event_id, ids = self.outbox.queue(self.mode["messages"], "two clocks")
        self.sink.delay = self.mode["slow_delay"] / 5
        clocks = self.clocks("two-clocks")
        try:
            began = time.monotonic()
            clocks.start()
            clocks.start()
            last = self.wait_all(event_id, ids, timeout=180)
        finally:
            clocks.stop_all()
            self.sink.delay = 0.0
        row = self.row("two clocks at once", event_id, ids)
        row.recovered = f"all in {last - began:.0f} s" if last else "never"
        return self._checked(row, clocks)

    # PostgreSQL connections terminated under load ------------------------------------------------------
    def terminated(self, rounds: int = 8, every: float = 1.0) -> Row:
        count = self.mode["messages"]
        event_id, ids = self.outbox.queue(count, "pg terminated")
        # Slow enough that two clocks need about twice the terminating period: every round hits work in progress.
        self.sink.delay = 2 * 2 * rounds * every / count
        clocks = self.clocks("pg-terminated")
        terminated = 0
        try:
            clocks.start()
            clocks.start()
            while not self.sink.arrivals(ids):  # under load: delivery has begun
                time.sleep(0.05)
            for _ in range(rounds):
                terminated += terminate_connections(self.admin, self.db_name)
                time.sleep(every)
            end = time.monotonic()
            last = self.wait_all(event_id, ids, timeout=3 * self.lease + 120)
        finally:
            clocks.stop_all()
            self.sink.delay = 0.0
        row = self.row(f"pg connections terminated x{rounds}", event_id, ids, faults=terminated)
        row.recovered = f"{max(last - end, 0):.0f} s" if last else "never"
        row.note = (row.note + "; " if row.note else "") + (
            f"{terminated} connections, {clocks.failed_ticks()} failed ticks, {clocks.taken_over()} taken over")
        return self._checked(row, clocks)

    def _checked(self, row: Row, clocks: Clocks) -> Row:
        if not row.ok:
            row.problems.append(clocks.tail())
        return row


def run_backend(backend: str, mode: dict, postgres_url: str, log_dir: Path, only: set[str] | None) -> list[Row]:
    sink = Sink()
    sink.start()
    rows = []
    try:
        with fresh_database(backend, postgres_url) as (url, admin, name):
            run = Run(backend, url, admin, name, mode, sink, log_dir)
            try:
                scenarios = [("smtp-down", run.smtp_down), ("smtp-down-40", run.smtp_down_simulated),
                             ("kill", run.kills), ("two-clocks", run.two_clocks)]
                if backend == "postgresql":
                    scenarios.append(("pg-terminated", run.terminated))
                for key, scenario in scenarios:
                    if only and key not in only:
                        continue
                    began = time.monotonic()
                    row = scenario()
                    rows.append(row)
                    print(f"  {backend:<10} {row.scenario:<30} done in {time.monotonic() - began:.0f} s", flush=True)
            finally:
                run.outbox.close()
    finally:
        sink.stop()
    return rows


def table(rows: list[Row]) -> str:
    head = ("backend", "scenario", "queued", "sent", "delivered", "duplicated", "lost", "faults", "dup. limit",
            "recovered", "note")
    cells = [head] + [(r.backend, r.scenario, str(r.queued), str(r.sent), str(r.delivered), str(r.duplicated),
                       str(r.lost), str(r.faults), str(r.faults * r.window), r.recovered, r.note) for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(widths[i]) if i < 2 or i == len(head) - 1 else cell.rjust(widths[i])
                       for i, cell in enumerate(row)).rstrip() for row in cells]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="scaled-down lease, back-off and tick: 1-2 minutes")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both",
                        help="both (default) runs PostgreSQL only when it answers")
    parser.add_argument("--messages", type=int, default=None, help="messages per scenario")
    parser.add_argument("--only", action="append", default=None,
                        choices=("smtp-down", "smtp-down-40", "kill", "two-clocks", "pg-terminated"))
    parser.add_argument("--postgres-url", default=os.environ.get(
        "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="an administrative connection on this machine; a throw-away database is created beside it")
    args = parser.parse_args(argv)
    mode = dict(MODES["quick" if args.quick else "full"])
    if args.messages is not None:
        if not 1 <= args.messages <= 2000:
            parser.error("keep --messages within 1..2000")
        mode["messages"] = args.messages
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    if "postgresql" in backends and not postgres_reachable(args.postgres_url):
        if args.backend == "postgresql":
            raise SystemExit(f"PostgreSQL at {args.postgres_url} does not answer")
        print(f"PostgreSQL at {args.postgres_url} does not answer: SQLite only")
        backends.remove("postgresql")

    from config import Config

    shown = {name: mode["env"].get(name, getattr(Config, name)) for name in SHOWN}
    print(f"chaos: {'quick' if args.quick else 'full'} run, {mode['messages']} messages per scenario, "
          f"slow sink {mode['slow_delay']} s/message")
    print("clock settings: " + ", ".join(f"{name}={value}" for name, value in shown.items()))
    log_dir = Path(tempfile.mkdtemp(prefix="chaos-logs-"))
    rows: list[Row] = []
    began = time.monotonic()
    for backend in backends:
        rows += run_backend(backend, mode, args.postgres_url, log_dir, set(args.only) if args.only else None)
    print()
    print(table(rows))
    print(f"\n{len(rows)} scenarios in {time.monotonic() - began:.0f} s; clock logs in {log_dir}")
    bad = [row for row in rows if not row.ok]
    for row in bad:
        print(f"\nFAILED {row.backend} {row.scenario}: lost {row.lost}, duplicated {row.duplicated} "
              f"(faults {row.faults}, at most {row.window} per fault)")
        for problem in row.problems:
            print(problem)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
