"""The invitee's pages: declaring through a personal link or a public page, the confirmation and the manage link."""
from __future__ import annotations

import html
import io
import re

import pytest
from sqlalchemy import func, select

from scheduler.events.services import cancel_event
from scheduler.extensions import db
from scheduler.invitations.services import revoke_invitation
from scheduler.registration.models import Registration
from scheduler.registration.services import declare
from scheduler.tokens import new_token

from . import factories as make


@pytest.fixture
def web(client):
    """A browser session reading the pages in English (Polish is the default; the catalog is translated later)."""
    with client.session_transaction() as session:
        session["lang"] = "en"
    return client


def page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def error_next_to(response, field_id: str) -> str | None:
    """The message rendered right after the input with this id, if any."""
    match = re.search(rf'<p class="error" id="{re.escape(field_id)}-error">(.*?)</p>', page(response), re.S)
    return match.group(1).strip() if match else None


def form(**overrides) -> dict:
    """What an invitee types into the declaration form, in the form's own field names."""
    data = {
        "institution": "Powiatowe Centrum Pomocy Rodzinie w Leżajsku",
        "category": "powiat",
        "contact_name": "Anna Kowalska",
        "email": "pcpr@lezajsk.example.org",
        "phone": "17 240 00 00",
        "participants-0-name": "Anna Kowalska",
        "participants-0-position": "dyrektor",
        "participants-1-name": "",
        "participants-1-position": "",
        "consent_rodo": "y",
        "idempotency_key": new_token(),
        "submit": "1",
    }
    data.update(overrides)
    return {name: value for name, value in data.items() if value is not None}


def registrations() -> list[Registration]:
    db.session.expire_all()
    return list(db.session.execute(select(Registration).order_by(Registration.id)).scalars())


def count_registrations() -> int:
    return db.session.execute(select(func.count(Registration.id))).scalar_one()


def invited(**event_overrides):
    organiser = make.user()
    event = make.event(organiser, **{"invite_only": True, **event_overrides})
    return organiser, event, make.invitations(organiser, event)[0]


# --- personal link -----------------------------------------------------------------

def test_an_invitee_declares_through_the_personal_link_and_sees_it_confirmed(web):
    _, event, invitation = invited(capacity=10)

    response = web.post(f"/i/{invitation.token}", data=form())

    assert response.status_code == 303
    confirmation = web.get(response.headers["Location"])
    assert confirmation.status_code == 200
    assert "Your participation is confirmed: 1 seat is reserved" in page(confirmation)
    [registration] = registrations()
    assert registration.invitation_id == invitation.id and registration.status == "confirmed"
    assert f'href="/m/{registration.manage_token}"' in page(confirmation)
    assert "Save this link" in page(confirmation)


def test_the_personal_link_shows_the_meeting_and_prefills_the_invitation(web):
    _, event, invitation = invited(capacity=10, statements=["Oświadczam, że zapoznałem się z Modelem kooperacji."])

    response = web.get(f"/i/{invitation.token}")

    text = page(response)
    assert response.status_code == 200
    for detail in (event.title, "PF.0702.10.2019.LK", "ul. Hetmańska 9", "sala konferencyjna, II piętro",
                   "Biuro projektu", "biuro@example.org", "(17) 8507928", "10 of 10",
                   "Oświadczam, że zapoznałem się z Modelem kooperacji."):
        assert detail in text
    assert f'value="{invitation.institution}"' in text
    assert f'value="{invitation.email}"' in text
    assert '<option selected value="powiat">' in text
    assert "We will not take part" in text
    db.session.refresh(invitation)
    assert invitation.opened_at is not None


def test_the_deadline_is_shown_in_the_meetings_time_zone(web):
    # 21:30 UTC on 10 March is 22:30 in Warsaw (CET) and already 11 March in Tokyo.
    from datetime import datetime, timezone

    _, event, invitation = invited()
    event.declaration_deadline = datetime(2030, 3, 10, 21, 30, tzinfo=timezone.utc)
    event.starts_at = datetime(2030, 3, 20, 8, tzinfo=timezone.utc)
    event.ends_at = datetime(2030, 3, 20, 12, tzinfo=timezone.utc)
    db.session.commit()

    assert "10 March 2030, 22:30" in page(web.get(f"/i/{invitation.token}"))


