"""The project report: institutions reached, participants present and certificates, per meeting, per category and
per voivodeship, against the project's target; fenced per organisation; downloadable as XLSX and Polish CSV.

The numbers below are counted by hand from the fixture's story (see `project`).
"""
from __future__ import annotations

import codecs
import csv
import io
from datetime import date, datetime, timedelta, timezone

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from scheduler.auth.models import Organisation
from scheduler.auth.services import get_or_create_organisation
from scheduler.extensions import db
from scheduler.invitations.importing import template_csv
from scheduler.invitations.models import Invitation
from scheduler.invitations.services import add_invitations
from scheduler.presence.certificates import issue_certificates
from scheduler.presence.models import Presence, WalkIn
from scheduler.projects.models import Project
from scheduler.regions import voivodeship_from
from scheduler.registration.models import Participant, Registration
from scheduler.reports.services import Scope, build_report, institution_key
from scheduler.tokens import new_token

from . import factories as make
from .helpers import confirm_import, sql_statements


def _meeting(organiser, project, day: date, title: str):
    start = datetime(day.year, day.month, day.day, 8, 0, tzinfo=timezone.utc)
    event = make.event(organiser, title=title, starts_at=start, ends_at=start + timedelta(days=1, hours=7),
                       declaration_deadline=start - timedelta(days=3))
    event.project_id = project.id
    db.session.commit()
    return event


def _declared(event, institution: str, category: str, people: int, invitation: Invitation | None = None):
    registration = Registration(
        event_id=event.id, invitation=invitation, institution=institution, category=category, contact_name="Anna",
        email=f"{institution_key(institution).replace(' ', '.')}@example.org", status="confirmed",
        manage_token=new_token(), consent_rodo=True,
        participants=[Participant(ordinal=i, name=f"{institution} {i + 1}") for i in range(people)])
    db.session.add(registration)
    db.session.flush()
    return registration


def _present(event, registration, *marks: bool, day_offset: int = 0):
    """Presence marks for the declaration's participants in order, on the meeting's first (or a later) day."""
    day = event.starts_at.date() + timedelta(days=day_offset)
    for participant, present in zip(registration.participants, marks):
        db.session.add(Presence(event_id=event.id, participant_id=participant.id, day=day, present=present))


def _walk_in(event, registration, name: str, day_offset: int = 0):
    db.session.add(WalkIn(event_id=event.id, registration_id=registration.id, name=name,
                          day=event.starts_at.date() + timedelta(days=day_offset)))


