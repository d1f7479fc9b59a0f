"""A training's pre/post test: the same questions before the meeting (to confirmed participants, until it starts)
and after it (to those present), each round with its own one-time links and anonymous answers; results before and
after side by side, in the pages and the exports, with nothing that pairs one person's two answers."""
from __future__ import annotations

import codecs
import csv
import io
import json
import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from scheduler.errors import InvalidState
from scheduler.extensions import db
from scheduler.notifications.dispatcher import dispatch_due
from scheduler.presence.services import meeting_days
from scheduler.registration.services import declare
from scheduler.surveys.models import SurveyLink, SurveyResponse, SurveyRound
from scheduler.surveys.services import results, save_questions, send_pre_test, survey_of

from . import factories as make
from .helpers import confirm, confirmation_form, logged_in_organiser

KNOWLEDGE = "Jak ocenia Pan/Pani swoją wiedzę o procedurze Niebieskiej Karty?"
LEGAL = "Czy zna Pan/Pani obowiązki gminy w przeciwdziałaniu przemocy domowej?"
USEFUL = "Jak ocenia Pan/Pani przydatność szkolenia?"
QUESTIONS = [
    {"text": KNOWLEDGE, "type": "scale", "prepost": True, "required": True},
    {"text": LEGAL, "type": "choice", "choices": ["Tak", "Częściowo", "Nie"], "prepost": True},
    {"text": USEFUL, "type": "scale", "required": True},   # evaluation: after the meeting only
    {"text": "Co zmieniło się w Pana/Pani wiedzy?", "type": "text", "prepost": True},
]
PERSONAL = ("Żółkiewska", "Nowak", "Zielińska", "Kwiatkowski", "Łańcucie", "lancut", "czarna", "krosno")


@pytest.fixture
def training(client, mail_app, smtp_server):
    """A training in five days with a pre/post test: two confirmed declarations (Zofia and Jan; Ewa) and one on the
    waiting list (Piotr)."""
    organiser = logged_in_organiser(client)
    start = (make.now() + timedelta(days=5)).replace(hour=9, minute=0, second=0, microsecond=0)
    event = make.event(organiser, invite_only=False, capacity=3, starts_at=start, ends_at=start + timedelta(hours=6),
                       declaration_deadline=start - timedelta(days=1), title="Szkolenie: Niebieska Karta")
    first = declare(event.id, make.declaration(institution="PCPR w Łańcucie", email="pcpr@lancut.example",
                                               participants=[{"name": "Zofia Żółkiewska", "position": "", "needs": ""},
                                                             {"name": "Jan Nowak", "position": "", "needs": ""}]))
    second = declare(event.id, make.declaration(institution="GOPS Czarna", email="gops@czarna.example",
                                                participants=[{"name": "Ewa Zielińska", "position": "", "needs": ""}]))
    waiting = declare(event.id, make.declaration(institution="MOPS Krosno", email="mops@krosno.example",
                                                 participants=[{"name": "Piotr Kwiatkowski", "position": "",
                                                                "needs": ""}]))
    assert waiting.status == "waitlisted"
    save_questions(organiser, event, QUESTIONS, pre_post=True)
    people = {p.name: p.id for r in (first, second) for p in r.participants}
    return organiser, event, people


def _confirm_and_send_pre_test(client, event):
    url = f"/organiser/events/{event.id}/survey/pre-test"
    page = client.get(url).get_data(as_text=True)
    stamp = re.search(r'name="confirm" value="([^"]*)"', page).group(1)
    return page, client.post(url, data={"confirm": stamp})


def _links_by_recipient(smtp_server, title_part: str, *, besides=()) -> dict[str, list[str]]:
    """The survey links e-mailed so far, per recipient, leaving out those in `besides` (an earlier round's)."""
    found: dict[str, list[str]] = {}
    for message in smtp_server.messages:
        if title_part in message["Subject"]:
            body = message.get_body(preferencelist=("plain",)).get_content()
            survey_links = [link for link in re.findall(r"http://localhost(/s/\S+)", body) if link not in besides]
            if survey_links:  # not the declarations' confirmations
                found.setdefault(message["To"], []).extend(survey_links)
    return found


def _end_the_meeting(client, event, people, present):
    day = meeting_days(event)[0].isoformat()
    for name, person in people.items():
        client.post(f"/organiser/events/{event.id}/check-in/mark",
                    data={"participant_id": person, "day": day, "state": "present" if name in present else "absent"})
    event.starts_at, event.ends_at = make.now() - timedelta(days=1, hours=6), make.now() - timedelta(days=1)
    db.session.commit()


