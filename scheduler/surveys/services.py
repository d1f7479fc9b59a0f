"""Evaluation surveys: editable questions (the ESF satisfaction survey to start from), an optional pre-test before
a training, and the evaluation after it to those present.

Anonymity by construction: a link is spent in the same transaction that
stores an answer, but nothing records which link gave which answer, and the
answer keeps only its round and day, not the time, so neither a view nor an
export can put a name to it. Nor can a pre-test answer be paired with the same
person's answer after the meeting: the two rounds have separate links and
their answers share nothing but the survey.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from .. import links
from ..auth.models import User
from ..database import utcnow
from ..errors import DomainError, InvalidState, NotFound, ValidationFailed
from ..events.access import require_manage
from ..events.models import Event
from ..extensions import db
from ..presence.models import Presence
from ..registration.models import Participant, Registration, RegistrationStatus
from ..seats import lock_event
from ..timeutil import to_local
from ..tokens import digest, looks_like_token, new_token
from ..validation import clean_text
from .models import QuestionType, Survey, SurveyLink, SurveyResponse, SurveyRound
from .signals import survey_links_issued

SCALE = (1, 2, 3, 4, 5)
MAX_TEXT = 2000
# Limits of the question editor: a survey people finish in a few minutes, questions that fit on a phone's screen.
MAX_QUESTIONS = 30
MAX_QUESTION_TEXT = 300
MAX_CHOICES = 10
MAX_CHOICE_TEXT = 100

# The usual satisfaction survey of projects co-financed by the European Social Fund (questions in Polish, as the
# participants answer them). Where an organiser starts editing.
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


class QuestionsFrozen(InvalidState):
    code = "questions_frozen"
    default_message = _l("The questions can no longer be changed: links to the survey have already been sent, and "
                         "every answer must be to the same questions.")


def survey_of(event: Event) -> Survey | None:
    return db.session.execute(select(Survey).where(Survey.event_id == event.id)).scalar_one_or_none()


def questions_of(survey: Survey | None) -> list[dict]:
    """The survey's questions, or the default ones for a meeting whose survey nobody has edited or sent yet."""
    return survey.questions if survey is not None else DEFAULT_QUESTIONS


def is_frozen(survey: Survey | None) -> bool:
    """Whether a link has gone out: from then on every answer must be to the same questions."""
    return survey is not None and survey.sent_at is not None


def asked_before(survey: Survey, question: dict) -> bool:
    """Whether the question is in the pre-test too (only a pre/post survey has one)."""
    return bool(survey.pre_post and question.get("prepost"))


def questions_for(survey: Survey, round_: SurveyRound) -> list[dict]:
    """The questions one round asks: after the meeting all of them, before it only those of the pre/post test."""
    if round_ is SurveyRound.PRE:
        return [q for q in survey.questions if asked_before(survey, q)]
    return list(survey.questions)


# --- editing the questions ------------------------------------------------------------------------------------

def _choices_of(raw) -> list[str]:
    if isinstance(raw, str):
        raw = raw.splitlines()
    if not isinstance(raw, list):
        return []
    return [c.strip() for c in raw if isinstance(c, str) and c.strip()]


