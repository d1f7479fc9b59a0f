"""What happens to surveys, announced for whoever listens (the notifications feature, in create_app)."""
from __future__ import annotations

from blinker import Namespace

signals = Namespace()

#: Survey links of one round were made, before the commit. Sender: the meeting. kwargs: survey_round
#: (SurveyRound: PRE to confirmed participants before the meeting, POST to those present after it) and links, a list
#: of (recipient e-mail, participant's name, institution, link URL, participant id). A receiver plans one e-mail
#: per link; the link is only in that e-mail (the database keeps its digest).
survey_links_issued = signals.signal("survey-links-issued")