@pytest.fixture
def project(app):
    """Two centres of one project, three meetings.

    A1 (Rzeszów, 10 March): PCPR w Łańcucie (powiat, invited, podkarpackie by default) 2 of 2 present;
      Sąd Rejonowy w Lublinie (court, invited as lubelskie) 1 of 2 present plus a walk-in for the absent one;
      KPP w Leżajsku (police) its one participant marked absent: not reached. Certificates: 3.
    A2 (Rzeszów, 20 May): "pcpr  w ŁAŃCUCIE" again (the same institution) 1 present; Fundacja Dobro (ngo, not
      invited: the organiser's podkarpackie) its participant absent, a walk-in on both days (one person).
      Certificates: 1.
    B1 (Lublin, 15 April): MOPS Lublin (gmina, lubelskie by default) 3 of 3 present. Certificates: 3.
    """
    rzeszow = get_or_create_organisation("Regionalny Ośrodek Polityki Społecznej w Rzeszowie",
                                         short_name="ROPS Rzeszów")
    lublin = get_or_create_organisation("Regionalny Ośrodek Polityki Społecznej w Lublinie", short_name="ROPS Lublin")
    rzeszow.voivodeship, lublin.voivodeship = "podkarpackie", "lubelskie"
    project = Project(name="Liderzy kooperacji", lead_organisation=rzeszow, partners=[lublin],
                      target_institutions=10, target_participants=20)
    db.session.add(project)
    db.session.commit()
    a, b = make.user(rzeszow), make.user(lublin)

    a1 = _meeting(a, project, date(2027, 3, 10), "Szkolenie w Rzeszowie")
    invited, _ = add_invitations(a, a1, [
        {"institution": "PCPR w Łańcucie", "category": "powiat", "email": "pcpr@lancut.example"},
        {"institution": "Sąd Rejonowy w Lublinie", "category": "court", "email": "sad@lublin.example",
         "voivodeship": "Lubelskie"},
        {"institution": "KPP w Leżajsku", "category": "police", "email": "kpp@lezajsk.example"}])
    lancut, court, police = (_declared(a1, i.institution, i.category, people, i) for i, people in
                             zip(invited, (2, 2, 1)))
    _present(a1, lancut, True, True)
    _present(a1, court, True, False)
    _walk_in(a1, court, "Zastępca z sądu")
    _present(a1, police, False)

    a2 = _meeting(a, project, date(2027, 5, 20), "Spotkanie w Łańcucie")
    again, _ = add_invitations(a, a2, [{"institution": "pcpr  w ŁAŃCUCIE", "category": "powiat",
                                        "email": "pcpr@lancut.example"}])
    _present(a2, _declared(a2, "pcpr  w ŁAŃCUCIE", "powiat", 1, again[0]), True)
    foundation = _declared(a2, "Fundacja Dobro", "ngo", 1)
    _present(a2, foundation, False)
    _walk_in(a2, foundation, "Jan Nowak")
    _walk_in(a2, foundation, "Jan Nowak", day_offset=1)

    b1 = _meeting(b, project, date(2027, 4, 15), "Zespół w Lublinie")
    invited, _ = add_invitations(b, b1, [{"institution": "MOPS Lublin", "category": "gmina",
                                          "email": "mops@lublin.example"}])
    _present(b1, _declared(b1, "MOPS Lublin", "gmina", 3, invited[0]), True, True, True)
    db.session.commit()
    for organiser, event in ((a, a1), (a, a2), (b, b1)):
        issue_certificates(organiser, event)
    return {"project": project, "a": a, "b": b, "a1": a1, "a2": a2, "b1": b1, "rzeszow": rzeszow, "lublin": lublin}


def _numbers(n) -> tuple[int, int, int]:
    return n.institutions, n.participants, n.certificates


def _groups(rows) -> dict:
    return {row.value: _numbers(row.numbers) for row in rows if any(_numbers(row.numbers))}


def test_an_invitation_takes_its_organisations_voivodeship_unless_it_names_one(project):
    regions = dict(db.session.execute(select(Invitation.institution, Invitation.voivodeship)).all())
    assert regions == {"PCPR w Łańcucie": "podkarpackie", "Sąd Rejonowy w Lublinie": "lubelskie",
                       "KPP w Leżajsku": "podkarpackie", "pcpr  w ŁAŃCUCIE": "podkarpackie",
                       "MOPS Lublin": "lubelskie"}


def test_voivodeship_names_are_read_whatever_their_case_letters_and_prefix():
    assert voivodeship_from("ŚLĄSKIE") == voivodeship_from("slaskie") == voivodeship_from("woj. śląskie") == "slaskie"
    assert voivodeship_from("Województwo Warmińsko-Mazurskie") == "warminsko-mazurskie"
    assert voivodeship_from("Narnia") is None


def test_the_organisations_report_counts_each_meeting_and_each_institution_once(project):
    report = build_report(Scope({project["rzeszow"].id}))
    assert [(row.event.title, _numbers(row.numbers)) for row in report.meetings] == [
        ("Szkolenie w Rzeszowie", (2, 4, 3)), ("Spotkanie w Łańcucie", (2, 2, 1))]
    # Łańcut came to both meetings: three institutions, not four.
    assert _numbers(report.total) == (3, 6, 4)
    assert _groups(report.categories) == {"powiat": (1, 3, 3), "court": (1, 2, 1), "ngo": (1, 1, 0)}
    assert _groups(report.voivodeships) == {"podkarpackie": (2, 4, 3), "lubelskie": (1, 2, 1)}
    assert report.institutions_target is None  # no project chosen: no target to compare with


def test_the_projects_report_covers_every_organisation_against_its_targets(project):
    report = build_report(Scope(None, project["project"]))
    assert [row.event.title for row in report.meetings] == [
        "Szkolenie w Rzeszowie", "Zespół w Lublinie", "Spotkanie w Łańcucie"]
    assert _numbers(report.total) == (4, 9, 7)
    assert _groups(report.voivodeships) == {"podkarpackie": (2, 4, 3), "lubelskie": (2, 5, 4)}
    assert _groups(report.categories)["gmina"] == (1, 3, 3)
    assert (report.institutions_target.reached, report.institutions_target.target,
            report.institutions_target.percent) == (4, 10, 40)
    assert (report.participants_target.reached, report.participants_target.percent) == (9, 45)