def clean_questions(rows: list[dict], pre_post: bool) -> list[dict]:
    """The organiser's questions in the stored shape, numbered q1, q2, … in their order; every error at once.

    A row is {"text", "type", "choices" (a list, or text with one answer per line), "required", "prepost"}.
    Error keys: `questions` (the list as a whole), `questions.<i>.text|type|choices`, `pre_post`.
    """
    errors: dict = {}
    if not rows:
        errors["questions"] = _l("The survey needs at least one question.")
    elif len(rows) > MAX_QUESTIONS:
        errors["questions"] = _l("A survey may have at most %(limit)d questions.", limit=MAX_QUESTIONS)
    cleaned = []
    for index, row in enumerate(rows):
        key = f"questions.{index}"
        text = clean_text(row.get("text"), max_length=MAX_QUESTION_TEXT, field=f"{key}.text", errors=errors)
        if not text and f"{key}.text" not in errors:
            errors[f"{key}.text"] = _l("Type the question.")
        try:
            kind = QuestionType(row.get("type"))
        except ValueError:
            errors[f"{key}.type"] = _l("Choose the type of the question.")
            kind = None
        question = {"id": f"q{index + 1}", "type": kind.value if kind else "", "text": text,
                    "required": bool(row.get("required")), "prepost": bool(row.get("prepost"))}
        if kind is QuestionType.CHOICE:
            choices = _choices_of(row.get("choices"))
            problem = None
            if len(choices) < 2:
                problem = _l("A single-choice question needs at least 2 answers, one per line.")
            elif len(choices) > MAX_CHOICES:
                problem = _l("A single-choice question may have at most %(limit)d answers.", limit=MAX_CHOICES)
            elif any(len(c) > MAX_CHOICE_TEXT for c in choices):
                problem = _l("Each answer may have at most %(limit)d characters.", limit=MAX_CHOICE_TEXT)
            elif len(set(choices)) < len(choices):
                problem = _l("Each answer may appear only once.")
            else:
                for number, choice in enumerate(choices):
                    choice_errors: dict = {}
                    clean_text(choice, max_length=MAX_CHOICE_TEXT, field="choice", errors=choice_errors)
                    if choice_errors:
                        problem = choice_errors["choice"]
                        break
            if problem is not None:
                errors[f"{key}.choices"] = problem
            question["choices"] = choices
        cleaned.append(question)
    if pre_post and rows and not any(q["prepost"] for q in cleaned):
        errors["pre_post"] = _l("Mark at least one question to be asked both before and after the meeting, or turn "
                                "the pre/post test off.")
    if errors:
        raise ValidationFailed(fields=errors)
    return cleaned


def save_questions(user: User, event: Event, rows: list[dict], *, pre_post: bool) -> Survey:
    """Replace the survey's questions (and whether it is a pre/post test); refused with QuestionsFrozen once any
    link of the survey has gone out."""
    require_manage(user, event)
    lock_event(event.id)  # the same lock send_survey takes: no link goes out between the check and the change
    survey = survey_of(event)
    if is_frozen(survey):
        raise QuestionsFrozen()
    questions = clean_questions(rows, pre_post)
    if survey is None:
        survey = Survey(event_id=event.id, questions=questions)
        db.session.add(survey)
    survey.questions, survey.pre_post = questions, pre_post
    db.session.commit()
    return survey


# --- sending --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Recipient:
    participant_id: int
    name: str
    institution: str
    email: str


def _recipients(event: Event, survey: Survey | None, round_: SurveyRound) -> list[Recipient]:
    """Who would get a link of this round now: confirmed participants (pre) or those present on some day (post),
    with a contact address and without a link of this round yet."""
    if round_ is SurveyRound.PRE:
        eligible = (select(Participant.id).join(Registration)
                    .where(Registration.event_id == event.id,
                           Registration.status == RegistrationStatus.CONFIRMED.value))
    else:
        eligible = select(Presence.participant_id).where(Presence.event_id == event.id, Presence.present.is_(True))
    stmt = (select(Participant.id, Participant.name, Registration.institution, Registration.email)
            .join(Registration).where(Participant.id.in_(eligible), Registration.email != "")
            .order_by(Registration.institution, Participant.ordinal, Participant.id))
    if survey is not None:
        have = select(SurveyLink.participant_id).where(SurveyLink.survey_id == survey.id,
                                                       SurveyLink.round == round_.value,
                                                       SurveyLink.participant_id.is_not(None))
        stmt = stmt.where(Participant.id.not_in(have))
    return [Recipient(*row) for row in db.session.execute(stmt).all()]


def pre_test_refusal(event: Event, survey: Survey | None, now=None):
    """Why the pre-test cannot be sent now (a message), or None."""
    if survey is None or not survey.pre_post:
        return _l("This survey has no pre-test: turn the pre/post test on in the questions first.")
    if event.starts_at <= (now or utcnow()):
        return _l("The pre-test can only be sent before the meeting starts.")
    return None


def pre_test_recipients(event: Event) -> list[Recipient]:
    """Who would get a pre-test link now (for the confirmation page)."""
    return _recipients(event, survey_of(event), SurveyRound.PRE)


