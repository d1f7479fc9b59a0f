"""Exports an ESF project files: Polish-Excel CSV and XLSX of declarations, participants with presence per day,
invitations with their answers; nothing in a cell is ever run as a formula."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

from openpyxl import load_workbook

from scheduler.presence.services import meeting_days
from scheduler.registration.services import declare
from scheduler.spreadsheets import polish_csv, xlsx

from . import factories as make
from .helpers import logged_in_organiser


def _csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    return list(csv.reader(io.StringIO(data[3:].decode("utf-8"), newline=""), delimiter=";"))


def _sheet(data: bytes):
    return load_workbook(io.BytesIO(data)).worksheets[0]


def test_cells_that_look_like_formulas_stay_text_in_csv_and_xlsx():
    rows = [["=HYPERLINK(\"http://evil\")", "+48 17 850 79 00", "-1", "@SUM(A1)", "zwykły tekst", 3]]
    parsed = _csv_rows(polish_csv(["a", "b", "c", "d", "e", "f"], rows))
    assert parsed[1] == ["'=HYPERLINK(\"http://evil\")", "'+48 17 850 79 00", "'-1", "'@SUM(A1)", "zwykły tekst", "3"]
    sheet = _sheet(xlsx([("Arkusz", ["a", "b", "c", "d", "e", "f"], rows)]))
    values = [cell.value for cell in sheet[2]]
    assert values == ["=HYPERLINK(\"http://evil\")", "+48 17 850 79 00", "-1", "@SUM(A1)", "zwykły tekst", 3]
    assert [cell.data_type for cell in sheet[2]][:4] == ["s", "s", "s", "s"]  # text, not a formula


def _meeting(organiser):
    start = (make.now() + timedelta(days=10)).replace(hour=8, minute=0, second=0, microsecond=0)
    event = make.event(organiser, invite_only=False, capacity=10, starts_at=start,
                       ends_at=start + timedelta(days=1, hours=6), declaration_deadline=start - timedelta(days=2))
    registration = declare(event.id, make.declaration(
        seats=2, institution="=Starostwo Powiatowe w Łańcucie", category="powiat",
        participants=[{"name": "Zofia Żółkiewska", "position": "dyrektor", "needs": ""},
                      {"name": "Jan Kowalski", "position": "", "needs": ""}]))
    return event, registration


def test_declarations_download_as_csv_and_xlsx(client):
    organiser = logged_in_organiser(client)
    event, _registration = _meeting(organiser)
    rows = _csv_rows(client.get(f"/organiser/events/{event.id}/declarations.csv").data)
    assert rows[1][0] == "'=Starostwo Powiatowe w Łańcucie" and "Zofia Żółkiewska (dyrektor)" in rows[1][9]
    response = client.get(f"/organiser/events/{event.id}/declarations.xlsx")
    assert response.headers["Cache-Control"] == "private, no-store"
    sheet = _sheet(response.data)
    assert sheet["A2"].value == "=Starostwo Powiatowe w Łańcucie" and sheet["A2"].data_type == "s"
    assert sheet["I2"].value == 2  # seats stay a number


def test_participants_with_presence_per_day(client):
    organiser = logged_in_organiser(client)
    event, registration = _meeting(organiser)
    first, second = meeting_days(event)
    people = sorted(registration.participants, key=lambda p: p.ordinal)
    mark = f"/organiser/events/{event.id}/check-in/mark"
    client.post(mark, data={"participant_id": people[0].id, "day": first.isoformat(), "state": "present"})
    client.post(mark, data={"participant_id": people[1].id, "day": first.isoformat(), "state": "absent"})
    client.post(mark, data={"participant_id": people[0].id, "day": second.isoformat(), "state": "present"})
    client.post(f"/organiser/events/{event.id}/check-in/walk-in", data={
        "registration_id": registration.id, "day": second.isoformat(), "name": "Ewa Zastępczyni",
        "substitute_for_id": people[1].id})

    rows = _csv_rows(client.get(f"/organiser/events/{event.id}/participants.csv").data)
    assert len(rows[0]) == 4 + 2 + 1  # institution, category, name, position, one column per day, remarks
    by_name = {row[2]: row for row in rows[1:]}
    assert by_name["Zofia Żółkiewska"][4:6] == ["obecny", "obecny"]
    assert by_name["Jan Kowalski"][4:6] == ["nieobecny", ""]
    assert by_name["Ewa Zastępczyni"][4:7] == ["", "obecny", "spoza listy: zamiast: Jan Kowalski"]
    sheet = _sheet(client.get(f"/organiser/events/{event.id}/participants.xlsx").data)
    assert sheet.max_row == 4 and sheet["A2"].data_type == "s"


def test_invitations_with_their_answers(client):
    organiser = logged_in_organiser(client)
    event = make.event(organiser, capacity=10)
    invited = make.invitations(organiser, event, 2)
    declare(event.id, make.declaration(), invitation_token=invited[0].token)
    rows = _csv_rows(client.get(f"/organiser/events/{event.id}/invitations.csv").data)
    statuses = {row[0]: row[3] for row in rows[1:]}
    assert statuses[invited[0].institution] == "Zadeklarowano" or "eklar" in statuses[invited[0].institution]
    assert statuses[invited[1].institution] != statuses[invited[0].institution]
    assert _sheet(client.get(f"/organiser/events/{event.id}/invitations.xlsx").data).max_row == 3
