"""Certificates e-mailed through the outbox after the meeting, when the organiser chooses: one e-mail per
declaration with a PDF per participant present, each certificate once, later ones with a second click; the
certificates section shows what became of each e-mail. Read back from a real SMTP server, the PDFs with pypdf."""
from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from scheduler.errors import InvalidState
from scheduler.extensions import db
from scheduler.notifications.dispatcher import dispatch_due
from scheduler.notifications.models import Message
from scheduler.presence.certificates import mail_certificates
from scheduler.presence.models import Certificate
from scheduler.presence.services import meeting_days
from scheduler.registration.services import declare

from . import factories as make
from .helpers import confirm, confirmation_form, logged_in_organiser, visible_text
from .test_mail_inline_images import FUNDING, meeting_of, project_with_strip


def _meeting(client, organiser, *, ended: bool = True):
    """Two institutions: Łańcut with two people present and one absent, Czarna (declared in English) with one."""
    project = project_with_strip(organiser)
    start = (make.now() + timedelta(days=5)).replace(hour=9, minute=0, second=0, microsecond=0)
    event = meeting_of(organiser, project, invite_only=False, capacity=10, starts_at=start,
                       ends_at=start + timedelta(hours=6), declaration_deadline=start - timedelta(days=1),
                       title="Szkolenie MSK")
    lancut = declare(event.id, make.declaration(institution="PCPR w Łańcucie", email="pcpr@lancut.example",
                                                participants=[{"name": n, "position": "", "needs": ""} for n in
                                                              ("Zofia Żółkiewska", "Jan Nowak", "Anna Kąkol")]))
    czarna = declare(event.id, make.declaration(institution="GOPS Czarna", email="gops@czarna.example",
                                                language="en",
                                                participants=[{"name": "Ewa Zielińska", "position": "", "needs": ""}]))
    people = {p.name: p.id for r in (lancut, czarna) for p in r.participants}
    day = meeting_days(event)[0].isoformat()
    for name, state in (("Zofia Żółkiewska", "present"), ("Jan Nowak", "present"), ("Anna Kąkol", "absent"),
                        ("Ewa Zielińska", "present")):
        client.post(f"/organiser/events/{event.id}/check-in/mark",
                    data={"participant_id": people[name], "day": day, "state": state})
    if ended:
        event.starts_at, event.ends_at = make.now() - timedelta(days=1, hours=6), make.now() - timedelta(days=1)
        db.session.commit()
    return event, lancut, czarna, people


def _mail_url(event) -> str:
    return f"/organiser/events/{event.id}/certificates/email"


def _received(smtp_server, address):
    return [r.message for r in smtp_server.received if r.recipients == [address]
            and any(p.get_content_type() == "application/pdf" for p in r.message.walk())]


def _pdfs(message) -> dict[str, str]:
    """The attached PDFs by file name, each as its text."""
    found = {}
    for part in message.walk():
        if part.get_content_type() == "application/pdf":
            assert part.get_content_disposition() == "attachment"
            reader = PdfReader(io.BytesIO(part.get_content()))
            found[part.get_filename()] = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    return found


def test_each_institution_gets_its_present_participants_certificates_as_pdfs(client, mail_app, smtp_server):  # noqa: F811
    organiser = logged_in_organiser(client)
    event, lancut, czarna, _people = _meeting(client, organiser)
    client.post(f"/organiser/events/{event.id}/certificates/issue")
    codes = {c.name: c.code for c in db.session.execute(select(Certificate)).scalars()}
    assert set(codes) == {"Zofia Żółkiewska", "Jan Nowak", "Ewa Zielińska"}

    page = client.get(_mail_url(event)).get_data(as_text=True)
    seen = visible_text(page)
    assert "PCPR w Łańcucie <pcpr@lancut.example>" in seen and "GOPS Czarna <gops@czarna.example>" in seen
    assert all(f"{name} ({code})" in seen for name, code in codes.items()) and "Anna" not in seen
    assert confirm(client, _mail_url(event)).status_code == 303

    # The outbox rows stay compact: the certificates' ids, nothing rendered.
    rows = make.messages(kind="certificates")
    assert sorted(r.recipient for r in rows) == ["gops@czarna.example", "pcpr@lancut.example"]
    assert all(r.body_text is None and r.payload["facts"]["certificates"] for r in rows)
    assert {r.recipient: r.language for r in rows} == {"pcpr@lancut.example": "pl", "gops@czarna.example": "en"}
    dispatch_due()

    [to_lancut] = _received(smtp_server, "pcpr@lancut.example")
    pdfs = _pdfs(to_lancut)
    assert len(pdfs) == 2
    for name in ("Zofia Żółkiewska", "Jan Nowak"):
        [(filename, text)] = [(f, t) for f, t in pdfs.items() if name in t]
        assert codes[name] in text and filename == codes[name].replace("/", "-") + ".pdf"
        assert "ZAŚWIADCZENIE" in text and "Szkolenie MSK" in text
    body = to_lancut.get_body(("plain",)).get_content()
    assert "Szanowni Państwo" in body and codes["Jan Nowak"] in body and FUNDING in body
    html = to_lancut.get_body(("html",)).get_content()
    assert FUNDING in html and re.search(r'<img src="cid:logo-strip\.[^"]+"[^>]*alt="Fundusze Europejskie', html)
    assert any(p.get_content_type() == "image/png" for p in to_lancut.walk())
    assert not any(p.get_content_type() == "text/calendar" for p in to_lancut.walk())

    [to_czarna] = _received(smtp_server, "gops@czarna.example")
    assert list(_pdfs(to_czarna)) == [codes["Ewa Zielińska"].replace("/", "-") + ".pdf"]
    assert "Ewa Zielińska" in next(iter(_pdfs(to_czarna).values()))
    assert "Dear Sir or Madam" in to_czarna.get_body(("plain",)).get_content()  # the declaration was in English

    # The section shows, per certificate, what became of its e-mail.
    section = client.get(f"/organiser/events/{event.id}/check-in").get_data(as_text=True)
    states = re.findall(r'<tr id="certificate-\d+">.*?data-state="([^"]*)"', section, re.S)
    assert states == ["sent", "sent", "sent"]


