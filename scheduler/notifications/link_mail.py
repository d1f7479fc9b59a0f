"""E-mails that carry a one-time link: an organiser's invitation or password reset, a survey link.

Planned with fixed content (not rendered at delivery): the link exists only
in this message, the database keeps just its digest, so there is nothing to
render it from later. A survey e-mail's HTML refers to the project's logo
strip by its Content-ID; the image itself is added when it is sent
(rendering.outgoing_of), so the outbox row stays small.
"""
from __future__ import annotations

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from ..auth.models import AccountLinkPurpose, User
from ..projects.services import funding_sentence
from ..surveys.models import SurveyRound
from ..tokens import digest
from .outbox import enqueue
from .rendering import strip_image


def plan_account_link(user: User, *, purpose: AccountLinkPurpose, link: str, expires_at, invited_by=None, **_kw):
    language = current_app.config["BABEL_DEFAULT_LOCALE"]
    context = {"user": user, "purpose": purpose.value, "link": link, "expires_at": expires_at,
               "invited_by": invited_by, "organisation": user.organisation,
               "footer": current_app.config["FUNDING_FOOTER"]}
    with force_locale(language):
        if purpose is AccountLinkPurpose.INVITE:
            subject = _("Your organiser account in the meeting service of the project “Cooperation Leaders”")
        else:
            subject = _("Setting a new password in the meeting service")
        text = render_template("email/account_link.txt", **context)
        html = render_template("email/account_link.html", **context)
    enqueue(event=None, kind=f"account_{purpose.value}", recipient=user.email, language=language, subject=subject,
            body_text=text, body_html=html, dedupe_key=f"account-link:{digest(link)}")


def plan_survey_links(event, *, links, survey_round=SurveyRound.POST, **_kw):
    """One e-mail per person (present, or confirmed for a pre-test), to their institution's contact, with that
    person's own link of the round."""
    language = current_app.config["BABEL_DEFAULT_LOCALE"]
    pre = survey_round is SurveyRound.PRE
    template = "surveys/pre_test_mail" if pre else "email/survey"
    with force_locale(language):
        subject = (_("Test before the meeting: %(title)s", title=event.title) if pre
                   else _("Evaluation survey: %(title)s", title=event.title))
        strip = strip_image(event.project)  # its cid is in the HTML; the image is added when the message is sent
        for email, name, institution, link, participant_id in links:
            context = {"event": event, "name": name, "institution": institution, "link": link,
                       "footer": funding_sentence(event), "strip": strip}
            enqueue(event=event, kind="survey", recipient=email, language=language, subject=subject,
                    body_text=render_template(f"{template}.txt", **context),
                    body_html=render_template(f"{template}.html", **context),
                    dedupe_key=f"survey{'-pre' if pre else ''}:{event.id}:{participant_id}")
