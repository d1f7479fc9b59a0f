"""Pages say what people need to know: deadlines and time left, where the confirmation went, who is waiting,
the latest answer of each invitation, whom to contact, and counts and labels in the reader's language."""
from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from flask import render_template

from scheduler.database import utcnow
from scheduler.extensions import db
from scheduler.invitations.services import revoke_invitation
from scheduler.registration.services import decline_invitation, declare, mark_opened, withdraw
from scheduler.time_left import time_left

from . import factories as make
from .helpers import sql_statements


def text_of(response) -> str:
    """The page as a reader sees it: tags dropped, entities decoded, white space collapsed."""
    body = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(body)).strip()


def in_english(client):
    with client.session_transaction() as session:
        session["lang"] = "en"
    return client


def declared(**event_overrides):
    """A published meeting and one confirmed declaration through a personal link."""
    organiser = make.user()
    event = make.event(organiser, **{"invite_only": True, **event_overrides})
    [invitation] = make.invitations(organiser, event, category="gmina")
    registration = declare(event.id, make.declaration(category="gmina"), invitation_token=invitation.token)
    return organiser, event, invitation, registration


def set_deadline(event, distance: timedelta) -> None:
    event.declaration_deadline = utcnow() + distance
    db.session.commit()


# --- time left ----------------------------------------------------------------------

@pytest.mark.parametrize("distance, polish, english", [
    (timedelta(days=3, hours=5), "zostały 3 dni", "3 days left"),
    (timedelta(days=5, minutes=5), "zostało 5 dni", "5 days left"),
    (timedelta(days=22, minutes=5), "zostały 22 dni", "22 days left"),
    (timedelta(hours=47, minutes=5), "zostało 47 godzin", "47 hours left"),
    (timedelta(hours=2, minutes=5), "zostały 2 godziny", "2 hours left"),
    (timedelta(hours=1, minutes=5), "została 1 godzina", "1 hour left"),
    (timedelta(minutes=5, seconds=5), "zostało 5 minut", "5 minutes left"),
    (timedelta(seconds=20), "została niecała minuta", "less than a minute left"),
    (-timedelta(days=2, hours=3), "termin upłynął 2 dni temu", "the deadline passed 2 days ago"),
    (-timedelta(hours=1, minutes=1), "termin upłynął 1 godzinę temu", "the deadline passed 1 hour ago"),
    (-timedelta(minutes=3), "termin upłynął 3 minuty temu", "the deadline passed 3 minutes ago"),
])
def test_time_left_is_said_in_words_with_polish_plurals(app, distance, polish, english):
    now = utcnow()
    with app.test_request_context("/"):
        said = time_left(now + distance, now)
        assert (str(said), said.passed) == (polish, distance < timedelta(0))
    with app.test_request_context("/?lang=en"):
        assert str(time_left(now + distance, now)) == english


def test_the_manage_page_shows_the_deadline_and_the_time_left(client):
    _, event, _, registration = declared()
    set_deadline(event, timedelta(days=3, hours=2))

    page = text_of(client.get(f"/m/{registration.manage_token}"))

    assert "Termin składania deklaracji:" in page
    assert "(zostały 3 dni)" in page


def test_after_the_deadline_the_manage_page_says_how_long_ago_and_whom_to_contact(client):
    _, event, _, registration = declared()
    set_deadline(event, -timedelta(days=2, hours=1))

    page = text_of(client.get(f"/m/{registration.manage_token}"))

    assert "(termin upłynął 2 dni temu)" in page
    assert "deklaracji nie można już tutaj zmienić ani wycofać" in page
    assert "W sprawie wszelkich zmian prosimy o kontakt z organizatorem: Biuro projektu" in page


def test_the_personal_link_shows_the_time_left(client):
    organiser = make.user()
    event = make.event(organiser, invite_only=True)
    [invitation] = make.invitations(organiser, event)
    set_deadline(event, timedelta(hours=5, minutes=10))

    assert "(zostało 5 godzin)" in text_of(client.get(f"/i/{invitation.token}"))


# --- the confirmation and withdrawing ---------------------------------------------------

def test_the_confirmation_says_where_the_confirmation_e_mail_goes_and_what_if_it_does_not(client):
    _, _, _, registration = declared()

    page = text_of(client.get(f"/m/{registration.manage_token}/confirmation"))

    assert f"wysyłane pocztą elektroniczną na adres {registration.email}" in page
    assert "Jeśli wiadomość nie dotrze w ciągu godziny" in page
    assert "prosimy o kontakt z organizatorem: Biuro projektu" in page


