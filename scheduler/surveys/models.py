from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from ..database import UTCDateTime, utcnow
from ..extensions import db


class SurveyRound(str, enum.Enum):
    """When a survey's links go out: before the meeting (the pre-test of a training) or after it."""

    PRE = "pre"
    POST = "post"

    @property
    def label(self):
        return ROUND_LABELS[self]


ROUND_LABELS = {
    SurveyRound.PRE: _l("Before the meeting (pre-test)"),
    SurveyRound.POST: _l("After the meeting"),
}


class QuestionType(str, enum.Enum):
    SCALE = "scale"
    CHOICE = "choice"
    TEXT = "text"

    @property
    def label(self):
        return QUESTION_TYPE_LABELS[self]


QUESTION_TYPE_LABELS = {
    QuestionType.SCALE: _l("Scale from 1 to 5"),
    QuestionType.CHOICE: _l("Single choice"),
    QuestionType.TEXT: _l("Open answer (text)"),
}


class Survey(db.Model):
    """A meeting's evaluation survey: its questions, whether it is a pre/post test, when its first links went out."""

    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), unique=True)
    # [{"id": "q1", "type": QuestionType, "text": "...", "choices": [...], "required": bool, "prepost": bool}];
    # "prepost": asked in the pre-test too (when pre_post is on). Frozen once a link went out (sent_at).
    questions: Mapped[list] = mapped_column(JSON)
    pre_post: Mapped[bool] = mapped_column(default=False, server_default=false())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SurveyLink(db.Model):
    """One person's one-time link for one round (only its digest). Nothing ties it to the answer given through it."""

    __tablename__ = "survey_links"
    __table_args__ = (UniqueConstraint("participant_id", "round", name="uq_survey_links_participant_round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participants.id", ondelete="SET NULL"))
    round: Mapped[str] = mapped_column(String(4), default=SurveyRound.POST.value, server_default="post")
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    used: Mapped[bool] = mapped_column(default=False)


class SurveyResponse(db.Model):
    """One anonymous set of answers: its round, no link, no person, no exact time (the day only)."""

    __tablename__ = "survey_responses"
    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    round: Mapped[str] = mapped_column(String(4), default=SurveyRound.POST.value, server_default="post")
    answers: Mapped[dict] = mapped_column(JSON)
    day: Mapped[str] = mapped_column(String(10))
