"""A participant's check-in code: a signed link in a QR code on the manage page and in the confirmation.

The code carries only the participant's id, signed with the application's
secret (itsdangerous), so it cannot be guessed or changed to someone else's,
and nothing is stored for it. Opened by an organiser of the meeting it marks
the person present; opened by anyone else it shows nothing personal.
"""
from __future__ import annotations

import io

import segno
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from markupsafe import Markup

from .. import links

_SALT = "check-in"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def check_in_code(participant_id: int) -> str:
    return _serializer().dumps(participant_id)


def participant_of(code: str) -> int | None:
    try:
        value = _serializer().loads(code)
    except BadSignature:
        return None
    return value if isinstance(value, int) else None


def check_in_url(participant_id: int) -> str:
    return links.absolute("presence.scan", f"/c/{check_in_code(participant_id)}", code=check_in_code(participant_id))


def check_in_png(participant_id: int) -> bytes:
    """The check-in link as a PNG QR code, for e-mails (which show no inline SVG)."""
    out = io.BytesIO()
    segno.make(check_in_url(participant_id), error="m").save(out, kind="png", scale=5)
    return out.getvalue()


def check_in_qr(participant_id: int, *, label: str = "") -> Markup:
    """The check-in link as an inline SVG QR code (no image request, allowed by the page's CSP)."""
    svg = segno.make(check_in_url(participant_id), error="m").svg_inline(scale=3, title=label or None)
    return Markup(svg)
