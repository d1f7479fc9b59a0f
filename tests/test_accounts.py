"""Organiser accounts without SQL: invitations by e-mail, forgotten passwords, deactivation by a lead or admin.

The e-mails go through the outbox to a real SMTP server; the links are read from what arrived.
"""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from scheduler.auth.models import AccountLink, User
from scheduler.auth.services import authenticate, issue_api_token
from scheduler.database import utcnow
from scheduler.extensions import db
from scheduler.notifications.dispatcher import dispatch_due

from . import factories as make
from .helpers import logged_in_organiser

NEW_PASSWORD = "zielona łąka nad Wisłokiem"


def _link_in_mail(smtp_server, recipient: str) -> str:
    dispatch_due()
    mails = [m for m in smtp_server.messages if m["To"] == recipient]
    assert len(mails) == 1, [m["To"] for m in smtp_server.messages]
    text = mails[-1].get_body(preferencelist=("plain",)).get_content()
    return re.search(r"http://localhost(/account/set-password/\S+)", text).group(1)


def test_a_lead_invites_a_colleague_who_sets_a_password_from_the_email_and_logs_in(mail_app, smtp_server, client):
    lead = logged_in_organiser(client, is_lead=True)
    response = client.post("/organiser/team", data={"email": "Ewa.Nowak@rops.rzeszow.pl", "name": "Ewa Nowak"})
    assert response.status_code == 303
    invited = db.session.execute(select(User).where(User.email == "ewa.nowak@rops.rzeszow.pl")).scalar_one()
    assert invited.organisation_id == lead.organisation_id and not invited.is_lead
    assert authenticate("ewa.nowak@rops.rzeszow.pl", "") is None  # no password until the link is used
    db.session.rollback()

    path = _link_in_mail(smtp_server, "ewa.nowak@rops.rzeszow.pl")
    mail = smtp_server.messages[-1]
    assert "Konto organizatora" in mail["Subject"]
    assert db.session.execute(select(AccountLink.digest)).scalar_one() not in path  # only the digest is kept

    colleague = mail_app.test_client()
    form = colleague.get(path)
    assert form.status_code == 200 and "ewa.nowak@rops.rzeszow.pl" in form.get_data(as_text=True)
    assert form.headers["Cache-Control"] == "no-store"
    done = colleague.post(path, data={"password": NEW_PASSWORD, "repeat": NEW_PASSWORD})
    assert done.status_code == 303
    assert colleague.get("/organiser/").status_code == 200
    db.session.rollback()
    assert authenticate("ewa.nowak@rops.rzeszow.pl", NEW_PASSWORD) is not None

    again = mail_app.test_client().post(path, data={"password": "inne dłuższe hasło 2026", "repeat": "inne dłuższe hasło 2026"})
    assert again.status_code == 410 and "wygasł albo został już użyty" in again.get_data(as_text=True)
    db.session.rollback()
    assert authenticate("ewa.nowak@rops.rzeszow.pl", NEW_PASSWORD) is not None


def test_a_lead_cannot_invite_into_another_organisation_and_an_organiser_cannot_invite(client, make_app):
    logged_in_organiser(client, is_lead=True)
    lublin = make.organisation("Regionalny Ośrodek Polityki Społecznej w Lublinie", "ROPS Lublin")
    lublin_id = lublin.id
    db.session.commit()
    assert client.post(f"/admin/organisations/{lublin_id}/team", data={"email": "x@rops.lublin.pl"}).status_code == 403

    plain = make_app().test_client()
    organiser_email = make.user().email
    db.session.rollback()
    plain.post("/login", data={"email": organiser_email, "password": make.PASSWORD})
    assert plain.get("/organiser/team").status_code == 403
    assert plain.post("/organiser/team", data={"email": "y@rops.rzeszow.pl"}).status_code == 403
    db.session.rollback()
    assert db.session.execute(select(func.count(User.id)).where(User.email.in_(
        ["x@rops.lublin.pl", "y@rops.rzeszow.pl"]))).scalar_one() == 0


def test_an_admin_invites_into_any_organisation(mail_app, smtp_server, client):
    logged_in_organiser(client, is_admin=True)
    lublin = make.organisation("Regionalny Ośrodek Polityki Społecznej w Lublinie", "ROPS Lublin")
    lublin_id = lublin.id
    db.session.commit()
    response = client.post(f"/admin/organisations/{lublin_id}/team",
                           data={"email": "lider@rops.lublin.pl", "is_lead": "y"})
    assert response.status_code == 303
    invited = db.session.execute(select(User).where(User.email == "lider@rops.lublin.pl")).scalar_one()
    assert invited.organisation_id == lublin_id and invited.is_lead
    db.session.rollback()
    assert _link_in_mail(smtp_server, "lider@rops.lublin.pl")


