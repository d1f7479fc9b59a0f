"""An uploaded list of invitees is read in the encoding it was saved in, says which, or is refused.

Excel and older systems in Poland save CSV as UTF-8 (with or without a
byte-order mark), UTF-16 ("Unicode text"), Windows-1250 or ISO-8859-2. The
last two differ exactly in ą, ś, ź, Ą, Ś, Ź, so a wrong guess turns "Łaźnia"
into "ŁaĽnia" without any error; nothing may be stored with U+FFFD either.
"""
from __future__ import annotations

import codecs
import io

import pytest
from sqlalchemy import select

from scheduler.extensions import db
from scheduler.invitations.models import Invitation

from . import factories as make
from .helpers import confirm_import
from .test_web_organiser import text_of

NAMES = ["Łaźnia Miejska w Kielcach", "Żółć i Spółka", "Starostwo Świętokrzyskie", "ŚĄŹ śąź sp. z o.o."]
LISTING = ("Instytucja;Kategoria;E-mail\r\n"
           f"{NAMES[0]};gmina;laznia@kielce.pl\r\n"
           f"{NAMES[1]};ngo;zolc@example.org\r\n"
           f"{NAMES[2]};powiat;starostwo@example.org\r\n"
           f"{NAMES[3]};inna;saz@example.org\r\n")
ACCEPTED = "UTF-8, UTF-16, Windows-1250 or ISO-8859-2"


@pytest.fixture
def meeting(client):
    organiser = make.user()
    event = make.event(organiser)
    make.login(client, organiser)
    return event


def _upload(client, event, data: bytes, name: str = "lista.csv"):
    """Upload a list: the preview, or the import form again with what makes the file unreadable."""
    return client.post(f"/organiser/events/{event.id}/invitations/import",
                       data={"csv_file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def _import(client, event, data: bytes, name: str = "lista.csv") -> tuple[str, str]:
    """Upload a list and confirm its preview; the text of both pages."""
    preview = _upload(client, event, data, name)
    assert preview.status_code == 200, text_of(preview)[:2000]
    return text_of(preview), text_of(confirm_import(client, preview))


def _stored() -> set[str]:
    return set(db.session.execute(select(Invitation.institution)).scalars())


@pytest.mark.parametrize("data, encoding", [
    (LISTING.encode("utf-8"), "UTF-8"),
    (LISTING.encode("utf-8-sig"), "UTF-8"),
    (LISTING.encode("utf-16"), "UTF-16"),  # with its byte-order mark, as Excel writes
    (codecs.BOM_UTF16_BE + LISTING.encode("utf-16-be"), "UTF-16"),
    (LISTING.encode("cp1250"), "Windows-1250"),
    (LISTING.encode("iso8859_2"), "ISO-8859-2"),
], ids=["utf-8", "utf-8-bom", "utf-16-le-bom", "utf-16-be-bom", "windows-1250", "iso-8859-2"])
def test_a_list_in_each_polish_encoding_is_stored_with_its_letters_and_the_encoding_is_named(client, meeting, data,
                                                                                             encoding):
    preview, page = _import(client, meeting, data)

    assert f"The file was read as {encoding}." in preview
    assert "Invitees added: 4." in page
    assert _stored() == set(NAMES)


def test_an_iso_8859_2_name_without_the_letters_windows_1250_shares_is_not_misread(client, meeting):
    # "Łaźnia" alone: only ź (0xBC) tells the two apart; Windows-1250 reads it as "Ľ".
    data = "instytucja;kategoria;e-mail\nŁaźnia;gmina;laznia@kielce.pl\n".encode("iso8859_2")

    preview, _page = _import(client, meeting, data)

    assert "The file was read as ISO-8859-2." in preview
    assert _stored() == {"Łaźnia"}


def test_a_unicode_text_export_from_excel_is_read(client, meeting):
    # Excel's "Unicode text": UTF-16 little-endian with a byte-order mark, tab-separated.
    data = LISTING.replace(";", "\t").encode("utf-16-le")

    preview, page = _import(client, meeting, codecs.BOM_UTF16_LE + data, "lista.txt")

    assert "Invitees added: 4." in page and "The file was read as UTF-16." in preview
    assert _stored() == set(NAMES)


def test_utf_16_without_a_byte_order_mark_is_recognised_by_the_detector(client, meeting):
    preview, page = _import(client, meeting, LISTING.encode("utf-16-le"))

    assert "Invitees added: 4." in page and "The file was read as UTF-16-LE." in preview
    assert _stored() == set(NAMES)


@pytest.mark.parametrize("data", [
    make.png_bytes(),  # not text at all
    codecs.BOM_UTF16_LE + LISTING.encode("utf-16-le")[:-1],  # a byte-order mark, then a broken last character
    codecs.BOM_UTF8 + LISTING.encode("cp1250"),  # says UTF-8, is not
], ids=["binary", "broken-utf-16", "false-utf-8-bom"])
def test_a_file_that_cannot_be_decoded_cleanly_is_refused_naming_the_encodings_that_work(client, meeting, data):
    response = _upload(client, meeting, data)

    assert response.status_code == 422
    page = text_of(response)
    assert "Nothing was added" in page and ACCEPTED in page and "CSV UTF-8" in page
    assert _stored() == set()


def test_replacement_characters_in_a_file_are_refused_with_the_line(client, meeting):
    # What a list looks like after someone opened a Windows-1250 file as UTF-8 and saved it again.
    data = LISTING.replace("Łaźnia", "\ufffda\ufffdnia").encode("utf-8")

    response = _upload(client, meeting, data)

    assert response.status_code == 422
    assert "Line 2: Contains characters that could not be read" in text_of(response)
    assert _stored() == set()


def test_control_characters_in_a_file_or_a_pasted_list_are_refused_with_the_line(client, meeting):
    listing = LISTING.replace("Żółć i Spółka", "Żółć\x0bi Spółka")

    uploaded = _upload(client, meeting, listing.encode("utf-8"))
    pasted = client.post(f"/organiser/events/{meeting.id}/invitations/import", data={"csv": listing})

    for response in (uploaded, pasted):
        assert response.status_code == 422
        assert "Line 3: Contains control characters that are not allowed." in text_of(response)
    assert _stored() == set()


def test_a_list_with_a_wrong_row_still_says_which_encoding_was_read(client, meeting):
    data = LISTING.replace("zolc@example.org", "zolc-bez-domeny").encode("cp1250")

    response = _upload(client, meeting, data)

    page = text_of(response)
    assert "The file was read as Windows-1250." in page
    assert "3 Żółć i Spółka Non-governmental organisation zolc-bez-domeny pl e-mail: This is not a valid" in page
    assert _stored() == set()  # a preview saves nothing
