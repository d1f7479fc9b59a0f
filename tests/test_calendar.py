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
