"""The organiser edits a meeting's survey questions before it is sent: add, remove, reorder, change; clear errors
that keep what was typed; frozen (by the service, not only the page) once a link has gone out."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from scheduler.extensions import db
from scheduler.presence.models import Presence
from scheduler.registration.services import declare
from scheduler.surveys.models import Survey
from scheduler.surveys.services import (DEFAULT_QUESTIONS, MAX_QUESTIONS, QuestionsFrozen, save_questions,
                                        send_pre_test, send_survey, survey_of)

from . import factories as make
from .helpers import logged_in_organiser


def _form(rows, *, pre_post=False, action="save") -> dict:
    """What the editor's form sends for these rows."""
    data = {"action": action}
    if pre_post:
        data["pre_post"] = "1"
    for index, row in enumerate(rows):
        key = f"questions-{index}-"
        data[key + "text"] = row["text"]
        data[key + "type"] = row["type"]
        data[key + "choices"] = "\n".join(row.get("choices", []))
        if row.get("required"):
            data[key + "required"] = "1"
        if row.get("prepost"):
            data[key + "prepost"] = "1"
    return data


def _texts_in_order(page: str) -> list[str]:
    return re.findall(r'name="questions-\d+-text" value="([^"]*)"', page)


def test_the_editor_starts_from_the_esf_questions_and_saves_an_edited_list(client):
    organiser = logged_in_organiser(client)
    event = make.event(organiser)
    url = f"/organiser/events/{event.id}/survey/questions"
    page = client.get(url).get_data(as_text=True)
    assert _texts_in_order(page) == [q["text"] for q in DEFAULT_QUESTIONS]
    assert 'name="csrf_token"' in page

    rows = [dict(q) for q in DEFAULT_QUESTIONS]
    rows[0]["text"] = "Jak ocenia Pan/Pani przydatność szkolenia?"
    rows[0]["required"] = True
    del rows[2]
    rows.append({"text": "Który moduł był najciekawszy?", "type": "choice",
                 "choices": ["Przemoc domowa", "Praca z rodziną", "Procedura Niebieskiej Karty"]})
    response = client.post(url, data=_form(rows))
    assert response.status_code == 303

    survey = survey_of(event)
    assert [q["id"] for q in survey.questions] == ["q1", "q2", "q3", "q4", "q5"]
    assert survey.questions[0] == {"id": "q1", "type": "scale", "text": "Jak ocenia Pan/Pani przydatność szkolenia?",
                                   "required": True, "prepost": False}
    assert survey.questions[4]["choices"] == ["Przemoc domowa", "Praca z rodziną", "Procedura Niebieskiej Karty"]
    assert survey.questions[2]["text"] == DEFAULT_QUESTIONS[3]["text"]
    assert survey.pre_post is False


def test_add_remove_and_move_buttons_rearrange_the_rows_without_saving_and_keep_what_was_typed(client):
    organiser = logged_in_organiser(client)
    event = make.event(organiser)
    url = f"/organiser/events/{event.id}/survey/questions"
    rows = [{"text": "Pierwsze (zmienione, niezapisane)", "type": "scale"},
            {"text": "Drugie", "type": "text"},
            {"text": "Trzecie", "type": "choice", "choices": ["A", "B"]}]

    added = client.post(url, data=_form(rows, action="add")).get_data(as_text=True)
    assert _texts_in_order(added) == ["Pierwsze (zmienione, niezapisane)", "Drugie", "Trzecie", ""]
    assert re.search(r'id="questions-3-text"[^>]*autofocus', added)

    moved = client.post(url, data=_form(rows, action="up-2")).get_data(as_text=True)
    assert _texts_in_order(moved) == ["Pierwsze (zmienione, niezapisane)", "Trzecie", "Drugie"]
    assert "A\nB</textarea>" in moved  # the choices moved with their question
    moved_down = client.post(url, data=_form(rows, action="down-0")).get_data(as_text=True)
    assert _texts_in_order(moved_down) == ["Drugie", "Pierwsze (zmienione, niezapisane)", "Trzecie"]

    removed = client.post(url, data=_form(rows, action="remove-1")).get_data(as_text=True)
    assert _texts_in_order(removed) == ["Pierwsze (zmienione, niezapisane)", "Trzecie"]

    # Nothing of it was saved: the meeting still has no survey of its own.
    assert survey_of(event) is None


def test_wrong_questions_are_refused_with_every_error_listed_and_nothing_lost(client):
    organiser = logged_in_organiser(client)
    event = make.event(organiser)
    url = f"/organiser/events/{event.id}/survey/questions"
    rows = [{"text": "   ", "type": "scale"},
            {"text": "Czy polecił(a)by Pan/Pani szkolenie?", "type": "choice", "choices": ["Tak", ""]},
            {"text": "x" * 301, "type": "text"},
            {"text": "Trzy razy to samo", "type": "choice", "choices": ["Tak", "Tak"]},
            {"text": "Typ spoza listy", "type": "matrix"}]
    response = client.post(url, data=_form(rows, pre_post=True))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="form-errors"' in page
    for target in ("questions-0-text", "questions-1-choices", "questions-2-text", "questions-3-choices",
                   "questions-4-type", "pre_post"):
        assert f'href="#{target}"' in page, target
        assert f'id="{target}-error"' in page, target
    # What was typed comes back as typed.
    assert _texts_in_order(page) == ["   ", "Czy polecił(a)by Pan/Pani szkolenie?", "x" * 301, "Trzy razy to samo",
                                     "Typ spoza listy"]
    assert 'name="pre_post" value="1" checked' in page
    # The summary names the question of each message.
    assert re.search(r'href="#questions-3-choices">[^<]*4', page)
    assert survey_of(event) is None


