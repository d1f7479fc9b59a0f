"""Steps an organiser cannot undo ask first: a page naming the institution and what will happen, then one act.

Rejecting, withdrawing on an institution's behalf, a new manage link, revoking a
personal link and sending a reminder now. A one-click POST (no confirmation)
changes nothing and sends nothing; the confirmed POST acts once, however often
it is sent.
"""
from __future__ import annotations

import html
import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest

from scheduler.extensions import db
from scheduler.invitations.models import Invitation
from scheduler.notifications.dispatcher import dispatch_due
from scheduler.notifications.models import Message
from scheduler.registration.models import Registration
from scheduler.registration.services import declare
from scheduler.timeutil import to_local

from . import factories as make
from .helpers import confirmation_form


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()


class _Part(HTMLParser):
    def __init__(self, css_class: str):
        super().__init__()
        self.css_class, self.depth, self.text = css_class, 0, []

    def handle_starttag(self, tag, attrs):
        if tag in ("br", "input", "img", "hr"):
            return
        if self.depth or self.css_class in (dict(attrs).get("class") or "").split():
            self.depth += 1

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.text.append(data)


def part(page: str, css_class: str) -> str:
    """The text of the element with this class on the page ("" if there is none)."""
    parser = _Part(css_class)
    parser.feed(page)
    return " ".join(" ".join(parser.text).split())


def status_of(registration_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Registration, registration_id).status


@pytest.fixture
def meeting(mail_app, smtp_server):
    """A meeting of one seat: a confirmed institution, one waiting, one invited; its e-mails so far delivered."""
    organiser = make.user()
    event = make.event(organiser, capacity=1, contact_email="organizator@example.org")
    holder = declare(event.id, make.declaration(institution="PCPR w Łańcucie", email="pcpr@lancut.example.org"))
    waiting = declare(event.id, make.declaration(institution="GOPS Żołynia"))
    [invitation] = make.invitations(organiser, event)
    dispatch_due()
    smtp_server.handler.received.clear()
    client = mail_app.test_client()
    make.login(client, organiser, lang="pl")
    return client, event, holder, waiting, invitation


def steps(event, holder, invitation) -> dict[str, tuple[str, dict]]:
    """Each step's confirmation page, and the form a one-click button would have posted to it."""
    base = f"/organiser/events/{event.id}"
    return {
        "reject": (f"{base}/declarations/{holder.id}/decide?decision=reject", {"decision": "reject"}),
        "withdraw": (f"{base}/declarations/{holder.id}/withdraw", {}),
        "new-link": (f"{base}/declarations/{holder.id}/new-link", {}),
        "revoke": (f"{base}/invitations/{invitation.id}/revoke", {}),
        "send": (f"{base}/reminders/before_deadline:P1D/send", {}),
    }


def outbox_size() -> int:
    db.session.expire_all()
    return db.session.query(Message).count()


@pytest.mark.parametrize("step", ["reject", "withdraw", "new-link", "revoke", "send"])
def test_a_one_click_post_changes_nothing_and_sends_nothing(meeting, smtp_server, step):
    client, event, holder, waiting, invitation = meeting
    url, one_click = steps(event, holder, invitation)[step]
    token, before = holder.manage_token, outbox_size()

    response = client.post(url.split("?")[0], data=one_click)

    assert response.status_code == 200
    confirmation_form(response.get_data(as_text=True))  # the confirmation page, to be confirmed
    assert (status_of(holder.id), status_of(waiting.id)) == ("confirmed", "waitlisted")
    assert db.session.get(Registration, holder.id).manage_token == token
    assert db.session.get(Invitation, invitation.id).revoked_at is None
    assert outbox_size() == before
    dispatch_due()
    assert smtp_server.messages == []


def test_the_withdrawal_page_names_the_institution_the_freed_seats_and_who_moves_up(meeting):
    client, event, holder, waiting, _invitation = meeting

    page = client.get(f"/organiser/events/{event.id}/declarations/{holder.id}/withdraw").get_data(as_text=True)

    assert "PCPR w Łańcucie" in text_of(re.search(r"<h1>.*?</h1>", page, re.S).group(0))
    assert event.title in text_of(page)
    assert "1" in part(page, "seats-freed")
    assert "GOPS Żołynia" in part(page, "promotions")
    assert "pcpr@lancut.example.org" in part(page, "email")


