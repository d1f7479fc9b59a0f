"""The survey: its page for the person answering (public, by link) and its results for the organiser."""
from __future__ import annotations

import base64

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from ..errors import InvalidState, ValidationFailed
from ..events.services import get_managed_event
from ..spreadsheets import table_download
from .services import SCALE, AlreadyAnswered, answer, open_survey, responses_table, results, send_survey, survey_of

bp = Blueprint("surveys", __name__)

def _chart(result) -> str | None:
    """A bar chart of one question's answers as an SVG data URI, drawn on the server (an <img>: no script runs)."""
    if not result.counts:
        return None
    import pygal  # imported when a results page is drawn, not at every process start
    from pygal.style import Style

    style = Style(background="white", plot_background="white", colors=("#1d4f91",), font_family="sans-serif",
                  label_font_size=14, major_label_font_size=14, value_font_size=14, foreground="#1b1b1b",
                  foreground_strong="#1b1b1b", foreground_subtle="#555555")
    chart = pygal.HorizontalBar(style=style, show_legend=False, width=640, height=70 + 40 * len(result.counts),
                                print_values=True, js=[], disable_xml_declaration=True, margin=10)
    chart.x_labels = [str(label) for label in result.counts]
    chart.add("", list(result.counts.values()))
    svg = chart.render(is_unicode=True)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


@bp.get("/organiser/events/<int:event_id>/survey")
@login_required
def overview(event_id: int):
    event = get_managed_event(current_user, event_id)
    survey = survey_of(event)
    sent, answered, per_question = results(survey) if survey is not None else (0, 0, [])
    return render_template("surveys/overview.html", event=event, survey=survey, sent=sent, answered=answered,
                           results=[(result, _chart(result)) for result in per_question])


@bp.post("/organiser/events/<int:event_id>/survey/send")
@login_required
def send(event_id: int):
    event = get_managed_event(current_user, event_id)
    try:
        count = send_survey(current_user, event)
    except InvalidState as exc:
        flash(str(exc.message), "error")
    else:
        flash(ngettext("The survey was sent to %(num)d person present.", "The survey was sent to %(num)d people present.",
                       count) if count else _("Everyone present has already been sent the survey."))
    return redirect(url_for("surveys.overview", event_id=event_id), 303)


@bp.get("/organiser/events/<int:event_id>/survey.<any(csv, xlsx):kind>")
@login_required
def export(event_id: int, kind: str):
    """Every answer set, anonymous, as XLSX or CSV for Excel."""
    event = get_managed_event(current_user, event_id)
    survey = survey_of(event)
    header, rows = responses_table(survey) if survey is not None else ([], [])
    return table_download(kind, _("Survey"), header, rows, f"ankieta-{event.id}")


@bp.route("/s/<token>", methods=["GET", "POST"], endpoint="answer")
def answer_page(token: str):
    survey, event, used = open_survey(token)
    if used:
        return render_template("surveys/thanks.html", event=event, already=True)
    errors: dict = {}
    if request.method == "POST":
        try:
            answer(token, request.form)
        except ValidationFailed as exc:
            errors = exc.fields
        except AlreadyAnswered:
            return render_template("surveys/thanks.html", event=event, already=True), 409
        else:
            return render_template("surveys/thanks.html", event=event, already=False)
    return render_template("surveys/answer.html", event=event, survey=survey, scale=SCALE, errors=errors,
                           values=request.form), (422 if errors else 200)
