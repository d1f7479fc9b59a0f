"""The project against a bare baseline, side by side (issue 9): `make bench`.

For each database (a throw-away PostgreSQL database created and dropped here,
and a SQLite file) it migrates a fresh schema, seeds 2,000 published meetings,
starts the project (gunicorn -w 4 wsgi:app) and the bare baseline
(bench/baseline_app.py, gunicorn -w 4) on loopback ports, and measures, in
three runs that alternate which side goes first:

- declarations/s at 32 clients with free seats, and p99;
- contention: 200 clients at once on 50 seats (0 overbooked and 0 lost checked on both sides);
- invitation fan-out to a local aiosmtpd sink vs raw smtplib on one connection: through the clock's dispatcher
  (a running `flask run-scheduler`) and through `flask --app wsgi dispatch-outbox` as a fresh process, the
  latter both as delivery alone (first to last arrival) and with its start-up; the start-up of a fresh process
  that has nothing to send is its own row (the baseline's: Python importing smtplib);
- the 2,000-meeting public feed (warm: after each worker served it once) vs raw icalendar building the same VEVENTs;
- feed revalidation (If-None-Match, 304) latency;
- the home page and the organiser's dashboard with 2,000 meetings;
- from scripts of their own, run per backend with the same number of runs: 10,000 due reminders planned and
  delivered through `flask tick` at the default 30 s tick against an INSERT … SELECT and raw smtplib, and an idle
  tick (bench/reminders_at_scale.py); a meeting with 350 invitations and 1,000 declarations: the organiser's
  overview, declarations, attendance and CSV against the same queries with bare templates
  (bench/organiser_pages.py). Their runs' details go to standard error.

It prints project / baseline / ratio per row, each the median of the runs. The
ratio is always "how fast the project is relative to the baseline" (rates:
project/baseline; latencies: baseline/project), so 1.0 is parity and higher is
better. `--quick` makes one run with fewer requests (about two minutes).

    python bench/compare.py [--quick] [--backend both|postgresql|sqlite]

Only loopback addresses are used. Rate limiting is switched off in both
servers for the run (it is not what is measured). Exit status 1 if anything
was overbooked or lost.
"""
from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import smtplib
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for path in (str(ROOT), str(HERE)):
    if path not in sys.path:
        sys.path.insert(0, path)

import load_declarations as ld  # noqa: E402  (the shared harness: databases, HTTP, checks)

PASSWORD = ld.PASSWORD
MEETINGS = 2000


# --- HTTP ----------------------------------------------------------------------

@dataclass
class Reply:
    status: int | None
    headers: dict
    body: bytes
    seconds: float


def get(port: int, path: str, headers: dict | None = None, method: str = "GET", body: bytes | None = None) -> Reply:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data,
                     time.perf_counter() - started)
    except OSError:
        return Reply(None, {}, b"", time.perf_counter() - started)
    finally:
        connection.close()


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))]


def closed_loop(call, total: int, clients: int) -> tuple[list[ld.Answer], float]:
    """`clients` threads, each sending its next request when the previous one was answered, `total` in all."""
    answers: list = [None] * total
    counter = iter(range(total))
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            answers[n] = call(n)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers, time.perf_counter() - started


def sequential(call, count: int) -> list[float]:
    seconds = []
    for _ in range(count):
        reply = call()
        if reply.status not in (200, 304):
            raise RuntimeError(f"unexpected answer {reply.status}: {reply.body[:300]!r}")
        seconds.append(reply.seconds)
    return seconds


# --- servers -------------------------------------------------------------------

def server_env(database_url: str) -> dict:
    env = ld._server_env(database_url)
    env.update(RATELIMIT_ENABLED="false", BASE_URL="http://127.0.0.1:5000")
    return env


def gunicorn(app_spec: str, database_url: str, workers: int, cwd: Path = ROOT):
    # The project runs with its gunicorn.conf.py (read from the working directory); the baseline from bench/.
    return ld.gunicorn(database_url, workers, app_spec=app_spec, cwd=cwd, env=server_env(database_url))