def test_an_address_already_taken_is_reported_at_the_field(client):
    lead = logged_in_organiser(client, is_lead=True)
    response = client.post("/organiser/team", data={"email": lead.email.upper()})
    assert response.status_code == 422 and "już istnieje" in response.get_data(as_text=True)


def test_a_forgotten_password_is_reset_once_through_the_emailed_link(mail_app, smtp_server):
    email = make.user().email
    db.session.rollback()
    web = mail_app.test_client()
    assert "Nie pamiętasz hasła?" in web.get("/login").get_data(as_text=True)
    answer = web.post("/account/reset", data={"email": email.upper()})
    assert answer.status_code == 200 and "Proszę sprawdzić skrzynkę" in answer.get_data(as_text=True)
    db.session.rollback()
    path = _link_in_mail(smtp_server, email)

    assert web.post(path, data={"password": NEW_PASSWORD, "repeat": NEW_PASSWORD}).status_code == 303
    db.session.rollback()
    assert authenticate(email, NEW_PASSWORD) is not None and authenticate(email, make.PASSWORD) is None
    assert mail_app.test_client().get(path).status_code == 410


def test_an_unknown_address_gets_the_same_answer_and_no_email(mail_app, smtp_server):
    make.user()
    db.session.rollback()
    web = mail_app.test_client()
    unknown = web.post("/account/reset", data={"email": "nikt@example.org"})
    assert unknown.status_code == 200 and "Proszę sprawdzić skrzynkę" in unknown.get_data(as_text=True)
    db.session.rollback()
    dispatch_due()
    assert smtp_server.messages == []
    assert db.session.execute(select(func.count(AccountLink.id))).scalar_one() == 0


def test_repeated_reset_requests_send_one_link_at_a_time(mail_app, smtp_server):
    email = make.user().email
    db.session.rollback()
    web = mail_app.test_client()
    for _ in range(3):
        web.post("/account/reset", data={"email": email})
    db.session.rollback()
    assert db.session.execute(select(func.count(AccountLink.id))).scalar_one() == 1


def test_an_expired_link_is_refused_and_changes_nothing(mail_app, smtp_server):
    email = make.user().email
    db.session.rollback()
    web = mail_app.test_client()
    web.post("/account/reset", data={"email": email})
    db.session.rollback()
    path = _link_in_mail(smtp_server, email)
    link = db.session.execute(select(AccountLink)).scalar_one()
    link.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert web.post(path, data={"password": NEW_PASSWORD, "repeat": NEW_PASSWORD}).status_code == 410
    db.session.rollback()
    assert authenticate(email, make.PASSWORD) is not None


def test_a_forged_link_gets_the_same_plain_answer(client):
    for token in ("x", "a" * 43, "../../etc/passwd"):
        response = client.get(f"/account/set-password/{token}")
        assert response.status_code in (404, 410)


def test_deactivating_a_colleague_stops_their_session_and_token_at_once(client, make_app):
    lead = logged_in_organiser(client, is_lead=True)
    colleague = make.user(lead.organisation)
    token, _record = issue_api_token(colleague)
    colleague_id, email = colleague.id, colleague.email
    db.session.rollback()
    site = make_app()
    browser = site.test_client()
    browser.post("/login", data={"email": email, "password": make.PASSWORD})
    assert browser.get("/organiser/").status_code == 200

    assert client.post(f"/organiser/team/{colleague_id}/deactivate").status_code == 200  # no confirm: nothing
    assert client.post(f"/organiser/team/{colleague_id}/deactivate", data={"confirm": "1"}).status_code == 303
    db.session.rollback()
    assert browser.get("/organiser/").status_code == 302
    assert site.test_client().get("/api/v1/events", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert site.test_client().post("/account/reset", data={"email": email}).status_code == 200
    db.session.rollback()
    assert db.session.execute(select(func.count(AccountLink.id))).scalar_one() == 0  # no reset for a dead account


def test_a_lead_cannot_deactivate_themselves_or_someone_of_another_organisation(client):
    lead = logged_in_organiser(client, is_lead=True)
    other = make.user(make.organisation("Regionalny Ośrodek Polityki Społecznej w Lublinie", "ROPS Lublin"))
    lead_id, other_id = lead.id, other.id
    db.session.commit()
    assert client.post(f"/organiser/team/{lead_id}/deactivate", data={"confirm": "1"}).status_code == 409
    assert client.post(f"/organiser/team/{other_id}/deactivate", data={"confirm": "1"}).status_code == 404
    db.session.rollback()
    assert db.session.get(User, other_id).is_active_account and db.session.get(User, lead_id).is_active_account