def test_an_invitation_that_declared_shows_its_status_and_manage_link_instead_of_the_form(web):
    _, event, invitation = invited()
    registration = declare(event.id, make.declaration(), invitation_token=invitation.token)

    text = page(web.get(f"/i/{invitation.token}"))

    assert "Your participation is confirmed" in text
    assert f"/m/{registration.manage_token}" in text
    assert 'name="participants-0-name"' not in text


def test_a_full_meeting_says_so_on_the_form_and_puts_the_declaration_on_the_waiting_list(web):
    _, event, invitation = invited(capacity=1, invite_only=False)
    declare(event.id, make.declaration(seats=1))

    before = page(web.get(f"/i/{invitation.token}"))
    assert "All seats are taken: a new declaration goes on the waiting list" in before
    assert "0 of 1" in before

    response = web.post(f"/i/{invitation.token}", data=form(), follow_redirects=True)

    assert "On the waiting list" in page(response)
    assert "Your place in the queue: 1." in page(response)
    assert registrations()[-1].status == "waitlisted"


def test_a_moderated_meeting_says_the_declaration_awaits_approval(web):
    _, event, invitation = invited(moderated=True)

    response = web.post(f"/i/{invitation.token}", data=form(), follow_redirects=True)

    assert "awaiting the organiser's approval" in page(response)


def test_after_the_deadline_the_form_is_closed_and_a_late_post_is_refused(web):
    _, event, invitation = invited()
    make.close_declarations(event)

    shown = page(web.get(f"/i/{invitation.token}"))
    assert "The declaration deadline has passed." in shown
    assert "biuro@example.org" in shown
    assert 'name="participants-0-name"' not in shown

    late = web.post(f"/i/{invitation.token}", data=form())

    assert late.status_code == 409
    assert "The declaration deadline has passed." in page(late)
    assert count_registrations() == 0


@pytest.mark.parametrize("token", [new_token(), "short", "x" * 43, "../../etc/passwd"])
def test_a_forged_or_unknown_personal_link_is_not_found(web, token):
    invited()
    assert web.get(f"/i/{token}").status_code == 404
    assert web.post(f"/i/{token}", data=form()).status_code == 404


def test_a_revoked_personal_link_is_not_found(web):
    organiser, event, invitation = invited()
    revoke_invitation(organiser, invitation)

    assert web.get(f"/i/{invitation.token}").status_code == 404
    assert web.post(f"/i/{invitation.token}", data=form()).status_code == 404
    assert count_registrations() == 0


def test_a_personal_link_of_another_meeting_cannot_declare_for_this_one(web):
    _, _, invitation = invited()
    other = make.event(invite_only=True)
    # The page posts to the link's own meeting; there is no way to aim it elsewhere.
    web.post(f"/i/{invitation.token}", data=form())
    assert [r.event_id for r in registrations()] == [invitation.event_id] != [other.id]


def test_the_invitee_can_say_it_will_not_take_part(web):
    _, event, invitation = invited()

    response = web.post(f"/i/{invitation.token}/decline", follow_redirects=True)

    assert "The organiser now knows that your institution will not take part." in page(response)
    assert "If you change your mind, you can still declare" in page(response)
    db.session.refresh(invitation)
    assert invitation.declined_at is not None
    assert count_registrations() == 0


# --- the form: errors, rows, double submit, scans --------------------------------------

def test_a_missing_consent_is_shown_next_to_the_checkbox_and_nothing_is_saved(web):
    _, event, invitation = invited()

    response = web.post(f"/i/{invitation.token}", data=form(consent_rodo=None, institution="GOPS w Kuryłówce"))

    assert response.status_code == 422
    assert error_next_to(response, "consent_rodo") == "Consent to the processing of personal data is required to take part."
    # What the invitee typed is still there.
    assert 'value="GOPS w Kuryłówce"' in page(response)
    assert 'value="Anna Kowalska"' in page(response)
    assert count_registrations() == 0