def test_a_survey_needs_one_to_thirty_questions(client):
    organiser = logged_in_organiser(client)
    event = make.event(organiser)
    url = f"/organiser/events/{event.id}/survey/questions"
    assert client.post(url, data={"action": "save"}).status_code == 422
    too_many = [{"text": f"Pytanie {n}", "type": "scale"} for n in range(MAX_QUESTIONS + 1)]
    page = client.post(url, data=_form(too_many)).get_data(as_text=True)
    assert 'href="#questions"' in page and len(_texts_in_order(page)) == MAX_QUESTIONS + 1
    assert client.post(url, data=_form(too_many[:MAX_QUESTIONS])).status_code == 303
    # At the limit there is no "add" button, and pressing it anyway adds nothing.
    page = client.get(url).get_data(as_text=True)
    assert 'value="add"' not in page
    assert len(_texts_in_order(client.post(url, data=_form(too_many[:MAX_QUESTIONS], action="add"))
                               .get_data(as_text=True))) == MAX_QUESTIONS


def test_once_a_link_is_sent_the_questions_are_frozen_by_the_service_and_the_page_says_so(client):
    organiser = logged_in_organiser(client)
    event = make.event(organiser)
    url = f"/organiser/events/{event.id}/survey/questions"
    rows = [{"text": "Jak ocenia Pan/Pani swoją wiedzę o procedurze Niebieskiej Karty?", "type": "scale",
             "prepost": True}]
    save_questions(organiser, event, rows, pre_post=True)
    declare(event.id, make.declaration())
    assert client.post(f"/organiser/events/{event.id}/survey/pre-test").status_code == 200  # the confirmation page
    assert send_pre_test(organiser, event) == 1

    with pytest.raises(QuestionsFrozen):
        save_questions(organiser, event, [{"text": "Nowe pytanie", "type": "scale"}], pre_post=False)
    db.session.rollback()
    page = client.get(url).get_data(as_text=True)
    assert "Niebieskiej Karty" in page and 'name="questions-0-text"' not in page and 'value="save"' not in page
    refused = client.post(url, data=_form([{"text": "Nowe pytanie", "type": "scale"}]), follow_redirects=True)
    assert 'name="questions-0-text"' not in refused.get_data(as_text=True)
    db.session.expire_all()
    assert survey_of(event).questions[0]["text"].endswith("Niebieskiej Karty?")
    assert survey_of(event).pre_post is True


def test_the_post_round_freezes_the_questions_too(client):
    organiser = logged_in_organiser(client)
    event = make.event(organiser)
    registration = declare(event.id, make.declaration())
    event.starts_at, event.ends_at = make.now() - timedelta(days=2), make.now() - timedelta(days=1)
    db.session.add(Presence(event_id=event.id, participant_id=registration.participants[0].id,
                            day=event.starts_at.date(), present=True))
    db.session.commit()
    assert send_survey(organiser, event) == 1
    assert db.session.get(Survey, survey_of(event).id).sent_at is not None
    with pytest.raises(QuestionsFrozen):
        save_questions(organiser, event, [{"text": "Nowe pytanie", "type": "scale"}], pre_post=False)


def test_another_organisations_organiser_cannot_edit_the_questions(client, app):
    owner = make.user()
    event = make.event(owner)
    other = make.organisation("Miejski Ośrodek Pomocy Społecznej w Krośnie", short_name="MOPS Krosno")
    logged_in_organiser(client, other)
    url = f"/organiser/events/{event.id}/survey/questions"
    assert client.get(url).status_code in (403, 404)
    assert client.post(url, data=_form([{"text": "Cudze", "type": "scale"}])).status_code in (403, 404)
    assert survey_of(event) is None


def test_the_editor_and_the_pre_test_refuse_a_post_without_the_csrf_token(app, client):
    organiser = logged_in_organiser(client)
    event = make.event(organiser)
    declare(event.id, make.declaration())
    app.config["WTF_CSRF_ENABLED"] = True
    url = f"/organiser/events/{event.id}/survey/questions"
    rows = [{"text": "Jak ocenia Pan/Pani swoją wiedzę?", "type": "scale", "prepost": True}]
    assert client.post(url, data=_form(rows, pre_post=True)).status_code == 400
    assert survey_of(event) is None
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get(url).get_data(as_text=True)).group(1)
    assert client.post(url, data={**_form(rows, pre_post=True), "csrf_token": token}).status_code == 303
    pre_test = f"/organiser/events/{event.id}/survey/pre-test"
    stamp = re.search(r'name="confirm" value="([^"]+)"', client.get(pre_test).get_data(as_text=True)).group(1)
    assert client.post(pre_test, data={"confirm": stamp}).status_code == 400
    assert client.post(pre_test, data={"confirm": stamp, "csrf_token": token}).status_code == 303
