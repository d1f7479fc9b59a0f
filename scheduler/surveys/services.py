"""Evaluation surveys: a default ESF-style satisfaction survey, sent after the meeting to those present.

Anonymity by construction: a link is spent in the same transaction that
stores an answer, but nothing records which link gave which answer, and the
answer keeps only the day, not the time, so neither a view nor an export can
put a name to it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from .. import links
from ..auth.models import User
from ..database import utcnow
from ..errors import DomainError, InvalidState, NotFound, ValidationFailed
from ..events.access import require_manage
from ..events.models import Event
from ..extensions import db
from ..presence.models import Presence
from ..registration.models import Participant, Registration
from ..timeutil import to_local
from ..tokens import digest, looks_like_token, new_token
from ..validation import clean_text
from .models import Survey, SurveyLink, SurveyResponse
from .signals import survey_links_issued

SCALE = (1, 2, 3, 4, 5)
MAX_TEXT = 2000

# The usual satisfaction survey of projects co-financed by the European Social Fund (questions in Polish, as the
# participants answer them).
DEFAULT_QUESTIONS = [
    {"id": "q1", "type": "scale", "text": "Jak ocenia Pan/Pani przydatność spotkania w swojej pracy?"},
    {"id": "q2", "type": "scale", "text": "Jak ocenia Pan/Pani przygotowanie merytoryczne prowadzących?"},
    {"id": "q3", "type": "scale", "text": "Jak ocenia Pan/Pani organizację spotkania (miejsce, czas, materiały)?"},
    {"id": "q4", "type": "choice", "text": "Czy wiedza zdobyta podczas spotkania zostanie wykorzystana w Pana/Pani "
                                           "instytucji?", "choices": ["Tak", "Raczej tak", "Raczej nie", "Nie"]},
    {"id": "q5", "type": "text", "text": "Uwagi i propozycje dotyczące kolejnych spotkań"},
]


class AlreadyAnswered(DomainError):
    code = "already_answered"
    status = 409
    default_message = _l("This survey has already been answered through this link. Thank you!")


def survey_of(event: Event) -> Survey | None:
    return db.session.execute(select(Survey).where(Survey.event_id == event.id)).scalar_one_or_none()


def send_survey(user: User, event: Event, now=None) -> int:
    """Make the meeting's survey (the default questions) if needed and send a link to each person present on some
    day who has none yet; how many links went out. Only after the meeting has ended."""
    require_manage(user, event)
    now = now or utcnow()
    if event.ends_at > now:
        raise InvalidState(_l("The survey is sent after the meeting has ended."))
    survey = survey_of(event)
    if survey is None:
        survey = Survey(event_id=event.id, questions=DEFAULT_QUESTIONS)
        db.session.add(survey)
        db.session.flush()
    present = select(Presence.participant_id).where(Presence.event_id == event.id, Presence.present.is_(True))
    have = select(SurveyLink.participant_id).where(SurveyLink.survey_id == survey.id,
                                                   SurveyLink.participant_id.is_not(None))
    people = db.session.execute(
        select(Participant.id, Participant.name, Registration.institution, Registration.email)
        .join(Registration).where(Participant.id.in_(present), Participant.id.not_in(have),
                                  Registration.email != "")).all()
    issued = []
    for participant_id, name, institution, email in people:
        token = new_token()
        db.session.add(SurveyLink(survey_id=survey.id, participant_id=participant_id, digest=digest(token)))
        issued.append((email, name, institution, links.absolute("surveys.answer", f"/s/{token}", token=token),
                       participant_id))
    db.session.flush()
    if issued:
        survey_links_issued.send(event, links=issued)
    survey.sent_at = survey.sent_at or now
    db.session.commit()
    return len(issued)


def _link(token: str) -> SurveyLink:
    found = None
    if looks_like_token(token):
        found = db.session.execute(select(SurveyLink).where(SurveyLink.digest == digest(token))).scalar_one_or_none()
    if found is None:
        raise NotFound()
    return found


def open_survey(token: str) -> tuple[Survey, Event, bool]:
    """The survey behind a link, its meeting, and whether the link was used already."""
    link = _link(token)
    survey = db.session.get(Survey, link.survey_id)
    return survey, db.session.get(Event, survey.event_id), link.used


def clean_answers(survey: Survey, form: dict) -> dict:
    errors: dict = {}
    answers = {}
    for question in survey.questions:
        raw = form.get(question["id"], "")
        raw = raw.strip() if isinstance(raw, str) else ""
        if not raw:
            continue  # every question may be left out
        if question["type"] == "scale":
            if raw not in {str(n) for n in SCALE}:
                errors[question["id"]] = _l("Choose a mark from 1 to 5.")
            else:
                answers[question["id"]] = int(raw)
        elif question["type"] == "choice":
            if raw not in question["choices"]:
                errors[question["id"]] = _l("Choose one of the answers.")
            else:
                answers[question["id"]] = raw
        else:
            answers[question["id"]] = clean_text(raw, max_length=MAX_TEXT, multiline=True, field=question["id"],
                                                 errors=errors)
    if errors:
        raise ValidationFailed(fields=errors)
    return answers


def answer(token: str, form: dict, now=None) -> None:
    """Store one anonymous set of answers and spend the link, once: a second submit is AlreadyAnswered."""
    link = _link(token)
    survey = db.session.get(Survey, link.survey_id)
    answers = clean_answers(survey, form)
    spent = db.session.execute(update(SurveyLink).where(SurveyLink.id == link.id, SurveyLink.used.is_(False))
                               .values(used=True)).rowcount
    if not spent:
        db.session.rollback()
        raise AlreadyAnswered()
    event = db.session.get(Event, survey.event_id)
    db.session.add(SurveyResponse(survey_id=survey.id, answers=answers,
                                  day=to_local(now or utcnow(), event.timezone).date().isoformat()))
    db.session.commit()


@dataclass
class QuestionResult:
    question: dict
    counts: dict = field(default_factory=dict)   # mark or choice -> how many
    mean: float | None = None
    texts: list[str] = field(default_factory=list)
    answered: int = 0


def results(survey: Survey) -> tuple[int, int, list[QuestionResult]]:
    """(links sent, answers, per question: counts and mean, or the texts)."""
    sent = db.session.execute(select(SurveyLink.id).where(SurveyLink.survey_id == survey.id)).all()
    responses = list(db.session.execute(select(SurveyResponse.answers).where(SurveyResponse.survey_id == survey.id)
                                        .order_by(SurveyResponse.id)).scalars())
    out = []
    for question in survey.questions:
        result = QuestionResult(question)
        values = [r[question["id"]] for r in responses if question["id"] in r]
        result.answered = len(values)
        if question["type"] == "scale":
            result.counts = {mark: values.count(mark) for mark in SCALE}
            result.mean = round(sum(values) / len(values), 2) if values else None
        elif question["type"] == "choice":
            result.counts = {choice: values.count(choice) for choice in question["choices"]}
        else:
            result.texts = [v for v in values if v]
        out.append(result)
    return len(sent), len(responses), out


def responses_table(survey: Survey) -> tuple[list[str], list[list]]:
    """Every answer set as a row (anonymous: no names, links or times), one column per question."""
    header = [_l("Day"), *[q["text"] for q in survey.questions]]
    rows = [[r.day, *[r.answers.get(q["id"], "") for q in survey.questions]]
            for r in db.session.execute(select(SurveyResponse).where(SurveyResponse.survey_id == survey.id)
                                        .order_by(SurveyResponse.id)).scalars()]
    return [str(h) for h in header], rows