def test_withdrawing_promises_a_seat_to_the_waiting_list_only_when_someone_waits_for_it(client):
    _, event, _, registration = declared(capacity=1, invite_only=False)
    question = f"/m/{registration.manage_token}/withdraw"

    alone = text_of(client.get(question))
    assert "zwolni 1 miejsce." in alone and "listy rezerwowej" not in alone

    waiting = declare(event.id, make.declaration())
    assert waiting.status == "waitlisted"
    assert "Zwolnione miejsca otrzymają kolejne instytucje z listy rezerwowej." in text_of(client.get(question))

    # The one waiting asks about its own withdrawal: it holds no seat to give.
    own = text_of(client.get(f"/m/{waiting.manage_token}/withdraw"))
    assert "zostanie usunięta z listy rezerwowej" in own and "zwolni" not in own


# --- add to calendar ---------------------------------------------------------------------

def test_add_to_calendar_is_offered_only_while_the_declaration_stands(client):
    _, event, invitation, registration = declared()
    calendar_link = f'href="/events/{event.id}.ics"'

    assert calendar_link in client.get(f"/m/{registration.manage_token}").get_data(as_text=True)
    assert calendar_link in client.get(f"/i/{invitation.token}").get_data(as_text=True)

    withdraw(registration.manage_token)

    assert calendar_link not in client.get(f"/m/{registration.manage_token}").get_data(as_text=True)
    assert calendar_link not in client.get(f"/m/{registration.manage_token}/confirmation").get_data(as_text=True)
    assert calendar_link not in client.get(f"/i/{invitation.token}").get_data(as_text=True)


def test_add_to_calendar_is_not_offered_after_declining(client):
    organiser = make.user()
    event = make.event(organiser, invite_only=True)
    [invitation] = make.invitations(organiser, event)
    calendar_link = f'href="/events/{event.id}.ics"'
    assert calendar_link in client.get(f"/i/{invitation.token}").get_data(as_text=True)

    decline_invitation(invitation.token)

    assert calendar_link not in client.get(f"/i/{invitation.token}").get_data(as_text=True)


# --- the organiser's pages ------------------------------------------------------------------

def test_the_invitations_list_shows_each_institutions_latest_answer(client):
    organiser = make.user()
    event = make.event(organiser, invite_only=True)
    silent, opened, came, withdrew, declined_after_withdrawing = make.invitations(organiser, event, 5)
    for invitation in (silent, opened, came, withdrew, declined_after_withdrawing):
        invitation.sent_at = utcnow()
    for invitation in (opened, came, withdrew, declined_after_withdrawing):
        mark_opened(invitation)
    declare(event.id, make.declaration(), invitation_token=came.token)
    for invitation in (withdrew, declined_after_withdrawing):
        withdraw(declare(event.id, make.declaration(), invitation_token=invitation.token).manage_token)
    decline_invitation(declined_after_withdrawing.token)
    make.login(client, organiser, lang="pl")

    rows = client.get(f"/organiser/events/{event.id}/invitations").get_data(as_text=True)

    def status_of(invitation) -> str:
        row = re.search(rf"<tr[^>]*>\s*<td[^>]*>{re.escape(invitation.institution)}</td>.*?</tr>", rows, re.S).group(0)
        return re.search(r'<span class="badge[^"]*">(.*?)</span>', row).group(1)

    assert [status_of(i) for i in (silent, opened, came, withdrew, declined_after_withdrawing)] == [
        "Wysłano, link jeszcze nieotwarty", "Link otwarty", "Deklaracja złożona", "Deklaracja wycofana",
        "Odmowa udziału"]


def test_the_overview_links_to_the_public_page_and_the_feed_once_published(app, client):
    organiser = make.user()
    draft = make.event(organiser, published=False)
    published = make.event(organiser)
    make.login(client, organiser, lang="pl")

    page = client.get(f"/organiser/events/{published.id}").get_data(as_text=True)
    assert f'href="{app.config["BASE_URL"]}/events/{published.id}"' in page
    assert f'href="/events/{published.id}.ics"' in page
    assert f"/calendar.ics?organisation={published.organisation.slug}" in page
    assert "Strona publiczna" in text_of(client.get(f"/organiser/events/{published.id}"))

    draft_page = text_of(client.get(f"/organiser/events/{draft.id}"))
    assert "Strona publiczna po opublikowaniu" in draft_page


