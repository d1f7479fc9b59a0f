"""Polish first: every string of the service has a Polish translation, and pages and e-mails speak Polish
unless the reader asks for English."""
from __future__ import annotations

import gettext
import html
import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from sqlalchemy import select

from scheduler.extensions import db
from scheduler.notifications.mail import Outgoing
from scheduler.notifications.models import Message
from scheduler.notifications.rendering import preview
from scheduler.notifications.services import send_invitations
from scheduler.registration.services import declare
from scheduler.tokens import new_token

from . import factories as make

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "scheduler" / "translations"
# The keywords of `make messages` (Babel's defaults cover _, gettext and ngettext; these add the lazy ones).
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None,
            "lazy_ngettext": (1, 2), "_ln": (1, 2)}
PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")


def catalog(language: str):
    with open(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle, locale=language)


def entries(language: str) -> list:
    return [message for message in catalog(language) if message.id]


def text(message_id) -> str:
    return message_id[0] if isinstance(message_id, tuple) else message_id


def placeholders(string: str) -> tuple[set[str], int]:
    """Named placeholders, and how many other % signs are left (a stray one breaks the formatting)."""
    names = set(PLACEHOLDER.findall(string))
    return names, PLACEHOLDER.sub("", string).count("%")


def extracted_ids() -> set[str]:
    with open(ROOT / "babel.cfg") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True):
        found.add(text(message))
    return found


def page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


# --- the catalog ----------------------------------------------------------------------

def test_the_polish_catalog_has_three_plural_forms():
    pl = catalog("pl")
    assert pl.num_plurals == 3
    assert pl.plural_expr.replace(" ", "") == \
        "(n==1?0:n%10>=2&&n%10<=4&&(n%100<10||n%100>=20)?1:2)"


def test_every_string_has_a_polish_translation_that_is_not_fuzzy():
    untranslated = [text(m.id) for m in entries("pl")
                    if not (all(m.string) if isinstance(m.id, tuple) else m.string)]
    fuzzy = [text(m.id) for m in entries("pl") if m.fuzzy]
    wrong_plurals = [text(m.id) for m in entries("pl")
                     if isinstance(m.id, tuple) and (not isinstance(m.string, tuple) or len(m.string) != 3)]
    assert len(entries("pl")) > 400
    assert untranslated == [], "translate these in scheduler/translations/pl/LC_MESSAGES/messages.po"
    assert fuzzy == [], "check these translations and remove their #, fuzzy flag"
    assert wrong_plurals == [], "Polish plurals need three forms (1, 2–4, 5+)"


def test_every_translation_keeps_the_placeholders_of_its_original():
    mismatched = []
    for message in entries("pl"):
        originals = message.id if isinstance(message.id, tuple) else (message.id,)
        translations = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = placeholders(originals[-1])
        for translated in translations:
            if placeholders(translated) != expected:
                mismatched.append((originals[-1], translated))
    assert mismatched == []


def test_the_catalogs_pass_babels_checks_and_compile():
    for language in ("pl", "en"):
        checked = catalog(language)
        problems = [(text(message.id), [str(e) for e in errors]) for message, errors in checked.check()]
        assert problems == [], language
        compiled = io.BytesIO()
        write_mo(compiled, checked)
        compiled.seek(0)
        gettext.GNUTranslations(compiled)  # raises if the compiled file is broken


def test_polish_plurals_follow_the_number():
    compiled = io.BytesIO()
    write_mo(compiled, catalog("pl"))
    compiled.seek(0)
    polish = gettext.GNUTranslations(compiled)

    def seats(n: int) -> str:
        return polish.ngettext("%(num)d seat", "%(num)d seats", n) % {"num": n}

    assert [seats(n) for n in (1, 2, 4, 5, 12, 22, 25, 101)] == [
        "1 miejsce", "2 miejsca", "4 miejsca", "5 miejsc", "12 miejsc", "22 miejsca", "25 miejsc", "101 miejsc"]


def test_the_catalog_is_up_to_date_with_the_code():
    in_code = extracted_ids()
    in_catalog = {text(m.id) for m in entries("pl")}
    assert sorted(in_code - in_catalog) == [], (
        "new strings in the code: run `make messages` and translate them in the Polish catalog")
    assert sorted(in_catalog - in_code) == [], "strings no longer in the code: run `make messages`"
    assert {text(m.id) for m in entries("en")} == in_catalog, "run `make messages`"


# --- pages ------------------------------------------------------------------------------

def declaration_form() -> dict:
    return {
        "institution": "Gminny Ośrodek Pomocy Społecznej w Kuryłówce", "category": "gmina",
        "contact_name": "Jan Nowak", "email": "gops@kurylowka.example.org", "phone": "17 242 00 00",
        "participants-0-name": "Jan Nowak", "participants-0-position": "kierownik",
        "consent_rodo": "y", "idempotency_key": new_token(), "submit": "1",
    }


def test_pages_are_polish_by_default(client):
    organiser = make.user()
    event = make.event(organiser, invite_only=True)
    invitation = make.invitations(organiser, event)[0]

    home = page(client.get("/"))
    assert '<html lang="pl">' in home
    assert "Spotkania w projekcie" in home and event.title in home
    assert "Europejskiego Funduszu Społecznego" in home

    login = page(client.get("/login"))
    assert "Logowanie organizatora" in login and "Hasło" in login and "Zaloguj się" in login

    personal = page(client.get(f"/i/{invitation.token}"))
    for words in ("Zaproszenie dla:", "Deklaracja uczestnictwa", "Termin składania deklaracji", "Imię i nazwisko",
                  "Wyrażam zgodę na przetwarzanie danych osobowych", "Wyślij deklarację", "Nie weźmiemy udziału"):
        assert words in personal

    missing = client.get("/i/no-such-token")
    assert missing.status_code == 404
    assert "Nie znaleziono" in page(missing) and "Powrót do listy spotkań" in page(missing)


