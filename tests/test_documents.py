"""The attendance list as a PDF to sign: A4, Polish letters embedded, Polish order, page X of Y, the table
header on every page; read back with pypdf and rendered to PNG with pdftoppm."""
from __future__ import annotations

import io
import os
import shutil
import subprocess
from datetime import timedelta

import pytest
from pypdf import PdfReader

from scheduler.collation import polish_key
from scheduler.presence.services import meeting_days
from scheduler.registration.services import declare

from . import factories as make
from .helpers import logged_in_organiser

INSTITUTIONS = ["PCPR w Mielcu", "PCPR w Łańcucie", "PCPR w Lesku", "GOPS Świlcza", "GOPS Sanok", "GOPS Żurawica",
                "GOPS Zarszyn", "MOPS Ostrów", "MOPS Oświęcim"]


def test_polish_order_puts_each_letter_with_a_diacritic_after_its_base_letter():
    assert sorted(INSTITUTIONS, key=polish_key) == [
        "GOPS Sanok", "GOPS Świlcza", "GOPS Zarszyn", "GOPS Żurawica", "MOPS Ostrów", "MOPS Oświęcim",
        "PCPR w Lesku", "PCPR w Łańcucie", "PCPR w Mielcu"]


def _meeting(organiser, people_each: int = 2):
    start = (make.now() + timedelta(days=10)).replace(hour=8, minute=0, second=0, microsecond=0)
    event = make.event(organiser, invite_only=False, capacity=500, starts_at=start, reference="PF.0702.10.2019.LK",
                       title="Szkolenie Makroregionalnej Szkoły Kooperacji – zażółć gęślą jaźń",
                       ends_at=start + timedelta(days=1, hours=6), declaration_deadline=start - timedelta(days=2))
    for institution in INSTITUTIONS:
        declare(event.id, make.declaration(institution=institution, participants=[
            {"name": f"Łucja Źdźbło {n}", "position": "pracownik socjalny", "needs": ""} for n in range(people_each)]))
    return event


def _pages(data: bytes) -> list[str]:
    assert data.startswith(b"%PDF")
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def test_the_attendance_list_has_every_field_in_polish_order_with_page_numbers(client):
    organiser = logged_in_organiser(client)
    event = _meeting(organiser, people_each=4)
    second_day = meeting_days(event)[1]
    response = client.get(f"/organiser/events/{event.id}/attendance-list.pdf?day={second_day.isoformat()}")
    assert response.status_code == 200 and response.content_type == "application/pdf"
    pages = _pages(response.data)
    text = "\n".join(pages)
    assert len(pages) >= 2
    for page_number, page in enumerate(pages, start=1):
        assert f"strona {page_number} z {len(pages)}" in page
        assert "Imię i nazwisko" in page and "Podpis" in page  # the header repeats on every page
    assert "LISTA OBECNOŚCI" in text and "zażółć gęślą jaźń" in text and "PF.0702.10.2019.LK" in text
    assert "(dzień 2 z 2)" in text and organiser.organisation.name in text
    positions = [text.index(name) for name in sorted(INSTITUTIONS, key=polish_key)]
    assert positions == sorted(positions)
    assert text.count("Łucja Źdźbło 0") == len(INSTITUTIONS)
    assert "podpis organizatora" in text


def test_the_empty_variant_has_numbered_rows_without_names(client):
    organiser = logged_in_organiser(client)
    event = _meeting(organiser, people_each=1)
    text = "\n".join(_pages(client.get(f"/organiser/events/{event.id}/attendance-list.pdf?empty=1").data))
    assert "Łucja" not in text and "GOPS" not in text
    assert f"{len(INSTITUTIONS) + 5}." in text


def test_the_same_data_gives_the_same_text(client):
    organiser = logged_in_organiser(client)
    event = _meeting(organiser, people_each=1)
    first = _pages(client.get(f"/organiser/events/{event.id}/attendance-list.pdf").data)
    assert first == _pages(client.get(f"/organiser/events/{event.id}/attendance-list.pdf").data)


def test_the_first_page_renders_to_an_image(client, tmp_path):
    if shutil.which("pdftoppm") is None:
        if os.environ.get("REQUIRE_POSTGRES") == "1":  # CI: `make test` installs poppler-utils
            pytest.fail("pdftoppm (poppler-utils) is missing")
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    organiser = logged_in_organiser(client)
    event = _meeting(organiser, people_each=1)
    pdf = tmp_path / "lista.pdf"
    pdf.write_bytes(client.get(f"/organiser/events/{event.id}/attendance-list.pdf").data)
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
                   check=True, timeout=60)
    [png] = list(tmp_path.glob("page*.png"))
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG")
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert abs(height / width - 297 / 210) < 0.02  # A4 portrait


def _present_everyone(client, event, day):
    from scheduler.registration.models import Participant
    from scheduler.extensions import db
    from sqlalchemy import select

    for participant_id in db.session.execute(select(Participant.id).order_by(Participant.id)).scalars():
        client.post(f"/organiser/events/{event.id}/check-in/mark",
                    data={"participant_id": participant_id, "day": day.isoformat(), "state": "present"})


