"""The evaluation survey: after the meeting, one-time links through the outbox to those present only; anonymous
answers; results with charts and an XLSX export."""
from __future__ import annotations

import io
import json
import re
from datetime import timedelta

from openpyxl import load_workbook
from sqlalchemy import func, select

from scheduler.extensions import db, mail
from scheduler.notifications.dispatcher import dispatch_due
from scheduler.presence.services import meeting_days
from scheduler.registration.services import declare
from scheduler.surveys.models import SurveyLink, SurveyResponse

from . import factories as make
from .helpers import confirm, confirmation_form, logged_in_organiser


def _past_meeting(client, organiser):
    """A meeting that ended yesterday, with three people: two marked present, one absent."""
    start = (make.now() + timedelta(days=5)).replace(hour=9, minute=0, second=0, microsecond=0)
    event = make.event(organiser, invite_only=False, capacity=10, starts_at=start, ends_at=start + timedelta(hours=6),
                       declaration_deadline=start - timedelta(days=1), title="Szkolenie MSK")
    registration = declare(event.id, make.declaration(institution="PCPR w Łańcucie", email="pcpr@lancut.example", participants=[
        {"name": "Zofia Żółkiewska", "position": "", "needs": ""}, {"name": "Jan Nowak", "position": "", "needs": ""}]))
    other = declare(event.id, make.declaration(institution="GOPS Czarna", email="gops@czarna.example", participants=[
        {"name": "Ewa Zielińska", "position": "", "needs": ""}]))
    day = meeting_days(event)[0].isoformat()
    people = {p.name: p.id for r in (registration, other) for p in r.participants}
    url = f"/organiser/events/{event.id}/check-in/mark"
    client.post(url, data={"participant_id": people["Zofia Żółkiewska"], "day": day, "state": "present"})
    client.post(url, data={"participant_id": people["Ewa Zielińska"], "day": day, "state": "present"})
    client.post(url, data={"participant_id": people["Jan Nowak"], "day": day, "state": "absent"})
    # The meeting is over: move it into the past (the marks keep their day).
    event.starts_at, event.ends_at = make.now() - timedelta(days=1, hours=6), make.now() - timedelta(days=1)
    db.session.commit()
    return event


def _survey_mails(smtp_server):
    return [m for m in smtp_server.messages if m["Subject"].startswith("Ankieta ewaluacyjna")]


def _links(smtp_server) -> dict[str, str]:
    return {message["To"]: re.search(r"http://localhost(/s/\S+)",
                                     message.get_body(preferencelist=("plain",)).get_content()).group(1)
            for message in _survey_mails(smtp_server)}


def test_only_those_present_get_a_link_once_the_meeting_has_ended(client, app, smtp_server):
    app.config.update(smtp_server.config())
    mail.init_app(app)
    organiser = logged_in_organiser(client)
    event = _past_meeting(client, organiser)
    # From its confirmation page, which names who gets it; a POST without it sends nothing.
    assert client.post(f"/organiser/events/{event.id}/survey/send").status_code == 200
    assert db.session.execute(select(func.count(SurveyLink.id))).scalar_one() == 0
    page = client.get(f"/organiser/events/{event.id}/survey/send").get_data(as_text=True)
    assert "Zofia Żółkiewska" in page and "Jan Nowak" not in page
    action, fields = confirmation_form(page)
    assert client.post(action, data=fields).status_code == 303
    client.post(action, data=fields)  # again (a double click): nobody new
    assert db.session.execute(select(func.count(SurveyLink.id))).scalar_one() == 2
    dispatch_due()
    recipients = sorted(m["To"] for m in _survey_mails(smtp_server))
    assert recipients == ["gops@czarna.example", "pcpr@lancut.example"]
    texts = " ".join(m.get_body(preferencelist=("plain",)).get_content() for m in _survey_mails(smtp_server))
    assert "Zofia Żółkiewska" in texts and "Ewa Zielińska" in texts and "Jan Nowak" not in texts


def test_the_survey_is_not_sent_before_the_meeting_ends(client):
    organiser = logged_in_organiser(client)
    event = make.event(organiser)
    page = client.post(f"/organiser/events/{event.id}/survey/send", follow_redirects=True).get_data(as_text=True)
    assert "po zakończeniu spotkania" in page
    assert db.session.execute(select(func.count(SurveyLink.id))).scalar_one() == 0


def test_answers_are_stored_once_per_link_and_without_anything_that_points_to_a_person(client, app, smtp_server, make_app):
    app.config.update(smtp_server.config())
    mail.init_app(app)
    organiser = logged_in_organiser(client)
    event = _past_meeting(client, organiser)
    confirm(client, f"/organiser/events/{event.id}/survey/send")
    dispatch_due()
    links = _links(smtp_server)
    db.session.rollback()
    person = make_app().test_client()
    form = person.get(links["pcpr@lancut.example"])
    assert form.status_code == 200 and "anonimow" in form.get_data(as_text=True)
    wrong = person.post(links["pcpr@lancut.example"], data={"q1": "7"})
    assert wrong.status_code == 422 and "od 1 do 5" in wrong.get_data(as_text=True)
    done = person.post(links["pcpr@lancut.example"], data={"q1": "5", "q2": "4", "q4": "Raczej tak",
                                                            "q5": "Więcej przykładów z gmin wiejskich."})
    assert done.status_code == 200 and "Dziękujemy" in done.get_data(as_text=True)
    again = person.post(links["pcpr@lancut.example"], data={"q1": "1"})
    assert "już wypełniona" in again.get_data(as_text=True)
    person.post(links["gops@czarna.example"], data={"q1": "3"})
    db.session.rollback()

    responses = list(db.session.execute(select(SurveyResponse)).scalars())
    assert sorted(r.answers.get("q1") for r in responses) == [3, 5]
    stored = json.dumps([{c.name: getattr(r, c.name) for c in SurveyResponse.__table__.columns} for r in responses],
                        ensure_ascii=False, default=str)
    for personal in ("Żółkiewska", "Łańcucie", "lancut", "Zielińska", "czarna"):
        assert personal not in stored
    assert set(SurveyResponse.__table__.columns.keys()) == {"id", "survey_id", "round", "answers", "day"}

    page = client.get(f"/organiser/events/{event.id}/survey").get_data(as_text=True)
    assert "Średnia: 4.0" in page or "Średnia: 4,0" in page
    assert "data:image/svg+xml;base64," in page and "Więcej przykładów z gmin wiejskich." in page
    assert "Żółkiewska" not in page
    csv_text = client.get(f"/organiser/events/{event.id}/survey.csv").data.decode("utf-8-sig")
    assert "Więcej przykładów z gmin wiejskich." in csv_text and "Żółkiewska" not in csv_text
    sheet = load_workbook(io.BytesIO(client.get(f"/organiser/events/{event.id}/survey.xlsx").data)).worksheets[0]
    assert sheet.max_row == 3 and sheet.max_column == 7  # round, day, five questions
    cells = json.dumps([[c.value for c in row] for row in sheet.iter_rows()], ensure_ascii=False)
    assert "Żółkiewska" not in cells and "Więcej przykładów" in cells


def test_a_forged_survey_link_is_not_found(client):
    assert client.get("/s/" + "x" * 43).status_code == 404
