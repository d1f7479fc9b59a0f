"""Importing a list of invitees: the words it may use, the templates offered, the preview and the confirm step.

A list is first shown row by row, with every wrong field named by its line in
the file, and nothing is saved; confirming saves the good rows, and confirming
the same list again adds nothing.
"""
from __future__ import annotations

import codecs
import csv
import html
import io
import re
import threading
import unicodedata

import pytest
from flask_babel import force_locale
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from scheduler.events.models import CATEGORY_LABELS, InstitutionCategory
from scheduler.extensions import db
from scheduler.invitations.importing import CATEGORY_WORDS, pack
from scheduler.invitations.models import Invitation

from . import factories as make
from .helpers import confirm_import
from .test_web_organiser import text_of

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def meeting(client):
    organiser = make.user()
    event = make.event(organiser)
    make.login(client, organiser)
    db.session.commit()
    return event


def _preview(client, event, text: str | None = None, *, data: bytes | None = None, name: str = "lista.csv"):
    if data is not None:
        return client.post(f"/organiser/events/{event.id}/invitations/import",
                           data={"csv_file": (io.BytesIO(data), name)}, content_type="multipart/form-data")
    return client.post(f"/organiser/events/{event.id}/invitations/import", data={"csv": text})


def _rows(preview) -> dict[int, tuple[str, str]]:
    """Each previewed row by its line number in the file: (what saving will do, the row's text)."""
    body = preview.get_data(as_text=True)
    found = re.findall(r'<tr class="import-row import-(\w+)" id="line-(\d+)">(.*?)</tr>', body, re.S)
    return {int(line): (outcome, re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", cells))).strip())
            for outcome, line, cells in found}


def _stored() -> dict[str, tuple[str, str]]:
    rows = db.session.execute(select(Invitation.institution, Invitation.category, Invitation.language))
    found = {institution: (category, language) for institution, category, language in rows}
    db.session.rollback()
    return found


def _count() -> int:
    found = db.session.execute(select(func.count()).select_from(Invitation)).scalar_one()
    db.session.rollback()
    return found


def _without_polish_letters(text: str) -> str:
    text = text.replace("ł", "l").replace("Ł", "L")
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def _listing(rows: list[tuple[str, ...]], header=("instytucja", "kategoria", "e-mail")) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerows([header, *rows])
    return out.getvalue()


# --- what a list may say -------------------------------------------------------------

COMMON_WORDS = [
    ("MOPS", "gmina"), ("gops", "gmina"), ("MGOPS", "gmina"), ("OPS", "gmina"), ("Urząd Gminy", "gmina"),
    ("gmina wiejska", "gmina"), ("Gmina Miejska", "gmina"), ("gmina miejsko-wiejska", "gmina"),
    ("GMINA MIEJSKO WIEJSKA", "gmina"), ("miasto", "gmina"), ("Gmina (urząd gminy, OPS)", "gmina"),
    ("PCPR", "powiat"), ("starostwo", "powiat"), ("Starostwo Powiatowe", "powiat"), ("powiat", "powiat"),
    ("urząd marszałkowski", "voivodeship"), ("URZAD MARSZALKOWSKI", "voivodeship"), ("ROPS", "voivodeship"),
    ("województwo", "voivodeship"), ("Sąd rejonowy", "court"), ("KPP", "police"), ("kuratorium oświaty", "education"),
    ("sanepid", "health"), ("PUP", "labour"), ("fundacja", "ngo"), ("inna", "other"),
]


def test_the_words_offices_use_are_understood_whatever_the_letter_case_and_polish_letters(client, meeting):
    rows = [(f"Instytucja {number}", word, f"biuro{number}@example.org") for number, (word, _) in
            enumerate(COMMON_WORDS)]

    preview = _preview(client, meeting, _listing(rows))

    assert preview.status_code == 200
    assert {outcome for outcome, _text in _rows(preview).values()} == {"add"}
    confirm_import(client, preview)
    stored = _stored()
    assert {name: category for name, (category, _language) in stored.items()} == {
        f"Instytucja {number}": category for number, (_word, category) in enumerate(COMMON_WORDS)}


def test_the_apps_own_labels_in_both_languages_are_understood_as_shown_and_without_polish_letters(client, meeting,
                                                                                                   app):
    rows = []
    for language in app.config["LANGUAGES"]:
        with force_locale(language):
            labels = {category: str(label) for category, label in CATEGORY_LABELS.items()}
        for category, label in labels.items():
            for variant in (label, label.upper(), _without_polish_letters(label).lower()):
                rows.append((f"{category.value} {language} {len(rows)}", variant, f"x{len(rows)}@example.org"))

    preview = _preview(client, meeting, _listing(rows))

    assert {outcome for outcome, _text in _rows(preview).values()} == {"add"}, _rows(preview)
    confirm_import(client, preview)
    assert all(name.split()[0] == category for name, (category, _language) in _stored().items())
    assert _count() == len(rows)


def test_no_word_means_two_categories(app):
    from scheduler.invitations.importing import category_from, fold

    seen: dict[str, InstitutionCategory] = {}
    for category, words in CATEGORY_WORDS.items():
        for word in words:
            assert seen.setdefault(fold(word), category) == category, word
            assert category_from(word) == category.value, word


def test_the_language_may_be_named_in_words(client, meeting):
    listing = _listing([("PCPR w Łańcucie", "PCPR", "pcpr@lancut.pl", "angielski"),
                        ("GOPS Żołynia", "gops", "gops@zolynia.pl", "PL"),
                        ("MOPS Rzeszów", "mops", "mops@rzeszow.pl", "")],
                       header=("Instytucja", "Kategoria", "E-mail", "Język"))

    confirm_import(client, _preview(client, meeting, listing))

    assert {name: language for name, (_c, language) in _stored().items()} == {
        "PCPR w Łańcucie": "en", "GOPS Żołynia": "pl", "MOPS Rzeszów": "pl"}


def test_the_page_lists_the_columns_and_the_category_words_and_offers_both_templates(client, meeting):
    page = client.get(f"/organiser/events/{meeting.id}/invitations").get_data(as_text=True)

    help_box = html.unescape(page[page.index('id="import-help"'):])
    for word in ("instytucja", "kategoria", "e-mail", "język", "MOPS", "GOPS", "PCPR", "starostwo",
                 "gmina miejsko-wiejska", "urząd marszałkowski", "ROPS"):
        assert word in help_box, word
    assert f"/organiser/events/{meeting.id}/invitations/template.csv" in help_box
    assert f"/organiser/events/{meeting.id}/invitations/template.xlsx" in help_box


# --- templates ----------------------------------------------------------------------

def test_the_csv_template_is_a_polish_excel_csv_that_imports_as_it_is(client, meeting):
    response = client.get(f"/organiser/events/{meeting.id}/invitations/template.csv")

    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    data = response.data
    assert data.startswith(codecs.BOM_UTF8) and b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    header, example = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert len(header) == len(example) == 5

    preview = _preview(client, meeting, data=data, name="wzor.csv")

    assert [outcome for outcome, _text in _rows(preview).values()] == ["add"]
    confirm_import(client, preview)
    assert _stored() == {example[0]: ("gmina", "pl")}


def test_the_xlsx_template_offers_the_category_labels_and_imports_as_it_is(client, meeting):
    response = client.get(f"/organiser/events/{meeting.id}/invitations/template.xlsx")

    assert response.status_code == 200 and response.mimetype == XLSX
    workbook = load_workbook(io.BytesIO(response.data))
    sheet = workbook.worksheets[0]
    header, example = [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]
    assert len(header) == len(example) == 5
    rule = next(rule for rule in sheet.data_validations.dataValidation if "B2" in str(rule.sqref))
    listed_sheet, _sep, cells = rule.formula1.partition("!")
    labels = [row[0] for row in workbook[listed_sheet.strip("'")].iter_rows(values_only=True)]
    with force_locale("en"):  # the organiser reads the pages in English (see make.login)
        assert labels == [str(label) for label in CATEGORY_LABELS.values()]

    preview = _preview(client, meeting, data=response.data, name="wzor.xlsx")

    assert "Excel workbook (XLSX)" in text_of(preview)
    assert [outcome for outcome, _text in _rows(preview).values()] == ["add"]
    confirm_import(client, preview)
    assert _stored() == {example[0]: ("gmina", "pl")}


# --- workbooks ----------------------------------------------------------------------

def _workbook(rows: list[list]) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_an_xlsx_upload_is_previewed_with_the_sheets_row_numbers_and_its_good_rows_added(client, meeting):
    data = _workbook([
        ["Lp.", "Instytucja", "Kategoria", "Adres e-mail"],
        [1, "Powiatowe Centrum Pomocy Rodzinie w Łańcucie", "PCPR", "pcpr@lancut.pl"],
        [],  # an empty row keeps its number
        [2, "Gminny Ośrodek\nPomocy Społecznej w Żołyni", "gmina wiejska", "gops@zolynia.pl"],
        [3, "Urząd Skarbowy w Łańcucie", "urząd skarbowy", "us@lancut.pl"],
    ])

    preview = _preview(client, meeting, data=data, name="lista.xlsx")

    rows = _rows(preview)
    assert sorted(rows) == [2, 4, 5]
    assert rows[4][0] == "add" and rows[4][1].startswith("4 Gminny Ośrodek Pomocy Społecznej w Żołyni ")
    assert rows[5][0] == "error" and "Unknown institution category: urząd skarbowy." in rows[5][1]
    page = text_of(preview)
    assert "The file was read as an Excel workbook (XLSX)." in page and "These columns are not read: Lp.." in page
    assert _count() == 0

    confirm_import(client, preview)

    assert set(_stored()) == {"Powiatowe Centrum Pomocy Rodzinie w Łańcucie",
                              "Gminny Ośrodek Pomocy Społecznej w Żołyni"}


def test_an_old_excel_file_or_a_damaged_workbook_is_refused_saying_what_to_save_instead(client, meeting):
    old = _preview(client, meeting, data=b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, name="lista.xls")
    damaged = _preview(client, meeting, data=b"PK\x03\x04" + b"\0" * 100, name="lista.xlsx")

    assert old.status_code == damaged.status_code == 422
    assert "(.xls)" in text_of(old) and "CSV UTF-8" in text_of(old)
    assert "cannot be read as an Excel workbook" in text_of(damaged)


def test_the_row_limit_holds_for_csv_and_xlsx(client, meeting, app):
    app.config["MAX_INVITATIONS_PER_IMPORT"] = 3
    rows = [(f"OPS {n}", "ops", f"ops{n}@example.org") for n in range(4)]

    as_csv = _preview(client, meeting, _listing(rows))
    as_xlsx = _preview(client, meeting, data=_workbook([["instytucja", "kategoria", "e-mail"], *map(list, rows)]),
                       name="lista.xlsx")

    for response in (as_csv, as_xlsx):
        assert response.status_code == 422 and "At most 3 invitations at once." in text_of(response)
    assert _count() == 0


# --- preview and confirm ---------------------------------------------------------------

def test_a_preview_saves_nothing_confirming_saves_and_confirming_again_adds_nothing(client, meeting):
    listing = _listing([("PCPR w Łańcucie", "Powiat", "pcpr@lancut.pl"), ("GOPS Żołynia", "GOPS", "gops@zolynia.pl")])

    preview = _preview(client, meeting, listing)

    assert _count() == 0
    assert text_of(preview).count("will be added") == 2
    first = text_of(confirm_import(client, preview))
    assert "Invitees added: 2." in first and _count() == 2
    again = text_of(confirm_import(client, preview))  # a double click, or the back button and a second click
    assert "Invitees added: 0." in again and "Skipped 2 already invited" in again
    assert _count() == 2


def test_every_wrong_field_of_every_row_is_listed_by_its_line_in_the_file(client, meeting):
    client.post(f"/organiser/events/{meeting.id}/invitations/add",
                data={"institution": "PCPR w Łańcucie", "category": "powiat", "email": "pcpr@lancut.pl"})
    listing = ("instytucja;kategoria;e-mail;język\r\n"                      # line 1
               ";gmina;gops@zolynia.pl\r\n"                                  # 2: no institution
               "Urząd Skarbowy;urząd skarbowy;us@example.org\r\n"            # 3: unknown category
               "MOPS Rzeszów;mops;mops-rzeszow;fr\r\n"                       # 4: e-mail and language
               "\r\n"                                                        # 5: empty, still counted
               '"Gminny Ośrodek\r\nPomocy Społecznej";gops;g@example.org\r\n'  # 6-7: a quoted line break
               "PCPR Ropczyce;pcpr;pcpr@ropczyce.pl;pl;nadmiar\r\n"          # 8: a cell too many
               "pcpr w łańcucie;PCPR;PCPR@lancut.pl\r\n"                     # 9: already invited
               "KPP Łańcut;policja;kpp@lancut.pl\r\n"                        # 10: will be added
               "KPP Łańcut;KPP;kpp@lancut.pl\r\n")                           # 11: repeats line 10

    preview = _preview(client, meeting, listing)

    rows = _rows(preview)
    assert {line: outcome for line, (outcome, _text) in rows.items()} == {
        2: "error", 3: "error", 4: "error", 6: "error", 8: "error", 9: "skip", 10: "add", 11: "skip"}
    assert "institution: This field is required." in rows[2][1]
    assert "category: Unknown institution category: urząd skarbowy." in rows[3][1]
    assert "e-mail: This is not a valid e-mail address." in rows[4][1] and "language: Language must be" in rows[4][1]
    assert "institution: Must be a single line." in rows[6][1]
    assert "More cells than the list has columns." in rows[8][1]
    assert "already invited, skipped" in rows[9][1] and "repeats line 10, skipped" in rows[11][1]
    assert _count() == 1

    page = text_of(confirm_import(client, preview))

    assert "Invitees added: 1." in page and "5 rows with errors were not added (lines: 2, 3, 4, 6, 8)." in page
    assert set(_stored()) == {"PCPR w Łańcucie", "KPP Łańcut"}


def test_the_confirm_step_checks_the_list_again_and_adds_only_its_good_rows(client, meeting):
    # What comes back in the form is not trusted as checked: a changed list is judged on its own.
    with client.application.test_request_context():
        changed = pack("GOPS Żołynia;gops;gops@zolynia.pl\nZły wiersz;bank;bank@example.org")
    response = client.post(f"/organiser/events/{meeting.id}/invitations/import/confirm",
                           data={"listing": changed, "separator": ";"}, follow_redirects=True)

    assert "Invitees added: 1." in text_of(response)
    assert _stored() == {"GOPS Żołynia": ("gmina", "pl")}


def test_a_list_without_a_required_column_is_refused_naming_it(client, meeting):
    response = _preview(client, meeting, "Instytucja;E-mail\nGOPS Żołynia;gops@zolynia.pl\n")

    assert response.status_code == 422
    assert "The first line names the columns but not: category." in text_of(response)


def test_two_confirms_of_one_list_at_the_same_moment_add_it_once(make_app, app):
    # Two clicks that reach two app instances together: the second waits for the meeting's lock, then finds
    # the rows invited (without the lock PostgreSQL would let both read "new" and one fail on the unique key).
    from scheduler.auth.models import User
    from scheduler.events.models import Event
    from scheduler.invitations.importing import read_list
    from scheduler.invitations.services import import_invitations

    organiser = make.user()
    event = make.event(organiser)
    ids = organiser.id, event.id
    db.session.commit()
    listing = _listing([(f"OPS {n}", "ops", f"ops{n}@example.org") for n in range(3)])
    barrier = threading.Barrier(2)
    added, failures = [], []

    # Both app instances are built here, one after the other: building two at once in threads can trip CPython's
    # compiler (Jinja compiles templates; "AST constructor recursion depth mismatch" on 3.11).
    instances = [make_app(), make_app()]

    def confirm(instance):
        with instance.app_context():
            try:
                user, meeting = db.session.get(User, ids[0]), db.session.get(Event, ids[1])
                rows = read_list(listing)
                db.session.rollback()  # SQLite: a transaction holds the write lock from its start
                barrier.wait(timeout=10)
                added.append(len(import_invitations(user, meeting, rows).created))
            except Exception as exc:  # reported below, with the thread's traceback
                failures.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=confirm, args=(instance,)) for instance in instances]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == [] and sorted(added) == [0, 3]
    assert _count() == 3