def survey_refusal(event: Event, now=None):
    """Why the evaluation (the post round) cannot be sent now (a message), or None."""
    if event.ends_at > (now or utcnow()):
        return _l("The survey is sent after the meeting has ended.")
    return None


def survey_recipients(event: Event) -> list[Recipient]:
    """Who would get a link to the evaluation now (for the confirmation page): present, without a link yet."""
    return _recipients(event, survey_of(event), SurveyRound.POST)


def _issue(event: Event, survey: Survey, round_: SurveyRound, now) -> int:
    issued = []
    for person in _recipients(event, survey, round_):
        token = new_token()
        db.session.add(SurveyLink(survey_id=survey.id, participant_id=person.participant_id, round=round_.value,
                                  digest=digest(token)))
        issued.append((person.email, person.name, person.institution,
                       links.absolute("surveys.answer", f"/s/{token}", token=token), person.participant_id))
    db.session.flush()
    if issued:
        survey_links_issued.send(event, links=issued, survey_round=round_)
        survey.sent_at = survey.sent_at or now
    db.session.commit()
    return len(issued)


def send_survey(user: User, event: Event, now=None) -> int:
    """Send a link to the evaluation (the post round) to each person present on some day who has none yet; how many
    links went out. Only after the meeting has ended; the default questions if nobody edited them."""
    require_manage(user, event)
    now = now or utcnow()
    refusal = survey_refusal(event, now)
    if refusal is not None:
        raise InvalidState(refusal)
    lock_event(event.id)  # a double click waits here, then finds everyone already has a link
    survey = survey_of(event)
    if survey is None:
        survey = Survey(event_id=event.id, questions=DEFAULT_QUESTIONS)
        db.session.add(survey)
        db.session.flush()
    return _issue(event, survey, SurveyRound.POST, now)


def send_pre_test(user: User, event: Event, now=None) -> int:
    """Send a pre-test link to each participant of a confirmed declaration who has none yet; how many went out.
    Only for a pre/post survey, and only before the meeting starts."""
    require_manage(user, event)
    now = now or utcnow()
    lock_event(event.id)
    survey = survey_of(event)
    refusal = pre_test_refusal(event, survey, now)
    if refusal is not None:
        raise InvalidState(refusal)
    return _issue(event, survey, SurveyRound.PRE, now)


@dataclass
class RoundCounts:
    sent: int = 0
    answered: int = 0


def round_counts(survey: Survey | None) -> dict[SurveyRound, RoundCounts]:
    """Links sent and answers given, per round (two aggregate queries)."""
    counts = {round_: RoundCounts() for round_ in SurveyRound}
    if survey is None:
        return counts
    for round_, sent in db.session.execute(select(SurveyLink.round, func.count(SurveyLink.id))
                                           .where(SurveyLink.survey_id == survey.id).group_by(SurveyLink.round)):
        counts[SurveyRound(round_)].sent = sent
    for round_, answered in db.session.execute(
            select(SurveyResponse.round, func.count(SurveyResponse.id))
            .where(SurveyResponse.survey_id == survey.id).group_by(SurveyResponse.round)):
        counts[SurveyRound(round_)].answered = answered
    return counts


# --- answering ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OpenedLink:
    survey: Survey
    event: Event
    round: SurveyRound
    used: bool

    @property
    def questions(self) -> list[dict]:
        return questions_for(self.survey, self.round)


def _link(token: str) -> SurveyLink:
    found = None
    if looks_like_token(token):
        found = db.session.execute(select(SurveyLink).where(SurveyLink.digest == digest(token))).scalar_one_or_none()
    if found is None:
        raise NotFound()
    return found


def open_survey(token: str) -> OpenedLink:
    """The survey behind a link, its meeting, the link's round, and whether the link was used already."""
    return _opened(_link(token))


def _opened(link: SurveyLink) -> OpenedLink:
    survey = db.session.get(Survey, link.survey_id)
    return OpenedLink(survey, db.session.get(Event, survey.event_id), SurveyRound(link.round), link.used)


