"""A fan-out renders its templates once per batch and puts each recipient's name and link in: the e-mails are
exactly what rendering each one alone gives, names that need escaping included."""
from __future__ import annotations

from scheduler.events.reminder_settings import schedule
from scheduler.extensions import db
from scheduler.invitations.services import add_invitations
from scheduler.notifications import render_cache, rendering
from scheduler.notifications.reminder_planner import send_now
from scheduler.notifications.rendering import outgoing_of, render
from scheduler.notifications.services import send_invitations

from . import factories as make
from .helpers import project_with_strip

NAMES = ["Gmina & Miasto <Łańcut>", 'Stowarzyszenie "Razem" \'Ósemka\'', "MOPS Rzeszów",
         "Ośrodek Pomocy Społecznej w Żołyni", "Fundacja <b>pogrubiona</b> &amp; dalej"]


def _invited(event, organiser, language="pl"):
    rows = [{"institution": name, "category": "gmina", "email": f"i{n}@example.org", "language": language}
            for n, name in enumerate(NAMES)]
    add_invitations(organiser, event, rows)
    db.session.commit()


def _both_ways(kind: str) -> list:
    messages = make.messages(kind=kind)
    assert len(messages) == len(NAMES)
    alone = [render(outgoing_of(message)) for message in messages]
    calls = []
    original = rendering._texts

    def counted(template, **context):
        calls.append(template)
        return original(template, **context)

    rendering._texts = counted
    try:
        with render_cache.per_batch():
            shared = [render(outgoing_of(message)) for message in messages]
    finally:
        rendering._texts = original
    return alone, shared, calls


def test_invitations_rendered_once_per_batch_are_the_invitations_rendered_one_by_one(app):
    organiser = make.user()
    event = make.event(organiser, title="Szkolenie <MSK> & warsztaty")
    _invited(event, organiser)
    send_invitations(organiser, event)
    db.session.commit()

    alone, shared, calls = _both_ways("invitation")

    assert calls == ["invitation"]  # one rendering for the five e-mails
    for one, other in zip(alone, shared):
        assert (one.subject, one.body_text, one.body_html, one.ics) == \
               (other.subject, other.body_text, other.body_html, other.ics)
    assert "Gmina &amp; Miasto &lt;Łańcut&gt;" in shared[0].body_html
    assert "Gmina & Miasto <Łańcut>" in shared[0].body_text
    assert len({one.body_text for one in shared}) == len(NAMES)  # each has its own name and link


def test_invitations_of_a_project_with_a_logo_strip_are_shared_too(app):
    organiser = make.user()
    project = project_with_strip(organiser)
    event = make.event(organiser)
    event.project_id = project.id
    db.session.commit()
    _invited(event, organiser)
    send_invitations(organiser, event)
    db.session.commit()

    alone, shared, calls = _both_ways("invitation")

    assert calls == ["invitation"]
    assert [(o.body_html, o.inline_images) for o in alone] == [(o.body_html, o.inline_images) for o in shared]
    assert "cid:" in shared[0].body_html and shared[0].inline_images


def test_deadline_reminders_rendered_once_per_batch_are_the_reminders_rendered_one_by_one(app):
    organiser = make.user()
    event = make.event(organiser)
    _invited(event, organiser)
    key = next(p.key for p in schedule(event) if p.kind == "before_deadline")
    assert send_now(organiser, event, key) == len(NAMES)

    alone, shared, calls = _both_ways("reminder_before_deadline")

    assert calls == ["reminder_deadline"]
    assert [(o.subject, o.body_text, o.body_html) for o in alone] == \
           [(o.subject, o.body_text, o.body_html) for o in shared]


def test_e_mails_in_different_languages_are_not_shared(app):
    organiser = make.user()
    event = make.event(organiser)
    _invited(event, organiser, language="en")
    rows = [{"institution": "PCPR Krosno", "category": "powiat", "email": "krosno@example.org", "language": "pl"}]
    add_invitations(organiser, event, rows)
    db.session.commit()
    send_invitations(organiser, event)
    db.session.commit()

    messages = make.messages(kind="invitation")
    with render_cache.per_batch():
        shared = {m.recipient: render(outgoing_of(m)) for m in messages}
    alone = {m.recipient: render(outgoing_of(m)) for m in messages}

    assert {r: o.body_text for r, o in shared.items()} == {r: o.body_text for r, o in alone.items()}
    assert "Dear Sir or Madam" in shared["i0@example.org"].body_text
    assert "Dear Sir or Madam" not in shared["krosno@example.org"].body_text


def test_a_declaration_with_its_participants_is_rendered_on_its_own(app):
    from scheduler.registration.services import declare

    event = make.event()
    declare(event.id, make.declaration())
    declare(event.id, make.declaration())
    messages = make.messages(kind="declaration_confirmed")
    with render_cache.per_batch():
        shared = [render(outgoing_of(m)) for m in messages]
    alone = [render(outgoing_of(m)) for m in messages]
    assert [o.body_html for o in shared] == [o.body_html for o in alone]
    assert shared[0].body_text != shared[1].body_text
