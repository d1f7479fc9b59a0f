"""The outbox and its dispatcher: every e-mail is queued with its cause and delivered exactly once over real SMTP."""
from __future__ import annotations

import re
import threading
from datetime import timedelta
from email.utils import parseaddr

import pytest
from sqlalchemy import select

from scheduler import create_app
from scheduler.database import utcnow
from scheduler.extensions import db, mail
from scheduler.invitations.models import Invitation
from scheduler.notifications.dispatcher import dispatch_due
from scheduler.notifications.models import Message
from scheduler.notifications.outbox import enqueue
from scheduler.notifications.services import invitation_progress, send_invitations

from . import factories as make
from .smtp import SmtpServer, free_port


def _queue(event, key: str, recipient: str = "someone@example.org") -> Message | None:
    return enqueue(event=event, kind="test", recipient=recipient, language="pl", subject="Temat",
                   body_text="Treść", body_html="<p>Treść</p>", dedupe_key=key)


def _invited(count: int = 3):
    organiser = make.user()
    event = make.event(organiser)
    invitations = make.invitations(organiser, event, count)
    return organiser, event, invitations


# --- the outbox --------------------------------------------------------------------

def test_a_second_message_with_the_same_dedupe_key_is_not_stored_and_the_callers_transaction_goes_on(app):
    event = make.event()
    first = _queue(event, "test:1")
    assert _queue(event, "test:1") is None
    event.title = "Changed in the same transaction"
    db.session.commit()
    assert [m.id for m in make.messages(dedupe_key="test:1")] == [first.id]
    assert db.session.get(type(event), event.id).title == "Changed in the same transaction"


def test_messages_are_written_in_the_callers_transaction_and_vanish_with_its_rollback(app):
    event = make.event()
    _queue(event, "test:rolled-back")
    db.session.rollback()
    assert make.messages(dedupe_key="test:rolled-back") == []


def test_without_a_mail_server_messages_stay_in_the_outbox_marked_not_delivered(app):
    organiser, event, _ = _invited(2)
    send_invitations(organiser, event)
    counts = dispatch_due()
    assert counts["undeliverable"] == 2 and counts["sent"] == 0
    messages = make.messages(kind="invitation")
    assert {m.status for m in messages} == {"undeliverable"}
    assert all("MAIL_SERVER" in m.last_error for m in messages)
    assert all(i.sent_at is None for i in db.session.execute(select(Invitation)).scalars())
    assert invitation_progress(event).undeliverable == 2


# --- delivery over SMTP ------------------------------------------------------------

def test_sending_invitations_delivers_one_correct_email_per_invitee_with_a_working_link(mail_app, smtp_server, client):  # noqa: F811
    organiser, event, invitations = _invited(3)
    progress = send_invitations(organiser, event)
    assert (progress.queued_now, progress.queued) == (3, 3)

    counts = dispatch_due()

    assert counts["sent"] == 3
    received = smtp_server.received
    assert sorted(r.recipients[0] for r in received) == sorted(i.email for i in invitations)
    for item in received:
        message = item.message
        invitation = next(i for i in invitations if i.email == item.recipients[0])
        # multipart/mixed[multipart/alternative[text/plain, text/html, text/calendar], application/ics]
        assert message.get_content_type() == "multipart/mixed"
        alternative, attachment = message.get_payload()
        assert alternative.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in alternative.get_payload()] == ["text/plain", "text/html", "text/calendar"]
        calendar_part = alternative.get_payload()[2]
        assert calendar_part.get_param("method") == "REQUEST"
        assert calendar_part.get_content_charset() == "utf-8"
        assert attachment.get_content_type() == "application/ics"
        assert attachment.get_filename() == "invite.ics"
        ics = calendar_part.get_content()
        assert attachment.get_content().decode("utf-8") == ics
        calendar = make.check_ics(ics)
        assert str(calendar["METHOD"]) == "REQUEST"
        vevent = calendar.walk("VEVENT")[0]
        assert str(vevent["UID"]) == event.ical_uid
        assert str(vevent["ATTENDEE"]) == f"mailto:{invitation.email}"
        assert vevent["ATTENDEE"].params["PARTSTAT"] == "NEEDS-ACTION"
        assert str(vevent["ORGANIZER"]) == "mailto:biuro@example.org"
        assert calendar.walk("VALARM")
        assert parseaddr(message["Message-ID"])[1].endswith("@liderzy-kooperacji.local")
        assert message["Reply-To"] == "biuro@example.org"

        text = alternative.get_payload()[0].get_content()
        html = alternative.get_payload()[1].get_content()
        link = re.search(r"http://localhost(/i/[\w-]+)", text).group(1)
        assert link == f"/i/{invitation.token}" and link in html and link in ics.replace("\r\n ", "")
        assert "PF.0702.10.2019.LK" in text and "Biuro projektu" in text and "(17) 8507928" in text
        assert "Europejskiego Funduszu Społecznego" in text and "Europejskiego Funduszu Społecznego" in html
        page = client.get(link)
        assert page.status_code == 200 and event.title in page.get_data(as_text=True)

    stored = make.messages(kind="invitation")
    assert {m.status for m in stored} == {"sent"}
    assert {m.message_id for m in stored} == {r.message["Message-ID"] for r in received}
    assert all(i.sent_at is not None for i in db.session.execute(select(Invitation)).scalars())
    assert invitation_progress(event).sent == 3


