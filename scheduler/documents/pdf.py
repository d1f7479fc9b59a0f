"""HTML templates to A4 PDF with WeasyPrint: fonts with Polish letters embedded, the same data giving the same text."""
from __future__ import annotations

from flask import Response, current_app, render_template


def render_pdf(template: str, **context) -> bytes:
    # Imported here: WeasyPrint loads Pango through cffi, which only the pages that make a PDF need.
    from weasyprint import HTML

    html = render_template(template, **context)
    return HTML(string=html, base_url=current_app.static_folder).write_pdf()


def pdf_download(data: bytes, filename: str) -> Response:
    return Response(data, content_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "private, no-store"})
