"""E-mailed invites reuse the part every recipient shares, and are exactly what building the whole object gives."""
from __future__ import annotations

from datetime import timedelta

from scheduler.calendar import ical
from scheduler.events.services import cancel_event, update_event
from scheduler.extensions import db

from . import factories as make


def _built(event, **kwargs) -> str:
    """The invite built property by property, without any reuse."""
    return ical._serialise(ical._invite_calendar(event, **kwargs))


def _both(event, *, method="REQUEST", email="pcpr@example.org", name="PCPR w Łańcucie", partstat="NEEDS-ACTION",
          link="http://localhost/i/abc", stamp=None):
    kwargs = {"method": method, "attendee": ical.Attendee(email, name, partstat), "link": link,
              "stamp": stamp or make.now()}
    return ical.invite(event, **kwargs), _built(event, **kwargs)


def test_an_invite_is_the_same_text_as_the_object_built_whole_for_every_recipient(app):
    event = make.event(description="Prosimy o potwierdzenie obecności.\nDrugi wiersz opisu, " + "długi " * 30)
    ical._FRAMES.clear()
    recipients = [("pcpr@example.org", "PCPR w Łańcucie", "NEEDS-ACTION", "http://localhost/i/" + "a" * 43),
                  ("ops@example.org", "", "ACCEPTED", "http://localhost/m/" + "b" * 60),
                  ("gops@example.org", "Gminny Ośrodek Pomocy Społecznej " * 4, "DECLINED", None)]
    stamp = make.now()
    for method in ("REQUEST", "CANCEL"):
        for email, name, partstat, link in recipients:
            cached, whole = _both(event, method=method, email=email, name=name, partstat=partstat, link=link,
                                  stamp=stamp + timedelta(seconds=len(email)))
            assert cached == whole
    assert len(ical._FRAMES) == 4  # per method, with and without a link: shared by the recipients
    calendar = make.check_ics(cached)
    assert str(calendar.walk("VEVENT")[0]["ATTENDEE"]) == "mailto:gops@example.org"


def test_a_meeting_changed_after_an_invite_was_made_gets_a_fresh_invite(app):
    organiser = make.user()
    event = make.event(organiser)
    first, _ = _both(event)
    new_start = event.starts_at + timedelta(days=1)
    update_event(organiser, event, {"starts_at": new_start, "ends_at": event.ends_at + timedelta(days=1)})
    db.session.refresh(event)

    moved, whole = _both(event)
    assert moved == whole and moved != first
    vevent = make.check_ics(moved).walk("VEVENT")[0]
    assert vevent.decoded("DTSTART") == new_start and int(vevent["SEQUENCE"]) == event.ical_sequence

    event.organisation.name = "ROPS w Rzeszowie (nowa nazwa)"  # not a change of the meeting itself
    event.contact_name = ""
    renamed, whole = _both(event)
    assert renamed == whole and "nowa nazwa" in renamed.replace("\r\n ", "")

    cancel_event(organiser, event)
    cancelled, whole = _both(event, method="CANCEL")
    assert cancelled == whole and "STATUS:CANCELLED" in cancelled


def test_an_invite_in_another_language_has_its_own_description(app):
    from flask_babel import force_locale

    event = make.event()
    with force_locale("pl"):
        polish, whole_pl = _both(event)
    with force_locale("en"):
        english, whole_en = _both(event)
    assert polish == whole_pl and english == whole_en
    assert "Reference number" in english.replace("\r\n ", "") and "Reference number" not in polish