def test_a_double_submit_or_a_second_click_sends_each_certificate_once(client, mail_app, smtp_server):  # noqa: F811
    organiser = logged_in_organiser(client)
    event, lancut, _czarna, people = _meeting(client, organiser)
    client.post(f"/organiser/events/{event.id}/certificates/issue")
    action, fields = confirmation_form(client.get(_mail_url(event)).get_data(as_text=True))
    assert client.post(action, data=fields).status_code == 303
    again = client.post(action, data=fields)  # the same form sent twice (a double click, the back button)
    assert again.status_code == 200 and 'name="confirm"' not in again.get_data(as_text=True)  # nothing left to send
    assert db.session.execute(select(func.count(Message.id)).where(Message.kind == "certificates")).scalar_one() == 2
    section = client.get(f"/organiser/events/{event.id}/check-in").get_data(as_text=True)
    assert re.findall(r'data-state="([^"]*)"', section) == ["queued"] * 3
    dispatch_due()
    assert len(_received(smtp_server, "pcpr@lancut.example")) == 1

    # Someone marked present afterwards gets a certificate later: a second click sends only that one.
    day = meeting_days(event)[0].isoformat()
    client.post(f"/organiser/events/{event.id}/check-in/mark",
                data={"participant_id": people["Anna Kąkol"], "day": day, "state": "present", "seen": 0})
    client.post(f"/organiser/events/{event.id}/certificates/issue")
    page = visible_text(client.get(_mail_url(event)).get_data(as_text=True))
    assert "PCPR w Łańcucie" in page and "Anna Kąkol" in page and "Zofia" not in page and "GOPS Czarna" not in page
    confirm(client, _mail_url(event))
    dispatch_due()
    later = _received(smtp_server, "pcpr@lancut.example")
    assert len(later) == 2
    [(_name, text)] = _pdfs(later[1]).items()
    assert "Anna Kąkol" in text
    assert len(_received(smtp_server, "gops@czarna.example")) == 1


def test_no_certificate_is_e_mailed_before_the_meeting_has_ended(client, mail_app, smtp_server):  # noqa: F811
    organiser = logged_in_organiser(client)
    event, _lancut, _czarna, _people = _meeting(client, organiser, ended=False)
    client.post(f"/organiser/events/{event.id}/certificates/issue")
    assert db.session.execute(select(func.count(Certificate.id))).scalar_one() == 3
    assert "certificates/email" not in client.get(f"/organiser/events/{event.id}/check-in").get_data(as_text=True)
    page = client.get(_mail_url(event)).get_data(as_text=True)
    assert 'name="confirm"' not in page
    client.post(_mail_url(event), data={"confirm": "anything"})
    with pytest.raises(InvalidState):
        mail_certificates(organiser, event)
    db.session.rollback()
    dispatch_due()
    assert db.session.execute(select(func.count(Message.id)).where(Message.kind == "certificates")).scalar_one() == 0
    assert not [r for r in smtp_server.received if any(p.get_content_type() == "application/pdf"
                                                       for p in r.message.walk())]


def test_an_organiser_of_another_organisation_cannot_e_mail_them(client, mail_app):
    organiser = logged_in_organiser(client)
    event, _lancut, _czarna, _people = _meeting(client, organiser)
    client.post(f"/organiser/events/{event.id}/certificates/issue")
    other = client.application.test_client()
    logged_in_organiser(other, make.organisation("Regionalny Ośrodek Polityki Społecznej w Lublinie", "ROPS Lublin"))
    assert other.get(_mail_url(event)).status_code in (403, 404)
    assert other.post(_mail_url(event), data={"confirm": "x"}).status_code in (403, 404)
    assert db.session.execute(select(func.count(Message.id)).where(Message.kind == "certificates")).scalar_one() == 0