def test_promotion_is_shown_only_when_there_is_a_waiting_list(mail_app):
    organiser = make.user()
    event = make.event(organiser, capacity=10)
    holder = declare(event.id, make.declaration(seats=2))
    client = mail_app.test_client()
    make.login(client, organiser, lang="pl")

    page = client.get(f"/organiser/events/{event.id}/declarations/{holder.id}/withdraw").get_data(as_text=True)

    assert "2" in part(page, "seats-freed")
    assert 'class="promotions"' not in page and 'class="still-waiting"' not in page


def test_the_page_foretells_the_waiting_list_as_the_seats_rule_then_decides_it(mail_app):
    # One seat frees up: the first in the queue needs two and keeps waiting; the one behind it, needing one, moves up.
    organiser = make.user()
    event = make.event(organiser, capacity=2)
    holder = declare(event.id, make.declaration(seats=2))
    big = declare(event.id, make.declaration(seats=3, institution="Starostwo Powiatowe w Łańcucie"))
    small = declare(event.id, make.declaration(seats=2, institution="OPS w Czarnej"))
    client = mail_app.test_client()
    make.login(client, organiser, lang="pl")
    url = f"/organiser/events/{event.id}/declarations/{holder.id}/decide?decision=reject"

    page = client.get(url).get_data(as_text=True)
    assert "OPS w Czarnej" in part(page, "promotions")
    assert "Starostwo" not in part(page, "promotions")
    assert "1" in part(page, "still-waiting")

    action, fields = confirmation_form(page)
    client.post(action, data=fields)
    assert (status_of(holder.id), status_of(big.id), status_of(small.id)) == ("rejected", "waitlisted", "confirmed")


def test_a_pending_declaration_frees_no_seat_and_moves_nobody_up(mail_app):
    organiser = make.user()
    event = make.event(organiser, moderated=True, capacity=1)
    pending = declare(event.id, make.declaration(institution="MOPS Rzeszów"))
    client = mail_app.test_client()
    make.login(client, organiser, lang="pl")

    page = client.get(f"/organiser/events/{event.id}/declarations/{pending.id}/decide?decision=reject")

    body = page.get_data(as_text=True)
    assert "MOPS Rzeszów" in text_of(body)
    assert 'class="seats-freed"' not in body and 'class="promotions"' not in body


def _confirm_twice(client, url):
    action, fields = confirmation_form(client.get(url).get_data(as_text=True))
    first = client.post(action, data=fields)
    second = client.post(action, data=fields)
    return first, second


def test_a_confirmed_withdrawal_acts_once_even_when_posted_twice(meeting, smtp_server):
    client, event, holder, waiting, _invitation = meeting

    first, second = _confirm_twice(client, steps(event, holder, _invitation)["withdraw"][0])

    assert first.status_code == 302 and f"/organiser/events/{event.id}/declarations" in first.location
    assert second.status_code == 200 and 'name="confirm"' not in second.get_data(as_text=True)
    assert (status_of(holder.id), status_of(waiting.id)) == ("withdrawn", "confirmed")
    assert len(make.messages(kind="declaration_withdrawn")) == 1
    dispatch_due()
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(["pcpr@lancut.example.org", waiting.email])


def test_a_confirmed_rejection_acts_once_even_when_posted_twice(meeting, smtp_server):
    client, event, holder, waiting, invitation = meeting

    first, second = _confirm_twice(client, steps(event, holder, invitation)["reject"][0])

    assert first.status_code == 302 and second.status_code == 200
    assert (status_of(holder.id), status_of(waiting.id)) == ("rejected", "confirmed")
    assert len(make.messages(kind="declaration_rejected")) == 1
    dispatch_due()
    assert [m["To"] for m in smtp_server.messages].count("pcpr@lancut.example.org") == 1