def test_a_list_of_the_largest_size_with_long_names_is_confirmed_in_one_go(client, meeting, app):
    # Spelled out, this list is past the form's size limit (MAX_FORM_MEMORY_SIZE): the confirm form carries it packed.
    limit = app.config["MAX_INVITATIONS_PER_IMPORT"]
    rows = [(f"Gminny Ośrodek Pomocy Społecznej nr {n} " + "w gminie o bardzo długiej nazwie " * 5, "Gmina wiejska",
             f"sekretariat.osrodka.{n}@gmina-o-dlugiej-nazwie.example.org") for n in range(limit)]
    listing = _listing(rows)
    assert len(listing.encode()) > app.config["MAX_FORM_MEMORY_SIZE"]

    preview = _preview(client, meeting, data=listing.encode("utf-8"))
    page = text_of(confirm_import(client, preview))

    assert f"Invitees added: {limit}." in page and _count() == limit


def test_a_confirm_form_whose_list_came_back_damaged_adds_nothing(client, meeting):
    response = client.post(f"/organiser/events/{meeting.id}/invitations/import/confirm",
                           data={"listing": "GOPS Żołynia;gops;gops@zolynia.pl", "separator": ";"})

    assert response.status_code == 422 and "Please send it again." in text_of(response)
    assert _count() == 0
