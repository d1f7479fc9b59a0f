"""Reminders go by themselves, to the right people, exactly once."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from scheduler.clock import start_clock, stop_clock, tick
from scheduler.database import utcnow
from scheduler.events.services import update_event
from scheduler.extensions import db
from scheduler.notifications.dispatcher import dispatch_due
from scheduler.notifications.models import Message
from scheduler.notifications.reminder_planner import plan_due_reminders, reminder_overview, send_now, set_skipped
from scheduler.registration.services import declare, decline_invitation, withdraw

from . import factories as make
from .helpers import confirm, ticked


def _meeting(organiser=None, **overrides):
    organiser = organiser or make.user()
    overrides.setdefault("invite_only", True)
    event = make.event(organiser, contact_email="organizator@example.org", **overrides)
    return organiser, event


def _recipients(smtp_server, subject_part: str) -> list[str]:
    return sorted(m["To"] for m in smtp_server.messages if subject_part in m["Subject"])


def _deliver_and_forget(smtp_server):
    """Send what the set-up queued (confirmations, copies), so a test sees only the reminders."""
    dispatch_due()
    smtp_server.handler.received.clear()


def _run(now):
    plan_due_reminders(now=now)
    dispatch_due(now=now)


def test_deadline_reminders_go_only_to_invitees_who_have_not_answered(mail_app, smtp_server):
    organiser, event = _meeting()
    declared, declined, silent = make.invitations(organiser, event, count=3)
    declare(event.id, make.declaration(), invitation_token=declared.token)
    decline_invitation(declined.token)
    _deliver_and_forget(smtp_server)

    _run(event.declaration_deadline - timedelta(days=3) + timedelta(minutes=1))

    reminders = [m for m in smtp_server.messages if m["To"] == silent.email]
    assert len(reminders) == 1
    assert {m["To"] for m in smtp_server.messages} == {silent.email}
    body = reminders[0].get_body(("plain",)).get_content()
    assert f"/i/{silent.token}" in body


def test_a_reminder_is_sent_once_however_often_the_clock_ticks(mail_app, smtp_server):
    organiser, event = _meeting()
    [invitation] = make.invitations(organiser, event)
    moment = event.declaration_deadline - timedelta(days=1) + timedelta(seconds=5)
    for minutes in range(5):
        _run(moment + timedelta(minutes=minutes))
    # The 3-day reminder is past its grace by now; only the 1-day one goes.
    assert [m["To"] for m in smtp_server.messages] == [invitation.email]


def test_nothing_goes_before_its_moment(mail_app, smtp_server):
    organiser, event = _meeting()
    make.invitations(organiser, event)
    _run(event.declaration_deadline - timedelta(days=3) - timedelta(minutes=1))
    assert smtp_server.messages == []


def test_meeting_reminder_goes_to_confirmed_participants_with_the_invite_again(mail_app, smtp_server):
    organiser, event = _meeting(capacity=1, invite_only=False)
    confirmed = declare(event.id, make.declaration())
    waiting = declare(event.id, make.declaration())
    _deliver_and_forget(smtp_server)

    _run(event.starts_at - timedelta(days=1) + timedelta(minutes=1))

    [message] = [m for m in smtp_server.messages if m["To"] != "organizator@example.org"]
    assert message["To"] == confirmed.email
    assert waiting.email not in {m["To"] for m in smtp_server.messages}
    calendar_parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert calendar_parts and calendar_parts[0].get_param("method") == "REQUEST"


def test_the_organiser_gets_a_summary_at_the_deadline(mail_app, smtp_server):
    organiser, event = _meeting()
    answered, silent = make.invitations(organiser, event, count=2)
    declare(event.id, make.declaration(seats=2), invitation_token=answered.token)
    _deliver_and_forget(smtp_server)

    _run(event.declaration_deadline + timedelta(seconds=30))

    [summary] = [m for m in smtp_server.messages if m["To"] == "organizator@example.org"]
    text = summary.get_body(("plain",)).get_content()
    assert silent.institution in text and answered.institution not in text.split(silent.institution)[0].split(":")[-1]


def test_moving_the_deadline_reschedules_its_reminders(mail_app, smtp_server):
    organiser, event = _meeting()
    [invitation] = make.invitations(organiser, event)
    old_moment = event.declaration_deadline - timedelta(days=3) + timedelta(minutes=1)
    update_event(organiser, event, {"declaration_deadline": event.declaration_deadline + timedelta(days=2)})

    _run(old_moment)
    assert smtp_server.messages == []

    _run(event.declaration_deadline - timedelta(days=3) + timedelta(minutes=1))
    assert [m["To"] for m in smtp_server.messages] == [invitation.email]


def test_declaring_after_a_reminder_was_queued_stops_it(mail_app, smtp_server):
    organiser, event = _meeting()
    [invitation] = make.invitations(organiser, event)
    moment = event.declaration_deadline - timedelta(days=3) + timedelta(minutes=1)
    plan_due_reminders(now=moment)
    declare(event.id, make.declaration(), invitation_token=invitation.token)
    _deliver_and_forget(smtp_server)

    dispatch_due(now=moment)

    assert not [m for m in smtp_server.messages if "Reminder" in m["Subject"] or "Przypomnienie" in m["Subject"]]
    reminder = db.session.execute(select(Message).where(Message.kind == "reminder_before_deadline")).scalar_one()
    assert reminder.status == "skipped" and "declared" in reminder.last_error


def test_withdrawing_stops_the_meeting_reminder(mail_app, smtp_server):
    organiser, event = _meeting(invite_only=False)
    registration = declare(event.id, make.declaration())
    withdraw(registration.manage_token)
    _deliver_and_forget(smtp_server)

    _run(event.starts_at - timedelta(hours=23))

    assert registration.email not in {m["To"] for m in smtp_server.messages}


def test_after_downtime_a_reminder_past_its_grace_is_skipped_and_logged_not_sent_late(mail_app, smtp_server):
    organiser, event = _meeting()
    make.invitations(organiser, event)
    grace = mail_app.config["REMINDER_GRACE"]
    late = event.declaration_deadline - timedelta(days=3) + grace + timedelta(minutes=1)

    _run(late)

    assert smtp_server.messages == []
    rows = {row["planned"].key: row["state"] for row in reminder_overview(event, now=late)}
    assert rows["before_deadline:P3D"] == "missed"
    assert rows["before_deadline:P1D"] == "planned"


def test_a_restart_between_planning_and_sending_neither_loses_nor_duplicates(make_app, smtp_server):
    first = make_app(**smtp_server.config())
    with first.app_context():
        organiser, event = _meeting()
        emails = sorted(i.email for i in make.invitations(organiser, event, count=3))
        moment = event.declaration_deadline - timedelta(days=3) + timedelta(minutes=1)
        plan_due_reminders(now=moment)
        event_id = event.id
    second = make_app(**smtp_server.config())
    with second.app_context():
        plan_due_reminders(now=moment)  # the restarted instance plans again
        dispatch_due(now=moment)
        dispatch_due(now=moment)
        keys = db.session.execute(select(Message.dedupe_key).where(
            Message.event_id == event_id, Message.kind == "reminder_before_deadline")).scalars().all()
    assert sorted(m["To"] for m in smtp_server.messages) == emails
    assert len(keys) == 3


def test_two_clocks_racing_deliver_each_reminder_once(make_app, smtp_server, backend):
    setup = make_app(**smtp_server.config())
    with setup.app_context():
        organiser, event = _meeting()
        emails = sorted(i.email for i in make.invitations(organiser, event, count=12))
        moment = event.declaration_deadline - timedelta(days=3) + timedelta(minutes=1)
    instances = [make_app(**smtp_server.config(), MAIL_BATCH_SIZE=3) for _ in range(2)]
    start = threading.Barrier(len(instances))
    errors = []

    def run(app):
        try:
            start.wait()
            for _ in range(8):
                tick(app, now=moment)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(app,)) for app in instances]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    delivered = sorted(m["To"] for m in smtp_server.messages if m["To"] != "organizator@example.org")
    assert delivered == emails


def test_the_organiser_sees_planned_reminders_and_can_skip_or_send_now(mail_app, smtp_server):
    organiser, event = _meeting()
    [invitation] = make.invitations(organiser, event)
    rows = reminder_overview(event)
    assert [row["planned"].key for row in rows] == [
        "before_deadline:P3D", "before_deadline:P1D", "deadline_summary:PT0S", "before_meeting:P1D"]
    assert all(row["state"] == "planned" for row in rows)

    set_skipped(organiser, event, "before_deadline:P3D", True)
    _run(event.declaration_deadline - timedelta(days=3) + timedelta(minutes=1))
    assert smtp_server.messages == []

    assert send_now(organiser, event, "before_deadline:P1D") == 1
    dispatch_due()
    assert [m["To"] for m in smtp_server.messages] == [invitation.email]
    assert send_now(organiser, event, "before_deadline:P1D") == 0


def test_reminder_offsets_are_iso_8601_durations(app):
    organiser, event = _meeting()
    update_event(organiser, event, {"reminders": {"before_deadline": ["PT2H", "p2d"], "before_meeting": []}})
    assert event.reminders == {"before_deadline": ["P2D", "PT2H"], "before_meeting": []}
    from scheduler.errors import ValidationFailed

    for wrong in (["3 days"], ["P0D"], ["-P1D"], ["P400D"], "P1D", [1]):
        with pytest.raises(ValidationFailed) as failure:
            update_event(organiser, event, {"reminders": {"before_deadline": wrong}})
        assert "reminders.before_deadline" in failure.value.fields or "reminders" in failure.value.fields


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_with_the_real_clock_two_reminders_arrive_within_a_tick_of_their_moment(make_app, smtp_server):
    tick_seconds = 2
    app = make_app(**smtp_server.config(), SCHEDULER_ENABLED=True, SCHEDULER_TICK_SECONDS=tick_seconds)
    with app.app_context():
        organiser = make.user()
        deadline = utcnow() + timedelta(minutes=2, seconds=4)
        event = make.event(organiser, invite_only=True, declaration_deadline=deadline,
                           reminders={"before_deadline": ["PT2M", "PT1M"], "before_meeting": []})
        [invitation] = make.invitations(organiser, event)
    arrivals = {}
    start_clock(app)
    try:
        stop_at = time.monotonic() + 150
        while len(arrivals) < 2 and time.monotonic() < stop_at:
            for message in smtp_server.messages:
                arrivals.setdefault(message["Message-ID"], utcnow())
            time.sleep(0.5)
    finally:
        stop_clock()
    assert len(arrivals) == 2
    moments = sorted(arrivals.values())
    for arrived, due in zip(moments, [deadline - timedelta(minutes=2), deadline - timedelta(minutes=1)]):
        assert timedelta(0) <= arrived - due <= timedelta(seconds=tick_seconds + 3)


def test_the_reminders_page_lists_them_and_its_buttons_work(mail_app, smtp_server):
    organiser, event = _meeting()
    [invitation] = make.invitations(organiser, event)
    client = mail_app.test_client()
    make.login(client, organiser)

    page = client.get(f"/organiser/events/{event.id}/reminders")
    assert page.status_code == 200
    assert "P3D" in page.text and "P1D" in page.text

    client.post(f"/organiser/events/{event.id}/reminders/before_deadline:P3D/skip", data={"skip": "1"})
    assert "before_deadline:P3D" in event.skipped_reminders
    confirm(client, f"/organiser/events/{event.id}/reminders/before_deadline:P1D/send")
    dispatch_due()
    assert [m["To"] for m in smtp_server.messages] == [invitation.email]
    assert client.post(f"/organiser/events/{event.id}/reminders/nonsense/send").status_code == 404


def test_another_organisation_cannot_see_or_touch_the_reminders(mail_app):
    organiser, event = _meeting()
    stranger = make.user(make.organisation("Regionalny Ośrodek Polityki Społecznej w Lublinie", "ROPS Lublin"))
    client = mail_app.test_client()
    make.login(client, stranger)
    assert client.get(f"/organiser/events/{event.id}/reminders").status_code == 403
    assert client.post(f"/organiser/events/{event.id}/reminders/before_deadline:P3D/skip").status_code == 403
    assert client.post(f"/organiser/events/{event.id}/reminders/before_deadline:P3D/send").status_code == 403
    assert event.skipped_reminders == []


def test_the_meeting_form_sets_the_reminder_offsets_and_explains_a_wrong_one(app):
    from .test_web_organiser import meeting_form

    organiser, event = _meeting()
    client = app.test_client()
    make.login(client, organiser)
    page = client.get(f"/organiser/events/{event.id}/edit")
    assert ticked(page.text, "reminders_before_deadline") == ["P3D", "P1D"]

    wrong = client.post(f"/organiser/events/{event.id}/edit",
                        data=meeting_form(reminders_before_deadline="3 days", reminders_before_meeting="P1D"))
    assert wrong.status_code == 422
    assert "ISO 8601" in wrong.text
    assert event.reminders["before_deadline"] == ["P3D", "P1D"]

    client.post(f"/organiser/events/{event.id}/edit",
                data=meeting_form(reminders_before_deadline="P5D, PT2H", reminders_before_meeting=""))
    db.session.refresh(event)
    assert event.reminders == {"before_deadline": ["P5D", "PT2H"], "before_meeting": []}


def test_the_clock_runs_the_tick_and_the_retention_pass(make_app):
    app = make_app(SCHEDULER_ENABLED=True, SCHEDULER_TICK_SECONDS=3600)
    scheduler = start_clock(app)
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {"tick", "retention"}
        assert jobs["tick"].trigger.interval == timedelta(seconds=3600)
        assert jobs["tick"].misfire_grace_time is None and jobs["tick"].coalesce
        assert start_clock(app) is scheduler  # once per process
    finally:
        stop_clock()


def test_other_flask_commands_do_not_start_the_clock(runner):
    result = runner.invoke(args=["tick"])
    assert result.exit_code == 0, result.output
    from scheduler import clock

    assert clock._started == {}