class Sink:
    """A local SMTP server (aiosmtpd) that counts what arrives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.count = 0
        self.first = self.last = 0.0  # when the first and the latest counted message since `reset` arrived
        self.arrived = 0.0  # when any message last arrived
        self.prefix = ""  # only messages to addresses starting so are counted (see `reset`)
        self._lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                with sink._lock:
                    sink.arrived = time.perf_counter()
                    if envelope.rcpt_tos and envelope.rcpt_tos[0].startswith(sink.prefix):
                        sink.count += 1
                        sink.last = sink.arrived
                        if sink.count == 1:
                            sink.first = sink.last
                return "250 OK"

        self.port = ld.free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()

    def reset(self, prefix: str = "") -> None:
        """Count from now, only messages to addresses starting with `prefix` (other measures' e-mails also arrive)."""
        with self._lock:
            self.count = 0
            self.first = self.last = 0.0
            self.prefix = prefix

    def quiet_for(self, seconds: float, timeout: float) -> None:
        """Wait until nothing has arrived for `seconds` (a backlog from other measures is delivered)."""
        deadline = time.monotonic() + timeout
        while time.perf_counter() - max(self.arrived, 0.0) < seconds and time.monotonic() < deadline:
            time.sleep(0.1)

    def steady_rate(self) -> float:
        """Messages per second from the first arrival to the last: delivery alone, without start-up or waiting."""
        return (self.count - 1) / (self.last - self.first) if self.count > 1 and self.last > self.first else 0.0

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.count < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.count >= count


# --- data ----------------------------------------------------------------------

@dataclass
class Setup:
    url: str
    organiser_email: str
    token: str
    organisation_id: int
    user_id: int
    app: object = None


def seed(url: str) -> Setup:
    """An organiser with an API token and 2,000 published meetings (half of them past), through the models."""
    from scheduler import create_app
    from scheduler.auth.services import create_user, get_or_create_organisation, issue_api_token
    from scheduler.events.models import Event
    from scheduler.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        organisation = get_or_create_organisation("Regionalny Ośrodek Polityki Społecznej w Rzeszowie",
                                                  short_name="ROPS Rzeszów")
        email = f"bench-{uuid.uuid4().hex[:8]}@example.org"
        organiser = create_user(email, PASSWORD, organisation)
        token, _record = issue_api_token(organiser)
        now = datetime.now(timezone.utc).replace(microsecond=0)
        events = []
        for n in range(MEETINGS):
            start = now + timedelta(days=n - MEETINGS // 2, hours=9 - now.hour)
            events.append(Event(
                organisation_id=organisation.id, created_by_id=organiser.id, kind="information_session",
                title=f"Spotkanie informacyjne nr {n} dla PCPR i OPS", description="Prosimy o potwierdzenie obecności.",
                starts_at=start, ends_at=start + timedelta(hours=3), timezone="Europe/Warsaw", venue="ROPS Rzeszów",
                address="ul. Hetmańska 9, 35-045 Rzeszów", room="sala konferencyjna, II piętro",
                reference=f"PF.0702.{n}.2019.LK", contact_name="Biuro projektu", contact_email="biuro@example.org",
                contact_phone="(17) 8507928", capacity=30, quotas={}, declaration_deadline=start - timedelta(days=5),
                invite_only=False, status="published", ical_uid=f"{uuid.uuid4()}@bench.local",
                created_at=now - timedelta(days=400), updated_at=now - timedelta(days=400),
                published_at=now - timedelta(days=400)))
        db.session.add_all(events)
        db.session.commit()
        setup = Setup(url, email, token, organisation.id, organiser.id, app)
        db.session.remove()
        db.engine.dispose()
    return setup


def project_meeting(setup: Setup, capacity: int, *, invite_only: bool = False) -> int:
    """A published meeting far enough ahead, through the domain (so it is what the project would make)."""
    from scheduler.auth.models import User
    from scheduler.events.services import create_event, publish_event
    from scheduler.extensions import db

    with setup.app.app_context():
        organiser = db.session.get(User, setup.user_id)
        start = (datetime.now(timezone.utc) + timedelta(days=30)).replace(microsecond=0)
        event = create_event(organiser, {
            "title": "Spotkanie (pomiar)", "kind": "information_session", "starts_at": start,
            "ends_at": start + timedelta(hours=3), "declaration_deadline": start - timedelta(days=5),
            "venue": "ROPS Rzeszów", "address": "ul. Hetmańska 9", "capacity": capacity, "invite_only": invite_only})
        publish_event(organiser, event)
        event_id = event.id
        db.session.remove()
        db.engine.dispose()
    return event_id


def baseline_rows(url: str, meeting_id: int) -> dict:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(
                "SELECT d.id, d.status, (SELECT count(*) FROM baseline_participants p WHERE p.declaration_id = d.id) "
                "FROM baseline_declarations d WHERE d.meeting_id = :id"), {"id": meeting_id}).all()
    finally:
        engine.dispose()
    return {row[0]: (row[1], row[2]) for row in rows}


# --- measures ------------------------------------------------------------------

@dataclass
class Sides:
    project: list = field(default_factory=list)
    baseline: list = field(default_factory=list)


class Bench:
    def __init__(self, setup: Setup, project_port: int, baseline_port: int, sink: Sink, quick: bool) -> None:
        self.setup, self.pp, self.bp, self.sink, self.quick = setup, project_port, baseline_port, sink, quick
        self.results: dict[str, Sides] = {}
        self.problems: list[str] = []
        self.cookie = self._login()
        self.etag = None
        self.only: list[str] | None = None

    def record(self, name: str, side: str, value: float) -> None:
        getattr(self.results.setdefault(name, Sides()), side).append(value)

    def _login(self) -> str:
        page = get(self.pp, "/login")
        cookie = page.headers.get("set-cookie", "").split(";")[0]
        token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page.body)
        form = {"email": self.setup.organiser_email, "password": PASSWORD}
        if token:
            form["csrf_token"] = token.group(1).decode()
        answer = get(self.pp, "/login", {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
                     "POST", urlencode(form).encode())
        if answer.status != 302:
            raise RuntimeError(f"login answered {answer.status}")
        return answer.headers.get("set-cookie", cookie).split(";")[0]

    # declarations at 32 clients, free seats
    def declarations(self, side: str) -> None:
        total = 120 if self.quick else 320
        rng = random.Random(7)
        if side == "project":
            event_id = project_meeting(self.setup, 100_000)
            path = f"/api/v1/events/{event_id}/registrations"
            port = self.pp
        else:
            meeting = ld._request(self.bp, "POST", "/meetings", {"capacity": 100_000})
            path = f"/meetings/{meeting.body['id']}/declarations"
            port = self.bp
        answers, seconds = closed_loop(lambda n: ld._request(port, "POST", path, ld.declaration(n, rng)), total, 32)
        bad = [a for a in answers if a.status != 201]
        if bad:
            self.problems.append(f"{side} declarations: {len(bad)} not 201, e.g. {bad[0].status} {bad[0].body}")
        self.record("declarations/s, 32 clients, free seats", side, total / seconds)
        self.record("  p99 latency (ms)", side, percentile([a.seconds for a in answers], 99) * 1000)

    # 200 clients at once on 50 seats
    def contention(self, side: str) -> None:
        clients, seats = (100, 25) if self.quick else (200, 50)
        rng = random.Random(11)
        if side == "project":
            event_id = project_meeting(self.setup, seats)
            path, port = f"/api/v1/events/{event_id}/registrations", self.pp
        else:
            meeting_id = ld._request(self.bp, "POST", "/meetings", {"capacity": seats}).body["id"]
            path, port = f"/meetings/{meeting_id}/declarations", self.bp
        calls = [(lambda n=n: ld._request(port, "POST", path, ld.declaration(n, rng))) for n in range(clients)]
        answers, seconds = ld._all_at_once(calls, time.perf_counter() + 240)
        told = {a.body["id"]: a.body["status"] for a in answers if a.status == 201 and a.body}
        if side == "project":
            rows = {i: (r[0], r[2]) for i, r in ld._rows(self.setup.url, event_id)[0].items()}
        else:
            rows = baseline_rows(self.setup.url, meeting_id)
        seats_taken = sum(people for status, people in rows.values() if status == "confirmed")
        overbooked = max(0, seats_taken - seats)
        lost = (sum(1 for i in told if i not in rows) + sum(1 for i in rows if i not in told)
                + sum(1 for a in answers if a.status is None or a.status >= 500)
                + sum(1 for i, s in told.items() if i in rows and rows[i][0] != s))
        self.record(f"contention {clients} clients on {seats} seats, decl/s", side, clients / seconds)
        self.record("  p99 latency (ms) ", side, percentile([a.seconds for a in answers], 99) * 1000)
        self.record("  overbooked + lost (must be 0)", side, overbooked + lost)

    # invitation fan-out: the clock's dispatcher (a running `flask run-scheduler`) and `flask dispatch-outbox`
    def _queue_invitations(self, count: int, prefix: str) -> None:
        event_id = project_meeting(self.setup, 10_000, invite_only=True)
        auth = {"Authorization": f"Bearer {self.setup.token}"}
        rows = [{"institution": f"Instytucja {n}", "category": "gmina", "email": f"{prefix}{n}@example.org"}
                for n in range(count)]
        created = ld._request(self.pp, "POST", f"/api/v1/events/{event_id}/invitations", rows, auth)
        queued = ld._request(self.pp, "POST", f"/api/v1/events/{event_id}/invitations/send",
                             {"only_unsent": True}, auth)
        if created.status != 201 or queued.status != 200:
            raise RuntimeError(f"invitations: {created.status} {queued.status} {queued.body}")

    def _mail_env(self) -> dict:
        env = server_env(self.setup.url)
        env.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=str(self.sink.port), MAIL_USE_TLS="false",
                   MAIL_USE_SSL="false", MAIL_DRAIN_SECONDS="600")
        return env

    def fanout(self, side: str) -> None:
        count = 100 if self.quick else 300
        if side == "project":
            self._fanout_clock(count)
            self._fanout_command(count)
            return
        self.sink.reset("ops")
        started = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", self.sink.port) as smtp:
            for n in range(count):
                message = EmailMessage()
                message["From"] = "Liderzy kooperacji <noreply@example.org>"
                message["To"] = f"ops{n}@example.org"
                message["Subject"] = "Zaproszenie na spotkanie"
                message.set_content("Zapraszamy na spotkanie.\nhttp://127.0.0.1:5000/i/token\n")
                message.add_attachment("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", subtype="calendar",
                                       filename="invite.ics")
                smtp.send_message(message)
        self.sink.wait_for(count, 30)
        seconds = time.perf_counter() - started
        rate = count / seconds
        # The baseline's "fresh process" pays for Python and the modules it sends with.
        startup = self._startup([sys.executable, "-c", "import smtplib, email.message"], {})
        self.record(f"fan-out {count}, the clock's dispatcher, msg/s", side, self.sink.steady_rate() or rate)
        self.record(f"fan-out {count}, dispatch-outbox steady, msg/s", side, self.sink.steady_rate() or rate)
        self.record(f"fan-out {count}, dispatch-outbox with start, msg/s", side, count / (seconds + startup))
        self.record("  start-up of a fresh process (ms)", side, startup * 1000)

    @staticmethod
    def _startup(command: list[str], env: dict) -> float:
        """The median time of three runs of a command that has nothing to do (start-up and exit)."""
        times = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run(command, cwd=ROOT, env=env or None, check=True, capture_output=True, timeout=120)
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    def _fanout_clock(self, count: int) -> None:
        """Delivery by a running clock (tick every second): first to last arrival, so neither its start nor the
        wait for its next tick is counted."""
        env = {**self._mail_env(), "SCHEDULER_TICK_SECONDS": "1"}
        clock = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "run-scheduler"], cwd=ROOT, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            clock.stdout.readline()  # its banner: the clock is about to tick
            time.sleep(2)
            self.sink.quiet_for(1.5, 120)  # the other measures' e-mails (declarations) have gone out
            prefix = f"clock-{uuid.uuid4().hex[:6]}-"
            self.sink.reset(prefix)
            self._queue_invitations(count, prefix)
            if not self.sink.wait_for(count, 300):
                self.problems.append(f"the clock delivered {self.sink.count} of {count}")
            time.sleep(0.5)
            if self.sink.count > count:
                self.problems.append(f"the clock delivered {self.sink.count} messages for {count}")
        finally:
            clock.terminate()
            clock.wait(30)
        self.record(f"fan-out {count}, the clock's dispatcher, msg/s", "project", self.sink.steady_rate())

    def _fanout_command(self, count: int) -> None:
        """`flask dispatch-outbox` as a fresh process: with its start-up, and delivery alone (first to last arrival)."""
        env = self._mail_env()
        command = [sys.executable, "-m", "flask", "--app", "wsgi", "dispatch-outbox"]
        subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=600)  # any backlog
        startup = self._startup(command, env)  # nothing is due: start-up, an empty claim, exit
        prefix = f"command-{uuid.uuid4().hex[:6]}-"
        self._queue_invitations(count, prefix)
        self.sink.reset(prefix)
        started = time.perf_counter()
        for _attempt in range(20):
            subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=600)
            if self.sink.count >= count:
                break
        seconds = time.perf_counter() - started
        if self.sink.count != count:
            self.problems.append(f"dispatch-outbox delivered {self.sink.count} of {count}")
        self.record(f"fan-out {count}, dispatch-outbox steady, msg/s", "project", self.sink.steady_rate())
        self.record(f"fan-out {count}, dispatch-outbox with start, msg/s", "project", count / seconds)
        self.record("  start-up of a fresh process (ms)", "project", startup * 1000)

    # feeds and pages: latencies, converted to "per second" so that every ratio reads project/baseline
    def feed(self, side: str) -> None:
        port = self.pp if side == "project" else self.bp
        for _ in range(8):  # every worker serves it once (the project builds its VEVENT cache then)
            first = get(port, "/calendar.ics")
        if side == "project":
            self.etag = first.headers["etag"]
        self.record(f"public feed, {MEETINGS} meetings (ms)", side,
                    statistics.median(sequential(lambda: get(port, "/calendar.ics"), 3 if self.quick else 5)) * 1000)
        etag = first.headers["etag"]
        latencies = sequential(lambda: get(port, "/calendar.ics", {"If-None-Match": etag}), 40 if self.quick else 100)
        if get(port, "/calendar.ics", {"If-None-Match": etag}).status != 304:
            self.problems.append(f"{side}: no 304 for an unchanged feed")
        self.record("feed revalidation 304, median (ms)", side, statistics.median(latencies) * 1000)
        self.record("  p99 (ms)  ", side, percentile(latencies, 99) * 1000)

    def pages(self, side: str) -> None:
        count = 10 if self.quick else 30
        if side == "project":
            home = lambda: get(self.pp, "/")  # noqa: E731
            dashboard = lambda: get(self.pp, "/organiser/", {"Cookie": self.cookie})  # noqa: E731
        else:
            home = lambda: get(self.bp, "/home")  # noqa: E731
            dashboard = lambda: get(self.bp, "/dashboard")  # noqa: E731
        sequential(home, 4), sequential(dashboard, 4)
        self.record(f"home page, {MEETINGS} meetings (ms)", side, statistics.median(sequential(home, count)) * 1000)
        self.record(f"organiser dashboard, {MEETINGS} meetings (ms)", side,
                    statistics.median(sequential(dashboard, count)) * 1000)

    MEASURES = ("declarations", "contention", "fanout", "feed", "pages")

    def run(self, number: int) -> None:
        sides = ("project", "baseline") if number % 2 == 0 else ("baseline", "project")
        for measure in self.only or self.MEASURES:
            for side in sides:
                getattr(self, measure)(side)


