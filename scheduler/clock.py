"""The clock: APScheduler ticks the reminder planner and the outbox dispatcher.

APScheduler holds no state of ours. Its job store lives in memory and is
never shared; every fact (what is due, claimed, sent) is a database row, so
any number of processes may run a clock against one database without
sending anything twice.
"""
from __future__ import annotations

import logging
import os
import socket
import threading

import click
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Blueprint, Flask

log = logging.getLogger(__name__)
cli = Blueprint("clock_cli", __name__, cli_group=None)

_started: dict[int, BackgroundScheduler] = {}
_start_lock = threading.Lock()


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def tick(app: Flask, now=None) -> dict:
    """One pass: plan reminders that are due, then deliver due outbox messages."""
    from .notifications.dispatcher import dispatch_due
    from .notifications.reminder_planner import plan_due_reminders

    with app.app_context():
        planned = plan_due_reminders(now=now)
        delivered = dispatch_due(now=now, worker_id=worker_id())
        return {"reminders": planned, "outbox": delivered}


def _safe_tick(app: Flask) -> None:
    try:
        tick(app)
    except Exception:  # the clock must keep ticking; the next pass retries
        log.exception("clock tick failed")


def _safe_purge(app: Flask) -> None:
    from .audit.views import purge_old_entries
    from .privacy.services import purge_expired_personal_data

    try:
        with app.app_context():
            counts = {**purge_expired_personal_data(), "audit entries": purge_old_entries()}
            if any(counts.values()):
                log.info("retention: anonymised %s", counts)
    except Exception:
        log.exception("personal-data retention pass failed")


def _add_job(scheduler, app: Flask) -> None:
    # misfire_grace_time=None: a tick that runs late still runs (the 3.x default
    # of 1 s would drop it); coalesce: a backlog of missed ticks runs once;
    # max_instances=1: a slow tick is never overlapped by the next one.
    scheduler.add_job(_safe_tick, "interval", args=[app], seconds=app.config["SCHEDULER_TICK_SECONDS"],
                      id="tick", misfire_grace_time=None, coalesce=True, max_instances=1,
                      next_run_time=_now())
    # Personal data past PERSONAL_DATA_RETENTION_DAYS is anonymised a few times a day; the pass is idempotent.
    scheduler.add_job(_safe_purge, "interval", args=[app], hours=6, id="retention", misfire_grace_time=None,
                      coalesce=True, max_instances=1, next_run_time=_now())


def _now():
    # The first tick runs at start, so reminders that fell due during downtime go out (or are skipped) at once.
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


def serving_with_flask_run() -> bool:
    """True while `flask run` loads the app (not for other flask commands such as `db upgrade`)."""
    ctx = click.get_current_context(silent=True)
    return ctx is not None and ctx.command is not None and ctx.command.name == "run"


def start_clock(app: Flask) -> BackgroundScheduler | None:
    """Start the in-process clock once per process, if SCHEDULER_ENABLED."""
    if not app.config["SCHEDULER_ENABLED"]:
        return None
    with _start_lock:
        if os.getpid() in _started:
            return _started[os.getpid()]
        scheduler = BackgroundScheduler(timezone="UTC", daemon=True)
        _add_job(scheduler, app)
        scheduler.start()
        _started[os.getpid()] = scheduler
        log.info("clock started in process %s, tick every %ss", os.getpid(), app.config["SCHEDULER_TICK_SECONDS"])
        return scheduler


def stop_clock() -> None:
    with _start_lock:
        scheduler = _started.pop(os.getpid(), None)
    if scheduler is not None:
        scheduler.shutdown(wait=True)


@cli.cli.command("run-scheduler")
def run_scheduler_command():
    """Run the clock in the foreground (production: one or more such processes)."""
    from flask import current_app

    app = current_app._get_current_object()
    scheduler = BlockingScheduler(timezone="UTC")
    _add_job(scheduler, app)
    click.echo(f"Zegar przypomnień działa (co {app.config['SCHEDULER_TICK_SECONDS']} s); Ctrl+C kończy.")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass


@cli.cli.command("tick")
def tick_command():
    """Run one pass of the reminder planner and the outbox dispatcher."""
    from flask import current_app

    click.echo(tick(current_app._get_current_object()))
