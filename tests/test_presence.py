"""Check-in on the meeting day: presence per participant and day, two organisers at once, walk-ins, undo."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from scheduler.extensions import db
from scheduler.presence.models import Presence, WalkIn
from scheduler.presence.services import meeting_days, presence_summary
from scheduler.registration.models import Participant
from scheduler.registration.services import declare

from . import factories as make


def _meeting(organiser, days: int = 2, capacity: int = 3):
    start = (make.now() + timedelta(days=10)).replace(hour=8, minute=0, second=0, microsecond=0)
    event = make.event(organiser, invite_only=False, capacity=capacity, starts_at=start,
                       ends_at=start + timedelta(days=days - 1, hours=7), declaration_deadline=start - timedelta(days=2))
    lancut = declare(event.id, make.declaration(seats=2, institution="PCPR w Łańcucie", category="powiat"))
    gmina = declare(event.id, make.declaration(seats=1, institution="GOPS Czarna", category="gmina"))
    waiting = declare(event.id, make.declaration(seats=2, institution="PCPR w Leżajsku"))
    return event, lancut, gmina, waiting


def _logged_in(client, organiser):
    db.session.commit()
    make.login(client, organiser, lang="pl")


def _participant(registration, n=0) -> int:
    return sorted(p.id for p in registration.participants)[n]


def test_the_check_in_list_has_every_confirmed_participant_for_each_day_of_the_meeting(client):
    organiser = make.user()
    event, lancut, gmina, waiting = _meeting(organiser)
    assert waiting.status == "waitlisted"
    days = meeting_days(event)
    assert len(days) == 2
    _logged_in(client, organiser)
    page = client.get(f"/organiser/events/{event.id}/check-in?day={days[1].isoformat()}").get_data(as_text=True)
    assert "<title>Lista obecności – rejestracja na miejscu – " in page  # nothing but the title in <title>
    assert page.count('id="certificates"') == 1
    assert "PCPR w Łańcucie" in page and "GOPS Czarna" in page and "PCPR w Leżajsku" not in page
    assert page.count('name="participant_id"') == 3


def test_marking_present_then_absent_then_undo_per_day(client):
    organiser = make.user()
    event, lancut, _gmina, _waiting = _meeting(organiser)
    first, second = meeting_days(event)
    pid = _participant(lancut)
    _logged_in(client, organiser)
    url = f"/organiser/events/{event.id}/check-in/mark"
    assert client.post(url, data={"participant_id": pid, "day": first.isoformat(), "state": "present",
                                  "seen": 0}).status_code == 303
    row = db.session.execute(select(Presence)).scalar_one()
    assert (row.present, row.version, row.day) == (True, 1, first)
    client.post(url, data={"participant_id": pid, "day": first.isoformat(), "state": "absent", "seen": 1})
    client.post(url, data={"participant_id": pid, "day": second.isoformat(), "state": "present", "seen": 0})
    db.session.expire_all()
    marks = {(p.day, p.present, p.version) for p in db.session.execute(select(Presence)).scalars()}
    assert marks == {(first, False, 2), (second, True, 1)}
    client.post(url, data={"participant_id": pid, "day": first.isoformat(), "state": "undo", "seen": 2})
    db.session.expire_all()
    assert [(p.day, p.present) for p in db.session.execute(select(Presence)).scalars()] == [(second, True)]


def test_two_organisers_at_once_do_not_overwrite_each_other(client, make_app):
    organiser = make.user()
    colleague = make.user(organiser.organisation)
    event, lancut, _gmina, _waiting = _meeting(organiser)
    day = meeting_days(event)[0].isoformat()
    pid = _participant(lancut)
    email = colleague.email
    _logged_in(client, organiser)
    other = make_app().test_client()
    db.session.rollback()
    other.post("/login", data={"email": email, "password": make.PASSWORD})
    url = f"/organiser/events/{event.id}/check-in/mark"

    # Both saw the person unmarked; the first marks present, the second (a moment later) absent.
    client.post(url, data={"participant_id": pid, "day": day, "state": "present", "seen": 0})
    db.session.rollback()  # SQLite: the test's client shares this session; end its transaction
    late = other.post(url, data={"participant_id": pid, "day": day, "state": "absent", "seen": 0},
                      follow_redirects=True)
    assert "Ktoś inny właśnie zmienił" in late.get_data(as_text=True)
    db.session.rollback()
    assert db.session.execute(select(Presence.present, Presence.version)).one() == (True, 1)
    # A mark on what the first one saw and since changed is refused as well.
    client.post(url, data={"participant_id": pid, "day": day, "state": "absent", "seen": 1})
    db.session.rollback()
    stale = other.post(url, data={"participant_id": pid, "day": day, "state": "undo", "seen": 1},
                       follow_redirects=True)
    assert "Ktoś inny właśnie zmienił" in stale.get_data(as_text=True)
    db.session.rollback()
    assert db.session.execute(select(Presence.present, Presence.version)).one() == (False, 2)


def test_search_finds_by_name_or_institution_without_caring_for_case_or_polish_letters(client):
    organiser = make.user()
    event, _lancut, _gmina, _waiting = _meeting(organiser)
    _logged_in(client, organiser)
    page = client.get(f"/organiser/events/{event.id}/check-in?q=LANCUCIE").get_data(as_text=True)
    assert page.count('name="participant_id"') == 2 and "GOPS Czarna" not in page.split('id="walk-in"')[0]


def test_a_walk_in_stands_in_for_a_colleague_of_the_same_institution_and_counts_as_present(client):
    organiser = make.user()
    event, lancut, gmina, _waiting = _meeting(organiser)
    day = meeting_days(event)[0]
    _logged_in(client, organiser)
    url = f"/organiser/events/{event.id}/check-in/walk-in"
    refused = client.post(url, data={"registration_id": lancut.id, "day": day.isoformat(), "name": "Jan Zastępca",
                                     "substitute_for_id": _participant(gmina)}, follow_redirects=True)
    assert "tej samej instytucji" in refused.get_data(as_text=True)
    assert db.session.execute(select(WalkIn)).first() is None

    client.post(url, data={"registration_id": lancut.id, "day": day.isoformat(), "name": "Jan Zastępca",
                           "position": "pracownik socjalny", "substitute_for_id": _participant(lancut)})
    walk_in = db.session.execute(select(WalkIn)).scalar_one()
    page = client.get(f"/organiser/events/{event.id}/check-in?day={day.isoformat()}").get_data(as_text=True)
    assert "Jan Zastępca" in page and "zamiast" in page
    [first_day, second_day] = presence_summary(event)
    assert (first_day.walk_ins, first_day.present_by_category) == (1, {"powiat": 1})
    assert second_day.walk_ins == 0
    assert db.session.execute(select(Participant.id).where(Participant.name == "Jan Zastępca")).first() is None

    client.post(f"{url}/remove", data={"walk_in_id": walk_in.id, "day": day.isoformat()})
    db.session.expire_all()
    assert db.session.execute(select(WalkIn)).first() is None


def test_the_summary_counts_present_absent_and_unmarked_per_day_and_category(client):
    organiser = make.user()
    event, lancut, gmina, _waiting = _meeting(organiser)
    first, _second = meeting_days(event)
    _logged_in(client, organiser)
    url = f"/organiser/events/{event.id}/check-in/mark"
    client.post(url, data={"participant_id": _participant(lancut, 0), "day": first.isoformat(), "state": "present"})
    client.post(url, data={"participant_id": _participant(lancut, 1), "day": first.isoformat(), "state": "absent"})
    client.post(url, data={"participant_id": _participant(gmina), "day": first.isoformat(), "state": "present"})
    [day_one, day_two] = presence_summary(event)
    assert (day_one.present, day_one.absent, day_one.unmarked) == (2, 1, 0)
    assert day_one.present_by_category == {"powiat": 1, "gmina": 1}
    assert (day_two.present, day_two.absent, day_two.unmarked) == (0, 0, 3)


def test_a_day_outside_the_meeting_or_someone_of_another_meeting_cannot_be_marked(client):
    organiser = make.user()
    event, lancut, _gmina, _waiting = _meeting(organiser)
    other_event, other_registration, _g, _w = _meeting(organiser)
    _logged_in(client, organiser)
    url = f"/organiser/events/{event.id}/check-in/mark"
    client.post(url, data={"participant_id": _participant(other_registration), "state": "present"})
    assert db.session.execute(select(Presence)).first() is None


def _manage_codes(client, registration) -> list[str]:
    page = client.get(f"/m/{registration.manage_token}?lang=pl").get_data(as_text=True)
    assert page.count("<svg") == len(registration.participants)
    from scheduler.presence.codes import check_in_url
    return [check_in_url(p.id).replace("http://localhost", "") for p in sorted(registration.participants,
                                                                               key=lambda p: p.ordinal)]


def test_the_manage_page_carries_a_qr_code_per_participant_that_an_organiser_scans_at_the_door(client, make_app):
    organiser = make.user()
    event, lancut, _gmina, waiting = _meeting(organiser, days=1)
    start_day = meeting_days(event)[0]
    path = _manage_codes(client, lancut)[0]
    assert "<svg" not in client.get(f"/m/{waiting.manage_token}").get_data(as_text=True)  # no place, no code

    # Anyone but an organiser of the meeting sees nothing personal.
    stranger = client.get(path).get_data(as_text=True)
    assert "Łańcucie" not in stranger and lancut.participants[0].name not in stranger
    assert client.get(path[:-3] + "xyz").status_code == 404

    from scheduler.presence.services import mark_present_by_code
    pid = _participant(lancut)
    outcome = mark_present_by_code(organiser, pid, today=start_day)
    assert outcome[0] == event.id and "obecn" in str(outcome[2])
    assert db.session.execute(select(Presence.present)).scalars().all() == [True]
    again = mark_present_by_code(organiser, pid, today=start_day)
    assert "już" in str(again[2])
    other_day = mark_present_by_code(organiser, pid, today=start_day + timedelta(days=5))
    assert other_day[3] == "error"
    outsider = make.user(make.organisation("Regionalny Ośrodek Polityki Społecznej w Lublinie", "ROPS Lublin"))
    assert mark_present_by_code(outsider, pid, today=start_day) is None


def test_the_meeting_overview_shows_presence_per_day_once_anyone_is_marked(client):
    organiser = make.user()
    event, lancut, _gmina, _waiting = _meeting(organiser)
    _logged_in(client, organiser)
    assert "Obecność według dni" not in client.get(f"/organiser/events/{event.id}").get_data(as_text=True)
    first = meeting_days(event)[0].isoformat()
    client.post(f"/organiser/events/{event.id}/check-in/mark",
                data={"participant_id": _participant(lancut), "day": first, "state": "present"})
    page = client.get(f"/organiser/events/{event.id}").get_data(as_text=True)
    assert "Obecność według dni" in page and 'class="present-count">1<' in page


def test_the_confirmation_e_mail_and_the_manage_page_carry_the_same_code_per_participant(client, mail_app, smtp_server):  # noqa: F811
    import io

    import segno
    import zxingcpp
    from PIL import Image

    from scheduler.notifications.dispatcher import dispatch_due
    from scheduler.presence.codes import check_in_url

    organiser = make.user()
    _event, lancut, _gmina, _waiting = _meeting(organiser, days=1)
    dispatch_due()
    [confirmation] = [r.message for r in smtp_server.received if r.recipients == [lancut.email]]
    decoded = sorted(zxingcpp.read_barcodes(Image.open(io.BytesIO(part.get_content())))[0].text
                     for part in confirmation.walk() if part.get_filename("").startswith("kod-"))
    people = sorted(lancut.participants, key=lambda p: p.ordinal)
    assert decoded == sorted(check_in_url(p.id) for p in people)
    page = client.get(f"/m/{lancut.manage_token}?lang=pl").get_data(as_text=True)
    for person in people:
        # The page's SVG is segno's drawing of that same link.
        drawing = segno.make(check_in_url(person.id), error="m").svg_inline(scale=3)
        assert drawing.split("<path", 1)[1] in page