def test_a_declaration_with_mistakes_is_explained_in_polish(client):
    organiser = make.user()
    event = make.event(organiser, invite_only=True)
    invitation = make.invitations(organiser, event)[0]

    response = client.post(f"/i/{invitation.token}", data={**declaration_form(), "email": "nie-adres",
                                                          "consent_rodo": ""})

    assert response.status_code == 422
    text_of_page = page(response)
    assert "Formularz zawiera błędy" in text_of_page  # the error summary at the top of the form
    assert "To nie jest prawidłowy adres e-mail." in text_of_page
    assert "Warunkiem udziału jest wyrażenie zgody na przetwarzanie danych osobowych." in text_of_page


def test_a_declaration_through_the_personal_link_is_confirmed_in_polish(client):
    organiser = make.user()
    event = make.event(organiser, invite_only=True, capacity=10)
    invitation = make.invitations(organiser, event)[0]

    response = client.post(f"/i/{invitation.token}", data=declaration_form(), follow_redirects=True)

    confirmation = page(response)
    assert "Dziękujemy, Państwa deklaracja została przyjęta" in confirmation
    assert "Udział został potwierdzony: dla Państwa instytucji zarezerwowano 1 miejsce." in confirmation
    assert "Prosimy zachować ten link" in confirmation


def test_english_is_there_when_asked_for_and_stays_for_the_session(client):
    home = page(client.get("/?lang=en"))
    assert '<html lang="en">' in home and "Project meetings" in home

    login = page(client.get("/login"))
    assert "Organiser login" in login and "Password" in login

    missing = page(client.get("/i/no-such-token"))
    assert "Not found" in missing

    back = page(client.get("/?lang=pl"))
    assert "Spotkania w projekcie" in back and "Project meetings" not in back


def test_the_organisers_pages_are_polish_after_a_polish_login(client):
    organiser = make.user()
    event = make.event(organiser, capacity=3)
    declare(event.id, make.declaration(seats=2))
    declare(event.id, make.declaration(seats=2))  # does not fit: the waiting list
    make.login(client, organiser, lang="pl")

    overview = page(client.get(f"/organiser/events/{event.id}"))

    assert "Moje spotkania" in overview and "Zajęte miejsca" in overview and "Lista rezerwowa" in overview
    assert "Dziennik wiadomości" in overview and "Przypomnienia" in overview
    assert "1 deklaracja, 2 miejsca" in overview  # Polish plural forms
    assert "Seats taken" not in overview


# --- e-mails -----------------------------------------------------------------------------

def messages_to(address: str) -> list[Outgoing]:
    """The e-mails planned for `address`, rendered as the dispatcher renders them when it sends them."""
    return [preview(m) for m in
            db.session.execute(select(Message).where(Message.recipient == address).order_by(Message.id)).scalars()]


def test_a_polish_invitee_gets_the_invitation_and_the_confirmation_in_polish(client):
    organiser = make.user()
    event = make.event(organiser, invite_only=True, capacity=10)
    invitation = make.invitations(organiser, event)[0]
    send_invitations(organiser, event)

    [invitation_mail] = messages_to(invitation.email)
    assert invitation_mail.language == "pl"
    assert invitation_mail.subject.startswith("Zaproszenie – ")
    assert invitation_mail.body_text.startswith("Szanowni Państwo,")
    assert "Uprzejmie zapraszamy instytucję" in invitation_mail.body_text
    assert "za pomocą linku osobistego" in invitation_mail.body_text
    assert "Szanowni Państwo," in invitation_mail.body_html and "Dear Sir or Madam" not in invitation_mail.body_html

    client.post(f"/i/{invitation.token}", data={**declaration_form(), "email": "gops@kurylowka.example.org"})

    [confirmation] = messages_to("gops@kurylowka.example.org")
    assert confirmation.subject.startswith("Deklaracja przyjęta: udział potwierdzony – ")
    assert "Otrzymaliśmy deklarację uczestnictwa".lower() in confirmation.body_text.lower()


def test_an_english_invitee_gets_english_mail_on_the_same_meeting(client):
    organiser = make.user()
    event = make.event(organiser, invite_only=True)
    make.invitations(organiser, event)  # a Polish one beside it
    from scheduler.invitations.services import add_invitations

    [english], _ = add_invitations(organiser, event, [{"institution": "Partner institution", "category": "other",
                                                       "email": "partner@example.org", "language": "en"}])
    send_invitations(organiser, event)

    [mail] = messages_to(english.email)
    assert mail.subject.startswith("Invitation – ")
    assert mail.body_text.startswith("Dear Sir or Madam,")


@pytest.mark.parametrize("path", ["/", "/login", "/i/no-such-token"])
def test_the_language_link_switches_to_english_and_back(client, path):
    client.get(f"/language/en?next={path}", follow_redirects=True)
    assert '<html lang="en">' in page(client.get(path))
    client.get(f"/language/pl?next={path}", follow_redirects=True)
    assert '<html lang="pl">' in page(client.get(path))