def test_a_new_link_is_made_and_sent_once_even_when_confirmed_twice(meeting, smtp_server):
    client, event, holder, _waiting, invitation = meeting
    old_token = holder.manage_token
    page = client.get(steps(event, holder, invitation)["new-link"][0]).get_data(as_text=True)
    assert "pcpr@lancut.example.org" in part(page, "email")

    first, second = _confirm_twice(client, steps(event, holder, invitation)["new-link"][0])

    assert first.status_code == 302
    # The second finds the declaration changed since its page was shown: nothing done, the page says so.
    assert second.status_code == 200 and 'role="alert"' in second.get_data(as_text=True)
    db.session.expire_all()
    new_token = db.session.get(Registration, holder.id).manage_token
    assert new_token != old_token
    assert client.get(f"/m/{old_token}").status_code == 404
    dispatch_due()
    [message] = smtp_server.messages
    assert message["To"] == "pcpr@lancut.example.org"
    assert f"/m/{new_token}" in message.get_body(("plain",)).get_content()


def test_a_personal_link_is_revoked_once_and_nobody_is_told(meeting, smtp_server):
    client, event, holder, _waiting, invitation = meeting
    before = outbox_size()
    page = client.get(steps(event, holder, invitation)["revoke"][0]).get_data(as_text=True)
    assert invitation.institution in text_of(page) and invitation.email in text_of(page)

    first, second = _confirm_twice(client, steps(event, holder, invitation)["revoke"][0])

    assert first.status_code == 302 and second.status_code == 200
    assert 'name="confirm"' not in second.get_data(as_text=True)
    db.session.expire_all()
    revoked_at = db.session.get(Invitation, invitation.id).revoked_at
    assert revoked_at is not None
    assert client.get(f"/i/{invitation.token}").status_code == 404
    assert outbox_size() == before
    dispatch_due()
    assert smtp_server.messages == []


def test_sending_a_reminder_now_names_its_recipients_and_its_planned_moment_and_sends_once(meeting, smtp_server):
    client, event, holder, _waiting, invitation = meeting
    url = steps(event, holder, invitation)["send"][0]
    due = event.declaration_deadline - timedelta(days=1)

    page = client.get(url).get_data(as_text=True)
    assert f"{invitation.institution} <{invitation.email}>" in text_of(page)
    assert to_local(due, event.timezone).strftime("%d.%m.%Y, %H:%M") in part(page, "planned-at")
    assert "1" in part(page, "email")

    first, second = _confirm_twice(client, url)

    assert first.status_code == 303 and second.status_code == 200
    assert 'name="confirm"' not in second.get_data(as_text=True)
    assert len(make.messages(kind="reminder_before_deadline")) == 1
    dispatch_due()
    assert [m["To"] for m in smtp_server.messages] == [invitation.email]
    # Asked again, the page says there is nobody left to send it to.
    assert 'name="confirm"' not in client.get(url).get_data(as_text=True)


def test_accepting_stays_one_click(mail_app):
    organiser = make.user()
    event = make.event(organiser, moderated=True, capacity=5)
    pending = declare(event.id, make.declaration())
    client = mail_app.test_client()
    make.login(client, organiser, lang="pl")

    response = client.post(f"/organiser/events/{event.id}/declarations/{pending.id}/decide",
                           data={"decision": "accept"})

    assert response.status_code == 302
    assert status_of(pending.id) == "confirmed"


def test_two_confirmed_new_link_clicks_at_the_same_moment_make_one_link(app):
    """Both requests saw the same declaration; the second, under the row lock, finds it changed and does nothing."""
    import pytest as _pytest
    from sqlalchemy import func as _func, select as _select

    from scheduler.errors import InvalidState
    from scheduler.extensions import db as _db
    from scheduler.notifications.models import Message
    from scheduler.registration.services import declare, replace_manage_link

    from . import factories as _make

    organiser = _make.user()
    event = _make.event(organiser, invite_only=False, capacity=5)
    registration = declare(event.id, _make.declaration())
    seen = registration.updated_at
    before = _db.session.execute(_select(_func.count(Message.id))).scalar_one()
    replace_manage_link(organiser, registration, seen_at=seen)
    first_token = registration.manage_token
    with _pytest.raises(InvalidState):
        replace_manage_link(organiser, registration, seen_at=seen)  # the same confirmation, a moment later
    _db.session.refresh(registration)
    assert registration.manage_token == first_token
    assert _db.session.execute(_select(_func.count(Message.id))).scalar_one() == before + 1
