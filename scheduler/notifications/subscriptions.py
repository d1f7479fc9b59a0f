"""What the notifications feature listens to: the one list, connected by `create_app`.

Each receiver runs inside the transaction of the change it hears about and
only writes compact outbox rows (one statement per announcement); rendering
and sending happen in the dispatcher, after the commit, outside any lock.
Connecting is explicit (`subscribe`), never a side effect of an import, and
connecting twice (several apps in one process, as in tests) changes nothing.
"""
from __future__ import annotations

from flask import Flask

from .. import seats
from ..auth import signals as account_signals
from ..events import signals as event_signals
from ..invitations import signals as invitation_signals
from ..presence import signals as presence_signals
from ..registration import signals as registration_signals
from ..registration.models import RegistrationStatus
from ..surveys import signals as survey_signals
from . import messages, services, wanted
from .link_mail import plan_account_link, plan_survey_links
from .dispatcher import register_check


def _declaration_created(registration, *, waiting_position=None, **_):
    messages.plan(messages.declaration_received(registration, waiting_position))


def _declaration_status_changed(registration, *, previous, waiting_position=None, **_):
    messages.plan(messages.declaration_status_changed(registration, previous, waiting_position))


def _promoted(registration, **_):
    messages.plan(messages.declaration_status_changed(registration, RegistrationStatus.WAITLISTED.value, None))


def _manage_link_replaced(registration, **_):
    messages.plan(messages.manage_link_replaced(registration))


def _meeting_changed(event, *, changed_fields, **_):
    messages.plan(messages.meeting_changed(event, changed_fields))


def _meeting_cancelled(event, **_):
    messages.plan(messages.meeting_cancelled(event))


SUBSCRIPTIONS = (
    (registration_signals.declaration_created, _declaration_created),
    (registration_signals.declaration_status_changed, _declaration_status_changed),
    (registration_signals.manage_link_replaced, _manage_link_replaced),
    (seats.promoted_from_waiting_list, _promoted),
    (event_signals.meeting_changed, _meeting_changed),
    (event_signals.meeting_cancelled, _meeting_cancelled),
    (invitation_signals.invitations_requested, services.plan_invitations),
    (account_signals.account_link_issued, plan_account_link),
    (survey_signals.survey_links_issued, plan_survey_links),
    (presence_signals.certificates_to_be_mailed, messages.plan_certificates_mail),
    (presence_signals.certificate_mail_states, messages.certificate_mail_states),
)


def subscribe(app: Flask) -> None:
    """Connect every receiver above, and the dispatcher's pre-send check."""
    for signal, receiver in SUBSCRIPTIONS:
        signal.connect(receiver, weak=False)
    register_check("", wanted.why_not)
