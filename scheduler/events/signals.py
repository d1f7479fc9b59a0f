"""What happens to meetings, announced for whoever listens (the notifications feature, in create_app).

Sent inside the transaction that made the change, before its commit, with the
meeting as sender; receivers only add rows to that transaction.
"""
from __future__ import annotations

from blinker import Namespace

signals = Namespace()

#: A published meeting's time or place changed (SEQUENCE already raised). kwargs: changed_fields (list[str]).
meeting_changed = signals.signal("meeting-changed")

#: A published meeting was cancelled (SEQUENCE already raised).
meeting_cancelled = signals.signal("meeting-cancelled")
