"""Property-based test of the whole JSON API against its own OpenAPI document (schemathesis).

schemathesis reads the document the app serves at /api/v1/openapi.json,
generates requests for every operation from it (valid ones and ones that
break it in one place: a wrong type, a missing field, no token, a wrong
content type, an undocumented method) and sends them to the app in-process
over WSGI, on the real test database. Every answer must hold up:

* never a 5xx (`not_a_server_error`);
* a status the operation documents (`status_code_conformance`);
* JSON of the documented shape (`content_type_conformance`,
  `response_schema_conformance`, `response_headers_conformance`);
* a request the document forbids is refused with a 4xx, not carried out
  (`negative_data_rejection`), also without a required header
  (`missing_required_header`);
* a route that wants a token answers 401 without one (`ignored_auth`);
* an undocumented method is 405 with an Allow header (`unsupported_method`,
  `allow_header_conformance`).

Left out, because they flag behaviour the API promises on purpose:

* `positive_data_acceptance` expects every schema-valid request to succeed;
  the domain refuses some with 422 or 409 for rules a JSON Schema cannot
  express: the end after the start, the deadline before it, consent to RODO
  required, a full meeting, a second declaration, an e-mail address on a
  reserved domain, an export for an address nobody used.
* `use_after_free` expects a resource to be gone after DELETE; a withdrawn
  declaration stays readable through its manage token (status `withdrawn`).
* `ensure_resource_availability` expects what one call created to be found
  by the next; a new meeting is a draft, which the public view does not find
  until it is published.

The database holds an organiser (whose token the requests carry), meetings in
every state a route tells apart (open, by invitation, moderated, draft,
cancelled, past its deadline, another organisation's) with invitations and
declarations. Most generated ids and tokens would only ever meet a 404, so
`_aim` points a share of the cases at those rows: about half of the generated
cases and most of schemathesis' boundary ("coverage") cases, whose bodies
then reach the parser and the domain instead of stopping at the missing
meeting. Routes that change a row for good (cancel, publish, PATCH, erase)
get rows of their own, so the others keep meeting an open meeting.

Generation is derandomized (seeded per operation) and bounded (MAX_EXAMPLES
per operation and mode), so CI runs the same cases every time. On a failure,
schemathesis prints the failed check, the answer and a curl command that
repeats the request.
"""
from __future__ import annotations

import itertools
import os
import random
import subprocess
import sys
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
import schemathesis
from hypothesis import strategies as st
from sqlalchemy import update
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import TestPhase

from scheduler import create_app
from scheduler.api.openapi import build_document
from scheduler.auth.models import ApiToken
from scheduler.auth.services import issue_api_token
from scheduler.events.services import cancel_event
from scheduler.extensions import db
from scheduler.invitations.services import revoke_invitation
from scheduler.registration.services import declare, withdraw
from scheduler.tokens import digest, new_token

from . import factories as make
from .conftest import _empty_tables

# Bounded so that both backends together take well under a minute and a half; raise it (and change the seed)
# locally to search harder: SCHEMATHESIS_MAX_EXAMPLES=500 SCHEMATHESIS_SEED=7 pytest tests/test_schemathesis.py
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))
SEED = int(os.environ.get("SCHEMATHESIS_SEED", "20190417"))
# Why each is left out: see the module's docstring.
EXCLUDED_CHECKS = ("positive_data_acceptance", "use_after_free", "ensure_resource_availability")
# schemathesis builds its boundary cases, token included, when the tests are collected: the organiser's
# token is fixed now, and `_world()` gives the organiser's token record its digest.
ORGANISER_TOKEN = new_token()
# Operations whose generated body should sometimes satisfy the rules a schema cannot express.
DECLARING = {"declareOpen", "declareByInvitation"}
PERSONAL_DATA = {"exportPersonalData", "erasePersonalData"}
MEETING = {"createEvent", "updateEvent"}


def _config() -> SchemathesisConfig:
    return SchemathesisConfig.from_dict({
        "seed": SEED,
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        # The stateful phase runs only from schemathesis' own runner (CLI), not from pytest.
        "phases": {"stateful": {"enabled": False}},
        "checks": {name: {"enabled": False} for name in EXCLUDED_CHECKS},
        # Sent on every request, except in cases that leave it out or spoil it on purpose (those expect 401).
        "auth": {"openapi": {"bearer": {"bearer": ORGANISER_TOKEN}}},
    })