def test_the_pre_test_goes_once_to_confirmed_participants_only_and_only_before_the_start(client, training,
                                                                                         smtp_server):
    organiser, event, people = training
    page, sent = _confirm_and_send_pre_test(client, event)
    for name in ("Zofia Żółkiewska", "Jan Nowak", "Ewa Zielińska"):
        assert name in page
    assert "Piotr Kwiatkowski" not in page
    assert sent.status_code == 303
    # A second confirmed POST (double click, back button) finds everyone served and sends nothing.
    again = client.post(f"/organiser/events/{event.id}/survey/pre-test", data={"confirm": "x"})
    assert again.status_code == 200
    assert send_pre_test(organiser, event) == 0
    assert db.session.execute(select(func.count(SurveyLink.id))
                              .where(SurveyLink.round == SurveyRound.PRE.value)).scalar_one() == 3
    dispatch_due()
    links = _links_by_recipient(smtp_server, "Niebieska Karta")
    assert sorted(links) == ["gops@czarna.example", "pcpr@lancut.example"]
    assert len(links["pcpr@lancut.example"]) == 2 and len(links["gops@czarna.example"]) == 1
    texts = " ".join(body for body in (m.get_body(preferencelist=("plain",)).get_content()
                                       for m in smtp_server.messages) if "/s/" in body)
    assert "Zofia Żółkiewska" in texts and "Jan Nowak" in texts and "Kwiatkowski" not in texts

    event.starts_at = make.now() - timedelta(minutes=1)
    db.session.commit()
    with pytest.raises(InvalidState):
        send_pre_test(organiser, event)
    db.session.rollback()
    late = client.get(f"/organiser/events/{event.id}/survey/pre-test").get_data(as_text=True)
    assert 'name="confirm"' not in late


def test_a_survey_without_a_pre_test_cannot_send_one(client):
    organiser = logged_in_organiser(client)
    event = make.event(organiser)
    declare(event.id, make.declaration())
    with pytest.raises(InvalidState):
        send_pre_test(organiser, event)
    db.session.rollback()
    save_questions(organiser, event, [{"text": USEFUL, "type": "scale"}], pre_post=False)
    with pytest.raises(InvalidState):
        send_pre_test(organiser, event)
    db.session.rollback()
    assert db.session.execute(select(func.count(SurveyLink.id))).scalar_one() == 0


def test_each_round_has_its_own_links_answers_and_questions_and_the_results_compare_them(client, training,
                                                                                         smtp_server, make_app):
    organiser, event, people = training
    _confirm_and_send_pre_test(client, event)
    dispatch_due()
    pre_links = [link for links in _links_by_recipient(smtp_server, "Niebieska Karta").values() for link in links]
    assert len(pre_links) == 3
    db.session.rollback()
    person = make_app().test_client()

    form = person.get(pre_links[0]).get_data(as_text=True)
    assert KNOWLEDGE in form and LEGAL in form and USEFUL not in form
    # A pre-test link answers the pre-test only: a post-only question sent with it is not stored, nor required.
    done = person.post(pre_links[0], data={"q1": "2", "q2": "Nie", "q3": "5"})
    assert done.status_code == 200
    assert person.post(pre_links[0], data={"q1": "3"}).status_code == 200  # "already answered", nothing stored
    person.post(pre_links[1], data={"q1": "3", "q2": "Częściowo", "q4": "Niewiele wiem o procedurze."})
    refused = person.post(pre_links[2], data={"q2": "Tak"})  # q1 is required
    assert refused.status_code == 422 and 'href="#q1"' in refused.get_data(as_text=True)
    db.session.rollback()

    # The meeting: Zofia and Ewa came, Jan did not. The post round goes to those present only.
    _end_the_meeting(client, event, people, present={"Zofia Żółkiewska", "Ewa Zielińska"})
    action, fields = confirmation_form(client.get(f"/organiser/events/{event.id}/survey/send").get_data(as_text=True))
    client.post(action, data=fields)
    client.post(action, data=fields)  # a double click sends nothing more
    dispatch_due()
    post_links = _links_by_recipient(smtp_server, "Niebieska Karta", besides=set(pre_links))
    assert sorted(post_links) == ["gops@czarna.example", "pcpr@lancut.example"]
    assert len(post_links["pcpr@lancut.example"]) == 1
    db.session.rollback()
    form = person.get(post_links["pcpr@lancut.example"][0]).get_data(as_text=True)
    assert KNOWLEDGE in form and USEFUL in form
    person.post(post_links["pcpr@lancut.example"][0], data={"q1": "4", "q2": "Tak", "q3": "5",
                                                            "q4": "Znam już kolejne kroki procedury."})
    person.post(post_links["gops@czarna.example"][0], data={"q1": "5", "q2": "Tak", "q3": "4"})
    # Jan's pre-test link, still unused, answers the pre-test, never the evaluation.
    person.post(pre_links[2], data={"q1": "1", "q3": "1"})
    db.session.rollback()

    responses = db.session.execute(select(SurveyResponse)).scalars().all()
    before = sorted((r.answers for r in responses if r.round == "pre"), key=lambda a: a["q1"])
    after = sorted((r.answers for r in responses if r.round == "post"), key=lambda a: a["q1"])
    assert before == [{"q1": 1}, {"q1": 2, "q2": "Nie"},
                      {"q1": 3, "q2": "Częściowo", "q4": "Niewiele wiem o procedurze."}]
    assert after == [{"q1": 4, "q2": "Tak", "q3": 5, "q4": "Znam już kolejne kroki procedury."},
                     {"q1": 5, "q2": "Tak", "q3": 4}]

    # Hand-counted: before 1, 2, 3 (mean 2.0); after 4, 5 (mean 4.5); change +2.5. Usefulness: after only, 4.5.
    by_text = {r.question["text"]: r for r in results(survey_of(event))}
    knowledge = by_text[KNOWLEDGE]
    assert (knowledge.pre.mean, knowledge.post.mean, knowledge.change) == (2.0, 4.5, 2.5)
    assert knowledge.pre.counts == {1: 1, 2: 1, 3: 1, 4: 0, 5: 0}
    assert knowledge.post.counts == {1: 0, 2: 0, 3: 0, 4: 1, 5: 1}
    assert by_text[LEGAL].pre.counts == {"Tak": 0, "Częściowo": 1, "Nie": 1}
    assert by_text[LEGAL].post.counts == {"Tak": 2, "Częściowo": 0, "Nie": 0}
    assert by_text[USEFUL].pre is None and by_text[USEFUL].post.mean == 4.5

    page = client.get(f"/organiser/events/{event.id}/survey").get_data(as_text=True)
    # Written as Polish writes numbers (the page speaks Polish by default).
    assert "+2,50" in page and "4,50" in page and "2,00" in page
    assert page.count("data:image/svg+xml;base64,") == 3   # knowledge, legal, usefulness
    assert "Niewiele wiem o procedurze." in page and "Znam już kolejne kroki procedury." in page
    for personal in PERSONAL:
        assert personal not in page

    csv_bytes = client.get(f"/organiser/events/{event.id}/survey.csv").data
    assert csv_bytes.startswith(codecs.BOM_UTF8)
    text = csv_bytes.decode("utf-8-sig")
    assert "\r\n" in text
    table = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert len(table) == 6 and all(len(row) == 6 for row in table)   # round, day, four questions
    assert table[0][2:] == [q["text"] for q in QUESTIONS]
    rounds = [row[0] for row in table[1:]]
    assert len(set(rounds[:3])) == 1 and len(set(rounds[3:])) == 1 and rounds[0] != rounds[3]  # pre first
    workbook = load_workbook(io.BytesIO(client.get(f"/organiser/events/{event.id}/survey.xlsx").data))
    rows = [[cell.value for cell in row] for row in workbook.worksheets[0].iter_rows()]
    assert len(rows) == 6 and rows[0][2:] == [q["text"] for q in QUESTIONS]
    assert sorted(row[2] for row in rows[1:4]) == [1, 2, 3] and sorted(row[2] for row in rows[4:]) == [4, 5]
    assert [row[0] for row in rows[1:]] == rounds
    exported = json.dumps(rows, ensure_ascii=False) + text
    for personal in PERSONAL:
        assert personal not in exported