def clean_answers(questions: list[dict], form: dict) -> dict:
    """The answers to these questions only (anything else sent is ignored); every error at once."""
    errors: dict = {}
    answers = {}
    for question in questions:
        raw = form.get(question["id"], "")
        raw = raw.strip() if isinstance(raw, str) else ""
        if not raw:
            if question.get("required"):
                errors[question["id"]] = _l("Please answer this question.")
            continue
        if question["type"] == QuestionType.SCALE.value:
            if raw not in {str(n) for n in SCALE}:
                errors[question["id"]] = _l("Choose a mark from 1 to 5.")
            else:
                answers[question["id"]] = int(raw)
        elif question["type"] == QuestionType.CHOICE.value:
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
    """Store one anonymous set of answers to the link's round and spend the link, once: a second submit is
    AlreadyAnswered. A pre-test link answers the pre-test's questions only."""
    link = _link(token)
    opened = _opened(link)
    answers = clean_answers(opened.questions, form)
    spent = db.session.execute(update(SurveyLink).where(SurveyLink.id == link.id, SurveyLink.used.is_(False))
                               .values(used=True)).rowcount
    if not spent:
        db.session.rollback()
        raise AlreadyAnswered()
    db.session.add(SurveyResponse(survey_id=opened.survey.id, round=opened.round.value, answers=answers,
                                  day=to_local(now or utcnow(), opened.event.timezone).date().isoformat()))
    db.session.commit()


# --- results --------------------------------------------------------------------------------------------------

@dataclass
class RoundResult:
    counts: dict = field(default_factory=dict)   # mark or choice -> how many
    mean: float | None = None
    texts: list[str] = field(default_factory=list)
    answered: int = 0


@dataclass
class QuestionResult:
    question: dict
    post: RoundResult
    pre: RoundResult | None = None   # only for a question of a pre/post test

    @property
    def change(self) -> float | None:
        """After minus before, of the means of a scale question (groups, not people: answers are not paired)."""
        if self.pre is None or self.pre.mean is None or self.post.mean is None:
            return None
        return round(self.post.mean - self.pre.mean, 2)


def _round_result(question: dict, responses: list[dict]) -> RoundResult:
    result = RoundResult()
    values = [r[question["id"]] for r in responses if question["id"] in r]
    result.answered = len(values)
    if question["type"] == QuestionType.SCALE.value:
        result.counts = {mark: values.count(mark) for mark in SCALE}
        result.mean = round(sum(values) / len(values), 2) if values else None
    elif question["type"] == QuestionType.CHOICE.value:
        result.counts = {choice: values.count(choice) for choice in question["choices"]}
    else:
        result.texts = [v for v in values if v]
    return result


def _responses(survey: Survey) -> list[SurveyResponse]:
    """Every answer set, pre-test first, then by day; within a day in an order that says nothing about who answered
    first (by the answers themselves), so no list can be laid beside the e-mail log."""
    rows = db.session.execute(select(SurveyResponse).where(SurveyResponse.survey_id == survey.id)).scalars().all()
    order = {round_.value: index for index, round_ in enumerate(SurveyRound)}
    return sorted(rows, key=lambda r: (order.get(r.round, 9), r.day,
                                       json.dumps(r.answers, sort_keys=True, ensure_ascii=False)))


def results(survey: Survey) -> list[QuestionResult]:
    """Per question: counts and mean, or the texts, after the meeting and (pre/post questions) before it."""
    responses = _responses(survey)
    before = [r.answers for r in responses if r.round == SurveyRound.PRE.value]
    after = [r.answers for r in responses if r.round == SurveyRound.POST.value]
    return [QuestionResult(question, _round_result(question, after),
                           _round_result(question, before) if asked_before(survey, question) else None)
            for question in survey.questions]


def responses_table(survey: Survey) -> tuple[list[str], list[list]]:
    """Every answer set as a row (anonymous: no names, links or times): its round and day, one column per
    question."""
    header = [_l("Round"), _l("Day"), *[q["text"] for q in survey.questions]]
    rows = [[str(SurveyRound(r.round).label), r.day, *[r.answers.get(q["id"], "") for q in survey.questions]]
            for r in _responses(survey)]
    return [str(h) for h in header], rows
