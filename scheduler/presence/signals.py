"""What happens to certificates, announced for whoever listens (the notifications feature, in create_app)."""
from __future__ import annotations

from blinker import Namespace

signals = Namespace()

#: The organiser chose to e-mail the meeting's certificates, inside the transaction (under the issuing lock).
#: Sender: the meeting. kwargs: batches, a list of certificates.MailBatch (one per declaration: its contact's
#: address and language, and the certificates of its participants not e-mailed before). A receiver plans one
#: e-mail per batch, carrying the certificates' ids (the PDFs are made when it is sent).
certificates_to_be_mailed = signals.signal("certificates-to-be-mailed")

#: Asked rather than announced (as Indico asks its signals for values): how far the e-mail carrying each of the
#: meeting's certificates got. Sender: the meeting. A receiver (the keeper of the outbox) returns
#: {certificate id: status}, the status an enum member with a `label`, for every certificate e-mailed or on its way.
certificate_mail_states = signals.signal("certificate-mail-states")
