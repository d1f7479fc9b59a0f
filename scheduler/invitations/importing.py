"""Reading a list of invitees from a spreadsheet: the words it may use, its rows, and the template offered.

One place for what a pasted or uploaded list may say: the column names, the
category words (the app's own labels in every language, the stored values and
the names Polish offices go by), the languages; and for reading it: CSV in any
encoding a spreadsheet saves, or an Excel workbook. Nothing here touches the
database; services.py checks the rows against the meeting and saves them.
"""
from __future__ import annotations

import base64
import binascii
import codecs
import csv
import io
import re
import unicodedata
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import NamedTuple

import charset_normalizer
from flask import current_app
from flask_babel import force_locale, get_locale
from flask_babel import lazy_gettext as _l

from ..errors import ValidationFailed
from ..events.models import CATEGORY_LABELS, InstitutionCategory
from ..regions import VOIVODESHIP_NAMES, Voivodeship, voivodeship_from
from ..spreadsheets import polish_csv
from ..validation import clean_email, clean_text, text_problem
from .models import Invitation

FIELDS = ("institution", "category", "email", "language", "voivodeship")
REQUIRED_FIELDS = ("institution", "category", "email")
FIELD_LABELS = {
    "institution": _l("institution"), "category": _l("category"), "email": _l("e-mail"), "language": _l("language"),
    "voivodeship": _l("voivodeship"),
}
# Column names people put in spreadsheets, Polish and English; compared folded (see fold()).
HEADER_WORDS = {
    "institution": ("instytucja", "nazwa", "nazwa instytucji", "institution", "name"),
    "category": ("kategoria", "typ", "rodzaj", "category", "type"),
    "email": ("e-mail", "email", "adres e-mail", "mail"),
    "language": ("język", "language", "lang"),
    "voivodeship": ("województwo", "voivodeship", "region"),
}
TEMPLATE_HEADERS = {"pl": ("instytucja", "kategoria", "e-mail", "język", "województwo"),
                    "en": ("institution", "category", "e-mail", "language", "voivodeship")}
# What offices call themselves, by the category they belong to in this project. Powiat: the starostwo and
# its family-support centre (PCPR); gmina: every kind of gmina, its office and its social-welfare centre
# (OPS in all its local names, or a centre of social services, CUS, where one replaced it); voivodeship:
# the marshal's office and its regional social-policy centre (ROPS, or MCPS in Mazowsze). A city with
# powiat rights is both, so it is left for the organiser to choose.
CATEGORY_WORDS: dict[InstitutionCategory, tuple[str, ...]] = {
    InstitutionCategory.POWIAT: (
        "powiat", "starostwo", "starostwo powiatowe", "PCPR", "powiatowe centrum pomocy rodzinie",
        "county", "district"),
    InstitutionCategory.GMINA: (
        "gmina", "urząd gminy", "gmina wiejska", "gmina miejska", "gmina miejsko-wiejska", "miasto",
        "urząd miasta", "urząd miejski", "urząd miasta i gminy", "OPS", "GOPS", "MOPS", "MGOPS", "MOPR",
        "ośrodek pomocy społecznej", "CUS", "centrum usług społecznych", "municipality", "commune"),
    InstitutionCategory.VOIVODESHIP: (
        "województwo", "samorząd województwa", "urząd marszałkowski", "ROPS", "RCPS", "MCPS",
        "regionalny ośrodek polityki społecznej", "urząd wojewódzki", "instytucja wojewódzka", "region"),
    InstitutionCategory.COURT: ("sąd", "sąd rejonowy", "sąd okręgowy", "kurator sądowy", "kuratorzy sądowi"),
    InstitutionCategory.POLICE: ("policja", "komenda powiatowa policji", "komenda miejska policji",
                                 "komenda wojewódzka policji", "KPP", "KMP", "KWP", "komisariat policji"),
    InstitutionCategory.EDUCATION: ("oświata", "kuratorium", "kuratorium oświaty", "szkoła", "przedszkole",
                                    "poradnia psychologiczno-pedagogiczna", "school"),
    InstitutionCategory.HEALTH: ("zdrowie", "ochrona zdrowia", "sanepid", "stacja sanitarno-epidemiologiczna",
                                 "PSSE", "szpital", "przychodnia", "ośrodek zdrowia"),
    InstitutionCategory.LABOUR: ("urząd pracy", "PUP", "MUP", "WUP", "powiatowy urząd pracy",
                                 "wojewódzki urząd pracy", "labor", "employment office"),
    InstitutionCategory.NGO: ("organizacja pozarządowa", "fundacja", "stowarzyszenie", "NGO"),
    InstitutionCategory.OTHER: ("inna", "inne", "inny", "pozostałe"),
}
# Labels the app showed before, still in lists people saved then; accepted, not listed.
EARLIER_LABELS = {
    InstitutionCategory.POWIAT: ("Powiat (starostwo, PCPR)",),
    InstitutionCategory.GMINA: ("Gmina (urząd gminy, OPS)",),
    InstitutionCategory.EDUCATION: ("Education (kuratorium, school)", "Oświata (kuratorium, szkoła)"),
}
LANGUAGE_WORDS = {"pl": ("pl", "polski", "polish"), "en": ("en", "angielski", "english")}
EXAMPLE = ("Gminny Ośrodek Pomocy Społecznej w Żołyni", InstitutionCategory.GMINA, "gops.zolynia@example.org", "pl",
           Voivodeship.PODKARPACKIE)
