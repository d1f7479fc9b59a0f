"""Load test: no overbooking when many institutions declare at once.

Starts a real gunicorn (several workers) on a loopback port against a fresh
database (a SQLite file or a PostgreSQL database created and dropped here),
creates an open meeting with a seat capacity and category quotas, and then:

1. rush     - N clients declare at the same moment over HTTP
              (POST /api/v1/events/{id}/registrations);
2. churn    - confirmed institutions withdraw (DELETE /api/v1/registrations/{manage_token})
              while new ones declare and the organiser raises the capacity
              (PATCH /api/v1/events/{id}) in the middle of it.

After each phase it checks, from the database and the answers:
seats and quotas never exceeded and filled as far as the queue allows (nobody
waits who would fit), every client told its true status, no declaration lost
(every 201 is a row, every row was answered), promotions in queue order. It
prints declarations/s, p50/p99 latency, overbooked and lost counts, and a bare
baseline (GET /healthz on the same server, same concurrency) with the ratio.

    python bench/load_declarations.py --backend both --clients 200 --seats 50

Only loopback addresses are used: the server binds 127.0.0.1 and the
PostgreSQL URL (--postgres-url, default postgresql://postgres@127.0.0.1:5432/postgres)
must point at this machine. Exit status 1 if anything was overbooked or lost.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
CATEGORIES = ("powiat", "gmina", "ngo")
PASSWORD = "bench-password-not-secret"


# --- answers and figures ------------------------------------------------------

@dataclass
class Answer:
    status: int | None          # HTTP status, None if no answer came (timeout, reset)
    body: dict | None
    seconds: float
    error: str = ""


@dataclass
class Phase:
    name: str
    answers: list[Answer] = field(default_factory=list)
    seconds: float = 0.0

    def latencies(self) -> list[float]:
        return sorted(a.seconds for a in self.answers if a.status is not None)

    def percentile(self, p: float) -> float:
        values = self.latencies()
        if not values:
            return float("nan")
        return values[min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))]

    def rate(self) -> float:
        return len(self.answers) / self.seconds if self.seconds else float("nan")


@dataclass
class Report:
    backend: str
    clients: int
    seats: int
    workers: int
    quotas: dict
    baseline: Phase | None = None
    rush: Phase | None = None
    churn: Phase | None = None
    overbooked: int = 0          # seats above capacity plus institutions above a quota, worst moment checked
    lost: int = 0                # 201 answers without a row, and rows no client was told about
    untruthful: int = 0          # clients told a status the database contradicts
    unanswered: int = 0          # requests without an HTTP answer or with a 5xx
    unfilled: int = 0            # waiting declarations that would fit (seats and quota)
    out_of_order: int = 0        # a later declaration promoted over an earlier one that would have fitted
    seats_confirmed: int = 0
    capacity: int = 0
    statuses: dict = field(default_factory=dict)
    access_log_tokens: int = 0   # manage tokens found in gunicorn's access log (must be 0)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.overbooked or self.lost or self.untruthful or self.unanswered or self.unfilled
                    or self.out_of_order or self.access_log_tokens)


# --- HTTP ----------------------------------------------------------------------

def _request(port: int, method: str, path: str, body: dict | None = None, headers: dict | None = None,
             timeout: float = 60.0) -> Answer:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        all_headers = {"Accept": "application/json", **(headers or {})}
        if payload is not None:
            all_headers["Content-Type"] = "application/json"
        connection.request(method, path, body=payload, headers=all_headers)
        response = connection.getresponse()
        raw = response.read()
        elapsed = time.perf_counter() - started
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return Answer(response.status, parsed, elapsed)
    except (OSError, http.client.HTTPException) as exc:
        return Answer(None, None, time.perf_counter() - started, f"{type(exc).__name__}: {exc}")
    finally:
        connection.close()


def _all_at_once(calls: list, deadline: float) -> tuple[list[Answer], float]:
    """Run every call in its own thread, released together by a barrier; answers in call order."""
    answers: list[Answer | None] = [None] * len(calls)
    barrier = threading.Barrier(len(calls) + 1)

    def worker(index, call):
        try:
            barrier.wait(timeout=30)
        except threading.BrokenBarrierError:
            pass
        answers[index] = call()

    threads = [threading.Thread(target=worker, args=(i, c), daemon=True) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=30)
    started = time.perf_counter()
    for thread in threads:
        thread.join(timeout=max(0.1, deadline - time.perf_counter()))
    elapsed = time.perf_counter() - started
    return [a if a is not None else Answer(None, None, elapsed, "no answer before the deadline") for a in answers], elapsed


# --- databases -----------------------------------------------------------------

def _check_loopback(url: str) -> None:
    host = urlsplit(url.replace("+psycopg", "")).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"refusing a database that is not on this machine: {host}")


@contextmanager
def fresh_database(backend: str, postgres_url: str):
    """A new, empty database URL for this run; removed afterwards."""
    if backend == "sqlite":
        directory = tempfile.mkdtemp(prefix="bench-sqlite-")
        try:
            yield f"sqlite:///{directory}/bench.db"
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    _check_loopback(postgres_url)
    url = make_url(postgres_url).set(drivername="postgresql+psycopg")
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _server_env(database_url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN_", "APP_ENV"))}
    env.update(DATABASE_URL=database_url, SCHEDULER_ENABLED="false", PYTHONPATH=str(ROOT))
    return env


def migrate(database_url: str) -> None:
    flask = [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"]
    subprocess.run(flask, cwd=ROOT, env=_server_env(database_url), check=True, capture_output=True, timeout=120)


# --- the meeting ---------------------------------------------------------------

def quotas_for(seats: int) -> dict:
    """Quotas that bind before the seats run out: a fifth for powiats, two fifths for gminas, NGOs unlimited."""
    return {"powiat": max(1, seats // 5), "gmina": max(1, 2 * seats // 5)}


def create_meeting(database_url: str, seats: int, quotas: dict) -> tuple[int, str]:
    """An organiser, an API token and a published open meeting, made through the domain functions."""
    from scheduler import create_app
    from scheduler.auth.services import create_user, get_or_create_organisation, issue_api_token
    from scheduler.events.services import create_event, publish_event
    from scheduler.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        organisation = get_or_create_organisation("Regionalny Ośrodek Polityki Społecznej w Rzeszowie",
                                                  short_name="ROPS Rzeszów")
        organiser = create_user(f"bench-{uuid.uuid4().hex[:8]}@example.org", PASSWORD, organisation)
        token, _record = issue_api_token(organiser)
        start = (datetime.now(timezone.utc) + timedelta(days=30)).replace(microsecond=0)
        event = create_event(organiser, {
            "title": "Spotkanie informacyjne dla PCPR (test obciążenia)", "kind": "information_session",
            "starts_at": start, "ends_at": start + timedelta(hours=3),
            "declaration_deadline": start - timedelta(days=5), "venue": "ROPS Rzeszów",
            "address": "ul. Hetmańska 9, 35-045 Rzeszów", "capacity": seats, "quotas": quotas,
            "invite_only": False,
        })
        publish_event(organiser, event)
        event_id = event.id
        db.session.remove()
        db.engine.dispose()
    return event_id, token


def declaration(n: int, rng: random.Random) -> dict:
    category = CATEGORIES[n % len(CATEGORIES)]
    people = 1 if rng.random() < 0.75 else 2
    return {
        "institution": f"Instytucja testowa nr {n}", "category": category, "contact_name": f"Osoba kontaktowa {n}",
        "email": f"bench{n}@example.org", "phone": "17 000 00 00",
        "participants": [{"name": f"Uczestnik {n}-{i}", "position": "pracownik socjalny", "needs": ""}
                         for i in range(people)],
        "consents": {"rodo": True, "statements": []},
    }


# --- the server ----------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def gunicorn(database_url: str, workers: int, access_log: Path | None = None, *, app_spec: str = "wsgi:app",
             cwd: Path = ROOT, env: dict | None = None):
    """A gunicorn serving `app_spec` on a free port, yielded once it answers /healthz; stopped afterwards."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
               "--graceful-timeout", "5", "--timeout", "120"]
    if access_log is not None:
        command += ["--access-logfile", str(access_log)]
    command.append(app_spec)
    process = subprocess.Popen(command, cwd=cwd, env=env or _server_env(database_url),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError("gunicorn stopped: " + process.stderr.read().decode(errors="replace")[-2000:])
            if _request(port, "GET", "/healthz", timeout=2).status == 200:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"{app_spec} did not answer /healthz within 60 s")
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# --- checks --------------------------------------------------------------------