def test_the_date_range_keeps_the_meetings_starting_within_it(project):
    report = build_report(Scope(None, project["project"], date(2027, 3, 1), date(2027, 4, 30)))
    assert [row.event.title for row in report.meetings] == ["Szkolenie w Rzeszowie", "Zespół w Lublinie"]
    assert _numbers(report.total) == (3, 7, 6)


def test_the_report_is_counted_with_a_fixed_number_of_queries(project):
    assert project["project"].target_institutions == 10  # loaded before counting
    with sql_statements() as statements:
        build_report(Scope(None, project["project"]))
    # The meetings, the declarations reached (with their people and certificates), the certificates per meeting.
    assert len(statements) == 3


def test_the_organisers_page_shows_their_numbers_the_definition_and_the_progress(client, project):
    make.login(client, project["a"])
    page = client.get(f"/organiser/report?project={project['project'].id}").get_data(as_text=True)
    assert "at least one of its people was present" in page
    assert "Institutions reached: 3 of 10 (30%)" in page
    assert '<progress max="10" value="3"' in page
    assert "Szkolenie w Rzeszowie" in page and "Zespół w Lublinie" not in page
    assert 'src="data:image/svg+xml;base64,' in page  # the chart, with the table beside it
    assert "<th scope=\"row\" lang=\"pl\">lubelskie</th><td>1</td><td>2</td><td>1</td>" in page


def test_an_organiser_of_another_centre_sees_only_their_own_meetings(client, project):
    make.login(client, project["b"])
    page = client.get(f"/organiser/report?project={project['project'].id}").get_data(as_text=True)
    assert "Zespół w Lublinie" in page
    assert "Szkolenie w Rzeszowie" not in page and "Sąd Rejonowy" not in page
    assert "Institutions reached: 1 of 10 (10%)" in page
    workbook = load_workbook(io.BytesIO(client.get("/organiser/report.xlsx").data))
    assert [row[0] for row in workbook["Meetings"].iter_rows(min_row=2, values_only=True)] == [
        "Zespół w Lublinie", "Total (each institution once)"]
    assert client.get(f"/admin/projects/{project['project'].id}/report").status_code == 403
    assert client.get(f"/admin/projects/{project['project'].id}/report.xlsx").status_code == 403


def test_a_project_an_organisation_is_not_part_of_cannot_be_chosen(client, project):
    other = Project(name="Inny projekt", lead_organisation=project["rzeszow"])
    db.session.add(other)
    db.session.commit()
    make.login(client, project["b"])
    response = client.get(f"/organiser/report?project={other.id}")
    assert response.status_code == 422
    assert "Choose one of the projects in the list." in response.get_data(as_text=True)


def test_the_admin_sees_the_whole_project(client, project):
    admin = make.user(project["rzeszow"], is_admin=True)
    make.login(client, admin)
    page = client.get(f"/admin/projects/{project['project'].id}/report").get_data(as_text=True)
    assert "Zespół w Lublinie" in page and "Szkolenie w Rzeszowie" in page
    assert "Institutions reached: 4 of 10 (40%)" in page
    assert "Participants present: 9 of 20 (45%)" in page
    assert f"/admin/projects/{project['project'].id}/report" in client.get(
        f"/admin/projects/{project['project'].id}").get_data(as_text=True)


def test_a_wrong_date_is_named_and_the_report_still_shown(client, project):
    make.login(client, project["a"])
    response = client.get("/organiser/report?start=10.03.2027&end=2027-05-01")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter a date as YYYY-MM-DD" in page
    assert "Szkolenie w Rzeszowie" in page and "Spotkanie w Łańcucie" not in page  # the good bound still applies
    assert client.get("/organiser/report.xlsx?start=10.03.2027").status_code == 303


