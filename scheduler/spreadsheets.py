"""Tables for spreadsheets, written one way: CSV as Polish Excel opens it, and XLSX (openpyxl).

Every export of the service (declarations, participants with their presence,
invitations with their answers, templates to fill in) goes through here, so
the Excel dialect and the formula-injection rule live in one place.
"""
from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from flask import Response

# A cell starting with one of these is run as a formula by Excel and LibreOffice (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def safe_text(value) -> str:
    """Text for a CSV cell; a leading = + - @ is neutralised with an apostrophe, as spreadsheets expect.

    Times are written as Excel reads them ("2026-07-16 10:00"), in the time the caller gives (local).
    """
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def polish_csv(header: Sequence, rows: Iterable[Sequence]) -> bytes:
    """CSV that Excel with Polish regional settings opens by double-click: UTF-8 with a BOM, semicolons, CRLF."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([safe_text(v) for v in header])
    writer.writerows([safe_text(v) for v in row] for row in rows)
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")


def xlsx(sheets: Iterable[tuple[str, Sequence, Iterable[Sequence]]]) -> bytes:
    """A workbook with one sheet per (title, header, rows): bold frozen header, columns sized to their text.

    Text is always stored as text, never as a formula, whatever it starts with;
    numbers and dates keep their type so they can be summed and sorted.
    """
    # openpyxl is imported here: it costs a tenth of a second, which every process start (the clock, the CLI)
    # would otherwise pay for the few requests that export a workbook.
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING
    from openpyxl.styles import Font

    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(str(title)[:31])
        widths: dict[int, int] = {}
        for row_number, row in enumerate([header, *rows], start=1):
            for column, value in enumerate(row, start=1):
                if isinstance(value, datetime) and value.tzinfo is not None:
                    value = value.replace(tzinfo=None)  # Excel has no time zones: the caller gives local time
                cell = sheet.cell(row=row_number, column=column)
                if isinstance(value, (int, float, date)) and not isinstance(value, bool):
                    cell.value = value
                else:
                    cell.value = "" if value is None else str(value)
                    cell.data_type = TYPE_STRING
                widths[column] = max(widths.get(column, 0), len(str(cell.value or "")))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for column, width in widths.items():
            sheet.column_dimensions[sheet.cell(row=1, column=column).column_letter].width = min(max(width + 2, 8), 60)
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def download(data: bytes, filename: str) -> Response:
    """The file as an attachment, never cached (it holds personal data)."""
    content_type = (XLSX_TYPE if filename.endswith(".xlsx") else "application/zip" if filename.endswith(".zip")
                    else CSV_TYPE)
    return Response(data, content_type=content_type, headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "private, no-store"})


def table_download(kind: str, title: str, header: Sequence, rows: Sequence[Sequence], stem: str) -> Response:
    """One table as `stem.csv` (Polish Excel) or `stem.xlsx` (a sheet called `title`), for download."""
    if kind == "csv":
        return download(polish_csv(header, rows), f"{stem}.csv")
    return download(xlsx([(title, header, rows)]), f"{stem}.xlsx")
