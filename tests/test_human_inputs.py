"""People choose reminders in words and read durations, dates and time zones in words; the API keeps ISO 8601."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from flask_babel import force_locale

from scheduler.events.reminder_settings import schedule
from scheduler.events.services import update_event
from scheduler.extensions import db
from scheduler.human_time import duration_words, event_when, local_datetime
from scheduler.notifications.dispatcher import dispatch_due
from scheduler.registration.services import declare

from . import factories as make
from .helpers import ticked, visible_text
from .test_web_organiser import field_error, form_of, meeting_form

UTC = timezone.utc
# Month before day, numbers with slashes, a 12-hour clock: how US English writes dates.
US_DATE = re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b|\b\d{1,2}:\d{2}\s?[AP]M\b|"
                     r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? \d{1,2}\b")


def _two_day_meeting(organiser=None, **overrides):
    """16–17 July 2031, 10:00 on the first day to 15:00 on the second (Warsaw summer time), declarations until 10 July."""
    return make.event(organiser, starts_at=datetime(2031, 7, 16, 8, 0, tzinfo=UTC),
                      ends_at=datetime(2031, 7, 17, 13, 0, tzinfo=UTC),
                      declaration_deadline=datetime(2031, 7, 10, 21, 59, tzinfo=UTC), **overrides)


def _created_meeting(client, **reminder_fields):
    from scheduler.events.models import Event
    from sqlalchemy import select

    response = client.post("/organiser/events/new", data=meeting_form(**reminder_fields))
    assert response.status_code == 302, response.text[:2000]
    return db.session.execute(select(Event).order_by(Event.id.desc())).scalars().first()


# --- choosing reminders in the meeting form ---------------------------------------------------------------

def test_ticked_and_typed_reminders_store_the_same_schedule_as_iso_8601_input(client):
    organiser = make.user()
    make.login(client, organiser, lang="pl")

    chosen = _created_meeting(client, reminders_shown="1", reminders_before_deadline=["P7D", "P1D"],
                              **{"reminders_before_deadline_custom-0-number": "5",
                                 "reminders_before_deadline_custom-0-unit": "hours"},
                              reminders_before_meeting=["PT2H"])
    typed = _created_meeting(client, reminders_before_deadline="P7D, P1D, PT5H", reminders_before_meeting="PT2H")

    assert chosen.reminders == {"before_deadline": ["P7D", "P1D", "PT5H"], "before_meeting": ["PT2H"]}
    assert chosen.reminders == typed.reminders
    assert [(p.key, p.due_at) for p in schedule(chosen)] == [(p.key, p.due_at) for p in schedule(typed)]
    # The API still speaks ISO 8601.
    api = client.get(f"/api/v1/events/{chosen.id}", headers={"Authorization": f"Bearer {make.api_token(organiser)}"})
    assert api.status_code == 200
    assert api.get_json()["reminders"]["before_deadline"] == ["P7D", "P1D", "PT5H"]


def test_a_new_meeting_starts_with_the_usual_reminders_ticked_and_unticking_all_means_none(client):
    organiser = make.user()
    make.login(client, organiser, lang="pl")

    page = client.get("/organiser/events/new").text
    assert ticked(page, "reminders_before_deadline") == ["P3D", "P1D"]
    assert ticked(page, "reminders_before_meeting") == ["P1D"]
    assert 'name="reminders_shown"' in page

    silent = _created_meeting(client, reminders_shown="1")
    assert silent.reminders == {"before_deadline": [], "before_meeting": []}


def test_an_existing_meetings_reminders_show_ticked_and_the_others_in_their_own_rows(client):
    organiser = make.user()
    event = make.event(organiser)
    update_event(organiser, event, {"reminders": {"before_deadline": ["P14D", "P1DT12H", "P1W"],
                                                  "before_meeting": ["PT30M"]}})
    make.login(client, organiser, lang="pl")

    page = client.get(f"/organiser/events/{event.id}/edit").text

    assert ticked(page, "reminders_before_deadline") == ["P14D"]
    assert ticked(page, "reminders_before_meeting") == []
    rows = dict(re.findall(r'name="(reminders_before_\w+_custom-\d-(?:number|original))"[^>]*value="([^"]*)"', page))
    units = dict(re.findall(r'name="(reminders_before_\w+_custom-\d-unit)">.*?<option selected value="(\w+)"', page))
    assert (rows["reminders_before_deadline_custom-0-number"], units["reminders_before_deadline_custom-0-unit"]) \
        == ("1", "weeks")
    assert (rows["reminders_before_deadline_custom-1-number"], units["reminders_before_deadline_custom-1-unit"]) \
        == ("36", "hours")
    assert (rows["reminders_before_meeting_custom-0-number"], units["reminders_before_meeting_custom-0-unit"]) \
        == ("30", "minutes")
    assert rows["reminders_before_deadline_custom-2-number"] == ""  # one empty row for a new one

    # Saved back as the browser shows it, nothing changes (P1DT12H keeps its spelling, so its key).
    back = form_of(event, reminders_shown="1", reminders_before_deadline=["P14D"], **{
        "reminders_before_deadline_custom-0-number": "1", "reminders_before_deadline_custom-0-unit": "weeks",
        "reminders_before_deadline_custom-0-original": "P1W",
        "reminders_before_deadline_custom-1-number": "36", "reminders_before_deadline_custom-1-unit": "hours",
        "reminders_before_deadline_custom-1-original": "P1DT12H",
        "reminders_before_meeting_custom-0-number": "30", "reminders_before_meeting_custom-0-unit": "minutes",
        "reminders_before_meeting_custom-0-original": "PT30M"})
    assert client.post(f"/organiser/events/{event.id}/edit", data=back).status_code == 302
    db.session.refresh(event)
    assert event.reminders == {"before_deadline": ["P14D", "P1W", "P1DT12H"], "before_meeting": ["PT30M"]}


def test_a_wrong_other_reminder_is_explained_in_polish_next_to_it_and_nothing_changes(client):
    organiser = make.user()
    event = make.event(organiser)
    make.login(client, organiser, lang="pl")
    before = dict(event.reminders)

    for number, unit, message in (("trzy", "days", "Prosimy podać liczbę całkowitą, np. 3."),
                                  ("2.5", "hours", "Prosimy podać liczbę całkowitą, np. 3."),
                                  ("0", "days", "Wyprzedzenie przypomnienia musi być większe od zera"),
                                  ("14", "weeks", "nie może przekraczać 90 dni"),
                                  ("99999999999999", "minutes", "nie może przekraczać 90 dni")):
        response = client.post(f"/organiser/events/{event.id}/edit", data=form_of(
            event, reminders_shown="1", reminders_before_deadline=["P3D"],
            **{"reminders_before_deadline_custom-0-number": number, "reminders_before_deadline_custom-0-unit": unit}))
        assert response.status_code == 422, number
        assert message in field_error(response, "reminders_before_deadline_custom-0-number"), number
        assert "ISO 8601" not in visible_text(response.text)
        db.session.refresh(event)
        assert event.reminders == before


# --- durations in words --------------------------------------------------------------------------------------

def test_durations_read_in_words_with_polish_plural_forms(app):
    with app.test_request_context(), force_locale("pl"):
        words = {offset: duration_words(offset) for offset in (
            "P1D", "P2D", "P5D", "PT1H", "PT2H", "PT5H", "PT22H", "P1W", "P2W", "P5W", "PT1M", "PT12M", "P1DT12H")}
        assert duration_words(timedelta(days=22)) == "22 dni"
    assert words == {"P1D": "1 dzień", "P2D": "2 dni", "P5D": "5 dni", "PT1H": "1 godzina", "PT2H": "2 godziny",
                     "PT5H": "5 godzin", "PT22H": "22 godziny", "P1W": "1 tydzień", "P2W": "2 tygodnie",
                     "P5W": "5 tygodni", "PT1M": "1 minuta", "PT12M": "12 minut", "P1DT12H": "1 dzień 12 godzin"}
    with app.test_request_context(), force_locale("en"):
        assert [duration_words(o) for o in ("P1D", "PT2H", "P1W")] == ["1 day", "2 hours", "1 week"]


def test_the_reminders_page_says_when_each_goes_in_words_not_iso_8601(client):
    organiser = make.user()
    event = make.event(organiser)
    update_event(organiser, event, {"reminders": {"before_deadline": ["P3D", "P1D"], "before_meeting": ["PT2H"]}})
    make.login(client, organiser, lang="pl")

    text = visible_text(client.get(f"/organiser/events/{event.id}/reminders").text)

    for words in ("3 dni przed terminem", "1 dzień przed terminem", "2 godziny przed spotkaniem"):
        assert words in text
    assert not re.search(r"\bP(?:T?\d+[WDHMS])+\b", text), text


# --- dates and time zones ------------------------------------------------------------------------------------

def test_meeting_dates_read_as_one_range_in_polish_and_british_english(app):
    meeting = _two_day_meeting()
    one_day = make.event(starts_at=datetime(2031, 4, 17, 7, 0, tzinfo=UTC),
                         ends_at=datetime(2031, 4, 17, 11, 0, tzinfo=UTC),
                         declaration_deadline=datetime(2031, 4, 12, 21, 59, tzinfo=UTC))
    over_months = make.event(starts_at=datetime(2031, 6, 30, 8, 0, tzinfo=UTC),
                             ends_at=datetime(2031, 7, 2, 13, 0, tzinfo=UTC),
                             declaration_deadline=datetime(2031, 6, 20, 21, 59, tzinfo=UTC))
    with app.test_request_context(), force_locale("pl"):
        assert event_when(meeting) == "16–17 lipca 2031, 10:00–15:00"
        assert event_when(one_day) == "17 kwietnia 2031, 09:00–13:00"
        assert event_when(over_months) == "30 czerwca\u2009–\u20092 lipca 2031, 10:00–15:00"  # CLDR's thin spaces
        assert local_datetime(meeting.declaration_deadline, meeting.timezone) == "10 lipca 2031, 23:59"
        assert local_datetime(meeting.declaration_deadline, meeting.timezone, "short") == "10.07.2031, 23:59"
    with app.test_request_context(), force_locale("en"):
        assert event_when(meeting) == "16\u2009–\u200917 Jul 2031, 10:00–15:00"
        assert event_when(one_day) == "17 April 2031, 09:00–13:00"
        assert local_datetime(meeting.declaration_deadline, meeting.timezone) == "10 July 2031, 23:59"
        assert local_datetime(meeting.declaration_deadline, meeting.timezone, "short") == "10 Jul 2031, 23:59"


def test_the_public_page_manage_page_and_e_mail_show_the_same_range_and_the_zone_in_words(mail_app, smtp_server):
    event = _two_day_meeting()
    registration = declare(event.id, make.declaration())
    client = mail_app.test_client()
    client.get("/?lang=pl")

    public = visible_text(client.get(f"/events/{event.id}").text)
    manage = visible_text(client.get(f"/m/{registration.manage_token}").text)
    dispatch_due()
    [mail] = [m for m in smtp_server.messages if m["To"] == registration.email]
    body = " ".join(mail.get_body(("plain",)).get_content().split())

    for text in (public, manage, body):
        assert "16–17 lipca 2031, 10:00–15:00" in text
        assert "Europe/Warsaw" not in text
    assert "16–17 lipca 2031, 10:00–15:00 (czas polski)" in public
    assert "16–17 lipca 2031, 10:00–15:00 (czas polski)" in body
    assert "10 lipca 2031, 23:59" in public and "10 lipca 2031, 23:59" in body


def test_english_pages_show_dates_day_first_on_a_24_hour_clock(client):
    organiser = make.user()
    event = _two_day_meeting(organiser)
    make.login(client, organiser, lang="en")

    pages = {url: visible_text(client.get(url).text) for url in (
        f"/events/{event.id}", "/organiser/", f"/organiser/events/{event.id}",
        f"/organiser/events/{event.id}/reminders", "/", "/accessibility")}

    for url, text in pages.items():
        assert not US_DATE.search(text), (url, US_DATE.search(text))
    assert "16 – 17 Jul 2031, 10:00–15:00 (Polish time)" in pages[f"/events/{event.id}"]
    assert "10 July 2031, 23:59" in pages[f"/events/{event.id}"]
    assert "26 November 2026" in pages["/accessibility"]


def test_the_time_zone_is_never_shown_as_a_bare_iana_name(client):
    organiser = make.user()
    event = _two_day_meeting(organiser)
    make.login(client, organiser, lang="pl")

    overview = visible_text(client.get(f"/organiser/events/{event.id}").text)
    form = client.get(f"/organiser/events/{event.id}/edit").text
    public = visible_text(client.get(f"/events/{event.id}").text)

    assert "czas polski (Europe/Warsaw)" in overview
    assert overview.count("Europe/Warsaw") == overview.count("czas polski (Europe/Warsaw)")
    assert '<option selected value="Europe/Warsaw">czas polski (Europe/Warsaw)</option>' in form
    assert '<option value="Europe/Vilnius">czas litewski (Europe/Vilnius)</option>' in form
    assert "(czas polski)" in public and "Europe/Warsaw" not in public

    # A zone from outside the form's list (set through the API) is named in words too.
    update_event(organiser, event, {"timezone": "America/New_York"})
    elsewhere = visible_text(client.get(f"/organiser/events/{event.id}").text)
    assert re.search(r"\(czas: [^()]*\(Nowy Jork\) \(America/New_York\)\)", elsewhere), elsewhere
