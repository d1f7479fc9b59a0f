"""The dispatcher asks the database a few things per batch, not per message (issue 9: delivery speed).

A batch's meetings, invitations and declarations are read once when it is
claimed; the pre-send checks and rendering use them; the heartbeat renews the
lease by time, not before every message; accepted messages are marked sent
in groups. The numbers fail the test if per-message statements creep back.
"""
from __future__ import annotations

from scheduler.events.reminder_settings import schedule
from scheduler.extensions import db
from scheduler.notifications.dispatcher import dispatch_due
from scheduler.notifications.reminder_planner import send_now
from scheduler.notifications.services import send_invitations

from . import factories as make
from .helpers import sql_statements


def test_a_batch_of_invitations_is_claimed_rendered_and_marked_sent_in_a_handful_of_statements(mail_app, smtp_server):
    mail_app.config.update(MAIL_BATCH_SIZE=20, MAIL_SENT_GROUP_SIZE=10, MAIL_SENT_GROUP_SECONDS=60)
    organiser = make.user()
    event = make.event(organiser)
    make.invitations(organiser, event, count=20)
    send_invitations(organiser, event)
    db.session.commit()

    with sql_statements() as statements:
        counts = dispatch_due()

    assert counts["sent"] == 20 and len(smtp_server.received) == 20
    # claim (select, context, update) + two groups of marks (messages, invitations) + the empty next claim;
    # the old dispatcher ran about six statements per message (120 here).
    assert len(statements) <= 16, "\n".join(statements)
    assert {m.status for m in make.messages(kind="invitation")} == {"sent"}
    assert all(m.body_text and m.ics for m in make.messages(kind="invitation"))  # the copy the mail log shows


def test_reminders_checked_before_sending_are_checked_for_the_whole_batch_at_once(mail_app, smtp_server):
    # Marks in groups (not the default of one) so that what is counted is the per-batch work, not the marks.
    mail_app.config.update(MAIL_BATCH_SIZE=20, MAIL_SENT_GROUP_SIZE=10, MAIL_SENT_GROUP_SECONDS=60)
    organiser = make.user()
    event = make.event(organiser)
    make.invitations(organiser, event, count=12)
    db.session.commit()
    key = next(p.key for p in schedule(event) if p.kind == "before_deadline")
    assert send_now(organiser, event, key) == 12

    with sql_statements() as statements:
        counts = dispatch_due()

    assert counts["sent"] == 12
    assert len(statements) <= 16, "\n".join(statements)

