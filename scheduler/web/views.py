from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from sqlalchemy import text

from ..database import utcnow
from ..events.services import list_public_events
from ..extensions import db

bp = Blueprint("web", __name__)


@bp.get("/")
def home():
    now = utcnow()
    events = list_public_events()
    upcoming = [event for event in events if event.ends_at >= now]
    past = sorted((event for event in events if event.ends_at < now), key=lambda e: e.starts_at, reverse=True)
    return render_template("home.html", events=events, upcoming=upcoming, past=past)


@bp.get("/healthz")
def healthz():
    db.session.execute(text("SELECT 1"))
    return jsonify(status="ok")


@bp.get("/language/<code>")
def language(code: str):
    # The locale selector stores ?lang= in the session; go back where the user was.
    target = request.args.get("next") or url_for("web.home")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("web.home")
    return redirect(f"{target}{'&' if '?' in target else '?'}lang={code}")
