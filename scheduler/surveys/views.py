"""The survey: its page for the person answering (public, by link), and the organiser's pages: questions, sending,
results."""
from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_babel.speaklater import LazyString
from flask_login import current_user, login_required

from ..auth.models import User
from ..errors import InvalidState, ValidationFailed
from ..events.models import Event
from ..events.services import get_managed_event
from ..spreadsheets import table_download
from ..web.confirm import confirmed, page_values
from .forms import rearrange, rows_from, rows_of
from .models import QUESTION_TYPE_LABELS, SurveyRound
from .services import (MAX_CHOICE_TEXT, MAX_CHOICES, MAX_QUESTION_TEXT, MAX_QUESTIONS, SCALE, AlreadyAnswered,
                       QuestionsFrozen, Recipient, answer, is_frozen, open_survey, pre_test_recipients,
                       pre_test_refusal, questions_of, responses_table, results, round_counts, save_questions,
                       send_pre_test, send_survey, survey_of, survey_recipients, survey_refusal)

bp = Blueprint("surveys", __name__)

BEFORE_COLOUR, AFTER_COLOUR = "#8a5a00", "#1d4f91"


def _chart(result) -> str | None:
    """A bar chart of one question's answers (after, and before if it was in the pre-test) as an SVG data URI,
    drawn on the server (an <img>: no script runs)."""
    if not result.post.counts:
        return None
    import pygal  # imported when a results page is drawn, not at every process start
    from pygal.style import Style

    series = ([(_("Before"), result.pre.counts), (_("After"), result.post.counts)] if result.pre is not None
              else [("", result.post.counts)])
    style = Style(background="white", plot_background="white",
                  colors=(BEFORE_COLOUR, AFTER_COLOUR) if result.pre is not None else (AFTER_COLOUR,),
                  font_family="sans-serif", label_font_size=14, major_label_font_size=14, value_font_size=14,
                  legend_font_size=14, foreground="#1b1b1b", foreground_strong="#1b1b1b",
                  foreground_subtle="#555555")
    bars = len(result.post.counts) * len(series)
    chart = pygal.HorizontalBar(style=style, show_legend=result.pre is not None, legend_at_bottom=True,
                                width=640, height=90 + 30 * bars, print_values=True, js=[],
                                disable_xml_declaration=True, margin=10)
    chart.x_labels = [str(label) for label in result.post.counts]
    for title, counts in series:
        chart.add(title, list(counts.values()))
    svg = chart.render(is_unicode=True)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


@bp.get("/organiser/events/<int:event_id>/survey")
@login_required
def overview(event_id: int):
    event = get_managed_event(current_user, event_id)
    survey = survey_of(event)
    per_question = results(survey) if survey is not None else []
    return render_template("surveys/overview.html", event=event, survey=survey, counts=round_counts(survey),
                           rounds=SurveyRound, questions=questions_of(survey), frozen=is_frozen(survey),
                           pre_refusal=pre_test_refusal(event, survey),
                           results=[(result, _chart(result)) for result in per_question])


def _summary(errors: dict) -> dict:
    """The editor's errors for the summary at the top, each naming its question (next to the field it need not)."""
    named = {}
    for key, message in errors.items():
        parts = key.split(".")
        named[key] = (_("Question %(n)d: %(message)s", n=int(parts[1]) + 1, message=message)
                      if len(parts) == 3 and parts[1].isdigit() else message)
    return named


def _editor(event, survey, rows, pre_post, *, errors=None, focus=None, unsaved=False, status=200):
    errors = errors or {}
    return render_template("surveys/questions.html", event=event, survey=survey, rows=rows, pre_post=pre_post,
                           errors=errors, summary=_summary(errors), focus=focus, unsaved=unsaved,
                           frozen=is_frozen(survey), types=QUESTION_TYPE_LABELS,
                           limits={"questions": MAX_QUESTIONS, "text": MAX_QUESTION_TEXT, "choices": MAX_CHOICES,
                                   "choice": MAX_CHOICE_TEXT}), status


@bp.route("/organiser/events/<int:event_id>/survey/questions", methods=["GET", "POST"])
@login_required
def questions(event_id: int):
    """Edit the questions (rows re-rendered on add/remove/move, saved on "save"); read-only once links went out."""
    event = get_managed_event(current_user, event_id)
    survey = survey_of(event)
    if request.method == "GET":
        return _editor(event, survey, rows_of(questions_of(survey)), bool(survey and survey.pre_post))
    rows, pre_post = rows_from(request.form), "pre_post" in request.form
    action = request.form.get("action", "save")
    if action != "save" and is_frozen(survey):
        return redirect(url_for("surveys.questions", event_id=event_id), 303)
    if action != "save":
        rows, focus = rearrange(rows, action)
        return _editor(event, survey, rows, pre_post, focus=focus, unsaved=True)
    try:
        save_questions(current_user, event, rows, pre_post=pre_post)
    except QuestionsFrozen as exc:
        flash(str(exc.message), "error")
        return redirect(url_for("surveys.questions", event_id=event_id), 303)
    except ValidationFailed as exc:
        return _editor(event, survey, rows, pre_post, errors=exc.fields, unsaved=True, status=422)
    flash(_("The questions have been saved."), "success")
    return redirect(url_for("surveys.overview", event_id=event_id), 303)