LOWER_IS_BETTER = ("(ms)", "must be 0")


def table(backend: str, bench: Bench) -> str:
    lines = [f"== {backend} (gunicorn -w 4 each, median of {len(next(iter(bench.results.values())).project)} "
             f"alternating runs; ratio = project speed / baseline speed, 1.0 is parity)",
             f"{'measure':<48} {'project':>10} {'baseline':>10} {'ratio':>7}"]
    for name, sides in bench.results.items():
        p, b = statistics.median(sides.project), statistics.median(sides.baseline)
        if "must be 0" in name:
            ratio = ""
        elif any(mark in name for mark in LOWER_IS_BETTER):
            ratio = f"{b / p:7.2f}" if p else "   -"
        else:
            ratio = f"{p / b:7.2f}" if b else "   -"
        lines.append(f"{name:<48} {p:10.1f} {b:10.1f} {ratio:>7}")
    lines += [f"problem: {problem}" for problem in bench.problems]
    return "\n".join(lines)


def run_backend(backend: str, args) -> tuple[str, bool]:
    import baseline_app

    with ld.fresh_database(backend, args.postgres_url) as url:
        ld.migrate(url)
        baseline_app.create_tables(url)
        setup = seed(url)
        with Sink() as sink, \
                gunicorn("wsgi:app", url, args.workers) as project_port, \
                gunicorn("baseline_app:app", url, args.workers, HERE) as baseline_port:
            bench = Bench(setup, project_port, baseline_port, sink, args.quick)
            bench.only = [measure for measure in args.only if measure in Bench.MEASURES] if args.only else None
            for number in range(args.runs):
                started = time.perf_counter()
                bench.run(number)
                print(f"   {backend}: run {number + 1}/{args.runs} took {time.perf_counter() - started:.0f} s",
                      file=sys.stderr, flush=True)
        text = table(backend, bench)
        broken = any(v for name, sides in bench.results.items() if "must be 0" in name
                     for v in sides.project + sides.baseline)
    return text, not broken