def _world() -> dict:
    """Rows for the requests to hit, and for each operation the path parameters that reach them."""
    organiser = make.user()
    stranger = make.user(make.organisation("Mazowieckie Centrum Polityki Społecznej", "MCPS"))

    open_meeting = make.event(organiser, capacity=3)
    with_statements = make.event(organiser, statements=["Zapoznałem się z regulaminem."])
    invite_only = make.event(organiser, invite_only=True)
    moderated = make.event(organiser, moderated=True, capacity=2)
    draft = make.event(organiser, published=False)
    cancelled = make.event(organiser)
    closed = make.event(organiser)
    theirs = make.event(stranger)
    # Rows only the routes that change them for good get.
    to_cancel = make.event(organiser)
    to_patch = make.event(organiser, capacity=2)
    to_publish = make.event(organiser, published=False)

    invitations = make.invitations(organiser, invite_only, 4) + make.invitations(organiser, open_meeting, 1)
    revoke_invitation(organiser, invitations[-2])
    confirmed = declare(open_meeting.id, make.declaration(seats=2))
    waitlisted = declare(open_meeting.id, make.declaration(seats=2))
    invited = declare(invite_only.id, make.declaration(), invitation_token=invitations[0].token)
    pending = [declare(moderated.id, make.declaration()) for _ in range(3)]
    withdrawn = declare(moderated.id, make.declaration())
    withdraw(withdrawn.manage_token)
    in_closed = declare(closed.id, make.declaration())
    in_theirs = declare(theirs.id, make.declaration())
    declare(to_cancel.id, make.declaration())
    patched = [declare(to_patch.id, make.declaration(seats=2)) for _ in range(2)]
    to_withdraw = [declare(open_meeting.id, make.declaration()) for _ in range(2)]
    to_erase = declare(open_meeting.id, make.declaration())
    make.close_declarations(closed)
    cancel_event(organiser, cancelled)

    _token, record = issue_api_token(organiser)
    record.digest = digest(ORGANISER_TOKEN)
    # Tokens for DELETE /tokens/{token_id} to revoke: one of the organiser's own, one of another organiser.
    _token, spare = issue_api_token(organiser, "spare")
    _token, strangers = issue_api_token(stranger)
    db.session.commit()

    def ids(*events):
        return [{"event_id": event.id} for event in events]

    def pairs(*registrations):
        return [{"event_id": r.event_id, "registration_id": r.id} for r in registrations]

    everyone = (open_meeting, with_statements, invite_only, moderated, draft, cancelled, closed, theirs)
    keys = ("before_deadline:P3D", "before_meeting:P1D", "deadline_summary:PT0S", "before_deadline:P2D")
    declarations = (confirmed, waitlisted, invited, *pending, withdrawn, in_closed, in_theirs, *to_withdraw)
    by_operation = {
        "cancelEvent": ids(to_cancel, cancelled, draft, theirs),
        "publishEvent": ids(to_publish, open_meeting, cancelled, theirs),
        "updateEvent": ids(to_patch, cancelled, theirs),
        "erasePersonalData": ids(open_meeting, theirs),
        "acceptRegistration": pairs(*pending, confirmed, withdrawn, in_theirs),
        "rejectRegistration": pairs(*pending, waitlisted, in_closed, in_theirs),
        "withdrawRegistration": pairs(*to_withdraw, withdrawn, in_closed, in_theirs),
    }
    by_parameters = {
        ("event_id",): ids(*everyone),
        ("event_id", "key"): [{"event_id": event.id, "key": key}
                              for event in (open_meeting, moderated, cancelled, theirs) for key in keys],
        ("token",): [{"token": invitation.token} for invitation in invitations],
        ("manage_token",): [{"manage_token": r.manage_token} for r in declarations],
        ("token_id",): [{"token_id": spare.id}, {"token_id": strangers.id}],
    }
    return {
        "organiser_token_id": record.id,
        "by_operation": by_operation,
        "by_parameters": by_parameters,
        "emails": {"exportPersonalData": [r.email for r in (confirmed, waitlisted, invited, in_theirs)]
                   + [invitations[1].email],
                   "erasePersonalData": [to_erase.email, in_theirs.email]},
    }


# Filled per database backend by the `api_app` fixture: the app under test and `_world()`'s rows.
WORLD: dict = {}


def _app_under_test(environ, start_response):
    """The WSGI app schemathesis sends every request to (also its own probes): the current backend's app."""
    return WORLD["app"](environ, start_response)


