"""Organisers' passwords: argon2id, old hashes upgraded at login, guessable passwords refused, a change page."""
from __future__ import annotations

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from scheduler.auth.models import ApiToken, User
from scheduler.auth.services import authenticate, issue_api_token
from scheduler.errors import ValidationFailed
from scheduler.extensions import db

from . import factories as make


def test_new_passwords_are_stored_as_argon2id(app):
    user = make.user()
    assert user.password_hash.startswith("$argon2id$")
    assert authenticate(user.email, make.PASSWORD) == user
    assert authenticate(user.email, "correct horse battery!") is None


def test_an_old_werkzeug_hash_still_logs_in_and_is_upgraded_at_login(client):
    user = make.user()
    user.password_hash = generate_password_hash("stare-haslo-z-2019-roku", method="pbkdf2:sha256")
    db.session.commit()
    response = client.post("/login", data={"email": user.email, "password": "stare-haslo-z-2019-roku"})
    assert response.status_code == 302
    db.session.expire_all()
    stored = db.session.get(User, user.id).password_hash
    assert stored.startswith("$argon2id$")
    assert authenticate(user.email, "stare-haslo-z-2019-roku") is not None


def test_common_and_personal_passwords_are_refused_with_a_reason(app):
    org = make.organisation()
    for weak in ("password123456", "qwertyuiop", "liderzy2019!", "anna.kowalska1"):
        try:
            make.user(org, email="anna.kowalska@rops.rzeszow.pl", password=weak)
        except ValidationFailed as exc:
            assert "password" in exc.fields, weak
        else:
            raise AssertionError(f"{weak!r} was accepted")
    assert db.session.execute(select(User.id)).first() is None


def test_the_cli_refuses_a_guessable_password_in_polish(runner):
    make.organisation()
    result = runner.invoke(args=["create-user", "a@example.org", "--organisation", "ROPS Rzeszów", "--password-stdin"],
                           input="qwertyuiop123\n")
    assert result.exit_code != 0 and "zbyt łatwe do odgadnięcia" in result.output


def _logged_in(client):
    user = make.user()
    db.session.commit()
    make.login(client, user, lang="pl")
    return user


def test_changing_the_password_keeps_this_session_and_ends_the_others(client, make_app):
    user = _logged_in(client)
    token, _record = issue_api_token(user)
    user_id, email = user.id, user.email
    db.session.rollback()
    elsewhere_app = make_app()
    elsewhere = elsewhere_app.test_client()
    elsewhere.post("/login", data={"email": email, "password": make.PASSWORD})
    assert elsewhere.get("/organiser/").status_code == 200

    response = client.post("/account/password", data={
        "current": make.PASSWORD, "password": "zielona łąka nad Wisłokiem", "repeat": "zielona łąka nad Wisłokiem"})
    assert response.status_code == 303
    db.session.rollback()
    assert client.get("/organiser/").status_code == 200
    assert elsewhere.get("/organiser/").status_code == 302
    assert elsewhere_app.test_client().get("/api/v1/events", headers={"Authorization": f"Bearer {token}"}
                                           ).status_code == 401
    assert db.session.execute(select(ApiToken.revoked_at)).scalar_one() is not None
    assert authenticate(email, "zielona łąka nad Wisłokiem").id == user_id


def test_the_change_page_says_what_is_wrong_and_changes_nothing(client):
    user = _logged_in(client)
    before = user.password_hash
    db.session.rollback()
    wrong = client.post("/account/password", data={"current": "nie-to-haslo-wcale", "password": "zielona łąka nad Wisłokiem",
                                                   "repeat": "zielona łąka nad Wisłokiem"})
    assert wrong.status_code == 422 and "Obecne hasło jest nieprawidłowe" in wrong.get_data(as_text=True)
    differ = client.post("/account/password", data={"current": make.PASSWORD, "password": "zielona łąka nad Wisłokiem",
                                                    "repeat": "zielona łąka nad Wisłokim"})
    assert differ.status_code == 422 and "różnią się" in differ.get_data(as_text=True)
    weak = client.post("/account/password", data={"current": make.PASSWORD, "password": "1234567890",
                                                  "repeat": "1234567890"})
    assert weak.status_code == 422 and "zbyt łatwe" in weak.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).password_hash == before
