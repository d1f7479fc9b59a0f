"""Demo data: the project's real meetings from the letters in shared/seeds."""
from __future__ import annotations

import hashlib
import io
import uuid
from datetime import date, datetime, timedelta

import click
from flask import Blueprint, current_app
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import func, select, update

from .auth.models import Organisation, User
from .auth.passwords import hash_password
from .auth.services import get_or_create_organisation
from .database import utcnow
from .events.models import Event, EventKind, EventStatus
from .extensions import db
from .invitations.models import Invitation
from .presence.models import Certificate, Presence
from .projects.models import Project
from .projects.services import clean_logo_strip
from .registration.models import Channel, Participant, Registration, RegistrationStatus
from .surveys.models import Survey, SurveyLink, SurveyResponse
from .surveys.services import DEFAULT_QUESTIONS
from .timeutil import localize
from .tokens import digest, new_token

cli = Blueprint("demo_cli", __name__, cli_group=None)

DEMO_PASSWORD = "demo-haslo-2019"
ADMIN_EMAIL = "admin@liderzy-kooperacji.local"

ORGANISATIONS = [
    ("Regionalny Ośrodek Polityki Społecznej w Rzeszowie", "ROPS Rzeszów", "ul. Hetmańska 9, 35-045 Rzeszów",
     "organizator@rops.rzeszow.local"),
    ("Regionalny Ośrodek Polityki Społecznej w Lublinie", "ROPS Lublin", "ul. Diamentowa 2, 20-447 Lublin",
     "organizator@rops.lublin.local"),
    ("Regionalny Ośrodek Polityki Społecznej w Białymstoku", "ROPS Białystok", "ul. Kombatantów 7, 15-110 Białystok",
     "organizator@rops-bialystok.local"),
    ("Regionalny Ośrodek Polityki Społecznej w Kielcach", "ROPS Kielce", "ul. Witosa 86, 25-561 Kielce",
     "organizator@rops.kielce.local"),
    ("Mazowieckie Centrum Polityki Społecznej", "MCPS Warszawa", "ul. Grzybowska 80/82, 00-844 Warszawa",
     "organizator@mcps.local"),
]

# Whom the accessibility statement names at each organisation (fictional people, demo addresses).
ACCESSIBILITY_COORDINATORS = {
    "ROPS Rzeszów": ("Joanna Wiśniewska", "dostepnosc@rops.rzeszow.local", "17 747 06 10"),
    "ROPS Lublin": ("Marek Zieliński", "dostepnosc@rops.lublin.local", "81 528 76 50"),
    "ROPS Białystok": ("Katarzyna Wojciechowska", "dostepnosc@rops-bialystok.local", "85 744 72 70"),
    "ROPS Kielce": ("Tomasz Kamiński", "dostepnosc@rops.kielce.local", "41 342 18 20"),
    "MCPS Warszawa": ("Agnieszka Lewandowska", "dostepnosc@mcps.local", "22 376 85 00"),
}

PCPR_STATEMENT = ("Oświadczam, że Powiatowe Centrum Pomocy Rodzinie deklaruje gotowość udziału w testowaniu "
                  "Modelu Kooperacji w ramach projektu „Liderzy kooperacji” za akceptacją Starosty.")
PODLASKIE_STATEMENT = ("Oświadczam, że zgłoszenie ma akceptację Starosty/Wójta, który wyrazi zgodę na udział radnego "
                       "w Partnerskim Zespole Kooperacji i zawrze porozumienie o współpracy z gminą/powiatem.")