def _rows(database_url: str, event_id: int) -> tuple[dict, dict, int | None]:
    """Declarations of the meeting {id: (status, category, seats, queue key)}, its quotas and capacity."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            event = connection.execute(text("SELECT capacity, quotas FROM events WHERE id = :id"),
                                       {"id": event_id}).one()
            rows = connection.execute(text(
                "SELECT r.id, r.status, r.category, r.queued_at, "
                "(SELECT count(*) FROM participants p WHERE p.registration_id = r.id) "
                "FROM registrations r WHERE r.event_id = :id"), {"id": event_id}).all()
    finally:
        engine.dispose()
    quotas = event.quotas if isinstance(event.quotas, dict) else json.loads(event.quotas or "{}")
    return ({row[0]: (row[1], row[2], row[4], (str(row[3]), row[0])) for row in rows}, quotas or {}, event.capacity)


def _fits(rows: dict, capacity: int | None, quotas: dict, seats: int, category: str) -> bool:
    confirmed = [r for r in rows.values() if r[0] == "confirmed"]
    if capacity is not None and sum(r[2] for r in confirmed) + seats > capacity:
        return False
    quota = quotas.get(category)
    return quota is None or sum(1 for r in confirmed if r[1] == category) + 1 <= quota


def check(report: Report, rows: dict, quotas: dict, capacity: int | None) -> None:
    """Overbooking and a waiting list that holds somebody who would fit."""
    confirmed = [r for r in rows.values() if r[0] == "confirmed"]
    seats = sum(r[2] for r in confirmed)
    over = max(0, seats - capacity) if capacity is not None else 0
    for category, quota in quotas.items():
        over += max(0, sum(1 for r in confirmed if r[1] == category) - quota)
    report.overbooked = max(report.overbooked, over)
    report.unfilled += sum(1 for r in rows.values() if r[0] == "waitlisted" and _fits(rows, capacity, quotas, r[2], r[1]))
    report.seats_confirmed, report.capacity = seats, capacity or 0
    report.statuses = {s: sum(1 for r in rows.values() if r[0] == s) for s in sorted({r[0] for r in rows.values()})}


def check_answers(report: Report, phase: Phase, rows: dict, *, exact: bool) -> dict:
    """Lost declarations and untruthful answers; returns {id: told status} of the 201 answers."""
    told = {}
    for answer in phase.answers:
        if answer.status is None or answer.status >= 500:
            report.unanswered += 1
            if len(report.notes) < 5:
                report.notes.append(f"{phase.name}: {answer.status} {answer.error or answer.body}")
            continue
        if answer.status == 201 and answer.body:
            told[answer.body["id"]] = answer.body["status"]
        elif answer.status != 201 and len(report.notes) < 5:
            report.notes.append(f"{phase.name}: HTTP {answer.status} {answer.body}")
    for registration_id, status in told.items():
        if registration_id not in rows:
            report.lost += 1
        elif exact and rows[registration_id][0] != status:
            report.untruthful += 1
        elif not exact and status == "confirmed" and rows[registration_id][0] not in ("confirmed", "withdrawn"):
            report.untruthful += 1  # a confirmed seat is never taken back
    return told


# --- the run -------------------------------------------------------------------

def run(backend: str, *, clients: int = 200, seats: int = 50, workers: int = 4, database_url: str | None = None,
        postgres_url: str = "postgresql://postgres@127.0.0.1:5432/postgres", withdrawals: int | None = None,
        time_limit: float = 240.0, seed: int = 2019) -> Report:
    """One full run on one backend; with `database_url` (already migrated) no database is created."""
    if database_url is None:
        with fresh_database(backend, postgres_url) as url:
            migrate(url)
            return run(backend, clients=clients, seats=seats, workers=workers, database_url=url,
                       withdrawals=withdrawals, time_limit=time_limit, seed=seed)
    _check_loopback(database_url) if backend == "postgresql" else None
    rng = random.Random(seed)
    quotas = quotas_for(seats)
    report = Report(backend=backend, clients=clients, seats=seats, workers=workers, quotas=quotas)
    event_id, api_token = create_meeting(database_url, seats, quotas)
    log_dir = Path(tempfile.mkdtemp(prefix="bench-log-"))
    access_log = log_dir / "access.log"
    deadline = time.perf_counter() + time_limit
    try:
        with gunicorn(database_url, workers, access_log) as port:
            # Baseline: the same server and concurrency, a request that only asks the database "SELECT 1".
            answers, elapsed = _all_at_once([lambda: _request(port, "GET", "/healthz")] * clients, deadline)
            report.baseline = Phase("baseline", answers, elapsed)

            # 1. The rush: everyone declares at once.
            path = f"/api/v1/events/{event_id}/registrations"
            calls = [(lambda n=n: _request(port, "POST", path, declaration(n, rng),
                                           {"Idempotency-Key": f"bench-{n}"})) for n in range(clients)]
            answers, elapsed = _all_at_once(calls, deadline)
            report.rush = Phase("rush", answers, elapsed)
            rows, db_quotas, capacity = _rows(database_url, event_id)
            told = check_answers(report, report.rush, rows, exact=True)
            report.lost += sum(1 for registration_id in rows if registration_id not in told)
            check(report, rows, db_quotas, capacity)
            waiting_before = {i: r for i, r in rows.items() if r[0] == "waitlisted"}

            # 2. Churn: confirmed institutions withdraw, newcomers declare, the organiser adds seats mid-way.
            confirmed = [a.body for a in report.rush.answers if a.status == 201 and a.body["status"] == "confirmed"]
            leaving = rng.sample(confirmed, min(len(confirmed), withdrawals if withdrawals is not None else len(confirmed) // 4))
            newcomers = max(1, clients // 4)
            calls = [("withdraw", lambda t=body["manage_token"]: _request(port, "DELETE", f"/api/v1/registrations/{t}"))
                     for body in leaving]
            calls += [("declare", lambda n=n: _request(port, "POST", path, declaration(n, rng)))
                      for n in range(clients, clients + newcomers)]
            raise_to = seats + max(1, seats // 5)
            calls.insert(len(calls) // 2, ("capacity", lambda: _request(
                port, "PATCH", f"/api/v1/events/{event_id}", {"capacity": raise_to},
                {"Authorization": f"Bearer {api_token}"})))
            answers, elapsed = _all_at_once([call for _kind, call in calls], deadline)
            report.churn = Phase("churn", answers, elapsed)
            by_kind = {kind: [a for (k, _c), a in zip(calls, answers) if k == kind]
                       for kind in ("withdraw", "declare", "capacity")}
            rows, db_quotas, capacity = _rows(database_url, event_id)

            [patch] = by_kind["capacity"]
            if patch.status != 200 or capacity != raise_to:
                report.notes.append(f"capacity change answered {patch.status}, capacity now {capacity}")
                report.untruthful += 1
            for body, answer in zip(leaving, by_kind["withdraw"]):
                if answer.status is None or answer.status >= 500:
                    report.unanswered += 1
                elif answer.status != 200 or answer.body.get("status") != "withdrawn" \
                        or rows[body["id"]][0] != "withdrawn":
                    report.untruthful += 1  # a withdrawal that was refused or did not stick
            told_churn = check_answers(report, Phase("churn", by_kind["declare"]), rows, exact=False)
            known = set(told) | set(told_churn)
            report.lost += sum(1 for registration_id in rows if registration_id not in known)
            check(report, rows, db_quotas, capacity)
            # Promotions in queue order: a later waiting declaration may only pass an earlier one that was
            # larger or of another category (a same-category one no larger would have fitted first).
            promoted = [i for i in waiting_before if rows[i][0] == "confirmed"]
            still = [i for i in waiting_before if rows[i][0] == "waitlisted"]
            for earlier in still:
                e = waiting_before[earlier]
                for later in promoted:
                    p = waiting_before[later]
                    if p[3] > e[3] and p[1] == e[1] and e[2] <= p[2]:
                        report.out_of_order += 1
        report.access_log_tokens = _tokens_in_log(access_log, report)
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)
    return report


def _tokens_in_log(access_log: Path, report: Report) -> int:
    """Manage tokens (from the answers) that appear in gunicorn's access log."""
    text = access_log.read_text(errors="replace") if access_log.exists() else ""
    tokens = {a.body["manage_token"] for phase in (report.rush, report.churn) if phase
              for a in phase.answers if a.body and "manage_token" in a.body}
    if "/api/v1/registrations/" not in text:
        report.notes.append("the access log shows no withdrawal requests; redaction not exercised")
    return sum(1 for token in tokens if token in text)


