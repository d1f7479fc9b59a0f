"""Calendar downloads and subscription feeds: valid for two parsers and Radicale, stable, and cache-friendly."""
from __future__ import annotations

from datetime import timedelta, timezone
from urllib.parse import parse_qs, urlparse

from scheduler.calendar.ical import vtimezone
from scheduler.events.services import cancel_event, update_event

from . import factories as make


def test_a_meeting_downloads_as_ics_with_its_details(app, client):
    event = make.event(description="Prosimy o potwierdzenie obecności.")
    response = client.get(f"/events/{event.id}.ics")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = make.check_ics(response.data)
    assert "METHOD" not in calendar
    vevent = calendar.walk("VEVENT")[0]
    assert str(vevent["UID"]) == event.ical_uid and int(vevent["SEQUENCE"]) == 0
    assert vevent.decoded("DTSTART") == event.starts_at and vevent.decoded("DTEND") == event.ends_at
    assert str(vevent["LOCATION"]) == "ROPS Rzeszów, sala konferencyjna, II piętro, ul. Hetmańska 9, 35-045 Rzeszów"
    description = str(vevent["DESCRIPTION"])
    assert "Prosimy o potwierdzenie obecności." in description and "PF.0702.10.2019.LK" in description
    assert f"http://localhost/events/{event.id}" in description
    assert vevent.decoded("DTSTAMP") == event.updated_at.replace(microsecond=0)
    assert str(vevent["ORGANIZER"]) == "mailto:biuro@example.org"
    assert str(vevent["STATUS"]) == "CONFIRMED"
    assert calendar.walk("VALARM")


def test_the_time_zone_is_the_compact_yearly_rule_not_a_list_of_dates(app):
    component = vtimezone("Europe/Warsaw")
    text = component.to_ical().decode()
    assert "RDATE" not in text
    assert "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3" in text and "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10" in text
    assert vtimezone("Europe/Warsaw") is component  # built once


def test_a_draft_has_no_public_download(app, client):
    event = make.event(published=False)
    assert client.get(f"/events/{event.id}.ics").status_code == 404
    assert client.get("/events/999999.ics").status_code == 404


def test_a_cancelled_meeting_stays_downloadable_as_cancelled_with_the_same_uid(app, client):
    organiser = make.user()
    event = make.event(organiser)
    before = make.check_ics(client.get(f"/events/{event.id}.ics").data).walk("VEVENT")[0]
    cancel_event(organiser, event)
    after = make.check_ics(client.get(f"/events/{event.id}.ics").data).walk("VEVENT")[0]
    assert str(after["UID"]) == str(before["UID"])
    assert str(after["STATUS"]) == "CANCELLED" and int(after["SEQUENCE"]) == int(before["SEQUENCE"]) + 1


def test_the_public_feed_lists_published_and_cancelled_meetings_and_filters(app, client):
    organiser = make.user()
    lublin = make.user(make.organisation("Regionalny Ośrodek Polityki Społecznej w Lublinie", "ROPS Lublin"))
    training = make.event(organiser, kind="training", title="Szkoła Kooperacji")
    session = make.event(organiser, title="Spotkanie informacyjne")
    cancelled = make.event(organiser, title="Odwołane")
    cancel_event(organiser, cancelled)
    make.event(organiser, published=False, title="Szkic")
    elsewhere = make.event(lublin, title="Lublin")

    response = client.get("/calendar.ics")
    calendar = make.check_ics(response.data)
    titles = {str(v["SUMMARY"]): v for v in calendar.walk("VEVENT")}
    assert set(titles) == {"Szkoła Kooperacji", "Spotkanie informacyjne", "Odwołane", "Lublin"}
    assert str(titles["Odwołane"]["STATUS"]) == "CANCELLED"
    assert str(calendar["X-WR-TIMEZONE"]) == "Europe/Warsaw" and calendar["X-WR-CALNAME"]
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in response.get_data(as_text=True)
    assert not calendar.walk("VALARM")

    slug = training.organisation.slug
    only_rzeszow = make.check_ics(client.get(f"/calendar.ics?organisation={slug}").data)
    assert elsewhere.title not in {str(v["SUMMARY"]) for v in only_rzeszow.walk("VEVENT")}
    only_training = make.check_ics(client.get(f"/calendar.ics?organisation={slug}&kind=training").data)
    assert [str(v["SUMMARY"]) for v in only_training.walk("VEVENT")] == ["Szkoła Kooperacji"]
    assert session.title not in str(only_training)
    assert client.get("/calendar.ics?organisation=nie-ma-takiej").status_code == 404
    assert client.get("/calendar.ics?kind=party").status_code == 404