def test_the_workbook_has_the_same_numbers_on_three_sheets(client, project):
    admin = make.user(project["rzeszow"], is_admin=True)
    make.login(client, admin)
    response = client.get(f"/admin/projects/{project['project'].id}/report.xlsx")
    stem = f"raport-projektu-{project['project'].id}"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{stem}.xlsx"'
    workbook = load_workbook(io.BytesIO(response.data))
    assert workbook.sheetnames == ["Meetings", "Categories", "Voivodeships"]
    meetings = list(workbook["Meetings"].iter_rows(values_only=True))
    assert meetings[0] == ("Meeting", "First day", "Last day", "Organisation", "Institutions reached",
                           "Participants present", "Certificates issued")
    assert meetings[1][0] == "Szkolenie w Rzeszowie" and meetings[1][1].date() == date(2027, 3, 10)
    assert [row[3:] for row in meetings[1:]] == [("ROPS Rzeszów", 2, 4, 3), ("ROPS Lublin", 1, 3, 3),
                                                 ("ROPS Rzeszów", 2, 2, 1), (None, 4, 9, 7)]
    voivodeships = {row[0]: row[1:] for row in workbook["Voivodeships"].iter_rows(min_row=2, values_only=True)}
    assert voivodeships["podkarpackie"] == (2, 4, 3) and voivodeships["lubelskie"] == (2, 5, 4)
    assert voivodeships["śląskie"] == (0, 0, 0)
    categories = {row[0]: row[1:] for row in workbook["Categories"].iter_rows(min_row=2, values_only=True)}
    assert categories["Court"] == (1, 2, 1) and categories["Total (each institution once)"] == (4, 9, 7)


def test_the_csv_is_polish_excels_dialect(client, project):
    make.login(client, project["a"])
    response = client.get("/organiser/report.csv?table=voivodeships")
    assert response.headers["Content-Disposition"] == 'attachment; filename="raport-wojewodztwa.csv"'
    assert response.data.startswith(codecs.BOM_UTF8)
    text = response.data[len(codecs.BOM_UTF8):].decode("utf-8")
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert rows[0] == ["Voivodeship", "Institutions reached", "Participants present", "Certificates issued"]
    assert ["podkarpackie", "2", "4", "3"] in rows and ["lubelskie", "1", "2", "1"] in rows
    assert client.get("/organiser/report.csv?table=nothing").status_code == 404


def test_the_admin_sets_the_numeric_targets_on_the_project_form(client, project):
    admin = make.user(project["rzeszow"], is_admin=True)
    make.login(client, admin)
    data = {"name": "Liderzy kooperacji", "lead_organisation_id": project["rzeszow"].id,
            "partner_ids": [project["lublin"].id], "target_institutions": "dwieście", "target_participants": ""}
    response = client.post(f"/admin/projects/{project['project'].id}", data=data)
    assert response.status_code == 422
    assert "Enter a whole number from 1 to 1000000" in response.get_data(as_text=True)
    assert client.post(f"/admin/projects/{project['project'].id}",
                       data=data | {"target_institutions": "200"}).status_code == 303
    db.session.expire_all()
    assert (project["project"].target_institutions, project["project"].target_participants) == (200, None)


def test_the_import_reads_a_voivodeship_column_and_names_a_wrong_one(client, project):
    make.login(client, project["a"])
    event = project["a1"]
    listing = ("instytucja;kategoria;e-mail;województwo\r\n"
               "GOPS Żołynia;gmina;gops@zolynia.example;PODKARPACKIE\r\n"
               "PCPR Kielce;powiat;pcpr@kielce.example;Świętokrzyskie\r\n"
               "OPS Łódź;gmina;ops@lodz.example;woj. lodzkie\r\n"
               "GOPS Nigdzie;gmina;gops@nigdzie.example;Narnia\r\n"
               "GOPS Bez regionu;gmina;gops@bez.example;\r\n")
    preview = client.post(f"/organiser/events/{event.id}/invitations/import", data={"csv": listing})
    page = preview.get_data(as_text=True)
    assert "Unknown voivodeship: Narnia." in page
    assert "świętokrzyskie" in page
    confirm_import(client, preview)
    regions = dict(db.session.execute(select(Invitation.institution, Invitation.voivodeship)
                                      .where(Invitation.event_id == event.id)).all())
    assert regions["GOPS Żołynia"] == "podkarpackie" and regions["PCPR Kielce"] == "swietokrzyskie"
    assert regions["OPS Łódź"] == "lodzkie" and regions["GOPS Bez regionu"] == "podkarpackie"
    assert "GOPS Nigdzie" not in regions