# --- output --------------------------------------------------------------------

def describe(report: Report) -> str:
    b, r, c = report.baseline, report.rush, report.churn
    ratio_p50 = r.percentile(50) / b.percentile(50) if b.percentile(50) else float("nan")
    lines = [
        f"== {report.backend}: {report.clients} clients, {report.seats} seats, quotas {report.quotas}, "
        f"gunicorn -w {report.workers}",
        f"baseline GET /healthz   {b.rate():8.1f} req/s   p50 {b.percentile(50) * 1000:7.1f} ms   "
        f"p99 {b.percentile(99) * 1000:7.1f} ms",
        f"declarations (rush)     {r.rate():8.1f} decl/s  p50 {r.percentile(50) * 1000:7.1f} ms   "
        f"p99 {r.percentile(99) * 1000:7.1f} ms",
        f"churn (withdraw+declare+PATCH) {c.rate():6.1f} req/s  p50 {c.percentile(50) * 1000:7.1f} ms   "
        f"p99 {c.percentile(99) * 1000:7.1f} ms",
        f"ratio declarations/baseline: throughput {r.rate() / b.rate():.2f}x, p50 latency {ratio_p50:.1f}x",
        f"seats confirmed {report.seats_confirmed}/{report.capacity}; statuses {report.statuses}",
        f"overbooked {report.overbooked}   lost {report.lost}   untruthful {report.untruthful}   "
        f"unanswered {report.unanswered}   waiting-but-fits {report.unfilled}   out-of-order {report.out_of_order}   "
        f"tokens-in-access-log {report.access_log_tokens}",
    ]
    lines += [f"note: {note}" for note in report.notes]
    lines.append("RESULT: " + ("OK" if report.ok else "FAILED"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--clients", type=int, default=200, help="concurrent declarations in the rush (max 1000)")
    parser.add_argument("--seats", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="an administrative connection on this machine; a throw-away database is created beside it")
    parser.add_argument("--time-limit", type=float, default=240.0, help="seconds for all requests of one backend")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 1000 or not 1 <= args.seats <= 10_000 or not 1 <= args.workers <= 32:
        parser.error("keep --clients within 1..1000, --seats within 1..10000 and --workers within 1..32")
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    ok = True
    for backend in backends:
        report = run(backend, clients=args.clients, seats=args.seats, workers=args.workers,
                     postgres_url=args.postgres_url, time_limit=args.time_limit)
        print(describe(report), flush=True)
        ok = ok and report.ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