def test_certificates_are_numbered_per_organisation_and_year_once_and_carry_every_field(client):
    import zipfile

    organiser = logged_in_organiser(client)
    event = _meeting(organiser, people_each=1)
    first_day = meeting_days(event)[0]
    _present_everyone(client, event, first_day)
    assert client.post(f"/organiser/events/{event.id}/certificates/issue").status_code == 303
    client.post(f"/organiser/events/{event.id}/certificates/issue")  # again: nothing new
    pages = [" ".join(page.split()) for page in _pages(client.get(f"/organiser/events/{event.id}/certificates.pdf").data)]
    assert len(pages) == len(INSTITUTIONS)
    year = event.ends_at.year
    numbers = [f"ZS/{year}/{n:04d}" for n in range(1, len(INSTITUTIONS) + 1)]
    for page, number in zip(pages, numbers):
        assert "ZAŚWIADCZENIE" in page and number in page
        assert "Łucja Źdźbło 0" in page and "zażółć gęślą jaźń" in page and "PF.0702.10.2019.LK" in page
        assert "Rzeszów" in page and organiser.organisation.name in page
    assert "GOPS Sanok" in pages[0]  # numbered in Polish order of institutions
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/organiser/events/{event.id}/certificates.zip").data))
    assert sorted(archive.namelist())[0] == f"ZS-{year}-0001.pdf"
    assert len(archive.namelist()) == len(INSTITUTIONS)

    # The organisation's next meeting goes on with the next number.
    other = _meeting(organiser, people_each=1)
    _present_everyone(client, other, meeting_days(other)[0])
    client.post(f"/organiser/events/{other.id}/certificates/issue")
    later = _pages(client.get(f"/organiser/events/{other.id}/certificates.pdf").data)
    assert f"ZS/{year}/{len(INSTITUTIONS) + 1:04d}" in later[0]
    assert f"ZS/{year}/{len(INSTITUTIONS) * 2:04d}" in later[-1]


def test_the_invitation_letter_is_addressed_to_the_institution_with_its_personal_link(client):
    organiser = logged_in_organiser(client)
    event = make.event(organiser, reference="PF.0702.10.2019.LK", title="Spotkanie informacyjne dla PCPR",
                       description="Spotkanie dotyczy testowania Modelu Kooperacji.\nProsimy o potwierdzenie udziału.")
    [invitation] = make.invitations(organiser, event, 1)
    response = client.get(f"/organiser/events/{event.id}/letter.pdf?invitation={invitation.id}")
    text = " ".join("\n".join(_pages(response.data)).split())
    assert invitation.institution in text and "PF.0702.10.2019.LK" in text
    assert "Zaproszenie: Spotkanie informacyjne dla PCPR" in text and "Modelu Kooperacji" in text
    assert f"/i/{invitation.token}" in text.replace(" ", "")
    generic = " ".join("\n".join(_pages(client.get(f"/organiser/events/{event.id}/letter.pdf").data)).split())
    assert invitation.token not in generic.replace(" ", "")
    other = make.event(make.user(make.organisation("Mazowieckie Centrum Polityki Społecznej", "MCPS")))
    [foreign] = make.invitations(other.created_by, other, 1)
    assert client.get(f"/organiser/events/{event.id}/letter.pdf?invitation={foreign.id}").status_code == 404


def test_the_projects_letterhead_heads_its_letters_and_certificates_else_the_organisations(client):
    from scheduler.extensions import db
    from scheduler.projects.models import Project

    organiser = logged_in_organiser(client)
    event = _meeting(organiser, people_each=1)
    # Without a project letterhead: the organisation's own name heads the letter.
    plain = " ".join("\n".join(_pages(client.get(f"/organiser/events/{event.id}/letter.pdf").data)).split())
    assert organiser.organisation.name in plain and "Liderzy kooperacji – Model" not in plain

    project = Project(name="Liderzy kooperacji (pismo)", lead_organisation_id=organiser.organisation_id,
                      letterhead="Projekt „Liderzy kooperacji – Model Kooperacji”\n\nROPS w Rzeszowie, ul. Hetmańska 9")
    db.session.add(project)
    db.session.flush()
    event.project_id = project.id
    db.session.commit()
    _present_everyone(client, event, meeting_days(event)[0])
    client.post(f"/organiser/events/{event.id}/certificates/issue")
    for url in (f"/organiser/events/{event.id}/letter.pdf", f"/organiser/events/{event.id}/certificates.pdf"):
        text = " ".join("\n".join(_pages(client.get(url).data)).split())
        assert "Projekt „Liderzy kooperacji – Model Kooperacji”" in text, url
        assert "ROPS w Rzeszowie, ul. Hetmańska 9" in text, url


def test_the_admin_sets_the_projects_letterhead(client):
    from scheduler.extensions import db
    from scheduler.projects.models import Project

    admin = make.user(is_admin=True)
    make.login(client, admin)
    response = client.post("/admin/projects", data={
        "name": "Liderzy kooperacji", "lead_organisation_id": admin.organisation_id,
        "letterhead": "Projekt „Liderzy kooperacji”\r\nROPS w Rzeszowie"})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    project = db.session.execute(db.select(Project).where(Project.name == "Liderzy kooperacji")).scalar_one()
    assert project.letterhead.splitlines() == ["Projekt „Liderzy kooperacji”", "ROPS w Rzeszowie"]
    too_long = client.post(f"/admin/projects/{project.id}", data={
        "name": "Liderzy kooperacji", "lead_organisation_id": admin.organisation_id, "letterhead": "x" * 501})
    assert too_long.status_code == 422
