"""Steps that cannot be undone are taken only from their confirmation page.

Such a route answers GET with the page naming what will happen, and acts on
POST only when the page's own form sent `confirm` with the stamp it was shown
with. A one-click form (an old list page, a crafted link) sends no stamp and
gets the page instead; a stamp of the thing's state makes a second confirmed
POST (a double click, the back button) find the thing changed and act no more.
"""
from __future__ import annotations

from flask import request

FIELD = "confirm"


def confirmed(stamp: str = "yes") -> bool:
    """Whether this request is the confirmed POST for the thing as it is now (its state is `stamp`)."""
    return request.method == "POST" and request.form.get(FIELD) == stamp


def page_values(stamp: str = "yes") -> dict:
    """What templates/_confirm.html needs besides the facts: the stamp its form sends, and whether a POST
    came confirmed for a state the thing has since left (the page then says that nothing was done)."""
    given = request.form.get(FIELD) if request.method == "POST" else None
    return {"stamp": stamp, "stale": given is not None and given != stamp}
