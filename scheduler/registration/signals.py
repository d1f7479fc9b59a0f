"""What happens to declarations, announced for whoever listens (the notifications feature, in create_app).

Each signal is sent inside the transaction that made the change, before its
commit, with the declaration as sender. A receiver may only add rows to that
transaction (an outbox row); it must not commit, render or talk to a server.
"""
from __future__ import annotations

from blinker import Namespace

signals = Namespace()

#: A new (or re-opened) declaration. kwargs: waiting_position (int | None, when waitlisted).
declaration_created = signals.signal("declaration-created")

#: A declaration's status changed (accepted, waitlisted, rejected, promoted, withdrawn).
#: kwargs: previous (the status before, a RegistrationStatus value), waiting_position (int | None).
declaration_status_changed = signals.signal("declaration-status-changed")

#: The organiser replaced the declaration's manage link; the declarant should get the new one.
manage_link_replaced = signals.signal("manage-link-replaced")
