"""A mail-server outage heals by itself: messages wait without using up attempts, up to the retry horizon."""
from __future__ import annotations

from datetime import timedelta

from scheduler.database import utcnow
from scheduler.extensions import db
from scheduler.notifications.dispatcher import dispatch_due
from scheduler.notifications.outbox import enqueue
from scheduler.notifications.services import send_invitations

from . import factories as make


def _invited(count: int = 3):
    organiser = make.user()
    event = make.event(organiser)
    invitations = make.invitations(organiser, event, count)
    send_invitations(organiser, event)
    return organiser, event, invitations


def test_an_outage_of_hours_charges_no_attempt_and_everything_goes_out_once_the_server_is_back(mail_app, smtp_server):
    _invited(3)
    smtp_server.stop()
    moment = utcnow()

    # Every try for six hours (far past the old ~31 minutes that failed everything for good).
    tries = 0
    while moment < utcnow() + timedelta(hours=6):
        counts = dispatch_due(now=moment)
        assert counts["deferred"] == 3 and counts["failed"] == 0
        waiting = make.messages(kind="invitation")
        assert {(m.status, m.attempts) for m in waiting} == {("queued", 0)}
        assert all(m.due_at > moment for m in waiting)
        assert all("connect" in m.last_error.lower() for m in waiting)
        assert dispatch_due(now=moment)["claimed"] == 0  # back-off: not due again yet
        moment = max(m.due_at for m in waiting)
        tries += 1
    assert tries >= 8 and waiting[0].deferrals == tries

    smtp_server.start()
    assert dispatch_due(now=moment)["sent"] == 3
    assert {m.status for m in make.messages(kind="invitation")} == {"sent"}
    assert len(smtp_server.received) == 3 and len({r.message["Message-ID"] for r in smtp_server.received}) == 3
    assert dispatch_due(now=moment + timedelta(days=1))["claimed"] == 0


def test_past_the_retry_horizon_a_message_fails_and_says_why(mail_app, smtp_server):
    mail_app.config["MAIL_RETRY_HORIZON_HOURS"] = 48
    _invited(2)
    smtp_server.stop()
    planned = make.messages(kind="invitation")
    assert all(m.deliver_by == m.created_at + timedelta(hours=48) for m in planned)
    horizon = max(m.deliver_by for m in planned)

    dispatch_due(now=horizon - timedelta(seconds=30))
    assert all(m.due_at == m.deliver_by for m in make.messages(kind="invitation"))  # one last try at the horizon
    counts = dispatch_due(now=horizon)

    assert counts["failed"] == 2
    failed = make.messages(kind="invitation")
    assert {(m.status, m.attempts) for m in failed} == {("failed", 0)}
    assert all(m.last_error.startswith("Gave up: the mail server could not be reached") for m in failed)


def test_a_connection_dropped_in_the_middle_of_a_batch_puts_the_rest_back_without_an_attempt(mail_app, smtp_server):
    received = []

    async def close_after_the_first(envelope):
        received.append(envelope)
        return "421 4.3.2 Service shutting down" if len(received) >= 2 else None

    smtp_server.handler.on_data = close_after_the_first
    _invited(4)

    counts = dispatch_due()

    assert (counts["sent"], counts["deferred"], counts["failed"]) == (1, 3, 0)
    waiting = [m for m in make.messages(kind="invitation") if m.status != "sent"]
    assert {(m.status, m.attempts, m.deferrals) for m in waiting} == {("queued", 0, 1)}
    assert all("421" in m.last_error for m in waiting)
    smtp_server.handler.on_data = None
    assert dispatch_due(now=utcnow() + timedelta(minutes=5))["sent"] == 3
    assert len(smtp_server.received) == 4


def test_a_deadline_reminder_that_waited_out_an_outage_past_the_deadline_is_skipped_not_sent(mail_app, smtp_server):
    organiser = make.user()
    event = make.event(organiser)
    invitation, = make.invitations(organiser, event)
    enqueue(event=event, kind="reminder_before_deadline", recipient=invitation.email, language="pl",
            subject="Przypomnienie", body_text="Termin mija", body_html="", invitation=invitation,
            dedupe_key=f"reminder:{event.id}:before_deadline:P1D:invitation:{invitation.id}")
    db.session.commit()
    smtp_server.stop()
    assert dispatch_due()["deferred"] == 1

    make.close_declarations(event)  # the outage outlasted the deadline
    smtp_server.start()
    counts = dispatch_due(now=utcnow() + timedelta(hours=1))

    assert (counts["sent"], counts["skipped"]) == (0, 1)
    reminder, = make.messages(kind="reminder_before_deadline")
    assert reminder.status == "skipped" and reminder.last_error == "declaration deadline passed"
    assert smtp_server.received == []


def test_one_pass_drains_every_due_batch(mail_app, smtp_server):
    mail_app.config["MAIL_BATCH_SIZE"] = 2
    _invited(5)

    counts = dispatch_due()

    assert (counts["sent"], counts["batches"]) == (5, 3)
    assert len(smtp_server.received) == 5


def test_after_a_long_outage_mail_goes_out_within_the_outage_cap_not_the_hourly_back_off(mail_app, smtp_server):
    cap = timedelta(seconds=mail_app.config["MAIL_OUTAGE_RETRY_MAX_SECONDS"])
    assert cap < timedelta(seconds=mail_app.config["MAIL_RETRY_MAX_SECONDS"])
    _invited(2)
    smtp_server.stop()
    moment = utcnow()
    back_at = moment + timedelta(minutes=40)
    while moment < back_at:  # the clock ticks through a 40-minute outage
        dispatch_due(now=moment)
        moment += timedelta(seconds=30)
    waiting = make.messages(kind="invitation")
    assert all(m.status == "queued" and m.attempts == 0 for m in waiting)
    # However many times it was deferred, no message waits longer than the cap after the server returns.
    assert all(m.due_at <= back_at + cap for m in waiting)

    smtp_server.start()
    assert dispatch_due(now=back_at + cap)["sent"] == 2
