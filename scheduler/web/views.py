from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, url_for
from sqlalchemy import text

from .. import links
from ..database import begin_reads_only, reads_only, utcnow
from ..events.listing import public_meetings
from ..extensions import db
from ..seats import declarations_open
from ..security import safe_next
from .accessibility import ASSESSED, LAST_UPDATED, PUBLISHED, statement_contacts

bp = Blueprint("web", __name__)
bp.before_request(begin_reads_only)


@bp.get("/")
@reads_only
def home():
    # One page of upcoming and one of past meetings; older ones through the "Older meetings" link.
    now = utcnow()
    listing = public_meetings(upcoming_page=request.args.get("upcoming", 1, type=int),
                              past_page=request.args.get("past", 1, type=int), now=now)
    # From the rows already loaded: the deadline rule needs no query.
    open_ids = {event.id for event in listing.upcoming.events if declarations_open(event, now)}
    return render_template("home.html", listing=listing, open_ids=open_ids)


@bp.get("/accessibility")
def accessibility():
    return render_template("web/accessibility.html", contacts=statement_contacts(), published=PUBLISHED,
                           last_updated=LAST_UPDATED, assessed=ASSESSED, service_url=links.absolute("web.home"))


@bp.get("/healthz")
def healthz():
    db.session.execute(text("SELECT 1"))
    return jsonify(status="ok")


@bp.get("/language/<code>")
def language(code: str):
    # The locale selector stores ?lang= in the session; go back where the user was (on this site only).
    if code not in current_app.config["LANGUAGES"]:
        abort(404)
    parts = urlsplit(safe_next(request.args.get("next"), url_for("web.home")))
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key != "lang"]
    return redirect(urlunsplit(("", "", parts.path, urlencode([*query, ("lang", code)]), "")))