@dataclass(frozen=True)
class _Sending:
    """What sets sending the pre-test apart from sending the evaluation: the domain function that sends it, the
    texts of its confirmation page (templates/surveys/confirm_round.html) and of the flash afterwards. The counted
    texts are functions of the count, so that ngettext picks the plural form when they are shown."""
    endpoint: str
    send: Callable[[User, Event], int]
    heading: LazyString
    confirm_label: LazyString
    about_label: LazyString
    about: Callable[[int], str]
    nobody: LazyString
    consequences: tuple[LazyString, ...]  # the list items after the one naming the recipients
    sent: Callable[[int], str]
    all_sent: LazyString


_EVALUATION = _Sending(
    endpoint="surveys.send",
    send=send_survey,
    heading=_l("Send the survey?"),
    confirm_label=_l("Yes, send the survey"),
    about_label=_l("Evaluation survey"),
    about=lambda num: ngettext("%(num)d person present without a link yet",
                               "%(num)d people present without a link yet", num),
    nobody=_l("There is nobody to send it to: everyone marked present already has a link to the survey, or nobody "
              "is marked present yet."),
    consequences=(
        _l("The answers are anonymous: nobody, the organiser included, can see who answered what."),
        _l("The questions can no longer be changed once the survey is sent."),
        _l("Each person gets the survey once: people marked present later can be sent it with the same button."),
    ),
    sent=lambda num: ngettext("The survey was sent to %(num)d person present.",
                              "The survey was sent to %(num)d people present.", num),
    all_sent=_l("Everyone present has already been sent the survey."),
)

_PRE_TEST = _Sending(
    endpoint="surveys.pre_test",
    send=send_pre_test,
    heading=_l("Send the pre-test?"),
    confirm_label=_l("Yes, send the pre-test"),
    about_label=_l("Pre-test"),
    about=lambda num: ngettext("%(num)d participant without a link yet", "%(num)d participants without a link yet",
                               num),
    nobody=_l("There is nobody to send it to: every participant of a confirmed declaration already has a link to "
              "the pre-test, or there are none."),
    consequences=(
        _l("The pre-test asks only the questions marked “before and after”. After the meeting, those present get "
           "the same questions again with the evaluation, through new links."),
        _l("The questions can no longer be changed once the pre-test is sent."),
        _l("Each person gets the pre-test once: participants confirmed later can be sent it with the same button, "
           "until the meeting starts."),
    ),
    sent=lambda num: ngettext("The pre-test was sent to %(num)d participant.",
                              "The pre-test was sent to %(num)d participants.", num),
    all_sent=_l("Every confirmed participant has already been sent the pre-test."),
)


def _send_round(event: Event, refusal: LazyString | None, recipients: list[Recipient], sending: _Sending):
    """The confirmation page naming who gets the links, or, on its confirmed POST, the sending and back to the
    overview. The stamp is the recipients: if they changed since the page was shown, the page comes again."""
    stamp = ",".join(str(person.participant_id) for person in recipients) or "none"
    possible = refusal is None and bool(recipients)
    if not (possible and confirmed(stamp)):
        return render_template("surveys/confirm_round.html", event=event, recipients=recipients, refusal=refusal,
                               possible=possible, sending=sending, **page_values(stamp))
    try:
        count = sending.send(current_user, event)
    except InvalidState as exc:
        flash(str(exc.message), "error")
    else:
        flash(sending.sent(count) if count else str(sending.all_sent), "success" if count else "info")
    return redirect(url_for("surveys.overview", event_id=event.id), 303)


@bp.route("/organiser/events/<int:event_id>/survey/send", methods=["GET", "POST"])
@login_required
def send(event_id: int):
    """Send the evaluation to those present, from a confirmation page naming who gets it."""
    event = get_managed_event(current_user, event_id)
    refusal = survey_refusal(event)
    return _send_round(event, refusal, survey_recipients(event) if refusal is None else [], _EVALUATION)


@bp.route("/organiser/events/<int:event_id>/survey/pre-test", methods=["GET", "POST"])
@login_required
def pre_test(event_id: int):
    """Send the pre-test to confirmed participants, from a confirmation page naming who gets it."""
    event = get_managed_event(current_user, event_id)
    refusal = pre_test_refusal(event, survey_of(event))
    return _send_round(event, refusal, pre_test_recipients(event) if refusal is None else [], _PRE_TEST)


@bp.get("/organiser/events/<int:event_id>/survey.<any(csv, xlsx):kind>")
@login_required
def export(event_id: int, kind: str):
    """Every answer set, anonymous, with its round, as XLSX or CSV for Excel."""
    event = get_managed_event(current_user, event_id)
    survey = survey_of(event)
    header, rows = responses_table(survey) if survey is not None else ([], [])
    return table_download(kind, _("Survey"), header, rows, f"ankieta-{event.id}")


@bp.route("/s/<token>", methods=["GET", "POST"], endpoint="answer")
def answer_page(token: str):
    opened = open_survey(token)
    if opened.used:
        return render_template("surveys/thanks.html", event=opened.event, round=opened.round, already=True)
    errors: dict = {}
    if request.method == "POST":
        try:
            answer(token, request.form)
        except ValidationFailed as exc:
            errors = exc.fields
        except AlreadyAnswered:
            return render_template("surveys/thanks.html", event=opened.event, round=opened.round, already=True), 409
        else:
            return render_template("surveys/thanks.html", event=opened.event, round=opened.round, already=False)
    return render_template("surveys/answer.html", event=opened.event, questions=opened.questions,
                           round=opened.round, pre=opened.round is SurveyRound.PRE, scale=SCALE, errors=errors,
                           values=request.form), (422 if errors else 200)