def test_the_import_page_and_templates_offer_the_voivodeship_column(client, project):
    make.login(client, project["a"], lang="pl")
    page = client.get(f"/organiser/events/{project['a1'].id}/invitations").get_data(as_text=True)
    assert "warmińsko-mazurskie" in page and 'name="voivodeship"' in page
    template = client.get(f"/organiser/events/{project['a1'].id}/invitations/template.csv").data
    header, example = list(csv.reader(io.StringIO(template.decode("utf-8-sig")), delimiter=";"))
    assert header[-1] == "województwo" and example[-1] == "podkarpackie"
    workbook = load_workbook(io.BytesIO(client.get(
        f"/organiser/events/{project['a1'].id}/invitations/template.xlsx").data))
    assert workbook.active["E1"].value == "województwo"
    assert any("E2" in str(rule.sqref) for rule in workbook.active.data_validations.dataValidation)


def test_the_invitation_form_and_the_api_take_a_voivodeship(client, project):
    make.login(client, project["a"])
    event = project["a1"]
    response = client.post(f"/organiser/events/{event.id}/invitations/add", data={
        "institution": "Starostwo Powiatowe w Opolu", "category": "powiat", "email": "s@opole.example",
        "language": "pl", "voivodeship": "opolskie"})
    assert response.status_code == 302
    token = make.api_token(project["a"])
    api = client.post(f"/api/v1/events/{event.id}/invitations", headers={"Authorization": f"Bearer {token}"},
                      json=[{"institution": "UM Gdańsk", "category": "gmina", "email": "um@gdansk.example",
                             "voivodeship": "pomorskie"}])
    assert api.status_code == 201, api.get_data(as_text=True)
    regions = dict(db.session.execute(select(Invitation.institution, Invitation.voivodeship)
                                      .where(Invitation.event_id == event.id)).all())
    assert regions["Starostwo Powiatowe w Opolu"] == "opolskie" and regions["UM Gdańsk"] == "pomorskie"
    # ... and the API gives it back with the invitation.
    listed = client.get(f"/api/v1/events/{event.id}/invitations", headers={"Authorization": f"Bearer {token}"})
    assert {i["institution"]: i["voivodeship"] for i in listed.get_json()["invitations"]}["UM Gdańsk"] == "pomorskie"


def test_the_csv_template_still_matches_the_columns_it_names(app):
    with app.test_request_context("/?lang=pl"):
        header = template_csv().decode("utf-8-sig").splitlines()[0].split(";")
    assert header == ["instytucja", "kategoria", "e-mail", "język", "województwo"]


def test_the_admin_gives_an_organisation_its_voivodeship(client, project):
    admin = make.user(project["rzeszow"], is_admin=True)
    make.login(client, admin)
    lublin = project["lublin"]
    data = {"name": lublin.name, "short_name": "ROPS Lublin", "address": ""}
    refused = client.post(f"/admin/organisations/{lublin.id}", data=data | {"voivodeship": "atlantyda"})
    assert refused.status_code == 422 and "Choose a voivodeship from the list." in refused.get_data(as_text=True)
    assert client.post(f"/admin/organisations/{lublin.id}", data=data | {"voivodeship": "lodzkie"}).status_code == 302
    db.session.expire_all()
    assert lublin.voivodeship == "lodzkie"
    assert client.post(f"/admin/organisations/{lublin.id}", data=data).status_code == 302  # not sent: unchanged
    db.session.expire_all()
    assert lublin.voivodeship == "lodzkie"
    assert client.post(f"/admin/organisations/{lublin.id}", data=data | {"voivodeship": ""}).status_code == 302
    db.session.expire_all()
    assert lublin.voivodeship is None
    created = client.post("/admin/organisations", data={"name": "Regionalny Ośrodek Polityki Społecznej w Opolu",
                                                        "short_name": "ROPS Opole", "voivodeship": "opolskie"})
    assert created.status_code == 303
    opole = db.session.execute(select(Organisation).where(Organisation.short_name == "ROPS Opole")).scalar_one()
    assert opole.voivodeship == "opolskie"