def test_each_unaccepted_statement_gets_its_own_message(web):
    _, event, invitation = invited(statements=["Pierwsze oświadczenie.", "Drugie oświadczenie."])

    response = web.post(f"/i/{invitation.token}", data=form(**{"statements-0": "y"}))

    assert response.status_code == 422
    assert error_next_to(response, "statements-0") is None
    assert error_next_to(response, "statements-1") == "This statement must be accepted."
    assert "checked" in re.search(r'<input[^>]*id="statements-0"[^>]*>', page(response)).group(0)  # stays ticked


def test_a_participant_error_appears_in_the_row_it_is_about_and_empty_rows_are_ignored(web):
    _, event, invitation = invited()
    data = form(**{"participants-0-name": "", "participants-0-position": "",
                   "participants-1-name": "Jan Nowak", "participants-2-name": "",
                   "participants-2-position": "pedagog", "participants-3-name": "", "participants-4-name": ""})

    response = web.post(f"/i/{invitation.token}", data=data)

    assert response.status_code == 422
    assert error_next_to(response, "participants-2-name") == "This field is required."
    assert error_next_to(response, "participants-0-name") is None
    assert error_next_to(response, "participants-1-name") is None
    assert count_registrations() == 0


def test_a_form_without_any_participant_says_so(web):
    _, event, invitation = invited()

    response = web.post(f"/i/{invitation.token}", data=form(**{"participants-0-name": "", "participants-0-position": ""}))

    assert response.status_code == 422
    assert "Name at least one participant." in page(response)


def test_the_add_a_participant_button_shows_one_more_row_and_saves_nothing(web):
    _, event, invitation = invited(seats_per_institution=3)
    shown = page(web.get(f"/i/{invitation.token}"))
    assert 'name="participants-2-name"' in shown and 'name="participants-3-name"' not in shown
    assert "Add a participant" not in shown  # already as many rows as the meeting allows

    _, event, invitation = invited()
    data = form(**{f"participants-{i}-name": "" for i in range(5)})
    data["participants-0-name"] = "Anna Kowalska"
    del data["submit"]
    data["add_participant"] = "Add a participant"

    response = web.post(f"/i/{invitation.token}", data=data)

    assert response.status_code == 200
    assert 'name="participants-5-name"' in page(response)
    assert 'value="Anna Kowalska"' in page(response)
    assert count_registrations() == 0


def test_posting_the_same_form_twice_creates_one_declaration(web):
    _, event, invitation = invited()
    data = form()

    first = web.post(f"/i/{invitation.token}", data=data)
    second = web.post(f"/i/{invitation.token}", data=data)

    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert count_registrations() == 1


def test_posting_the_public_form_twice_creates_one_declaration(web):
    event = make.event(invite_only=False)
    data = form()

    first = web.post(f"/events/{event.id}", data=data)
    second = web.post(f"/events/{event.id}", data=data)

    assert first.headers["Location"] == second.headers["Location"]
    assert count_registrations() == 1


def test_a_png_named_pdf_is_accepted_as_a_png(web):
    _, event, invitation = invited(scan_required=True)
    data = form(scan=(io.BytesIO(make.png_bytes()), "deklaracja podpisana.pdf"))

    response = web.post(f"/i/{invitation.token}", data=data, content_type="multipart/form-data")

    assert response.status_code == 303
    [registration] = registrations()
    assert (registration.scan.content_type, registration.scan.filename) == ("image/png", "deklaracja podpisana.png")


def test_an_html_file_named_pdf_is_refused_next_to_the_upload_field(web):
    _, event, invitation = invited(scan_required=True)
    data = form(scan=(io.BytesIO(b"<!doctype html><html><script>alert(1)</script></html>"), "deklaracja.pdf"))

    response = web.post(f"/i/{invitation.token}", data=data, content_type="multipart/form-data")

    assert response.status_code == 422
    assert error_next_to(response, "scan") == "Upload the signed declaration as PDF, JPEG or PNG."
    assert count_registrations() == 0


def test_a_required_scan_that_is_missing_is_asked_for(web):
    _, event, invitation = invited(scan_required=True)

    response = web.post(f"/i/{invitation.token}", data=form(), content_type="multipart/form-data")

    assert response.status_code == 422
    assert error_next_to(response, "scan") == "Attach the signed declaration (PDF, JPEG or PNG)."


