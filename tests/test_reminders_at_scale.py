"""Reminders at scale (issue 9): due work is found with one indexed query and planned in set-based SQL.

An idle tick issues the same few statements however many meetings and
invitees exist; a due reminder is planned in a fixed number of statements
whatever the number of its recipients, and each recipient gets it once.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from scheduler.clock import tick
from scheduler.events.models import Event
from scheduler.events.services import update_event
from scheduler.extensions import db
from scheduler.invitations.models import Invitation
from scheduler.notifications.dispatcher import dispatch_due
from scheduler.notifications.models import Message
from scheduler.notifications.reminder_planner import plan_due_reminders, reminder_overview

from . import factories as make
from .helpers import sql_statements


def _meeting(organiser, invitees: int, **overrides):
    event = make.event(organiser, invite_only=True, contact_email="organizator@example.org", **overrides)
    for start in range(0, invitees, 100):
        make.invitations(organiser, event, count=min(100, invitees - start))
    return event


def _reminders(kind: str = "reminder_before_deadline") -> list[Message]:
    return list(db.session.execute(select(Message).where(Message.kind == kind).order_by(Message.id)).scalars())


def _idle_tick_statements(app, now) -> list[str]:
    with sql_statements() as statements:
        result = tick(app, now=now)
    assert result["reminders"] == {"queued": 0, "missed": 0}
    assert result["outbox"]["claimed"] == 0
    return statements


def test_an_idle_tick_costs_a_few_statements_however_many_invitees(mail_app, smtp_server):
    organiser = make.user()
    first = _meeting(organiser, 1)
    before_any = first.declaration_deadline - timedelta(days=3) - timedelta(minutes=5)
    dispatch_due()
    small = _idle_tick_statements(mail_app, before_any)

    for _ in range(5):
        _meeting(organiser, 200)
    large = _idle_tick_statements(mail_app, before_any)

    assert len(large) == len(small) <= 3, large
    assert not any("invitations" in statement or "registrations" in statement for statement in large)


def test_after_a_moment_is_planned_the_next_ticks_are_idle_again(mail_app, smtp_server):
    organiser = make.user()
    event = _meeting(organiser, 50)
    moment = event.declaration_deadline - timedelta(days=3) + timedelta(seconds=30)
    assert plan_due_reminders(now=moment)["queued"] == 50

    with sql_statements() as statements:
        assert plan_due_reminders(now=moment + timedelta(minutes=1)) == {"queued": 0, "missed": 0}
    assert len(statements) == 1, statements
    db.session.expire_all()
    assert db.session.get(Event, event.id).reminders_due_at == event.declaration_deadline - timedelta(days=1)


def test_a_due_reminder_for_300_invitees_is_planned_in_a_fixed_number_of_statements_and_sent_once(
        make_app, smtp_server):
    first = make_app(**smtp_server.config())
    with first.app_context():
        organiser = make.user()
        event = _meeting(organiser, 300)
        emails = sorted(db.session.execute(select(Invitation.email).where(Invitation.event_id == event.id)).scalars())
        moment = event.declaration_deadline - timedelta(days=3) + timedelta(minutes=1)
        with sql_statements() as statements:
            counts = plan_due_reminders(now=moment)
        assert counts == {"queued": 300, "missed": 0}
        # the due meetings, the meeting's lock, one INSERT … SELECT, moving reminders_due_at
        assert len(statements) <= 5, statements
        assert sum("INSERT INTO messages" in s for s in statements) == 1
    second = make_app(**smtp_server.config())
    with second.app_context():
        # A second planner (another instance, or a restart) finds nothing left to do …
        assert plan_due_reminders(now=moment) == {"queued": 0, "missed": 0}
        # … and neither would it if it were asked to look at the meeting again: the dedupe key holds.
        db.session.execute(Event.__table__.update().values(reminders_due_at=moment - timedelta(days=30)))
        db.session.commit()
        assert plan_due_reminders(now=moment)["queued"] == 0
        dispatch_due(now=moment)
        dispatch_due(now=moment)
        rows = _reminders()
    assert len(rows) == 300 and len({r.dedupe_key for r in rows}) == 300
    assert len({r.message_id for r in rows}) == 300
    assert all(r.message_id.startswith("<reminder.") and r.message_id.endswith("@liderzy-kooperacji.local>")
               and r.message_id.count("@") == 1 and ":" not in r.message_id for r in rows)
    delivered = [m["To"] for m in smtp_server.messages]
    assert sorted(delivered) == emails


def test_moving_the_deadline_earlier_after_a_reminder_went_plans_the_one_now_due(mail_app, smtp_server):
    organiser = make.user()
    event = _meeting(organiser, 3)
    moment = event.declaration_deadline - timedelta(days=3) + timedelta(minutes=1)
    assert plan_due_reminders(now=moment)["queued"] == 3

    # The deadline moves so that the one-day reminder's moment is a minute ago (within its grace).
    update_event(organiser, event, {"declaration_deadline": moment + timedelta(days=1) - timedelta(minutes=2)})
    counts = plan_due_reminders(now=moment + timedelta(minutes=1))

    assert counts == {"queued": 3, "missed": 0}  # the 3-day one is not sent again
    assert len(_reminders()) == 6
    assert {r.dedupe_key.split(":")[3] for r in _reminders()} == {"P3D", "P1D"}


def test_moving_the_deadline_later_before_the_moment_waits_for_the_new_one(mail_app, smtp_server):
    organiser = make.user()
    event = _meeting(organiser, 200)
    old_moment = event.declaration_deadline - timedelta(days=3) + timedelta(minutes=1)
    update_event(organiser, event, {"declaration_deadline": event.declaration_deadline + timedelta(days=2)})

    with sql_statements() as statements:
        assert plan_due_reminders(now=old_moment) == {"queued": 0, "missed": 0}
    assert len(statements) == 1
    assert plan_due_reminders(now=old_moment + timedelta(days=2))["queued"] == 200


def test_a_moment_past_its_grace_is_recorded_once_and_never_sent(mail_app, smtp_server):
    organiser = make.user()
    event = _meeting(organiser, 200)
    grace = mail_app.config["REMINDER_GRACE"]
    late = event.declaration_deadline - timedelta(days=3) + grace + timedelta(minutes=1)

    assert plan_due_reminders(now=late) == {"queued": 0, "missed": 1}
    assert plan_due_reminders(now=late + timedelta(minutes=1)) == {"queued": 0, "missed": 0}
    dispatch_due(now=late)

    assert smtp_server.messages == []
    [marker] = _reminders()
    assert marker.status == "skipped" and marker.recipient == "" and "moment passed" in marker.last_error
    states = {row["planned"].key: row["state"] for row in reminder_overview(event, now=late)}
    assert states["before_deadline:P3D"] == "missed" and states["before_deadline:P1D"] == "planned"
    # Looking at the meeting again (any change of its moments) records nothing twice.
    update_event(organiser, event, {"reminders": {"before_deadline": ["P3D", "P1D"], "before_meeting": ["P2D"]}})
    assert plan_due_reminders(now=late + timedelta(minutes=2))["missed"] == 0
    assert db.session.execute(select(func.count(Message.id))).scalar_one() == 1


def test_meeting_reminders_freeze_the_seats_and_carry_the_invite(mail_app, smtp_server):
    from scheduler.registration.services import declare

    organiser = make.user()
    event = make.event(organiser, invite_only=False, capacity=50)
    for seats in (1, 3):
        declare(event.id, make.declaration(seats=seats))
    dispatch_due()
    smtp_server.handler.received.clear()

    moment = event.starts_at - timedelta(days=1) + timedelta(minutes=1)
    plan_due_reminders(now=moment)
    rows = _reminders("reminder_before_meeting")
    assert sorted(r.payload["facts"]["seats"] for r in rows) == [1, 3]
    assert all(r.payload["facts"]["status"] == "confirmed" and r.ics_method == "REQUEST" for r in rows)
    dispatch_due(now=moment)
    to_declarants = [m for m in smtp_server.messages if m["To"] != event.contact_email]
    assert len(to_declarants) == 2
    assert all(any(p.get_content_type() == "text/calendar" for p in m.walk()) for m in to_declarants)