def placeholder_logo_strip() -> bytes:
    """A clearly labelled stand-in for the EU logo strip, drawn here (no downloaded artwork in the demo)."""
    try:
        font = ImageFont.truetype("DejaVuSans.ttf", 22)
        small = ImageFont.truetype("DejaVuSans.ttf", 15)
    except OSError:  # fonts-dejavu-core missing: Pillow's own scalable font
        font, small = ImageFont.load_default(22), ImageFont.load_default(15)
    image = Image.new("RGB", (1200, 150), "white")
    draw = ImageDraw.Draw(image)
    boxes = [("Fundusze Europejskie", "#003399"), ("Rzeczpospolita Polska", "#dc143c"),
             ("Unia Europejska – Europejski Fundusz Społeczny", "#003399")]
    left = 20
    for label, colour in boxes:
        width = 60 + int(draw.textlength(label, font=font))
        draw.rounded_rectangle((left, 40, left + width, 120), radius=10, outline=colour, width=4)
        draw.text((left + 30, 66), label, fill=colour, font=font)
        left += width + 30
    draw.text((20, 10), "DEMO – pasek zastępczy, nie są to oryginalne logotypy", fill="#555555", font=small)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


DEMO_VOIVODESHIPS = {"ROPS Rzeszów": "podkarpackie", "ROPS Lublin": "lubelskie", "ROPS Białystok": "podlaskie",
                     "ROPS Kielce": "swietokrzyskie", "MCPS Warszawa": "mazowieckie"}


def _at(day: str, hour: str) -> datetime:
    return localize(datetime.fromisoformat(f"{day}T{hour}"), "Europe/Warsaw")


def _event(org: Organisation, **values) -> Event:
    event = Event(organisation=org, ical_uid=f"{uuid.uuid4()}@{current_app.config['MAIL_MESSAGE_ID_DOMAIN']}",
                  status=EventStatus.PUBLISHED.value, published_at=utcnow(), **values)
    db.session.add(event)
    return event


def _invite(event: Event, institution: str, category: str, email: str) -> Invitation:
    invitation = Invitation(event=event, institution=institution, category=category, email=email, token=new_token(),
                            voivodeship=event.organisation.voivodeship)
    db.session.add(invitation)
    return invitation


def _paper_declaration(event: Event, invitation: Invitation | None, institution: str, category: str,
                       contact: str, email: str, people: list[tuple[str, str]], counted: datetime,
                       status: str = RegistrationStatus.CONFIRMED.value, channel: str = Channel.EMAIL_SCAN.value):
    registration = Registration(
        event=event, invitation=invitation, institution=institution, category=category, contact_name=contact,
        email=email, status=status, channel=channel, counted_at=counted, queued_at=counted, created_at=counted,
        consent_rodo=True, statements_accepted=[True] * len(event.statements), manage_token=new_token(),
        participants=[Participant(ordinal=i, name=name, position=position) for i, (name, position) in enumerate(people)])
    if invitation is not None:
        invitation.sent_at = invitation.opened_at = invitation.answered_at = counted
    db.session.add(registration)
    return registration


