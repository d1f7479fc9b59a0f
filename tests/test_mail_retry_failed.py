"""'Send all failed again': per meeting and across the organisation, on the web and in the API."""
from __future__ import annotations

import html

from sqlalchemy import update

from scheduler.extensions import db
from scheduler.notifications.dispatcher import dispatch_due
from scheduler.notifications.models import Message
from scheduler.notifications.services import send_invitations

from . import factories as make


def _with_failed_mail(organiser, count: int = 2):
    event = make.event(organiser)
    make.invitations(organiser, event, count)
    send_invitations(organiser, event)
    db.session.execute(update(Message).where(Message.event_id == event.id)
                       .values(status="failed", attempts=6, last_error="550 5.1.1 No such user"))
    db.session.commit()
    return event


def _statuses(event) -> set[str]:
    return {m.status for m in make.messages(event_id=event.id)}


def test_the_organiser_sends_all_failed_messages_of_a_meeting_again_from_its_mail_log(mail_app, smtp_server, client):
    organiser = make.user()
    event, other = _with_failed_mail(organiser), _with_failed_mail(organiser)
    make.login(client, organiser)
    log = html.unescape(client.get(f"/organiser/events/{event.id}/mail").get_data(as_text=True))
    assert "Send all failed again (2)" in log

    response = client.post(f"/organiser/events/{event.id}/mail/retry-failed", follow_redirects=True)

    assert "2 failed messages are queued again." in html.unescape(response.get_data(as_text=True))
    assert {(m.status, m.attempts) for m in make.messages(event_id=event.id)} == {("queued", 0)}
    assert _statuses(other) == {"failed"}  # another meeting is left alone
    assert dispatch_due()["sent"] == 2 and len(smtp_server.received) == 2
    again = client.post(f"/organiser/events/{event.id}/mail/retry-failed", follow_redirects=True)
    assert "No failed messages to send again." in html.unescape(again.get_data(as_text=True))


def test_across_the_organisation_an_organiser_retries_their_meetings_and_an_admin_all(app, client):
    organiser = make.user()
    mine = [_with_failed_mail(organiser, 1), _with_failed_mail(organiser, 2)]
    stranger = make.user(make.organisation("Regionalny Ośrodek Polityki Społecznej w Lublinie", "ROPS Lublin"))
    theirs = _with_failed_mail(stranger, 1)
    make.login(client, organiser)

    overview = html.unescape(client.get("/organiser/mail").get_data(as_text=True))
    assert "Send all failed again (3)" in overview and mine[0].title in overview
    assert "550 5.1.1 No such user" in overview
    response = client.post("/organiser/mail/retry-failed", follow_redirects=True)

    assert "3 failed messages are queued again." in html.unescape(response.get_data(as_text=True))
    assert _statuses(mine[0]) == _statuses(mine[1]) == {"queued"}
    assert _statuses(theirs) == {"failed"}

    admin = make.user(email="admin@example.org", is_admin=True)
    client.post("/logout")
    make.login(client, admin)
    response = client.post("/organiser/mail/retry-failed", follow_redirects=True)
    assert "1 failed message is queued again." in html.unescape(response.get_data(as_text=True))
    assert _statuses(theirs) == {"queued"}


def test_the_api_sends_failed_messages_again_per_meeting_and_everywhere(app, client):
    organiser = make.user()
    event, other = _with_failed_mail(organiser, 2), _with_failed_mail(organiser, 1)
    stranger = make.user(make.organisation("Regionalny Ośrodek Polityki Społecznej w Lublinie", "ROPS Lublin"))
    theirs = _with_failed_mail(stranger, 1)
    headers = {"Authorization": f"Bearer {make.api_token(organiser)}"}

    per_meeting = client.post(f"/api/v1/events/{event.id}/messages/retry-failed", headers=headers)
    assert per_meeting.status_code == 200 and per_meeting.json == {"queued": 2}
    assert client.post(f"/api/v1/events/{theirs.id}/messages/retry-failed", headers=headers).status_code == 403

    everywhere = client.post("/api/v1/messages/retry-failed", headers=headers)
    assert everywhere.status_code == 200 and everywhere.json == {"queued": 1}
    assert _statuses(other) == {"queued"} and _statuses(theirs) == {"failed"}
    assert client.post("/api/v1/messages/retry-failed").status_code == 401
    log = client.get(f"/api/v1/events/{event.id}/messages", headers=headers).json["messages"]
    assert {(m["status"], m["attempts"], m["deferrals"]) for m in log} == {("queued", 0, 0)}
    assert all(m["deliver_by"] for m in log)


def test_a_stranger_cannot_retry_another_organisations_meeting(app, client):
    event = _with_failed_mail(make.user(), 1)
    stranger = make.user(make.organisation("Regionalny Ośrodek Polityki Społecznej w Lublinie", "ROPS Lublin"))
    make.login(client, stranger)
    assert client.post(f"/organiser/events/{event.id}/mail/retry-failed").status_code == 403
    assert _statuses(event) == {"failed"}