@pytest.fixture(scope="module")
def api_app(database_url):
    """The app on the test database with the rows of `_world()`: one per backend, for all operations."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    # The rows are made in an app context of their own; requests then run as on a server, each in its own.
    with app.app_context():
        WORLD.clear()
        WORLD.update(_world(), app=app, rounds=defaultdict(itertools.count))
    yield app
    WORLD.clear()
    with app.app_context():
        db.session.remove()
        _empty_tables()
        db.session.remove()
        db.engine.dispose()


def _aim(case, rnd: random.Random, share: float):
    """Point `case` at real rows with probability `share`, where it is valid and the document allows it.

    A path or body made invalid on purpose stays as generated: that is what
    the case tests. Meetings get times in a possible order, declarations the
    consents the domain requires, RODO routes the e-mail address of someone
    the meeting knows.
    """
    meta = case.meta
    operation_id = case.operation.definition.raw.get("operationId")
    if case.path_parameters and not meta.is_negative_at(ParameterLocation.PATH) and rnd.random() < share:
        names = tuple(sorted(case.path_parameters))
        pool = WORLD["by_operation"].get(operation_id) or WORLD["by_parameters"][names]
        case.path_parameters = {**case.path_parameters, **rnd.choice(pool)}
    if isinstance(case.body, dict) and not meta.is_negative_at(ParameterLocation.BODY) and rnd.random() < share:
        if operation_id in MEETING:
            case.body = {**case.body, **_possible_times(case.body, rnd)}
        elif operation_id in DECLARING:
            case.body = {**case.body, "consents": {"rodo": True}}
        elif operation_id in PERSONAL_DATA:
            case.body = {**case.body, "email": rnd.choice(WORLD["emails"][operation_id])}
    return case


def _possible_times(body: dict, rnd: random.Random) -> dict:
    """Times in the order the domain wants (deadline, start, end), a known time zone and reminder offsets."""
    start = make.now().replace(microsecond=0) + timedelta(days=rnd.randint(2, 400), minutes=15 * rnd.randint(0, 95))
    changes = {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=rnd.randint(1, 30))).isoformat(),
               "declaration_deadline": (start - timedelta(hours=rnd.randint(1, 40))).isoformat()}
    if "timezone" in body:
        changes["timezone"] = rnd.choice(["Europe/Warsaw", "UTC", "America/Sao_Paulo"])
    if "reminders" in body:
        changes["reminders"] = {"before_deadline": ["P1D"], "before_meeting": ["PT2H", "P3D"]}
    return changes


# The document as the app builds it, loaded once; one test per operation and backend. (Not
# `schemathesis.pytest.from_fixture`: in schemathesis 4.32 it needs pytest's `Function._nodeid`, gone in pytest 9.2.)
schema = schemathesis.openapi.from_dict(build_document(), config=_config())
schema.app = _app_under_test


@schema.hook
def flatmap_case(context, case):
    # Hypothesis draws the choices, so they are part of the (derandomized, shrinkable) example.
    return st.randoms(use_true_random=False).map(lambda rnd: _aim(case, rnd, 0.5))


def _keep_the_organisers_token_valid() -> None:
    # DELETE /tokens/current (and /tokens/{id}) revoke the token every case is sent with; the next case
    # should still reach the route it tests rather than stop at 401.
    with WORLD["app"].app_context():
        db.session.execute(update(ApiToken).where(ApiToken.id == WORLD["organiser_token_id"]).values(revoked_at=None))
        db.session.commit()


@schema.parametrize()
def test_api_answers_as_documented(case, api_app):
    _keep_the_organisers_token_valid()
    if case.meta.phase.name == TestPhase.COVERAGE:
        # Boundary cases are made when the tests are collected, before the rows exist: aim them now,
        # in a fixed order (they run in one), mostly at real rows.
        round_ = next(WORLD["rounds"][case.operation.label])
        _aim(case, random.Random(f"{case.operation.label} {round_}"), 0.8)
    case.call_and_validate()


# --- what the generated cases rely on (found by schemathesis, kept as plain tests) ---------------------------------

def _keywords(node, found: set) -> set:
    if isinstance(node, dict):
        found.update(key for key, value in node.items() if isinstance(value, (int, float)))
        for value in node.values():
            _keywords(value, found)
    elif isinstance(node, list):
        for value in node:
            _keywords(value, found)
    return found


def test_the_document_states_numeric_bounds_in_json_schema_words():
    # pydantic writes a bound placed after a validator as `ge`/`le`, which JSON Schema ignores: clients (and
    # schemathesis) then took 0 for a valid invitation id and a capacity of -5 for a valid one.
    document = build_document()
    assert _keywords(document, set()) & {"ge", "le", "gt", "lt"} == set()
    entered = document["components"]["schemas"]["EnteredDeclarationIn"]["properties"]["invitation_id"]
    assert (entered["minimum"], entered["maximum"]) == (1, 2_147_483_647)


def test_a_route_module_of_the_api_can_be_imported_first():
    # Route modules take the blueprint from views.py, which imports them all; imported on its own, events.py
    # used to meet a half-loaded registrations.py (and so did openapi.py, which this module imports first).
    code = "import scheduler.api.events; from scheduler.api.openapi import build_document; build_document()"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode == 0, result.stderr[-2000:]
