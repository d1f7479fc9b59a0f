"""Which organisation an administration page is about, and whether the user may manage it."""
from __future__ import annotations

from flask import abort
from flask_login import current_user

from ..auth.models import Organisation
from ..auth.services import can_manage_organisation
from ..extensions import db


def managed_organisation(organisation_id: int | None) -> Organisation:
    """The organisation named in the URL (an admin's pages), or the user's own; 403 unless they may manage it."""
    organisation = (db.session.get(Organisation, organisation_id) if organisation_id is not None
                    else current_user.organisation)
    if organisation is None:
        abort(404)
    if not can_manage_organisation(current_user, organisation):
        abort(403)
    return organisation