def test_a_batch_uses_one_smtp_connection(mail_app, smtp_server):  # noqa: F811
    connections = []
    original = smtp_server.handler.__class__

    class Counting(original):
        async def handle_EHLO(self, server, session, envelope, hostname, responses):
            connections.append(hostname)
            session.host_name = hostname
            return responses

    smtp_server.stop()
    smtp_server.handler.__class__ = Counting
    smtp_server.start()
    organiser, event, _ = _invited(4)
    send_invitations(organiser, event)
    assert dispatch_due()["sent"] == 4
    assert len(connections) == 1


def test_a_sent_message_is_never_sent_again(mail_app, smtp_server):  # noqa: F811
    organiser, event, _ = _invited(2)
    send_invitations(organiser, event)
    dispatch_due()
    send_invitations(organiser, event)  # a repeated click
    assert dispatch_due(now=utcnow() + timedelta(days=1))["claimed"] == 0
    assert len(smtp_server.received) == 2


def test_smtp_down_then_up_after_a_restart_delivers_each_message_exactly_once(app, database_url):
    port = free_port()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_TIMEOUT_SECONDS=2)
    mail.init_app(app)
    organiser, event, _ = _invited(3)
    send_invitations(organiser, event)
    started = utcnow()

    counts = dispatch_due(now=started)  # nothing listens on the port

    assert counts["deferred"] == 3
    waiting = make.messages(kind="invitation")
    # The server being away is not the messages' fault: no attempt is charged.
    assert {(m.status, m.attempts, m.deferrals) for m in waiting} == {("queued", 0, 1)}
    assert all("connect" in m.last_error.lower() for m in waiting)
    assert all(m.due_at > started for m in waiting)
    assert dispatch_due(now=started)["claimed"] == 0  # back-off: not due yet
    db.session.remove()

    # A new app instance (a restart), and the mail server is back.
    server = SmtpServer(port).start()
    restarted = create_app({"SQLALCHEMY_DATABASE_URI": database_url, **server.config()})
    try:
        with restarted.app_context():
            later = started + timedelta(hours=2)
            assert dispatch_due(now=later)["sent"] == 3
            assert dispatch_due(now=later + timedelta(days=1))["claimed"] == 0
            assert {m.status for m in make.messages(kind="invitation")} == {"sent"}
            db.session.remove()
            db.engine.dispose()
    finally:
        server.stop()
    assert len(server.received) == 3
    assert len({r.message["Message-ID"] for r in server.received}) == 3


def test_a_refusing_server_means_back_off_then_failed_after_the_last_attempt(mail_app, smtp_server):  # noqa: F811
    mail_app.config["MAIL_MAX_ATTEMPTS"] = 3
    event = make.event()
    _queue(event, "test:refused")
    db.session.commit()
    smtp_server.handler.refuse_with = "451 4.3.0 Try again later"
    moment = utcnow()
    delays = []
    for _ in range(3):
        dispatch_due(now=moment)
        message = make.messages(dedupe_key="test:refused")[0]
        delays.append(message.due_at - moment)
        moment = message.due_at
    assert message.status == "failed" and message.attempts == 3
    assert "451" in message.last_error
    assert delays[1] == 2 * delays[0]  # exponential back-off (the last one stays where it failed)
    assert dispatch_due(now=moment + timedelta(days=30))["claimed"] == 0
    assert smtp_server.received == []


