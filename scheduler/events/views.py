from flask import Blueprint, render_template
from flask_login import current_user, login_required

from .services import list_managed_events

bp = Blueprint("events", __name__)


@bp.get("/organiser/")
@login_required
def dashboard():
    return render_template("events/dashboard.html", events=list_managed_events(current_user))