def load_demo_data() -> dict:
    orgs = {}
    for name, short, address, email in ORGANISATIONS:
        org = get_or_create_organisation(name, short_name=short, address=address)
        orgs[short] = org
        org.voivodeship = DEMO_VOIVODESHIPS[short]
        (org.accessibility_contact_name, org.accessibility_contact_email,
         org.accessibility_contact_phone) = ACCESSIBILITY_COORDINATORS[short]
        db.session.add(User(email=email, name=f"Organizator {short}", organisation=org,
                            password_hash=hash_password(DEMO_PASSWORD), feed_token=new_token()))
    db.session.add(User(email=ADMIN_EMAIL, name="Administrator (lider projektu)", organisation=orgs["ROPS Rzeszów"],
                        is_admin=True, password_hash=hash_password(DEMO_PASSWORD), feed_token=new_token()))
    rzeszow, bialystok, kielce = orgs["ROPS Rzeszów"], orgs["ROPS Białystok"], orgs["ROPS Kielce"]
    project = Project(
        name="Liderzy kooperacji", lead_organisation=rzeszow,
        partners=[orgs[short] for short in ("ROPS Lublin", "ROPS Białystok", "ROPS Kielce", "MCPS Warszawa")],
        funding_sentence=current_app.config["FUNDING_FOOTER"],
        reporting_target=("Model Kooperacji przetestowany w gminach i powiatach pięciu województw; Partnerskie Zespoły "
                          "Kooperacji i szkolenia Makroregionalnej Szkoły Kooperacji dla ich członków."),
        target_institutions=200, target_participants=400)
    project.logo_strip = clean_logo_strip(placeholder_logo_strip())
    project.logo_strip_version = hashlib.sha256(project.logo_strip).hexdigest()[:16]
    db.session.add(project)

    # Seed 000: information session for PCPRs, declarations with a signed statement by 12.04.2019.
    info = _event(
        rzeszow, kind=EventKind.INFORMATION_SESSION.value,
        title="Spotkanie informacyjne dla PCPR: testowanie Modelu Kooperacji",
        description=("Spotkanie informacyjne dotyczące możliwości uczestnictwa w testowaniu Modelu Kooperacji "
                     "opracowanego w pierwszym etapie projektu „Liderzy kooperacji”. Zaproszenie kierowane do "
                     "Powiatowych Centrów Pomocy Rodzinie województwa podkarpackiego. W razie pytań: "
                     "(17) 8507928 lub (17) 7470638."),
        starts_at=_at("2019-04-17", "09:00"), ends_at=_at("2019-04-17", "12:00"),
        venue="Regionalny Ośrodek Polityki Społecznej w Rzeszowie", address="ul. Hetmańska 9, 35-045 Rzeszów",
        room="sala konferencyjna, II piętro", reference="PF.0702.10.2019.LK",
        contact_name="Biuro projektu „Liderzy kooperacji”", contact_email="d.gorczyca@rops.rzeszow.pl",
        contact_phone="(17) 8507928, (17) 7470638", capacity=30, seats_per_institution=2, quotas={},
        declaration_deadline=_at("2019-04-12", "23:59"), invite_only=True, moderated=False,
        statements=[PCPR_STATEMENT], scan_required=True)
    powiats = ["jasielski", "krośnieński", "leżajski", "rzeszowski", "przeworski", "ropczycko-sędziszowski"]
    for index, powiat in enumerate(powiats):
        invitation = _invite(info, f"Powiatowe Centrum Pomocy Rodzinie – powiat {powiat}", "powiat",
                             f"pcpr.{index + 1}@example.org")
        if index < 4:
            _paper_declaration(info, invitation, invitation.institution, "powiat", "Dyrektor PCPR",
                               invitation.email, [(f"Uczestnik {index + 1}", "pracownik socjalny")],
                               _at("2019-04-1" + str(index), "10:00"))

    # Seed 001: signing of the agreement creating the Voivodeship Cooperation Team.
    _event(rzeszow, kind=EventKind.AGREEMENT_SIGNING.value,
           title="Podpisanie porozumienia w sprawie powołania Wojewódzkiego Zespołu Kooperacji",
           description="Rola Wojewódzkiego Zespołu Kooperacji w projekcie „Liderzy kooperacji”.",
           starts_at=_at("2019-05-13", "11:00"), ends_at=_at("2019-05-13", "13:00"),
           venue="Urząd Marszałkowski Województwa Podkarpackiego", address="al. Łukasza Cieplińskiego 4, 35-010 Rzeszów",
           room="", reference="", contact_name="ROPS Rzeszów", contact_email="sekretariat@rops.rzeszow.pl",
           contact_phone="17 747 06 00", capacity=40, seats_per_institution=2, quotas={},
           declaration_deadline=_at("2019-05-08", "16:00"), invite_only=True, moderated=False, statements=[],
           scan_required=False)

    # Seed 002: recruitment in Podlaskie, 4 powiats and 6 gminas chosen by the organiser.
    recruitment = _event(
        bialystok, kind=EventKind.OTHER.value,
        title="Nabór powiatów i gmin wiejskich województwa podlaskiego do testowania Modelu Kooperacji",
        description=("Zgłoszenia (karta zgłoszeniowa powiatu lub gminy wraz z listą aktywności i usług) do "
                     "30 kwietnia 2019 r. pocztą na adres ROPS w Białymstoku (decyduje data stempla pocztowego) "
                     "lub e-mailem (decyduje data wysłania, czytelny skan). Wybranych zostanie 4 powiaty i 6 gmin. "
                     "Data spotkania rozpoczynającego testy jest orientacyjna."),
        starts_at=_at("2019-05-20", "10:00"), ends_at=_at("2019-05-20", "14:00"),
        venue="Regionalny Ośrodek Polityki Społecznej w Białymstoku", address="ul. Kombatantów 7, 15-110 Białystok",
        room="", reference="", contact_name="Anna Golubiewska-Dziadel",
        contact_email="liderzy.kooperacji@rops-bialystok.pl", contact_phone="85 744 72 72 wew. 214",
        capacity=None, seats_per_institution=3, quotas={"powiat": 4, "gmina": 6},
        declaration_deadline=_at("2019-04-30", "23:59"), invite_only=False, moderated=True,
        statements=[PODLASKIE_STATEMENT], scan_required=True)
    _paper_declaration(recruitment, None, "Powiatowe Centrum Pomocy Rodzinie w Sokółce", "powiat", "Kierownik PCPR",
                       "pcpr.sokolka@example.org", [("Koordynator", "animator powiatowy")], _at("2019-04-29", "12:00"),
                       status=RegistrationStatus.PENDING.value, channel=Channel.POST.value)
    _paper_declaration(recruitment, None, "Gminny Ośrodek Pomocy Społecznej w Gródku", "gmina", "Kierownik GOPS",
                       "gops.grodek@example.org", [("Pracownik socjalny", "")], _at("2019-04-30", "18:00"),
                       status=RegistrationStatus.PENDING.value)

    # Seed 003: two-day team and Steering Committee meeting, MSK training, national meeting.
    common = dict(venue="Regionalny Ośrodek Polityki Społecznej w Rzeszowie", address="ul. Hetmańska 9, 35-045 Rzeszów",
                  contact_name="ROPS Rzeszów", contact_email="sekretariat@rops.rzeszow.pl",
                  contact_phone="17 747 06 00", quotas={}, invite_only=True, moderated=False, statements=[],
                  scan_required=False, room="", reference="")
    _event(rzeszow, kind=EventKind.STEERING_COMMITTEE.value,
           title="Spotkanie Zespołów ds. Modelu oraz Komitetu Sterującego",
           description=("Makroregionalne spotkanie Zespołów ds. Modelu i Komitetu Sterującego projektu z udziałem "
                        "ROPS z Białegostoku, Kielc, Lublina, Rzeszowa oraz MCPS z Warszawy."),
           starts_at=_at("2019-07-16", "10:00"), ends_at=_at("2019-07-17", "15:00"), capacity=40,
           seats_per_institution=4, declaration_deadline=_at("2019-07-09", "16:00"), **common)
    training = _event(rzeszow, kind=EventKind.TRAINING.value,
                      title="Makroregionalna Szkoła Kooperacji – szkolenie dla wojewódzkich podmiotów sektorowych",
                      description=("Szkolenie dla przedstawicieli urzędów wojewódzkich i marszałkowskich, sądów "
                                   "okręgowych, WUP, komend wojewódzkich Policji, PFRON, kuratoriów oświaty, OIPiP, "
                                   "WSSE i Rad Działalności Pożytku Publicznego z pięciu województw."),
                      starts_at=_at("2019-07-18", "09:00"), ends_at=_at("2019-07-18", "15:00"), capacity=60,
                      seats_per_institution=2, declaration_deadline=_at("2019-07-11", "16:00"), **common)
    _event(rzeszow, kind=EventKind.STEERING_COMMITTEE.value,
           title="Ogólnopolskie spotkanie 3 Komitetów Sterujących",
           description="Spotkanie Komitetów Sterujących projektów realizowanych w trzech makroregionach.",
           starts_at=_at("2019-07-18", "12:00"), ends_at=_at("2019-07-18", "16:00"), capacity=50,
           seats_per_institution=3, declaration_deadline=_at("2019-07-11", "16:00"), **common)

    # Seed 004: signing of the cooperation agreement in Kielce.
    _event(kielce, kind=EventKind.AGREEMENT_SIGNING.value,
           title="Podpisanie porozumienia o współpracy – Wojewódzki Zespół Kooperacji w Kielcach",
           description=("Podpisanie porozumienia z Kuratorium Oświaty, Sądem Okręgowym, Wojewódzkim Urzędem Pracy "
                        "i Wojewódzką Stacją Sanitarno-Epidemiologiczną w Kielcach."),
           starts_at=_at("2019-04-18", "12:00"), ends_at=_at("2019-04-18", "13:30"),
           venue="Urząd Marszałkowski Województwa Świętokrzyskiego", address="al. IX Wieków Kielc 3, 25-516 Kielce",
           room="", reference="", contact_name="ROPS Kielce", contact_email="", contact_phone="", capacity=30,
           seats_per_institution=2, quotas={}, declaration_deadline=_at("2019-04-15", "16:00"), invite_only=True,
           moderated=False, statements=[], scan_required=False)

    # One upcoming meeting, so the declaration form can be tried in the demo.
    upcoming_day = (utcnow() + timedelta(days=30)).date().isoformat()
    deadline_day = (utcnow() + timedelta(days=20)).date().isoformat()
    upcoming = _event(
        rzeszow, kind=EventKind.TRAINING.value,
        title="Makroregionalna Szkoła Kooperacji – kolejna edycja (spotkanie demonstracyjne)",
        description="Spotkanie demonstracyjne: tu można wypróbować zgłoszenie przez link osobisty lub formularz otwarty.",
        starts_at=_at(upcoming_day, "09:00"), ends_at=_at(upcoming_day, "15:00"),
        venue="Regionalny Ośrodek Polityki Społecznej w Rzeszowie", address="ul. Hetmańska 9, 35-045 Rzeszów",
        room="sala konferencyjna, II piętro", reference="DEMO.1.2026", contact_name="Biuro projektu",
        contact_email="sekretariat@rops.rzeszow.pl", contact_phone="17 747 06 00", capacity=20,
        seats_per_institution=2, quotas={"powiat": 4, "gmina": 6}, declaration_deadline=_at(deadline_day, "16:00"),
        invite_only=False, moderated=False, statements=[], scan_required=False)
    _invite(upcoming, "Gminny Ośrodek Pomocy Społecznej w Krempnej", "gmina", "gops.krempna@example.org")
    declared = _invite(upcoming, "Powiatowe Centrum Pomocy Rodzinie w Jaśle", "powiat", "pcpr.jaslo@example.org")
    _paper_declaration(upcoming, declared, declared.institution, "powiat", "Kierownik PCPR", declared.email,
                       [("Uczestnik demonstracyjny 1", "animator powiatowy"), ("Uczestnik demonstracyjny 2", "")],
                       utcnow() - timedelta(days=1), channel=Channel.ONLINE.value)
    _paper_declaration(upcoming, None, "Gminny Ośrodek Pomocy Społecznej w Świlczy", "gmina", "Kierownik GOPS",
                       "gops.swilcza@example.org", [("Uczestnik demonstracyjny 3", "pracownik socjalny")],
                       utcnow() - timedelta(hours=5), channel=Channel.ONLINE.value)
    _after_the_training(training)
    # Every demo meeting is one of the seeds' project (the database was empty: all meetings are the demo's).
    db.session.execute(update(Event).values(project_id=project.id))
    db.session.commit()
    return {"organisations": len(orgs), "events": db.session.execute(select(func.count(Event.id))).scalar_one()}


