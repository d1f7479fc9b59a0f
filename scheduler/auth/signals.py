"""What happens to accounts, announced for whoever listens (the notifications feature, in create_app)."""
from __future__ import annotations

from blinker import Namespace

signals = Namespace()

#: A one-time link to set a password was issued, before the commit. Sender: the user.
#: kwargs: purpose (AccountLinkPurpose), link (the absolute URL: only the e-mail carries it), expires_at,
#: invited_by (the inviting User, for invitations; None for a reset). A receiver plans the e-mail.
account_link_issued = signals.signal("account-link-issued")
