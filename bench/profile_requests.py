"""Where one request's time goes (issue 9): the feed's 304, the feed, the home page, the dashboard, a declaration.

Seeds a fresh database as `make bench` does (2,000 published meetings, half of them past), then calls the
application in-process (no HTTP server, so nothing but the request itself is measured) and prints, per kind of
request: the median and fastest time, the SQL statements it sends and, on PostgreSQL, its round trips to the
server (statements plus BEGIN/COMMIT/ROLLBACK and the pool's ping). A declaration also shows the statements
and the CPU time between taking the meeting's lock and COMMIT. `--profile` adds cProfile's top functions;
`--sql` lists the statements. Wall-clock times depend on what else the machine runs; the counts do not.

    python bench/profile_requests.py [--database postgresql://postgres@127.0.0.1:5432/postgres] [--profile]
    python bench/profile_requests.py --database sqlite  [feed304 dashboard ...]
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import re
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
for path in (str(HERE.parent), str(HERE)):
    if path not in sys.path:
        sys.path.insert(0, path)

import load_declarations as ld  # noqa: E402

KINDS = ("feed304", "feed", "home", "dashboard", "declaration")


class Counter:
    """SQL statements (SQLAlchemy's cursor events) and psycopg's round trips to the server."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.statements: list[str] = []
        self.round_trips = 0
        self.lock_started: float | None = None
        self.under_lock: list[str] = []
        self.lock_cpu: list[float] = []
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)
        try:
            from psycopg import _connection_base, _cursor_base
        except ImportError:
            return
        for owner, name in ((_connection_base.BaseConnection, "_exec_command"),
                            (_cursor_base.BaseCursor, "_execute_send"),
                            (_cursor_base.BaseCursor, "_send_query_prepared")):
            original = getattr(owner, name)

            def counted(*args, __original=original, **kwargs):
                self.round_trips += 1
                return __original(*args, **kwargs)
            setattr(owner, name, counted)

    def _statement(self, _conn, _cursor, statement, *_args) -> None:
        self.statements.append(statement)
        if self.lock_started is not None:
            self.under_lock.append(statement)
        elif "FOR UPDATE" in statement or (statement.lstrip().upper().startswith("BEGIN IMMEDIATE")):
            self.lock_started, self.under_lock = time.thread_time(), []

    def _commit(self, _conn) -> None:
        if self.lock_started is not None:
            self.lock_cpu.append(time.thread_time() - self.lock_started)
            self.lock_started = None

    def reset(self) -> None:
        self.statements, self.round_trips = [], 0


def seed(url: str) -> tuple[str, int]:
    import compare

    ld.migrate(url)
    setup = compare.seed(url)
    return setup.organiser_email, compare.project_meeting(setup, 100_000)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kinds", nargs="*", metavar="kind", help=f"some of {', '.join(KINDS)} (default all)")
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL server URL (a database is created and dropped there), or 'sqlite'")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--lines", type=int, default=45)
    parser.add_argument("--sort", default="cumulative", help="cProfile's order: cumulative, tottime, ...")
    parser.add_argument("--sql", action="store_true")
    args = parser.parse_args(argv)
    unknown = set(args.kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown kind of request: {', '.join(sorted(unknown))}")
    args.kinds = args.kinds or list(KINDS)
    backend = "sqlite" if args.database == "sqlite" else "postgresql"
    with ld.fresh_database(backend, args.database) as url:
        # Before anything imports config.py, which reads the environment once: the app is configured as gunicorn's.
        os.environ.update(ld._server_env(url), RATELIMIT_ENABLED="false", BASE_URL="http://127.0.0.1:5000")
        os.environ.pop("APP_ENV", None)
        email, meeting_id = seed(url)
        from werkzeug.test import EnvironBuilder

        from scheduler import create_app
        from scheduler.extensions import db

        app = create_app()
        with app.app_context():
            counter = Counter(db.engine)
        client = app.test_client()
        page = client.get("/login")
        token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page.data)
        form = {"email": email, "password": ld.PASSWORD, **({"csrf_token": token.group(1).decode()} if token else {})}
        assert client.post("/login", data=form).status_code == 302
        cookie = f"session={client.get_cookie('session').value}"
        etag = client.get("/calendar.ics").headers["ETag"]
        rng, numbers = random.Random(7), iter(range(10 ** 6))
        requests = {
            "feed304": lambda: ("GET", "/calendar.ics", {"If-None-Match": etag}, None),
            "feed": lambda: ("GET", "/calendar.ics", {}, None),
            "home": lambda: ("GET", "/", {}, None),
            "dashboard": lambda: ("GET", "/organiser/", {"Cookie": cookie}, None),
            "declaration": lambda: ("POST", f"/api/v1/events/{meeting_id}/registrations", {},
                                    json.dumps(ld.declaration(next(numbers), rng)).encode()),
        }

        def call(kind: str) -> float:
            method, path, headers, body = requests[kind]()
            environ = EnvironBuilder(path=path, method=method, headers=headers, data=body,
                                     content_type="application/json" if body else None,
                                     base_url="http://127.0.0.1:5000").get_environ()
            status = {}
            started = time.perf_counter()
            b"".join(app.wsgi_app(environ, lambda s, h, e=None: status.setdefault("s", s)))
            seconds = time.perf_counter() - started
            assert status["s"][:3] in ("200", "201", "304"), (kind, status)
            return seconds

        for kind in args.kinds:
            for _ in range(5):
                call(kind)
            counter.lock_cpu = []
            times = [call(kind) for _ in range(args.requests)]
            counter.reset()
            call(kind)
            line = (f"{kind:<12} median {statistics.median(times) * 1000:7.2f} ms, fastest {min(times) * 1000:7.2f} ms,"
                    f" {len(counter.statements)} statements")
            if backend == "postgresql":
                line += f", {counter.round_trips} round trips"
            if counter.lock_cpu:
                line += (f"; under the lock {len(counter.under_lock)} statements before COMMIT, CPU median "
                         f"{statistics.median(counter.lock_cpu) * 1000:.2f} ms")
            print(line, flush=True)
            if args.sql:
                for statement in counter.statements:
                    print("    " + " ".join(statement.split())[:160])
            if args.profile:
                profile = cProfile.Profile()
                profile.enable()
                for _ in range(100):
                    call(kind)
                profile.disable()
                text = io.StringIO()
                pstats.Stats(profile, stream=text).sort_stats(args.sort).print_stats(args.lines)
                print(text.getvalue())
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