def test_an_expired_claim_is_taken_over_and_a_live_one_is_left_alone(mail_app, smtp_server):  # noqa: F811
    event = make.event()
    now = utcnow()
    _queue(event, "test:stale")
    _queue(event, "test:live")
    stale, live = make.messages(dedupe_key="test:stale")[0], make.messages(dedupe_key="test:live")[0]
    stale.status = live.status = "sending"
    stale.claimed_by = live.claimed_by = "crashed-worker"
    stale.claimed_at = now - timedelta(hours=1)
    live.claimed_at = now
    db.session.commit()

    counts = dispatch_due(now=now)

    assert counts["sent"] == 1
    assert [r.recipients for r in smtp_server.received] == [["someone@example.org"]]
    assert make.messages(dedupe_key="test:stale")[0].status == "sent"
    assert make.messages(dedupe_key="test:live")[0].status == "sending"


def test_two_dispatchers_at_once_send_every_message_exactly_once(mail_app, smtp_server, database_url):  # noqa: F811
    event = make.event()
    for n in range(12):
        _queue(event, f"test:parallel:{n}", recipient=f"r{n}@example.org")
    db.session.commit()
    results, errors = [], []
    # Built here, not in the threads: CPython 3.11's ast module is not thread-safe (gh-106905), and
    # building an app compiles its URL rules with it.
    instances = [create_app({"SQLALCHEMY_DATABASE_URI": database_url, **smtp_server.config()}) for _ in range(2)]

    def worker(name: str, instance):
        try:
            with instance.app_context():
                while True:
                    counts = dispatch_due(limit=3, worker_id=name)
                    results.append(counts)
                    if counts["claimed"] == 0:
                        break
                db.session.remove()
                db.engine.dispose()
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"worker-{i}", instance)) for i, instance in enumerate(instances)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(r.recipients[0] for r in smtp_server.received) == sorted(f"r{n}@example.org" for n in range(12))
    assert sum(c["sent"] for c in results) == 12


def test_a_revoked_invitation_still_in_the_outbox_is_skipped(mail_app, smtp_server):  # noqa: F811
    from scheduler.invitations.services import revoke_invitation

    organiser, event, invitations = _invited(2)
    send_invitations(organiser, event)
    revoke_invitation(organiser, invitations[0])
    counts = dispatch_due()
    assert (counts["sent"], counts["skipped"]) == (1, 1)
    assert [r.recipients[0] for r in smtp_server.received] == [invitations[1].email]


def test_the_dispatch_command_runs_one_pass(mail_app, smtp_server, runner):  # noqa: F811
    organiser, event, _ = _invited(2)
    send_invitations(organiser, event)
    result = runner.invoke(args=["dispatch-outbox"])
    assert result.exit_code == 0, result.output
    assert "sent=2" in result.output
    assert len(smtp_server.received) == 2


# --- sending invitations and the mail log, on the web and in the API -------------

def test_send_invitations_only_to_the_unsent_and_again_to_all(mail_app, smtp_server):  # noqa: F811
    organiser, event, invitations = _invited(2)
    send_invitations(organiser, event)
    dispatch_due()
    newcomer = make.invitations(organiser, event, 1)[0]

    assert send_invitations(organiser, event, only_unsent=True).queued_now == 1
    dispatch_due()
    assert [r.recipients[0] for r in smtp_server.received][-1] == newcomer.email

    assert send_invitations(organiser, event, only_unsent=False).queued_now == 3
    assert send_invitations(organiser, event, only_unsent=False).queued_now == 0  # still queued: not twice
    dispatch_due()
    assert len(smtp_server.received) == 6


def test_invitations_of_a_draft_cannot_be_sent(app):
    from scheduler.errors import InvalidState

    organiser = make.user()
    event = make.event(organiser, published=False)
    make.invitations(organiser, event, 1)
    with pytest.raises(InvalidState):
        send_invitations(organiser, event)


