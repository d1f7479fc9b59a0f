"""How long until (or since) a deadline, in words: "3 days left", "the deadline passed 5 hours ago".

Server-rendered, so a page says it without JavaScript. Polish agrees the verb
with the number ("został 1 dzień", "zostały 3 dni", "zostało 5 dni"), so each
phrase is one ngettext entry with the number in it, never a number pasted
into a fixed sentence.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from flask_babel import ngettext

from .database import utcnow

# Whole days only from two days on: "1 day left" would hide that 47 hours remain.
_DAYS_FROM = timedelta(days=2)
_HOURS_FROM = timedelta(hours=1)


@dataclass(frozen=True)
class TimeLeft:
    """A deadline seen from `now`: whether it passed, and the distance in words."""

    passed: bool
    words: str

    def __str__(self) -> str:
        return self.words


def time_left(deadline: datetime, now: datetime | None = None) -> TimeLeft:
    """The time until `deadline` ("3 days left") or since it ("the deadline passed 2 days ago").

    Rounded down to whole days (two days or more), hours (one hour or more) or minutes.
    """
    now = now or utcnow()
    distance = deadline - now
    passed = distance < timedelta(0)
    distance = abs(distance)
    days, hours = distance // timedelta(days=1), distance // timedelta(hours=1)
    minutes = distance // timedelta(minutes=1)
    if not passed:
        if distance >= _DAYS_FROM:
            words = ngettext("%(num)d day left", "%(num)d days left", days)
        elif distance >= _HOURS_FROM:
            words = ngettext("%(num)d hour left", "%(num)d hours left", hours)
        elif minutes:
            words = ngettext("%(num)d minute left", "%(num)d minutes left", minutes)
        else:
            words = _("less than a minute left")
    elif distance >= _DAYS_FROM:
        words = ngettext("the deadline passed %(num)d day ago", "the deadline passed %(num)d days ago", days)
    elif distance >= _HOURS_FROM:
        words = ngettext("the deadline passed %(num)d hour ago", "the deadline passed %(num)d hours ago", hours)
    elif minutes:
        words = ngettext("the deadline passed %(num)d minute ago", "the deadline passed %(num)d minutes ago", minutes)
    else:
        words = _("the deadline has just passed")
    return TimeLeft(passed, words)
