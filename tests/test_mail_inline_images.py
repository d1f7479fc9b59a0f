"""Images in e-mails: the project's logo strip beside the funding sentence of every e-mail about its meetings, and
each participant's check-in code in the confirmation, as inline images (multipart/related, cid:) that mail
clients show; the invitation layout (iMIP) stays as calendars read it. Checked on what a real SMTP server received,
parsed with the stdlib e-mail parser; the .ics with icalendar, the QR codes with a QR decoder (zxing-cpp)."""
from __future__ import annotations

import hashlib
import io
import re
from datetime import timedelta

import icalendar
from PIL import Image
import zxingcpp
from sqlalchemy import select

from scheduler.events.reminder_settings import schedule
from scheduler.extensions import db
from scheduler.notifications.dispatcher import dispatch_due
from scheduler.notifications.reminder_planner import send_now
from scheduler.notifications.rendering import strip_image
from scheduler.notifications.services import send_invitations
from scheduler.presence.codes import check_in_url
from scheduler.presence.services import meeting_days
from scheduler.projects.models import Project
from scheduler.registration.services import declare

from . import factories as make
from .helpers import FUNDING, confirm, logged_in_organiser, project_with_strip, sql_statements, strip_png

STRIP_ALT_PL = "Fundusze Europejskie, Rzeczpospolita Polska, Unia Europejska – Europejski Fundusz Społeczny"


def meeting_of(organiser, project, **overrides):
    event = make.event(organiser, **overrides)
    event.project_id = project.id
    db.session.commit()
    return event


def _to(smtp_server, address):
    [found] = [r.message for r in smtp_server.received if r.recipients == [address]]
    return found


def _html_images(message) -> tuple[str, dict[str, object]]:
    """The HTML part and the images of its multipart/related, by Content-ID."""
    [related] = [p for p in message.walk() if p.get_content_type() == "multipart/related"]
    assert related.get_param("type") == "text/html"
    html_part, *images = related.get_payload()
    assert html_part.get_content_type() == "text/html"
    assert all(image.get_content_type() == "image/png" and image.get_content_disposition() == "inline"
               for image in images)
    return html_part.get_content(), {image["Content-ID"].strip("<>"): image for image in images}


def _referenced(html: str) -> list[str]:
    return re.findall(r'src="cid:([^"]+)"', html)


def _alt_of(html: str, cid: str) -> str:
    return re.search(r'<img src="cid:' + re.escape(cid) + r'"[^>]*alt="([^"]*)"', html).group(1)


def test_an_invitation_shows_the_strip_inline_and_keeps_the_calendar_layout(mail_app, smtp_server):  # noqa: F811
    organiser = make.user()
    project = project_with_strip(organiser)
    event = meeting_of(organiser, project)
    [invitation] = make.invitations(organiser, event, 1)
    send_invitations(organiser, event)
    dispatch_due()

    message = _to(smtp_server, invitation.email)
    # multipart/mixed[alternative[text/plain, related[text/html, image/png], text/calendar], invite.ics]
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.get_payload()
    assert [p.get_content_type() for p in alternative.get_payload()] == ["text/plain", "multipart/related",
                                                                         "text/calendar"]
    calendar_part = alternative.get_payload()[2]
    assert calendar_part.get_param("method") == "REQUEST"
    assert attachment.get_content_type() == "application/ics" and attachment.get_filename() == "invite.ics"
    calendar = icalendar.Calendar.from_ical(attachment.get_content())
    assert str(calendar["METHOD"]) == "REQUEST" and str(calendar.walk("VEVENT")[0]["SUMMARY"]) == event.title
    make.check_ics(calendar_part.get_content())

    html, images = _html_images(message)
    [cid] = _referenced(html)
    assert set(images) == {cid}
    assert images[cid].get_content() == db.session.get(Project, project.id).logo_strip
    assert _alt_of(html, cid).startswith(STRIP_ALT_PL)
    assert FUNDING in html
    text = message.get_body(("plain",)).get_content()
    assert FUNDING in text and "cid:" not in text


def test_a_meeting_without_a_strip_keeps_the_plain_html_part(mail_app, smtp_server):  # noqa: F811
    organiser = make.user()
    event = make.event(organiser)
    [invitation] = make.invitations(organiser, event, 1)
    send_invitations(organiser, event)
    dispatch_due()
    message = _to(smtp_server, invitation.email)
    assert [p.get_content_type() for p in message.get_payload()[0].get_payload()] == [
        "text/plain", "text/html", "text/calendar"]
    assert "cid:" not in message.get_payload()[0].get_payload()[1].get_content()


def test_the_strip_is_read_and_encoded_once_per_version_for_a_whole_fan_out(mail_app, smtp_server):  # noqa: F811
    organiser = make.user()
    project = project_with_strip(organiser, strip_png("darkgreen"))
    event = meeting_of(organiser, project)
    make.invitations(organiser, event, 12)
    send_invitations(organiser, event)
    strip_image(db.session.get(Project, project.id))  # as the first message of the fan-out would
    with sql_statements() as statements:
        counts = dispatch_due()
    assert counts["sent"] == 12
    assert not [s for s in statements if re.search(r"projects\.logo_strip\b(?!_version)", s)]
    strips = {img.get_content() for m in smtp_server.messages for img in _html_images(m)[1].values()}
    assert strips == {db.session.get(Project, project.id).logo_strip}

    # A new strip is a new version: read once more, under a Content-ID of its own.
    project = db.session.get(Project, project.id)
    before = strip_image(project)
    project.logo_strip = strip_png("maroon")
    project.logo_strip_version = hashlib.sha256(project.logo_strip).hexdigest()[:16]
    db.session.commit()
    after = strip_image(project)
    assert after.content_id != before.content_id and project.logo_strip_version in after.content_id
    assert strip_image(project) is after