# Seed 004's training of 18 July 2019, as it would be filed afterwards: who came, their certificates and survey.
TRAINING_PARTICIPANTS = [
    ("Urząd Marszałkowski Województwa Podkarpackiego", "voivodeship", "sekretariat@um-podkarpackie.example",
     [("Katarzyna Wójcik", "główny specjalista", True), ("Tomasz Lis", "inspektor", True)]),
    ("Sąd Okręgowy w Rzeszowie", "court", "kuratorzy@so-rzeszow.example",
     [("Małgorzata Łęcka", "kurator zawodowy", True), ("Paweł Ślusarz", "kurator zawodowy", False)]),
    ("Komenda Wojewódzka Policji w Rzeszowie", "police", "prewencja@kwp-rzeszow.example",
     [("Grzegorz Żak", "koordynator ds. przemocy domowej", True)]),
]
TRAINING_ANSWERS = [
    {"q1": 5, "q2": 5, "q3": 4, "q4": "Tak", "q5": "Więcej przykładów współpracy z sądami rodzinnymi."},
    {"q1": 4, "q2": 5, "q3": 4, "q4": "Raczej tak"},
    {"q1": 5, "q2": 4, "q3": 3, "q4": "Tak", "q5": "Sala była za mała na tyle osób."},
    {"q1": 3, "q2": 4, "q3": 4, "q4": "Raczej nie"},
]