# Measures of their own scripts, each run per backend; their "ROW" lines join the table.
SCRIPTS = ("reminders", "organiser")


def script_rows(backend: str, args) -> tuple[str, bool]:
    """The rows of bench/reminders_at_scale.py and bench/organiser_pages.py for this backend (their other
    output, the runs' details, goes to standard error)."""
    commands = []  # (command, how its row names read in the table)
    if "reminders" in (args.only or SCRIPTS):
        commands.append(([sys.executable, str(HERE / "reminders_at_scale.py"), "--backend", backend,
                          "--runs", str(args.runs), "--postgres", args.postgres_url], "{}"))
    if "organiser" in (args.only or SCRIPTS):
        commands.append(([sys.executable, str(HERE / "organiser_pages.py"), "--runs", str(args.runs)]
                         + (["--database", args.postgres_url] if backend == "postgresql" else []),
                         "1,000 declarations: {} page (ms)"))
    lines, fine = [], True
    for command, label in commands:
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=3600)
        print(result.stderr[-4000:] + result.stdout, file=sys.stderr, flush=True)
        if result.returncode != 0:
            lines.append(f"problem: {Path(command[1]).name} exited with {result.returncode}")
            fine = False
        for line in result.stdout.splitlines():
            if not line.startswith("ROW "):
                continue
            fields = line[4:].split("\t") if "\t" in line else line[4:].rsplit(None, 3)
            name, project, baseline, ratio = (fields + ["", "", ""])[:4]
            name = label.format(name)
            lines.append(f"{name:<48} {project:>10} {baseline:>10} {ratio:>7}")
            if "must be 0" in name and project.strip() not in ("0", "0.0"):
                fine = False
    return "\n".join(lines), fine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="one run, fewer requests")
    parser.add_argument("--runs", type=int, default=None, help="alternating runs (default 3, 1 with --quick)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--only", nargs="+", choices=Bench.MEASURES + SCRIPTS,
                        help="these measures only (while working)")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args(argv)
    args.runs = args.runs or (1 if args.quick else 3)
    ok = True
    for backend in (("postgresql", "sqlite") if args.backend == "both" else (args.backend,)):
        text, fine = "", True
        if not args.only or set(args.only) & set(Bench.MEASURES):
            text, fine = run_backend(backend, args)
        rows, rows_fine = script_rows(backend, args)
        print("\n".join(part for part in (text or f"== {backend}", rows) if part), flush=True)
        ok = ok and fine and rows_fine
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
