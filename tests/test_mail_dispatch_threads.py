"""A dispatcher pass sends several batches side by side (MAIL_DISPATCH_THREADS, PostgreSQL): each message
still goes out once, a small pass stays in one thread, and an outage stops every thread without losing mail."""
from __future__ import annotations

import asyncio
import threading

import pytest

from scheduler.extensions import db
from scheduler.notifications.dispatcher import dispatch_due
from scheduler.notifications.outbox import enqueue

from . import factories as make


@pytest.fixture
def threaded(mail_app):
    if db.engine.dialect.name == "sqlite":
        pytest.skip("on SQLite a pass sends one batch at a time (one write lock)")
    mail_app.config.update(MAIL_DISPATCH_THREADS=3, MAIL_BATCH_SIZE=5)
    return mail_app


def _queue(count: int, prefix: str = "r") -> list[str]:
    event = make.event()
    for n in range(count):
        enqueue(event=event, kind="test", recipient=f"{prefix}{n}@example.org", language="pl", subject="Temat",
                body_text="Treść", body_html="", dedupe_key=f"test:threads:{prefix}:{n}")
    db.session.commit()
    return [f"{prefix}{n}@example.org" for n in range(count)]


class _InFlight:
    """How many messages the SMTP server holds at once (each is held a moment before it is accepted)."""

    def __init__(self, hold: float) -> None:
        self.hold, self.now, self.most = hold, 0, 0
        self.lock = threading.Lock()

    async def __call__(self, envelope):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        await asyncio.sleep(self.hold)
        with self.lock:
            self.now -= 1
        return None


def test_a_large_pass_sends_batches_side_by_side_and_every_message_once(threaded, smtp_server):
    recipients = _queue(40)
    in_flight = _InFlight(0.05)
    smtp_server.handler.on_data = in_flight

    counts = dispatch_due()

    assert counts["claimed"] == counts["sent"] == 40 and counts["batches"] == 8
    assert sorted(r.recipients[0] for r in smtp_server.received) == sorted(recipients)
    assert in_flight.most >= 2  # two batches were being sent at the same moment
    db.session.expire_all()
    assert {m.status for m in make.messages(kind="test")} == {"sent"}


def test_a_pass_with_less_than_a_batch_stays_in_one_thread(threaded, smtp_server):
    _queue(4)
    in_flight = _InFlight(0.05)
    smtp_server.handler.on_data = in_flight

    assert dispatch_due()["sent"] == 4
    assert in_flight.most == 1


def test_the_limit_holds_across_threads(threaded, smtp_server):
    _queue(40)

    counts = dispatch_due(limit=17)

    assert counts["claimed"] == counts["sent"] == 17 == len(smtp_server.received)
    db.session.expire_all()
    assert sorted(m.status for m in make.messages(kind="test")).count("queued") == 23


def test_an_outage_stops_every_thread_and_loses_nothing(threaded, smtp_server):
    recipients = _queue(40)
    seen = []

    async def fail_after_some(envelope):
        seen.append(envelope)
        if len(seen) == 12:
            smtp_server.handler.refuse_with = "421 4.3.2 Service shutting down"
        await asyncio.sleep(0.02)
        return None

    smtp_server.handler.on_data = fail_after_some

    counts = dispatch_due()

    db.session.expire_all()
    messages = make.messages(kind="test")
    sent = [m.recipient for m in messages if m.status == "sent"]
    waiting = [m for m in messages if m.status == "queued"]
    delivered = [r.recipients[0] for r in smtp_server.received]
    assert sorted(sent) == sorted(delivered)  # what the server accepted is marked sent, once
    assert len(delivered) == len(set(delivered))
    assert len(sent) + len(waiting) == len(recipients)  # the rest waits for the server, none lost or failed
    assert all(m.attempts == 0 for m in waiting) and counts["deferred"] > 0
    assert counts["sent"] == len(sent)
    # Given back (deferred) or never claimed: the threads stopped claiming once the server was away.
    assert counts["claimed"] < len(recipients)
    assert counts["deferred"] == sum(1 for m in waiting if m.deferrals == 1)


@pytest.fixture
def backlog_app(threaded):
    # One thread per process, so this process alone would take a while: the helper process, a second or two
    # to start, still finds batches due.
    threaded.config.update(MAIL_DISPATCH_PROCESSES=2, MAIL_PROCESS_BACKLOG=30, MAIL_DISPATCH_THREADS=1)
    return threaded


def test_a_large_backlog_is_shared_with_a_helper_process_and_every_message_goes_once(backlog_app, smtp_server):
    recipients = _queue(120)
    smtp_server.handler.on_data = _InFlight(0.06)  # 7 s for this process alone

    counts = dispatch_due()

    assert counts["helpers"] == 1  # a second process claimed batches of its own
    assert counts["claimed"] == counts["sent"] == 120
    delivered = [r.recipients[0] for r in smtp_server.received]
    assert sorted(delivered) == sorted(recipients)  # each once
    db.session.expire_all()
    assert {m.status for m in make.messages(kind="test")} == {"sent"}


def test_a_backlog_below_the_threshold_stays_in_this_process(backlog_app, smtp_server):
    _queue(20)

    counts = dispatch_due()

    assert counts["sent"] == 20 and counts["helpers"] == 0
