"""What happens to invitations, announced for whoever listens (the notifications feature, in create_app)."""
from __future__ import annotations

from blinker import Namespace

signals = Namespace()

#: The organiser asked for a meeting's invitations to go out, under the meeting's lock, before the commit.
#: Sender: the meeting. kwargs: invitations (the active ones, in order), only_unsent (bool).
#: A receiver plans the e-mails and returns how many it queued now.
invitations_requested = signals.signal("invitations-requested")