# A sheet may carry formatting far below its data; past this many rows it is refused rather than read for long.
MAX_SHEET_ROWS = 20_000
MAX_COLUMNS = 30


def fold(text: str) -> str:
    """The form words are compared in: letter case, Polish letters, punctuation and spacing do not count."""
    text = unicodedata.normalize("NFKD", str(text).casefold().replace("ł", "l"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(re.findall(r"[^\W_]+", text))


_HEADERS = {fold(word): name for name, words in HEADER_WORDS.items() for word in words}
_LANGUAGES = {fold(word): code for code, words in LANGUAGE_WORDS.items() for word in words}


def _category_lookup() -> dict[str, str]:
    # Built once per application: the labels as rendered in each of its languages at run time, so a changed
    # translation (or English msgid) is still recognised; stored values and labels win over the word list.
    app = current_app._get_current_object()
    lookup = app.extensions.get("invitation_category_words")
    if lookup is None:
        lookup = {}
        for category in InstitutionCategory:
            lookup[fold(category.value)] = category.value
        for language in app.config["LANGUAGES"]:
            with force_locale(language):
                for category, label in CATEGORY_LABELS.items():
                    lookup.setdefault(fold(str(label)), category.value)
        for table in (CATEGORY_WORDS, EARLIER_LABELS):
            for category, words in table.items():
                for word in words:
                    lookup.setdefault(fold(word), category.value)
        app.extensions["invitation_category_words"] = lookup
    return lookup


def category_from(value) -> str | None:
    """The category a cell names (a label in any language, a stored value or an office's usual name), or None."""
    return _category_lookup().get(fold(value or ""))


def language_from(value) -> str | None:
    """The language code a cell names ("pl", "polski", "English"…), "pl" when empty, or None when unknown."""
    folded = fold(value or "")
    if not folded:
        return "pl"
    code = _LANGUAGES.get(folded)
    return code if code in current_app.config["LANGUAGES"] else None


def clean_row(row: dict, prefix: str, errors: dict) -> dict:
    """One invitee's values as stored; a message per wrong field goes into `errors` under prefix + field."""
    c = Invitation.__table__.c
    raw_category = str(row.get("category") or "").strip()
    category = category_from(raw_category)
    if category is None:
        errors[f"{prefix}category"] = (_l("Unknown institution category: %(category)s.", category=raw_category[:40])
                                       if raw_category else _l("This field is required."))
    raw_language = str(row.get("language") or "").strip()
    language = language_from(raw_language)
    if language is None:
        errors[f"{prefix}language"] = _l("Language must be pl or en.")
    raw_voivodeship = str(row.get("voivodeship") or "").strip()
    voivodeship = voivodeship_from(raw_voivodeship) if raw_voivodeship else None
    if raw_voivodeship and voivodeship is None:
        errors[f"{prefix}voivodeship"] = _l("Unknown voivodeship: %(name)s.", name=raw_voivodeship[:40])
    return {
        "institution": clean_text(row.get("institution"), column=c.institution, required=True,
                                  field=f"{prefix}institution", errors=errors),
        "category": category or raw_category,
        "email": clean_email(row.get("email"), field=f"{prefix}email", errors=errors),
        "language": language or raw_language,
        # None: the inviting organisation's region, filled in when the invitation is saved.
        "voivodeship": voivodeship or raw_voivodeship or None,
    }


def accepted_values() -> dict:
    """What the page lists beside the import form: the columns and the words for each category."""
    return {
        "columns": [{"name": name, "label": FIELD_LABELS[name], "names": HEADER_WORDS[name],
                     "required": name in REQUIRED_FIELDS} for name in FIELDS],
        "categories": [{"label": label, "words": [category.value] + [word for word in CATEGORY_WORDS[category]
                                                                    if fold(word) != category.value]}
                       for category, label in CATEGORY_LABELS.items()],
        "limit": current_app.config["MAX_INVITATIONS_PER_IMPORT"],
        "voivodeships": list(VOIVODESHIP_NAMES.values()),
    }


# --- reading the rows ------------------------------------------------------------

@dataclass
class ListRow:
    """One filled row of the list: where it is in the file, its cells by field, and what is wrong with its shape."""

    line: int
    values: dict[str, str]
    problems: dict[str, object] = field(default_factory=dict)


@dataclass
class ReadList:
    rows: list[ListRow]
    separator: str
    ignored_columns: list[str]


SEPARATORS = (";", ",", "\t")


def _separator(first_line: str) -> str:
    try:
        return csv.Sniffer().sniff(first_line, delimiters="".join(SEPARATORS)).delimiter
    except csv.Error:
        return ","


def read_list(text: str, separator: str | None = None) -> ReadList:
    """The rows of a pasted or uploaded list, each with its line number in the file.

    A first line naming columns (Polish or English, see HEADER_WORDS) decides
    their order and unknown columns are ignored; without one the order is
    institution, category, e-mail, language, voivodeship. Comma, semicolon
    (Polish Excel) or tab separators are recognised from the first line unless
    `separator` says (the confirm step reads the list the way its preview did). Raises
    ValidationFailed for what makes the whole list unreadable; a row's own
    shape problems are kept on the row.
    """
    text = (text or "").lstrip("\ufeff")
    if not text.strip():
        raise ValidationFailed(fields={"csv": _l("The list is empty.")})
    for number, line in enumerate(text.split("\n"), start=1):
        problem = text_problem(line, multiline=True)
        if problem is not None:
            raise ValidationFailed(fields={"csv": _l("Line %(line)d: %(message)s", line=number, message=problem)})
    if separator not in SEPARATORS:
        separator = _separator(next(line for line in text.splitlines() if line.strip()))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    records: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            # A quoted cell may span lines: the row is numbered by the line it starts on.
            if any(cell.strip() for cell in cells):
                records.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:  # e.g. a cell over the csv module's size limit
        raise ValidationFailed(fields={"csv": _l("The list cannot be read as CSV.")}) from exc
    if not records:
        raise ValidationFailed(fields={"csv": _l("The list is empty.")})
    first = records[0][1]
    named = [_HEADERS.get(fold(cell)) for cell in first]
    ignored: list[str] = []
    if any(named) and not any("@" in cell for cell in first):
        columns: list[str | None] = []
        for cell, name in zip(first, named):
            if name is None or name in columns:
                columns.append(None)
                if cell.strip():
                    ignored.append(cell.strip())
            else:
                columns.append(name)
        missing = [str(FIELD_LABELS[name]) for name in REQUIRED_FIELDS if name not in columns]
        if missing:
            raise ValidationFailed(fields={"csv": _l(
                "The first line names the columns but not: %(columns)s.", columns=", ".join(missing))})
        records = records[1:]
    else:
        columns = list(FIELDS)
    if not records:
        raise ValidationFailed(fields={"csv": _l("The list is empty.")})
    limit = current_app.config["MAX_INVITATIONS_PER_IMPORT"]
    if len(records) > limit:
        raise ValidationFailed(fields={"csv": _l("At most %(limit)d invitations at once.", limit=limit)})
    rows = []
    for line, cells in records:
        values: dict[str, str] = {}
        for name, cell in zip(columns, cells):
            if name is not None:
                values[name] = cell.strip()
        row = ListRow(line, values)
        if any(cell.strip() for cell in cells[len(columns):]):
            row.problems["row"] = _l("More cells than the list has columns.")
        rows.append(row)
    return ReadList(rows, separator, ignored)


def pack(text: str) -> str:
    """The list as the confirm step's form carries it back: compressed, in ASCII.

    Compressed, because a list of the largest size allowed, spelled out,
    could pass the form's size limit (MAX_FORM_MEMORY_SIZE); in ASCII,
    because browsers rewrite line ends in form values. A list that would
    still not fit is refused here, at the preview, rather than at the click.
    """
    packed = base64.urlsafe_b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii")
    limit = current_app.config.get("MAX_FORM_MEMORY_SIZE")
    if limit and len(packed) > limit - 10_000:  # room for the form's other fields
        raise ValidationFailed(fields={"csv": _l("The list is too long to be added at once. Please split it.")})
    return packed


def unpack(packed: str) -> str:
    """The list `pack` carried, or ValidationFailed if what came back is not one."""
    ceiling = 2 * current_app.config["MAX_CONTENT_LENGTH"]  # no list read from an accepted upload is longer
    try:
        inflater = zlib.decompressobj()
        data = inflater.decompress(base64.urlsafe_b64decode(packed.encode("ascii")), ceiling)
        if inflater.unconsumed_tail or not inflater.eof:
            raise ValueError("not a whole list")
        return data.decode("utf-8")
    except (ValueError, zlib.error, binascii.Error) as exc:  # UnicodeError is a ValueError
        raise ValidationFailed(fields={"csv": _l(
            "The list could not be read back from the page. Please send it again.")}) from exc


# --- reading an uploaded file ------------------------------------------------------

class DecodedList(NamedTuple):
    text: str
    encoding: str  # as shown to the organiser, e.g. "Windows-1250"; "XLSX" for a workbook
    separator: str | None = None  # known for a workbook, whose cells this module wrote out itself

    @property
    def is_workbook(self) -> bool:
        return self.encoding == "XLSX"


ENCODING_NAMES = {"utf_8": "UTF-8", "utf_8_sig": "UTF-8", "utf_16": "UTF-16", "cp1250": "Windows-1250",
                  "iso8859_2": "ISO-8859-2"}
_BOMS = ((codecs.BOM_UTF8, "utf_8_sig"), (codecs.BOM_UTF16_LE, "utf_16"), (codecs.BOM_UTF16_BE, "utf_16"))
POLISH_LETTERS = frozenset("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ")
ZIP_MAGIC = b"PK\x03\x04"  # an XLSX file is a zip archive
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Excel 97-2003 (.xls)


def _encoding_name(codec: str) -> str:
    name = codecs.lookup(codec).name.replace("-", "_")
    return ENCODING_NAMES.get(name, name.upper().replace("_", "-"))


def _decode(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _plausible(text: str | None) -> bool:
    # Control characters other than line ends and tabs (C1 ones above all) are what a wrong single-byte
    # reading produces; no spreadsheet writes them.
    return text is not None and "\ufffd" not in text and not any(
        unicodedata.category(ch) == "Cc" and ch not in "\r\n\t" for ch in text)


def _latin(text: str) -> bool:
    return all(ch.isascii() or not ch.isalpha() or unicodedata.name(ch, "").startswith("LATIN") for ch in text)


def _read(data: bytes) -> tuple[str, str] | None:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            # A byte-order mark says what the file is: no second guess if it does not decode.
            text = _decode(data, codec)
            return (codec, text) if text is not None else None
    text = _decode(data, "utf_8")
    if text is not None:
        return "utf_8", text
    readings = [(codec, text) for codec in ("cp1250", "iso8859_2") if _plausible(text := _decode(data, codec))]
    if readings:
        # max() keeps the first of equals: Windows-1250, by far the commoner of the two.
        return max(readings, key=lambda reading: sum(ch in POLISH_LETTERS for ch in reading[1]))
    # The detector's candidates, most likely first; on short lists its favourite is often an Asian code page,
    # so only readings in Latin letters count, and among them the most Polish one.
    guesses = [(match.encoding, text) for match in charset_normalizer.from_bytes(data)
               if _plausible(text := _decode(data, match.encoding)) and _latin(text)]
    if guesses:
        return max(guesses, key=lambda reading: sum(ch in POLISH_LETTERS for ch in reading[1]))
    return None


def decode_upload(data: bytes) -> DecodedList:
    """Read an uploaded list in whatever encoding a spreadsheet saved it, or refuse it.

    A byte-order mark decides first (UTF-8 or UTF-16, as Excel's "CSV UTF-8" and
    "Unicode text" save), then strict UTF-8. Polish Windows saves Windows-1250 and
    older systems ISO-8859-2: both decode almost any bytes, and they differ exactly
    in ą, ś, ź, Ą, Ś, Ź, so the one that yields more Polish letters wins (a tie
    means the two readings are the same text). Only when neither reads cleanly are
    charset-normalizer's candidates tried (e.g. UTF-16 without a byte-order mark),
    judged the same way; its favourite alone mistakes short Polish lists for
    Windows-1252 or ISO-8859-3. What does not decode cleanly is refused,
    naming the encodings that work, instead of being stored with U+FFFD; the
    characters of a decoded list are then checked line by line by read_list.
    """
    found = _read(data)
    if found is None:
        raise ValidationFailed(fields={"csv": _l(
            "The file cannot be read: it is not text in UTF-8, UTF-16, Windows-1250 or ISO-8859-2. In Excel choose "
            "\"Save as\" and the type \"CSV UTF-8\", then upload the file again.")})
    codec, text = found
    return DecodedList(text.lstrip("\ufeff"), _encoding_name(codec))


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return (value.date() if value.time() == time() else value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    # A line break inside a cell would make the row two lines of the list and shift every row number after it.
    return re.sub(r"\s*[\r\n]+\s*", " ", str(value)).strip()


def _workbook_text(data: bytes) -> str:
    """The first sheet of an XLSX workbook as semicolon-separated text, one sheet row to one line."""
    from openpyxl import load_workbook  # imported when used: see spreadsheets.xlsx

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl reports a damaged or foreign archive in many ways (zip, XML, KeyError…)
        raise ValidationFailed(fields={"csv": _l(
            "The file cannot be read as an Excel workbook (XLSX). Save it again in Excel as \"Excel Workbook "
            "(*.xlsx)\" or \"CSV UTF-8\".")}) from exc
    limit = current_app.config["MAX_INVITATIONS_PER_IMPORT"]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    try:
        sheet = workbook.active or workbook.worksheets[0]
        blank, filled = 0, 0
        for number, values in enumerate(sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS), start=1):
            cells = [_cell_text(value) for value in values]
            while cells and not cells[-1]:
                cells.pop()
            if not cells:
                blank += 1
                if number > MAX_SHEET_ROWS:
                    break  # formatting only, far below the data
                continue
            filled += 1
            if filled > limit + 1 or number > MAX_SHEET_ROWS:  # + 1: the header row
                raise ValidationFailed(fields={"csv": _l("At most %(limit)d invitations at once.", limit=limit)})
            out.write("\n" * blank)  # empty rows stay, so each line's number is the sheet's row number
            blank = 0
            writer.writerow(cells)
    finally:
        workbook.close()
    return out.getvalue()


def read_upload(data: bytes) -> DecodedList:
    """An uploaded list as text: an Excel workbook's first sheet, or a CSV/text file in its encoding."""
    if data.startswith(OLE_MAGIC):
        raise ValidationFailed(fields={"csv": _l(
            "Files of Excel 97-2003 (.xls) cannot be read. In Excel choose \"Save as\" and the type \"Excel "
            "Workbook (*.xlsx)\" or \"CSV UTF-8\", then upload the file again.")})
    if data.startswith(ZIP_MAGIC):
        return DecodedList(_workbook_text(data), "XLSX", ";")
    return decode_upload(data)


# --- the template ---------------------------------------------------------------

def _template_rows() -> tuple[tuple[str, ...], tuple[str, ...]]:
    language = str(get_locale() or "pl")
    headers = TEMPLATE_HEADERS.get(language, TEMPLATE_HEADERS["pl"])
    institution, category, email, invitee_language, voivodeship = EXAMPLE
    return headers, (institution, str(CATEGORY_LABELS[category]), email, invitee_language, voivodeship.label)


def template_csv() -> bytes:
    """A list to fill in as Polish Excel opens it: UTF-8 with a byte-order mark, semicolons, CRLF."""
    headers, example = _template_rows()
    return polish_csv(headers, [example])


def template_xlsx() -> bytes:
    """The same list as an Excel workbook, the category column offering the labels to choose from."""
    from openpyxl import Workbook  # imported when used: see spreadsheets.xlsx
    from openpyxl.styles import Font
    from openpyxl.worksheet.datavalidation import DataValidation

    headers, example = _template_rows()
    limit = current_app.config["MAX_INVITATIONS_PER_IMPORT"]
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = str(_l("Invitees"))[:31]
    sheet.append(headers)
    sheet.append(example)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for column, width in zip("ABCDE", (50, 34, 34, 10, 22)):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = "A2"
    # The labels live on a hidden sheet: a list typed into the rule itself may not contain commas.
    labels = workbook.create_sheet(str(_l("Categories"))[:31])
    for label in CATEGORY_LABELS.values():
        labels.append([str(label)])
    labels.sheet_state = "hidden"
    # No error on other text: the usual names (MOPS, PCPR, starostwo…) are accepted too.
    categories = DataValidation(type="list", formula1=f"'{labels.title}'!$A$1:$A${len(CATEGORY_LABELS)}",
                                allow_blank=True, showErrorMessage=False)
    languages = DataValidation(type="list", formula1='"{}"'.format(",".join(current_app.config["LANGUAGES"])),
                               allow_blank=True)
    regions = workbook.create_sheet(str(_l("Voivodeships"))[:31])
    for name in VOIVODESHIP_NAMES.values():
        regions.append([name])
    regions.sheet_state = "hidden"
    # Other spellings ("Slaskie", "woj. śląskie") are read too, so no error on them either.
    voivodeships = DataValidation(type="list", formula1=f"'{regions.title}'!$A$1:$A${len(VOIVODESHIP_NAMES)}",
                                  allow_blank=True, showErrorMessage=False)
    for rule, column in ((categories, "B"), (languages, "D"), (voivodeships, "E")):
        sheet.add_data_validation(rule)
        rule.add(f"{column}2:{column}{limit + 1}")
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