def test_the_organiser_sends_invitations_from_the_web_and_follows_the_progress(mail_app, smtp_server, client):  # noqa: F811
    organiser, event, _ = _invited(2)
    make.login(client, organiser)

    response = client.post(f"/organiser/events/{event.id}/invitations/send", data={"only_unsent": "1"})

    assert response.status_code == 303
    page = client.get(response.headers["Location"])
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'http-equiv="refresh"' in body and "Queued: 2" in body
    dispatch_due()
    body = client.get(f"/organiser/events/{event.id}/invitations/progress").get_data(as_text=True)
    assert "Sent: 2" in body and 'http-equiv="refresh"' not in body
    assert len(smtp_server.received) == 2


def test_the_mail_log_shows_every_message_and_a_failed_one_can_be_retried(mail_app, smtp_server, client):  # noqa: F811
    mail_app.config["MAIL_MAX_ATTEMPTS"] = 1
    organiser, event, invitations = _invited(1)
    send_invitations(organiser, event)
    smtp_server.handler.refuse_with = "550 5.1.1 Mailbox unavailable"
    dispatch_due()
    make.login(client, organiser)

    page = client.get(f"/organiser/events/{event.id}/mail").get_data(as_text=True)
    assert invitations[0].email in page and "550 5.1.1 Mailbox unavailable" in page and "Failed" in page

    failed = make.messages(kind="invitation")[0]
    response = client.post(f"/organiser/events/{event.id}/mail/{failed.id}/retry")
    assert response.status_code == 303
    smtp_server.handler.refuse_with = None
    assert dispatch_due()["sent"] == 1
    assert make.messages(kind="invitation")[0].status == "sent"
    assert len(smtp_server.received) == 1


def test_another_organisations_mail_log_is_forbidden(app, client):
    _organiser, event, _ = _invited(1)
    stranger = make.user(make.organisation("Regionalny Ośrodek Polityki Społecznej w Lublinie", "ROPS Lublin"))
    make.login(client, stranger)
    assert client.get(f"/organiser/events/{event.id}/mail").status_code == 403
    assert client.post(f"/organiser/events/{event.id}/invitations/send").status_code == 403


def test_the_api_sends_invitations_and_lists_the_mail_log(mail_app, smtp_server, client):  # noqa: F811
    organiser, event, _ = _invited(2)
    headers = {"Authorization": f"Bearer {make.api_token(organiser)}"}

    response = client.post(f"/api/v1/events/{event.id}/invitations/send", json={"only_unsent": True}, headers=headers)

    assert response.status_code == 200, response.json
    assert response.json["queued_now"] == 2 and response.json["queued"] == 2
    dispatch_due()
    again = client.post(f"/api/v1/events/{event.id}/invitations/send", json={"only_unsent": True}, headers=headers)
    assert (again.json["queued_now"], again.json["sent"]) == (0, 2)
    log = client.get(f"/api/v1/events/{event.id}/messages", headers=headers)
    assert log.status_code == 200
    assert [m["status"] for m in log.json["messages"]] == ["sent", "sent"]
    assert all(m["ics_method"] == "REQUEST" and m["message_id"] for m in log.json["messages"])
    assert client.post(f"/api/v1/events/{event.id}/invitations/send", json={"only_unsent": "yes"},
                       headers=headers).status_code == 422
    assert client.post(f"/api/v1/events/{event.id}/invitations/send", json={}).status_code == 401
    assert len(smtp_server.received) == 2


def test_demo_meeting_invitations_reach_a_local_smtp_server_with_working_links_and_valid_invites(mail_app, smtp_server, client):  # noqa: F811
    from scheduler.auth.models import User
    from scheduler.demo import ORGANISATIONS, load_demo_data
    from scheduler.events.models import Event

    load_demo_data()
    organiser = db.session.execute(select(User).where(User.email == ORGANISATIONS[0][3])).scalar_one()
    event = db.session.execute(select(Event).where(Event.reference == "PF.0702.10.2019.LK")).scalar_one()
    invitations = db.session.execute(select(Invitation).where(Invitation.event_id == event.id)).scalars().all()

    send_invitations(organiser, event)
    dispatch_due()

    received = smtp_server.received
    assert sorted(r.recipients[0] for r in received) == sorted(i.email for i in invitations)
    for item in received:
        message = item.message
        calendar_part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
        calendar = make.check_ics(calendar_part.get_content())
        assert calendar_part.get_param("method") == str(calendar["METHOD"]) == "REQUEST"
        link = re.search(r"http://localhost(/i/[\w-]+)", message.get_body(("plain",)).get_content()).group(1)
        assert client.get(link).status_code == 200
