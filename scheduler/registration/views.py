from flask import Blueprint, render_template

from .services import find_invitation, mark_opened

bp = Blueprint("registration", __name__)


@bp.get("/i/<token>")
def invitation_page(token: str):
    invitation = find_invitation(token)
    mark_opened(invitation)
    return render_template("registration/invitation.html", invitation=invitation, event=invitation.event)
