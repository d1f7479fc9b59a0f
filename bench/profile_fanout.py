"""Where the time of an invitation fan-out goes, per message, in one process (issue 9).

Migrates a throw-away database, makes one published meeting with COUNT
invitations, queues them, and delivers them with `dispatch_due` under cProfile
to an SMTP sink running as a separate process. Prints the total, the time per
message spent in each step (render, .ics, MIME, SMTP, sent marks, claims) and
the top functions. Profiles, not wall-clock ratios, decide what to change: on
a shared machine the wall clock is noisy, the split between steps much less.

    python bench/profile_fanout.py [--backend postgresql|sqlite] [--count 200] [--top 25] [--reminders]
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for path in (str(ROOT), str(HERE)):
    if path not in sys.path:
        sys.path.insert(0, path)

import load_declarations as ld  # noqa: E402
from reminders_at_scale import Sink  # noqa: E402

# (label, file suffix, function name): cumulative time of these functions, per message.
STEPS = [
    ("render (all)", "notifications/rendering.py", "render"),
    ("  .ics", "calendar/ical.py", "invite"),
    ("  templates", "notifications/rendering.py", "_texts"),
    ("MIME build", "notifications/mail.py", "build"),
    ("SMTP", "notifications/mail.py", "deliver"),
    ("sent marks", "notifications/dispatcher.py", "write"),
    ("claims", "notifications/dispatcher.py", "_claim"),
    ("connections", "notifications/mail.py", "open_connection"),
]


def prepare(app, count: int) -> int:
    from scheduler.auth.services import create_user, get_or_create_organisation
    from scheduler.events.services import create_event, publish_event
    from scheduler.extensions import db
    from scheduler.invitations.sending import send_invitations
    from scheduler.invitations.services import add_invitations

    with app.app_context():
        organisation = get_or_create_organisation("Regionalny Ośrodek Polityki Społecznej w Rzeszowie",
                                                  short_name="ROPS Rzeszów")
        user = create_user(f"bench-{uuid.uuid4().hex[:8]}@example.org", ld.PASSWORD, organisation)
        start = (datetime.now(timezone.utc) + timedelta(days=30)).replace(microsecond=0)
        event = create_event(user, {
            "title": "Spotkanie informacyjne dla PCPR", "kind": "information_session", "starts_at": start,
            "ends_at": start + timedelta(hours=3), "declaration_deadline": start - timedelta(days=5),
            "venue": "ROPS Rzeszów", "address": "ul. Hetmańska 9", "capacity": 10_000, "invite_only": True,
            "reference": "PF.0702.10.2019.LK", "contact_email": "biuro@example.org"})
        publish_event(user, event)
        add_invitations(user, event, [{"institution": f"Powiatowe Centrum Pomocy Rodzinie nr {n}",
                                       "category": "powiat", "email": f"pcpr{n}@example.org"}
                                      for n in range(count)])
        db.session.commit()
        queued = send_invitations(user, event)
        db.session.remove()
        return queued


def prepare_reminders(app, count: int) -> int:
    """Deadline reminders due now to `count` non-responders of one meeting (what reminders_at_scale delivers)."""
    from reminders_at_scale import seed
    from scheduler.extensions import db
    from scheduler.notifications.reminder_planner import plan_due_reminders

    seed(app, 1, count, due=True, tag="p")
    with app.app_context():
        queued = plan_due_reminders()["queued"]
        db.session.remove()
    return queued


def cumulative(stats: pstats.Stats, suffix: str, name: str) -> float:
    return sum(row[3] for (filename, _line, function), row in stats.stats.items()
               if filename.endswith(suffix) and function == name)


def timed(app, count: int, queued: int, sink) -> int:
    """The steps' wall time per message without a profiler's overhead (which inflates Python-heavy steps)."""
    from scheduler.extensions import db
    from scheduler.notifications import dispatcher
    from scheduler.notifications import rendering

    spent: dict[str, float] = {}

    def clocked(label, function):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - started
        return wrapper

    patches = [(dispatcher, "render", "render (all)"), (rendering, "_texts", "  templates"),
               (rendering.ical, "invite", "  .ics"), (dispatcher, "build", "MIME build"),
               (dispatcher, "deliver", "SMTP"), (dispatcher._SentMarks, "write", "sent marks"),
               (dispatcher, "_claim", "claims")]
    originals = [(module, name, getattr(module, name)) for module, name, _label in patches]
    for module, name, label in patches:
        setattr(module, name, clocked(label, getattr(module, name)))
    try:
        with app.app_context():
            started, cpu = time.perf_counter(), time.process_time()
            counts = dispatcher.dispatch_due()
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            db.session.remove()
            db.engine.dispose()
    finally:
        for module, name, original in originals:
            setattr(module, name, original)
    print(f"{queued} queued, {counts['sent']} sent, sink got {len(sink.received())}; {seconds:.2f} s wall, "
          f"{count / seconds:.0f} msg/s; this process's CPU {cpu / count * 1000:.2f} ms per message")
    print("per message (ms, wall clock)")
    for label, value in spent.items():
        print(f"  {label:<20} {value / count * 1000:7.2f}")
    print(f"  {'other':<20} {(seconds - sum(v for k, v in spent.items() if not k.startswith(' '))) / count * 1000:7.2f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--timed", action="store_true",
                        help="no profiler: wall time of each step (the dispatcher's calls wrapped with a clock)")
    parser.add_argument("--reminders", action="store_true",
                        help="deadline reminders to non-responders instead of invitations")
    parser.add_argument("--callees", action="append", default=[], help="also print what this function calls")
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL",
                                                              "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args(argv)
    from scheduler import create_app
    from scheduler.extensions import db
    from scheduler.notifications.dispatcher import dispatch_due

    with ld.fresh_database(args.backend, args.postgres) as url, Sink() as sink:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": sink.port,
                          "MAIL_DRAIN_SECONDS": 600})
        with app.app_context():
            db.create_all()  # the models' schema (what is measured does not depend on the migrations' history)
            db.session.remove()
        queued = (prepare_reminders if args.reminders else prepare)(app, args.count)
        if args.timed:
            return timed(app, args.count, queued, sink)
        profile = cProfile.Profile()
        with app.app_context():
            started = time.perf_counter()
            profile.enable()
            counts = dispatch_due()
            profile.disable()
            seconds = time.perf_counter() - started
            db.session.remove()
            db.engine.dispose()
        while len(sink.received()) < queued and time.perf_counter() - started < 60:
            time.sleep(0.05)
        stats = pstats.Stats(profile)
        total = sum(row[2] for row in stats.stats.values())
        print(f"{args.backend}: {queued} queued, {counts}, sink got {len(sink.received())}; "
              f"{seconds:.2f} s wall, {args.count / seconds:.0f} msg/s; profiled {total:.2f} s")
        print(f"{'per message (ms, under the profiler)':<40}")
        for label, suffix, name in STEPS:
            print(f"  {label:<20} {cumulative(stats, suffix, name) / args.count * 1000:7.2f}")
        for name in args.callees:
            stats.sort_stats("cumulative").print_callees(name)
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