def test_a_confirmation_carries_each_participants_check_in_code(mail_app, smtp_server, client):  # noqa: F811
    organiser = make.user()
    project = project_with_strip(organiser)
    event = meeting_of(organiser, project)
    registration = declare(event.id, make.declaration(participants=[
        {"name": "Zofia Żółkiewska", "position": "", "needs": ""},
        {"name": "Jan Nowak", "position": "pracownik socjalny", "needs": ""}]))
    dispatch_due()

    message = _to(smtp_server, registration.email)
    html, images = _html_images(message)
    strip_cid = strip_image(db.session.get(Project, project.id)).content_id
    referenced = _referenced(html)
    assert set(referenced) == set(images) and strip_cid in referenced and len(referenced) == 3
    people = {p.name: p.id for p in registration.participants}
    for name, participant_id in people.items():
        url = check_in_url(participant_id)
        [cid] = [c for c in referenced if c != strip_cid and name in _alt_of(html, c)]
        [decoded] = zxingcpp.read_barcodes(Image.open(io.BytesIO(images[cid].get_content())))
        assert decoded.text == url and decoded.format == zxingcpp.BarcodeFormat.QRCode
        assert url in html
    text = message.get_body(("plain",)).get_content()
    assert all(check_in_url(pid) in text for pid in people.values())
    assert "przy wejściu" in text  # what the codes are for: shown at the entrance
    # The calendar invite is still there, as before.
    assert any(p.get_content_type() == "text/calendar" for p in message.walk())

    # Opened by anyone but an organiser of the meeting, a code shows nothing personal.
    page = client.get(check_in_url(people["Zofia Żółkiewska"]).replace("http://localhost", ""))
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Żółkiewska" not in body and registration.institution not in body and registration.email not in body


def test_the_reminder_before_the_meeting_brings_the_codes_again(mail_app, smtp_server):  # noqa: F811
    organiser = make.user()
    event = make.event(organiser)
    registration = declare(event.id, make.declaration(participants=[
        {"name": "Zofia Żółkiewska", "position": "", "needs": ""}]))
    dispatch_due()
    key = next(p.key for p in schedule(event) if p.kind == "before_meeting")
    assert send_now(organiser, event, key) == 1
    dispatch_due()

    reminder = [r.message for r in smtp_server.received if r.recipients == [registration.email]][-1]
    html, images = _html_images(reminder)
    [participant] = registration.participants
    [cid] = [c for c in _referenced(html) if "Żółkiewska" in _alt_of(html, c)]
    [decoded] = zxingcpp.read_barcodes(Image.open(io.BytesIO(images[cid].get_content())))
    assert decoded.text == check_in_url(participant.id)
    assert check_in_url(participant.id) in reminder.get_body(("plain",)).get_content()


def test_only_a_confirmed_place_comes_with_codes(mail_app, smtp_server):  # noqa: F811
    event = make.event(capacity=1)
    declare(event.id, make.declaration())
    waiting = declare(event.id, make.declaration())
    dispatch_due()
    message = _to(smtp_server, waiting.email)
    assert not [p for p in message.walk() if p.get_content_type().startswith("image/")]
    assert "/c/" not in message.get_body(("plain",)).get_content()


def test_a_survey_e_mail_written_when_planned_shows_the_strip_as_it_is_when_sent(client, mail_app, smtp_server):  # noqa: F811
    organiser = logged_in_organiser(client)
    project = project_with_strip(organiser)
    start = (make.now() + timedelta(days=5)).replace(hour=9, minute=0, second=0, microsecond=0)
    event = meeting_of(organiser, project, starts_at=start, ends_at=start + timedelta(hours=6),
                       declaration_deadline=start - timedelta(days=1))
    registration = declare(event.id, make.declaration(email="pcpr@lancut.example"))
    client.post(f"/organiser/events/{event.id}/check-in/mark", data={
        "participant_id": registration.participants[0].id, "day": meeting_days(event)[0].isoformat(),
        "state": "present"})
    event.starts_at, event.ends_at = make.now() - timedelta(days=1, hours=6), make.now() - timedelta(days=1)
    db.session.commit()
    assert confirm(client, f"/organiser/events/{event.id}/survey/send").status_code == 303
    # The strip is replaced after the survey e-mail was written and before it goes out.
    project = db.session.get(Project, project.id)
    project.logo_strip = strip_png("purple")
    project.logo_strip_version = hashlib.sha256(project.logo_strip).hexdigest()[:16]
    db.session.commit()
    dispatch_due()

    [survey] = [m for m in smtp_server.messages if m["To"] == "pcpr@lancut.example" and "/s/" in
                m.get_body(("plain",)).get_content()]
    html, images = _html_images(survey)
    [cid] = _referenced(html)
    assert images[cid].get_content() == project.logo_strip
    assert FUNDING in html and _alt_of(html, cid).startswith(STRIP_ALT_PL)
    assert db.session.execute(select(Project.logo_strip_version).where(Project.id == project.id)).scalar_one() in cid