def test_the_form_is_protected_against_cross_site_posts(web, app):
    _, event, invitation = invited()
    app.config["WTF_CSRF_ENABLED"] = True

    shown = page(web.get(f"/i/{invitation.token}"))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', shown).group(1)
    assert web.post(f"/i/{invitation.token}", data=form()).status_code == 400
    assert count_registrations() == 0

    assert web.post(f"/i/{invitation.token}", data=form(csrf_token=token)).status_code == 303
    assert count_registrations() == 1


# --- public page of a meeting ---------------------------------------------------------

def test_an_open_meeting_takes_declarations_on_its_public_page(web):
    event = make.event(invite_only=False)

    shown = web.get(f"/events/{event.id}")
    assert shown.status_code == 200 and 'name="institution"' in page(shown)

    response = web.post(f"/events/{event.id}", data=form(), follow_redirects=True)

    assert "Your participation is confirmed" in page(response)
    [registration] = registrations()
    assert registration.invitation_id is None


def test_an_invite_only_meeting_explains_participation_is_by_invitation(web):
    event = make.event(invite_only=True)

    shown = page(web.get(f"/events/{event.id}"))

    assert "Participation in this meeting is by invitation." in shown
    assert 'name="institution"' not in shown
    refused = web.post(f"/events/{event.id}", data=form())
    assert refused.status_code == 403
    assert count_registrations() == 0


def test_a_draft_meeting_has_no_public_page(web):
    event = make.event(published=False)
    assert web.get(f"/events/{event.id}").status_code == 404
    assert web.post(f"/events/{event.id}", data=form()).status_code == 404
    assert web.get("/events/999999").status_code == 404
    assert web.get("/events/99999999999999999999").status_code == 404  # beyond the database's integer


def test_a_cancelled_meeting_says_so_and_takes_no_declarations(web):
    organiser = make.user()
    event = make.event(organiser, invite_only=False)
    cancel_event(organiser, event)

    shown = page(web.get(f"/events/{event.id}"))

    assert "This meeting has been cancelled." in shown
    assert 'name="institution"' not in shown
    assert web.post(f"/events/{event.id}", data=form()).status_code == 409
    assert count_registrations() == 0


def test_the_home_page_links_each_meeting_to_its_public_page(web):
    event = make.event()
    assert f'href="/events/{event.id}"' in page(web.get("/"))


# --- the manage link ---------------------------------------------------------------------

def _declared(web, **event_overrides):
    _, event, invitation = invited(**event_overrides)
    web.post(f"/i/{invitation.token}", data=form())
    return event, registrations()[-1]


def test_the_manage_page_shows_the_declaration_prefilled(web):
    event, registration = _declared(web)

    shown = web.get(f"/m/{registration.manage_token}")

    assert shown.status_code == 200
    assert "Confirmed" in page(shown)
    assert 'value="Anna Kowalska"' in page(shown)
    assert "Withdraw the declaration" in page(shown)


def test_a_declaration_is_changed_through_the_manage_link(web):
    event, registration = _declared(web)
    data = form(phone="17 999 99 99", **{"participants-1-name": "Jan Nowak"})

    response = web.post(f"/m/{registration.manage_token}", data=data, follow_redirects=True)

    assert "Your declaration has been changed." in page(response)
    [changed] = registrations()
    assert changed.phone == "17 999 99 99"
    assert [p.name for p in changed.participants] == ["Anna Kowalska", "Jan Nowak"]


def test_a_confirmed_declaration_wanting_more_seats_than_are_free_is_told_and_unchanged(web):
    event, registration = _declared(web, capacity=2, invite_only=False)
    declare(event.id, make.declaration(seats=1))
    data = form(**{"participants-1-name": "Jan Nowak", "participants-2-name": "Ewa Wiśniewska"})

    response = web.post(f"/m/{registration.manage_token}", data=data)

    assert response.status_code == 409
    assert "There are not enough free seats for more participants. Your declaration was not changed." in page(response)
    assert 'value="Ewa Wiśniewska"' in page(response)
    assert [p.name for p in registrations()[0].participants] == ["Anna Kowalska"]


def test_a_change_with_an_error_shows_it_and_changes_nothing(web):
    event, registration = _declared(web)

    response = web.post(f"/m/{registration.manage_token}", data=form(email="not an address"))

    assert response.status_code == 422
    assert error_next_to(response, "email") == "This is not a valid e-mail address."
    assert registrations()[0].email == "pcpr@lezajsk.example.org"