def test_nothing_stored_pairs_a_persons_answer_before_with_their_answer_after(client, training, make_app,
                                                                              smtp_server):
    organiser, event, people = training
    _confirm_and_send_pre_test(client, event)
    dispatch_due()
    pre_link = _links_by_recipient(smtp_server, "Niebieska Karta")["gops@czarna.example"][0]
    db.session.rollback()
    person = make_app().test_client()
    person.post(pre_link, data={"q1": "2"})
    db.session.rollback()
    _end_the_meeting(client, event, people, present={"Ewa Zielińska"})
    confirm(client, f"/organiser/events/{event.id}/survey/send")
    dispatch_due()
    post_link = _links_by_recipient(smtp_server, "Niebieska Karta", besides={pre_link})["gops@czarna.example"][0]
    db.session.rollback()
    person.post(post_link, data={"q1": "4", "q3": "5"})
    db.session.rollback()

    # An answer keeps its round, its day and the answers: no link, person, time or anything shared by one person's
    # two answers (the two links are separate rows with separate digests).
    assert set(SurveyResponse.__table__.columns.keys()) == {"id", "survey_id", "round", "answers", "day"}
    responses = db.session.execute(select(SurveyResponse)).scalars().all()
    assert sorted(r.round for r in responses) == ["post", "pre"]
    stored = json.dumps([{c: getattr(r, c) for c in ("round", "answers", "day")} for r in responses],
                        ensure_ascii=False)
    for personal in PERSONAL:
        assert personal not in stored
    assert all(set(r.answers) <= {"q1", "q2", "q3", "q4"} for r in responses)
    # A link knows its person and round, and whether it was used, but not which answer it gave.
    assert set(SurveyLink.__table__.columns.keys()) == {"id", "survey_id", "participant_id", "round", "digest", "used"}
    links = db.session.execute(select(SurveyLink.participant_id, SurveyLink.round, SurveyLink.used)).all()
    assert sorted(links, key=lambda link: (link[1], link[0])) == [
        (people["Ewa Zielińska"], "post", True),
        *sorted(((p, "pre", p == people["Ewa Zielińska"]) for p in people.values()))]
