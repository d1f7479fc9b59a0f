"""A dead dispatcher's messages are taken over within one short lease; a live one's never are."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from scheduler import create_app
from scheduler.database import utcnow
from scheduler.extensions import db
from scheduler.notifications import dispatcher
from scheduler.notifications.dispatcher import dispatch_due
from scheduler.notifications.mail import build, close_connection, deliver, open_connection
from scheduler.notifications.models import Message
from scheduler.notifications.outbox import enqueue

from . import factories as make

ROOT = Path(__file__).resolve().parent.parent


def _queue(count: int) -> dict[str, str]:
    """Queue `count` messages; return recipient -> the Message-ID fixed when it was planned."""
    event = make.event()
    planned = {}
    for n in range(count):
        message = enqueue(event=event, kind="test", recipient=f"r{n}@example.org", language="pl", subject="Temat",
                          body_text="Treść", body_html="", dedupe_key=f"test:takeover:{n}")
        planned[message.recipient] = message.message_id
    db.session.commit()
    return planned


def _claim_and_die(worker_id: str, at) -> list:
    """What a dispatcher killed right after claiming leaves behind: messages "sending", claimed by it."""
    _found, batch, _loaded = dispatcher._claim(at, 20, worker_id, dispatcher._counts())
    return batch


def test_the_default_lease_is_short_and_batches_small(app):
    assert app.config["MAIL_CLAIM_LEASE_SECONDS"] <= 60 and app.config["MAIL_BATCH_SIZE"] <= 20


def test_a_dead_dispatchers_messages_are_taken_over_after_the_lease_and_sent_once_with_their_message_id(mail_app, smtp_server):
    planned = _queue(3)
    lease = timedelta(seconds=mail_app.config["MAIL_CLAIM_LEASE_SECONDS"])
    claimed_at = utcnow()
    assert len(_claim_and_die("worker-a", claimed_at)) == 3

    assert dispatch_due(now=claimed_at + lease - timedelta(seconds=5), worker_id="worker-b")["claimed"] == 0
    counts = dispatch_due(now=claimed_at + lease + timedelta(seconds=1), worker_id="worker-b")

    assert (counts["taken_over"], counts["sent"]) == (3, 3)
    assert {r.recipients[0]: r.message["Message-ID"] for r in smtp_server.received} == planned
    assert {m.status for m in make.messages(kind="test")} == {"sent"}


def test_the_one_message_window_repeats_the_message_with_the_same_message_id(mail_app, smtp_server):
    # The dispatcher died after the server accepted the message, before "sent" was committed.
    planned = _queue(1)
    claimed_at = utcnow()
    outgoing, = _claim_and_die("worker-a", claimed_at)
    connection = open_connection()
    deliver(connection, build(outgoing))
    close_connection(connection)

    later = claimed_at + timedelta(seconds=mail_app.config["MAIL_CLAIM_LEASE_SECONDS"] + 1)
    assert dispatch_due(now=later, worker_id="worker-b")["sent"] == 1

    assert [r.message["Message-ID"] for r in smtp_server.received] == list(planned.values()) * 2


def test_the_heartbeat_keeps_a_slow_but_live_dispatchers_batch_its_own(make_app, smtp_server):
    # Each message takes longer than a third of the lease; the batch takes longer than the lease. Without the
    # heartbeat the other dispatcher would take over (and send again) the messages still waiting in the batch.
    async def slow(envelope):
        await asyncio.sleep(1.0)

    smtp_server.handler.on_data = slow
    settings = {**smtp_server.config(), "MAIL_CLAIM_LEASE_SECONDS": 3, "MAIL_BATCH_SIZE": 5}
    slow_one, watcher = make_app(**settings), make_app(**settings)
    with slow_one.app_context():
        _queue(5)
        db.session.remove()
    results, errors, done = [], [], threading.Event()

    def watch():
        try:
            with watcher.app_context():
                # The watcher starts once the slow dispatcher holds the batch (it would otherwise race it to the claim).
                while not done.is_set() and db.session.execute(select(func.count()).where(
                        Message.status == "sending")).scalar_one() < 5:
                    db.session.rollback()
                    time.sleep(0.02)
                while not done.is_set():
                    results.append(dispatch_due(worker_id="watcher"))
                    time.sleep(0.2)
                db.session.remove()
        except Exception as exc:  # surfaced below
            errors.append(exc)

    with slow_one.app_context():
        thread = threading.Thread(target=watch)
        thread.start()
        try:
            counts = dispatch_due(worker_id="slow")
        finally:
            done.set()
            thread.join(30)
        db.session.remove()

    assert errors == []
    assert counts["sent"] == 5 and sum(r["sent"] for r in results) == 0
    assert sorted(r.recipients[0] for r in smtp_server.received) == [f"r{n}@example.org" for n in range(5)]


def test_after_kill_9_in_the_middle_of_a_batch_another_dispatcher_sends_every_message_once(make_app, smtp_server, database_url):
    arrived, release = threading.Event(), threading.Event()

    async def stall(envelope):
        arrived.set()
        while not release.is_set():
            await asyncio.sleep(0.05)
        return "451 4.3.0 Not kept"  # the killed client never saw an answer; the server kept nothing

    app = make_app(**smtp_server.config())
    with app.app_context():
        planned = _queue(3)
        db.session.remove()
    smtp_server.handler.on_data = stall
    env = {**os.environ, "DATABASE_URL": database_url, "MAIL_SERVER": "127.0.0.1",
           "MAIL_PORT": str(smtp_server.port), "SCHEDULER_ENABLED": "false"}
    env.pop("APP_ENV", None)
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "dispatch-outbox"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert arrived.wait(60), "the dispatcher never reached the mail server"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        release.set()
        if process.poll() is None:
            process.kill()
            process.wait(10)
    smtp_server.handler.on_data = None

    with app.app_context():
        assert {m.status for m in make.messages(kind="test")} == {"sending"}
        assert dispatch_due(worker_id="survivor")["claimed"] == 0  # still within the dead one's lease
        after_the_lease = utcnow() + timedelta(seconds=app.config["MAIL_CLAIM_LEASE_SECONDS"] + 1)
        counts = dispatch_due(now=after_the_lease, worker_id="survivor")
        assert (counts["taken_over"], counts["sent"]) == (3, 3)
        db.session.remove()
    assert {r.recipients[0]: r.message["Message-ID"] for r in smtp_server.received} == planned