def test_withdrawing_asks_first_and_then_promotes_the_first_on_the_waiting_list(web):
    event, registration = _declared(web, capacity=1, invite_only=False)
    waiting = declare(event.id, make.declaration())
    assert waiting.status == "waitlisted"
    waiting_token = waiting.manage_token
    assert "Your place in the queue: 1." in page(web.get(f"/m/{waiting_token}"))

    question = web.get(f"/m/{registration.manage_token}/withdraw")
    assert "Withdraw the declaration?" in page(question)
    assert registrations()[0].status == "confirmed"  # asking changes nothing

    response = web.post(f"/m/{registration.manage_token}/withdraw", follow_redirects=True)

    assert "Your declaration has been withdrawn." in page(response)
    assert "This declaration was withdrawn" in page(response)
    assert "Your participation is confirmed" in page(web.get(f"/m/{waiting_token}"))


def test_after_the_deadline_the_manage_page_is_read_only(web):
    event, registration = _declared(web)
    make.close_declarations(event)

    shown = page(web.get(f"/m/{registration.manage_token}"))
    assert "The declaration deadline has passed: the declaration can no longer be changed or withdrawn here." in shown
    assert 'name="institution"' not in shown and "Withdraw the declaration" not in shown

    assert web.post(f"/m/{registration.manage_token}", data=form(phone="1")).status_code == 409
    assert web.post(f"/m/{registration.manage_token}/withdraw").status_code == 409
    [unchanged] = registrations()
    assert (unchanged.status, unchanged.phone) == ("confirmed", "17 240 00 00")


@pytest.mark.parametrize("suffix", ["", "/confirmation", "/withdraw", "/scan"])
def test_a_forged_manage_link_is_not_found(web, suffix):
    _declared(web)
    assert web.get(f"/m/{new_token()}{suffix}").status_code == 404


def test_the_invitee_downloads_its_own_scan_as_an_attachment(web):
    _, event, invitation = invited(scan_required=True)
    web.post(f"/i/{invitation.token}", data=form(scan=(io.BytesIO(make.png_bytes()), "skan.png")),
             content_type="multipart/form-data")
    registration = registrations()[0]

    download = web.get(f"/m/{registration.manage_token}/scan")

    assert download.status_code == 200
    assert download.mimetype == "image/png"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.data == make.png_bytes()


def test_a_change_keeps_the_scan_when_no_new_file_is_chosen(web):
    _, event, invitation = invited(scan_required=True)
    web.post(f"/i/{invitation.token}", data=form(scan=(io.BytesIO(make.png_bytes()), "skan.png")),
             content_type="multipart/form-data")
    registration = registrations()[0]

    response = web.post(f"/m/{registration.manage_token}", data=form(phone="17 111 11 11"),
                        content_type="multipart/form-data")

    assert response.status_code == 303
    assert registrations()[0].scan is not None


def test_garbage_in_the_form_is_refused_with_messages_not_a_crash(web):
    _, event, invitation = invited()
    data = form(institution="x" * 5000, email="a\x00@example.org", category="<script>", phone="1\r\n2",
                idempotency_key="'; DROP TABLE registrations; --" * 10, **{"participants-0-name": "Jan\x00"})

    response = web.post(f"/i/{invitation.token}", data=data)

    assert response.status_code == 422
    for field_id in ("institution", "email", "category", "phone", "participants-0-name"):
        assert error_next_to(response, field_id), field_id
    assert count_registrations() == 0


def test_the_home_page_lists_upcoming_meetings_before_past_ones(web):
    from datetime import timedelta

    soon = make.event(title="Szkolenie MSK – nowa edycja")
    past_start = make.now() - timedelta(days=400)
    past = make.event(title="Spotkanie z 2019 roku", starts_at=past_start, ends_at=past_start + timedelta(hours=2),
                      declaration_deadline=past_start - timedelta(days=5))
    shown = page(web.get("/"))
    upcoming_part, _sep, past_part = shown.partition('class="event-list past"')
    assert soon.title in upcoming_part and past.title not in upcoming_part
    assert past.title in past_part