def test_the_reminders_page_counts_one_recipient_in_the_singular(client):
    organiser = make.user()
    event = make.event(organiser, invite_only=True)
    make.invitations(organiser, event, 1)
    make.login(client, organiser, lang="pl")

    assert "obecnie 1 odbiorca" in text_of(client.get(f"/organiser/events/{event.id}/reminders"))
    english = text_of(client.get(f"/organiser/events/{event.id}/reminders?lang=en"))
    assert "1 recipient now" in english and "1 recipients" not in english


# --- a revoked link ---------------------------------------------------------------------------

def test_a_revoked_personal_link_says_whom_to_ask_for_a_new_one(client):
    organiser = make.user()
    event = make.event(organiser, invite_only=True)
    [invitation] = make.invitations(organiser, event)
    revoke_invitation(organiser, invitation)

    response = client.get(f"/i/{invitation.token}")

    assert response.status_code == 404
    page = text_of(response)
    assert "Ten link osobisty jest już nieważny" in page
    assert "prosimy o kontakt z organizatorem, który może przesłać nowy link" in page
    assert 'href="tel:178507928"' in response.get_data(as_text=True)
    assert 'href="mailto:biuro@example.org"' in response.get_data(as_text=True)
    assert client.post(f"/i/{invitation.token}", data={}).status_code == 404


# --- the home page ------------------------------------------------------------------------------

def test_the_home_page_says_for_each_upcoming_meeting_whether_declarations_are_open_and_until_when(client):
    organiser = make.user()
    open_one = make.event(organiser, title="Spotkanie z otwartymi zgłoszeniami")
    closed_one = make.event(organiser, title="Spotkanie po terminie")
    make.close_declarations(closed_one)

    body = client.get("/").get_data(as_text=True)

    def item(event) -> str:
        return re.sub(r"\s+", " ", re.search(rf"<li[^>]*>((?:(?!</li>).)*{event.title}.*?)</li>", body, re.S).group(1))

    assert "Deklaracje przyjmowane do" in item(open_one) and "zakończone" not in item(open_one)
    assert "Przyjmowanie deklaracji zakończone (termin upłynął" in item(closed_one)


def test_the_home_page_learns_whether_declarations_are_open_without_a_query_per_meeting(client):
    organiser = make.user()
    make.event(organiser)
    db.session.commit()
    client.get("/")  # whatever the page caches across requests is loaded before counting
    with sql_statements() as one:
        client.get("/")
    for _ in range(4):
        make.close_declarations(make.event(organiser))
    with sql_statements() as five:
        page = text_of(client.get("/"))
    assert page.count("Przyjmowanie deklaracji zakończone") == 4
    assert len(five) == len(one)


# --- contact lines ---------------------------------------------------------------------------------

def test_the_organisers_contact_is_on_separate_lines_with_links_to_call_and_write(client):
    organiser = make.user()
    event = make.event(organiser)

    body = client.get(f"/events/{event.id}").get_data(as_text=True)
    contact = re.search(r'<span class="contact">(.*?)</span>\s*</dd>', body, re.S).group(1)

    assert contact.count("<br>") == 2
    assert ('Biuro projektu</span><br><span class="contact-phone">tel. <a href="tel:178507928">(17) 8507928</a>'
            in contact)
    assert '<a href="mailto:biuro@example.org">biuro@example.org</a>' in contact


def test_e_mails_give_the_contact_person_phone_and_e_mail_on_lines_of_their_own(app):
    event = make.event(make.user())
    with app.test_request_context("/"):
        text = render_template("email/_details.txt", event=event, when="1 stycznia", place="")
    assert "Biuro projektu\nTelefon: (17) 8507928\nAdres e-mail: biuro@example.org\n" in text


# --- labels in the reader's language -----------------------------------------------------------------

def test_category_labels_are_english_on_english_pages_and_unchanged_in_polish(client):
    _, _, _, registration = declared()

    assert "Gmina (urząd gminy, OPS)" in text_of(client.get(f"/m/{registration.manage_token}"))
    english = text_of(in_english(client).get(f"/m/{registration.manage_token}"))
    assert "Municipality (gmina office, social welfare centre OPS)" in english
    assert "urząd gminy" not in english