def _after_the_training(training: Event) -> None:
    """Declarations, presence marks, numbered certificates and anonymous survey answers of the past training,
    so that the demo shows a meeting's whole life, not only its first half."""
    counted = _at("2019-07-05", "12:00")
    present = []
    for institution, category, email, people in TRAINING_PARTICIPANTS:
        registration = _paper_declaration(training, None, institution, category, people[0][0], email,
                                          [(name, position) for name, position, _came in people], counted)
        db.session.flush()
        for participant, (_name, _position, came) in zip(registration.participants, people):
            db.session.add(Presence(event_id=training.id, participant_id=participant.id, day=date(2019, 7, 18),
                                    present=came, marked_at=_at("2019-07-18", "09:10")))
            if came:
                present.append((participant, institution))
    for number, (participant, institution) in enumerate(present, start=1):
        db.session.add(Certificate(organisation_id=training.organisation_id, year=2019, number=number,
                                   event_id=training.id, participant_id=participant.id, name=participant.name,
                                   institution=institution, days=["2019-07-18"], issued_at=_at("2019-07-19", "10:00")))
    survey = Survey(event_id=training.id, questions=DEFAULT_QUESTIONS, sent_at=_at("2019-07-19", "10:00"))
    db.session.add(survey)
    db.session.flush()
    for index, (participant, _institution) in enumerate(present):
        db.session.add(SurveyLink(survey_id=survey.id, participant_id=participant.id, digest=digest(new_token()),
                                  used=index < len(TRAINING_ANSWERS)))
    for answers in TRAINING_ANSWERS:
        db.session.add(SurveyResponse(survey_id=survey.id, answers=answers, day="2019-07-19"))


@cli.cli.command("demo-data")
@click.option("--if-empty", is_flag=True, help="Load only when the database has no organisations or users yet.")
def demo_data_command(if_empty):
    """Load the project's real meetings from the seed letters as demo data (never in production)."""
    if current_app.config["APP_ENV"] == "production":
        # The demo accounts' password is printed in the README: they must never exist on a live service.
        raise click.ClickException("Dane demonstracyjne nie są wczytywane przy APP_ENV=production / "
                                   "demo data is never loaded in production.")
    if (db.session.execute(select(Organisation.id).limit(1)).first() is not None
            or db.session.execute(select(User.id).limit(1)).first() is not None):
        if if_empty:
            click.echo("Baza zawiera już dane – pomijam dane demonstracyjne.")
            return
        raise click.ClickException("Baza nie jest pusta / the database is not empty.")
    counts = load_demo_data()
    click.echo(f"Wczytano dane demonstracyjne: {counts['organisations']} organizacji, {counts['events']} spotkań.")
    click.echo(f"Logowanie organizatora: {ORGANISATIONS[0][3]} / {DEMO_PASSWORD}")
    click.echo(f"Administrator: {ADMIN_EMAIL} / {DEMO_PASSWORD}")