def test_feeds_answer_304_with_both_validators_and_change_etag_when_a_meeting_is_cancelled(app, client):
    organiser = make.user()
    event = make.event(organiser)
    first = client.get("/calendar.ics")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert client.get("/calendar.ics").data == first.data  # stable between changes

    unchanged = client.get("/calendar.ics", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.data == b""
    assert unchanged.headers["ETag"] == etag and unchanged.headers["Last-Modified"] == modified
    assert client.get("/calendar.ics", headers={"If-Modified-Since": modified}).status_code == 304
    # If-None-Match decides when both are sent: a stale ETag means a full answer whatever the date says.
    assert client.get("/calendar.ics", headers={"If-None-Match": '"stale"', "If-Modified-Since": modified}
                      ).status_code == 200

    cancel_event(organiser, event)

    changed = client.get("/calendar.ics", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert "STATUS:CANCELLED" in changed.get_data(as_text=True)


def test_an_update_changes_the_feed_and_raises_the_sequence(app, client):
    organiser = make.user()
    event = make.event(organiser)
    etag = client.get("/calendar.ics").headers["ETag"]
    update_event(organiser, event, {"room": "sala 101"})
    response = client.get("/calendar.ics", headers={"If-None-Match": etag})
    assert response.status_code == 200
    vevent = make.check_ics(response.data).walk("VEVENT")[0]
    assert int(vevent["SEQUENCE"]) == 1 and "sala 101" in str(vevent["LOCATION"])


def test_the_organisers_private_feed_includes_their_drafts(app, client):
    organiser = make.user()
    other = make.user(make.organisation("Regionalny Ośrodek Polityki Społecznej w Lublinie", "ROPS Lublin"))
    make.event(organiser, title="Opublikowane")
    make.event(organiser, published=False, title="Mój szkic")
    make.event(other, published=False, title="Cudzy szkic")

    response = client.get(f"/calendar/{organiser.feed_token}.ics")

    assert response.status_code == 200
    calendar = make.check_ics(response.data)
    events = {str(v["SUMMARY"]): v for v in calendar.walk("VEVENT")}
    assert set(events) == {"Opublikowane", "Mój szkic"}
    assert str(events["Mój szkic"]["STATUS"]) == "TENTATIVE"
    assert "private" in response.headers["Cache-Control"]
    assert client.get(f"/calendar/{'x' * 43}.ics").status_code == 404
    assert client.get("/calendar/short.ics").status_code == 404


def test_the_public_page_offers_the_download_and_a_google_calendar_link(app, client):
    event = make.event()
    page = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert f'href="/events/{event.id}.ics"' in page
    google = next(part for part in page.split('"') if part.startswith("https://calendar.google.com/"))
    query = parse_qs(urlparse(google.replace("&amp;", "&")).query)
    assert query["action"] == ["TEMPLATE"] and query["text"] == [event.title]
    start = event.starts_at.strftime("%Y%m%dT%H%M%SZ")
    end = event.ends_at.strftime("%Y%m%dT%H%M%SZ")
    assert query["dates"] == [f"{start}/{end}"]


def test_the_home_page_offers_webcal_and_https_feed_links(app, client):
    make.event()
    page = client.get("/").get_data(as_text=True)
    assert 'href="webcal://localhost/calendar.ics"' in page
    assert 'href="http://localhost/calendar.ics"' in page
    assert client.get("/calendar.ics").status_code == 200


def test_the_multi_day_meeting_keeps_its_local_times_across_the_clock_change(app, client):
    from datetime import datetime

    event = make.event(starts_at=datetime(2031, 3, 29, 9, 0), ends_at=datetime(2031, 3, 30, 15, 0),
                       declaration_deadline=datetime(2031, 3, 20, 16, 0))
    vevent = make.check_ics(client.get(f"/events/{event.id}.ics").data).walk("VEVENT")[0]
    assert "DTSTART;TZID=Europe/Warsaw:20310329T090000" in vevent.to_ical().decode()
    assert "DTEND;TZID=Europe/Warsaw:20310330T150000" in vevent.to_ical().decode()
    # 29 hours, not 30: the clocks go forward in the night between.
    assert vevent.decoded("DTEND").astimezone(timezone.utc) - vevent.decoded("DTSTART").astimezone(timezone.utc) \
        == timedelta(hours=29)


# --- validators before building, and cached VEVENTs ----------------------------------------------------------

def _etag_and_date(client, path="/calendar.ics"):
    response = client.get(path)
    assert response.status_code == 200
    return response.headers["ETag"], response.headers["Last-Modified"]


def test_an_unchanged_feed_answers_304_from_one_aggregate_without_loading_the_meetings(app, client):
    from .helpers import sql_statements

    organiser = make.user()
    for number in range(5):
        make.event(organiser, title=f"Spotkanie {number}")
    etag, modified = _etag_and_date(client)

    with sql_statements() as statements:
        unchanged = client.get("/calendar.ics", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.data == b""
    assert unchanged.headers["ETag"] == etag and unchanged.headers["Last-Modified"] == modified
    # The validators come from one statement (an aggregate and a look at the few organisations and organisers);
    # no meeting row.
    assert len(statements) == 1, statements
    assert not [s for s in statements if "events.title" in s]
    assert client.get("/calendar.ics", headers={"If-Modified-Since": modified}).status_code == 304

    feed_path = f"/calendar/{organiser.feed_token}.ics"
    private_etag, _ = _etag_and_date(client, feed_path)
    assert client.get(feed_path, headers={"If-None-Match": private_etag}).status_code == 304
    # The language changes the text (the calendar's name, "Reference number"), so it changes the ETag too.
    assert client.get("/calendar.ics?lang=en", headers={"If-None-Match": etag}).status_code == 200


def _delete(event):
    from scheduler.extensions import db

    db.session.delete(event)
    db.session.commit()


def _rename(organisation):
    # The ORGANIZER's name comes from the organisation when the meeting names no contact.
    from scheduler.extensions import db

    organisation.name = "Ośrodek o nowej nazwie"
    db.session.commit()


def _back_to_draft(event):
    # Not through the domain (it has no "unpublish"): only the status changes, no timestamp moves.
    from scheduler.extensions import db

    event.status = "draft"
    db.session.commit()


def _new_sender(organisation):
    # ORGANIZER names the organisation's sender address when the meeting names no contact e-mail.
    from scheduler.extensions import db

    organisation.sender_email = "sekretariat@example.org"
    db.session.commit()


CHANGES = {
    "edit": lambda organiser, event: update_event(organiser, event, {"title": "Nowy tytuł"}),
    "back to draft": lambda organiser, event: _back_to_draft(event),
    "sender address": lambda organiser, event: _new_sender(organiser.organisation),
    "cancellation": lambda organiser, event: cancel_event(organiser, event),
    "new meeting": lambda organiser, event: make.event(organiser, title="Dodatkowe spotkanie"),
    "deletion": lambda organiser, event: _delete(event),
    "organisation renamed": lambda organiser, event: _rename(organiser.organisation),
}


def test_every_change_the_feed_shows_changes_its_etag(app, client):
    for change, apply in CHANGES.items():
        organiser = make.user(make.organisation(f"Ośrodek {change}", f"O-{change}"))
        event = make.event(organiser, title=f"Przed zmianą ({change})", contact_name="", contact_email="")
        make.event(organiser, title=f"Obok ({change})")
        etag, _ = _etag_and_date(client)
        body = client.get("/calendar.ics").data
        private = f"/calendar/{organiser.feed_token}.ics"
        private_etag, _ = _etag_and_date(client, private)

        apply(organiser, event)

        answer = client.get("/calendar.ics", headers={"If-None-Match": etag})
        assert answer.status_code == 200, change
        assert answer.headers["ETag"] != etag and answer.data != body, change
        assert client.get(private, headers={"If-None-Match": private_etag}).status_code == 200, change
        # and it is stable again afterwards
        assert client.get("/calendar.ics", headers={"If-None-Match": answer.headers["ETag"]}).status_code == 304


def test_a_drafts_edit_changes_the_private_feed_but_not_the_public_one(app, client):
    organiser = make.user()
    make.event(organiser, title="Opublikowane")
    draft = make.event(organiser, published=False, title="Szkic")
    public_etag, _ = _etag_and_date(client)
    private = f"/calendar/{organiser.feed_token}.ics"
    private_etag, _ = _etag_and_date(client, private)

    update_event(organiser, draft, {"title": "Szkic poprawiony"})

    assert client.get("/calendar.ics", headers={"If-None-Match": public_etag}).status_code == 304
    changed = client.get(private, headers={"If-None-Match": private_etag})
    assert changed.status_code == 200 and "Szkic poprawiony" in changed.get_data(as_text=True)


def test_the_cached_feed_is_the_same_text_icalendar_builds_from_scratch(app, client):
    """Cached VEVENTs put into the shell give exactly what building the whole calendar at once gives."""
    import icalendar
    from flask_babel import force_locale

    from scheduler.calendar import feeds, ical
    from scheduler.events.services import list_public_events

    organiser = make.user()
    make.event(organiser, title="Pierwsze")
    moved = make.event(organiser, title="Drugie", contact_name="", contact_email="")
    cancelled = make.event(organiser, title="Trzecie", timezone="Europe/London")
    cancel_event(organiser, cancelled)
    update_event(organiser, moved, {"room": "sala 101"})

    for language in ("pl", "en"):
        feeds.VEVENTS.clear()
        cold = client.get(f"/calendar.ics?lang={language}").data
        warm = client.get(f"/calendar.ics?lang={language}").data
        with app.test_request_context(f"/calendar.ics?lang={language}"), force_locale(language):
            events = sorted(list_public_events(), key=lambda e: (e.starts_at, e.id))
            expected = ical.feed(events, name=ical._("Cooperation Leaders – meetings"), link_for=feeds._link,
                                 refresh=timedelta(minutes=app.config["FEED_REFRESH_MINUTES"])).encode()
        assert cold == warm == expected, language
        parsed = icalendar.Calendar.from_ical(warm)
        assert [str(v["SUMMARY"]) for v in parsed.walk("VEVENT")] == ["Pierwsze", "Drugie", "Trzecie"]
        assert {str(z["TZID"]) for z in parsed.walk("VTIMEZONE")} == {"Europe/Warsaw", "Europe/London"}


def test_a_feed_request_leaves_the_session_in_an_ordinary_transaction(app, client):
    # On PostgreSQL a feed reads without a transaction; whatever runs after the request must not inherit that.
    from scheduler.extensions import db

    organiser = make.user()
    event = make.event(organiser)
    etag = client.get("/calendar.ics").headers["ETag"]
    assert client.get("/calendar.ics", headers={"If-None-Match": etag}).status_code == 304

    assert not db.session().in_transaction()
    assert db.session.connection().get_execution_options().get("isolation_level") != "AUTOCOMMIT"
    db.session.rollback()
    update_event(organiser, event, {"title": "Po pobraniu kalendarza"})
    assert client.get("/calendar.ics", headers={"If-None-Match": etag}).status_code == 200


def test_an_administrators_private_feed_has_every_organisations_drafts_and_revalidates(app, client):
    admin = make.user(is_admin=True)
    other = make.user(make.organisation("Regionalny Ośrodek Polityki Społecznej w Kielcach", "ROPS Kielce"))
    make.event(other, published=False, title="Szkic z Kielc")
    path = f"/calendar/{admin.feed_token}.ics"
    first = client.get(path)
    assert "Szkic z Kielc" in first.get_data(as_text=True)
    assert client.get(path, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304

    make.event(other, published=False, title="Drugi szkic z Kielc")

    changed = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and "Drugi szkic z Kielc" in changed.get_data(as_text=True)
