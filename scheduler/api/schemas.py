"""Pydantic models of what the JSON API takes and returns.

They parse requests (shape and types: strict, unknown fields refused) and
describe responses; the OpenAPI document is generated from these same
classes, so the document cannot drift from the parser. The domain functions
still check every rule (deadlines, capacity, text contents); these models
only guarantee they receive the types they expect.

Input models drop their `None` defaults from the JSON schema: an optional field
that is absent means "keep the current value" (or the domain's default), not
"null", and an explicit null is refused unless the field is nullable.
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, RootModel, StringConstraints
from pydantic_core import PydanticCustomError

from config import Config

from ..events.models import EventKind, EventStatus, InstitutionCategory
from ..registration.models import Channel, RegistrationStatus
from ..regions import Voivodeship
from ..timeutil import FIRST_YEAR, LAST_YEAR, LocalTimeError, supported_moment

# --- building blocks ---------------------------------------------------------

# Limits mirror the database columns and the domain's own limits, so a value
# that passes here is never cut short or refused for its length later.
MAX_CAPACITY = 100_000
MAX_STATEMENTS = 20
MAX_PARTICIPANTS = 1000  # the configured limit per declaration is checked by the domain


def _no_nul(value: str) -> str:
    # PostgreSQL cannot store NUL in text; refuse it here so no query ever sees one.
    if "\x00" in value:
        raise PydanticCustomError("text_nul", "Contains characters that are not allowed.")
    return value


def _single_line(value: str) -> str:
    # A line break in a name or an e-mail address could inject headers into the e-mails we send.
    if "\r" in value or "\n" in value:
        raise PydanticCustomError("text_line", "Must be a single line.")
    return _no_nul(value)


# The same rules as patterns, so the document says what the parser refuses.
SINGLE_LINE = r"^[^\x00\r\n]*$"
ANY_TEXT = r"^[^\x00]*$"


def _reasonable_moment(value: datetime) -> datetime:
    # The web forms' rule (timeutil.supported_moment): year 1 with +14:00 cannot even be converted to UTC.
    try:
        return supported_moment(value)
    except LocalTimeError:
        raise PydanticCustomError("datetime_range", "The date is out of range.") from None


def Text(max_length: int, *, min_length: int | None = None, multiline: bool = False,  # noqa: N802  (reads like a type)
         email: bool = False):
    extra = {"pattern": ANY_TEXT if multiline else SINGLE_LINE}
    if email:
        extra["format"] = "email"
    return Annotated[str, StringConstraints(max_length=max_length, min_length=min_length),
                     Field(json_schema_extra=extra), AfterValidator(_no_nul if multiline else _single_line)]


# AwareDatetime refuses naive times (error `timezone_aware`, which common.py names in plain words).
InMoment = Annotated[
    AwareDatetime,
    Field(description="ISO 8601 date and time WITH a UTC offset, e.g. 2019-04-17T09:00:00+02:00; "
                      f"between the years {FIRST_YEAR} and {LAST_YEAR} (in UTC)."),
    AfterValidator(_reasonable_moment),
]

Kind = Literal[tuple(k.value for k in EventKind)]
Category = Literal[tuple(c.value for c in InstitutionCategory)]
Language = Literal[tuple(Config.LANGUAGES)]
VoivodeshipValue = Literal[tuple(v.value for v in Voivodeship)]
def _whole_number(value):
    # JSON Schema counts 3.0 as an integer; so do we (3.5 is still refused).
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2 ** 53:
        return int(value)
    return value


Whole = BeforeValidator(_whole_number)
# The bounds come before `Whole`: after it, pydantic would write them into the document as `ge`/`le`,
# which JSON Schema ignores, instead of `minimum`/`maximum`.
Capacity = Annotated[int, Field(ge=1, le=MAX_CAPACITY), Whole]
# Integer keys fit PostgreSQL's integer and SQLite's int64; larger ids would fail in the driver, not 404.
ID_MAX = 2_147_483_647
DbId = Annotated[int, Field(ge=1, le=ID_MAX), Whole]
Quota = Annotated[int, Field(ge=0, le=MAX_CAPACITY), Whole]


def _drop_defaults(schema: dict) -> None:
    # `= None` marks "optional"; it is not a value the client may send (unless the type says null).
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None:
            del prop["default"]


class InputModel(BaseModel):
    """A request body: strict types, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_drop_defaults)

    def given(self, *, exclude: set[str] | None = None) -> dict:
        """Only the fields the client sent, as plain Python values for the domain."""
        return self.model_dump(exclude_unset=True, exclude=exclude)


class OutputModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- errors ------------------------------------------------------------------

class ErrorBody(OutputModel):
    code: str = Field(description="Stable machine-readable code, e.g. validation_failed, full, deadline_passed.")
    message: str = Field(description="Explanation in the user's language.")
    fields: dict[str, str] = Field(description="Message per field; nested fields as dotted paths like participants.0.name.")


class Error(OutputModel):
    error: ErrorBody


# --- tokens ------------------------------------------------------------------

class TokenIn(InputModel):
    email: Text(254, min_length=1)
    password: Text(1000, min_length=1, multiline=True)
    name: Text(100) = Field(None, description="What the token is for, shown in the list of tokens.")


class TokenOut(OutputModel):
    id: int = Field(description="Revoke it with DELETE /api/v1/tokens/{id}.")
    name: str
    token: str = Field(description="Send as `Authorization: Bearer <token>`.")
    expires_at: datetime


class TokenInfo(OutputModel):
    """A token as listed: never the token itself, which only its holder has."""

    id: int
    name: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None = Field(description="Within a minute.")
    revoked_at: datetime | None
    current: bool = Field(description="The token this request was sent with.")


class TokenList(OutputModel):
    tokens: list[TokenInfo]


# --- events ------------------------------------------------------------------

class Reminders(InputModel):
    before_deadline: Annotated[list[Text(20, min_length=2)], Field(max_length=5)] = Field(
        None, description="To invitees who have not answered, this long before the declaration deadline.")
    before_meeting: Annotated[list[Text(20, min_length=2)], Field(max_length=5)] = Field(
        None, description="To confirmed participants (with the invite again), this long before the start.")


class RemindersOut(OutputModel):
    before_deadline: list[str]
    before_meeting: list[str]


class EventPatch(InputModel):
    """Fields of a meeting; in PATCH every one is optional."""

    title: Text(300, min_length=1) = None
    kind: Kind = None
    description: Text(20_000, multiline=True) = None
    starts_at: InMoment = None
    ends_at: InMoment = None
    timezone: Text(64) = Field(None, description="IANA time zone of the meeting, e.g. Europe/Warsaw.")
    venue: Text(300) = None
    address: Text(300) = None
    room: Text(200) = None
    reference: Text(100) = Field(None, description="The letter's reference number, e.g. PF.0702.10.2019.LK.")
    contact_name: Text(200) = None
    contact_email: Text(254) = None
    contact_phone: Text(100) = None
    capacity: Capacity | None = Field(None, description="Seats (participants); null for no limit.")
    seats_per_institution: Capacity | None = Field(None, description="Participants one institution may name; null for no limit.")
    quotas: dict[Category, Quota] = Field(None, description="Institution category -> how many institutions of it may take part.")
    declaration_deadline: InMoment = None
    invite_only: bool = None
    moderated: bool = Field(None, description="The organiser accepts or rejects each declaration.")
    statements: Annotated[list[Text(2000, multiline=True)], Field(max_length=MAX_STATEMENTS)] = Field(
        None, description="Statements a declarant must accept.")
    scan_required: bool = Field(None, description="Declarations need a signed scan; these can only be made through the web form.")
    reminders: Reminders = Field(None, description="Reminder offsets as ISO 8601 durations (P3D, PT2H, PT5M); "
                                                   "defaults before_deadline [P3D, P1D], before_meeting [P1D].")


class EventIn(EventPatch):
    """A new meeting (a draft until published)."""

    title: Text(300, min_length=1)
    starts_at: InMoment
    ends_at: InMoment
    declaration_deadline: InMoment
    organisation_id: DbId = Field(None, description="Administrators only: the organisation the meeting belongs to "
                                                    "(default: the user's own).")


class OrganisationOut(OutputModel):
    id: int
    name: str
    short_name: str
    slug: str


class EventDetailsOut(OutputModel):
    """What everyone may see of a meeting; the organiser's and the invitee's views add to it."""

    id: int
    title: str
    kind: Kind
    description: str
    starts_at: datetime = Field(description="In the meeting's time zone, with its offset.")
    ends_at: datetime
    timezone: str
    venue: str
    address: str
    room: str
    reference: str
    contact_name: str
    contact_email: str
    contact_phone: str
    seats_per_institution: int | None
    declaration_deadline: datetime
    invite_only: bool
    moderated: bool
    status: Literal[tuple(s.value for s in EventStatus)]
    organisation: OrganisationOut
    public_url: str


class EventOut(EventDetailsOut):
    capacity: int | None
    quotas: dict[str, int]
    statements: list[str]
    scan_required: bool
    reminders: RemindersOut
    ical_uid: str
    ical_sequence: int
    seats_taken: int = Field(description="Participants in confirmed declarations.")
    seats_free: int | None = Field(description="Seats left; null when there is no capacity limit.")
    waitlisted: int = Field(description="Declarations on the waiting list.")
    pending: int = Field(description="Declarations awaiting the organiser's decision.")
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    cancelled_at: datetime | None


class EventList(OutputModel):
    events: list[EventOut]


class PublicEventOut(EventDetailsOut):
    """What an invitee sees of a meeting: its details and rules, no one else's data."""

    declarations_open: bool = Field(description="Published and before the declaration deadline.")
    seats_free: int | None = Field(description="Seats left; null when there is no capacity limit.")
    statements: list[str] = Field(description="Accept each in consents.statements, in this order.")
    scan_required: bool = Field(description="Declarations need a signed scan: use the web form (public_url).")


# --- invitations -------------------------------------------------------------

class InvitationIn(InputModel):
    institution: Text(300, min_length=1)
    category: Category
    email: Text(254, min_length=1, email=True)
    language: Language = Field(None, description="Language of the invitation e-mails; pl when absent.")
    voivodeship: VoivodeshipValue = Field(None, description="The institution's voivodeship; the organisation's "
                                                             "when absent.")


class InvitationsIn(RootModel[Annotated[list[InvitationIn], Field(min_length=1)]]):
    """A list of invitees; all are added or, if any is wrong, none."""

    model_config = ConfigDict(strict=True)


class InvitationOut(OutputModel):
    id: int
    institution: str
    category: str
    email: str
    language: str
    voivodeship: str | None = Field(None, description="The institution's voivodeship (its key, e.g. \"podkarpackie\").")
    url: str = Field(description="The invitee's personal link: it declares without logging in. Keep it secret.")
    status: Literal["new", "sent", "opened", "declared", "declined", "withdrawn", "rejected", "revoked"]
    created_at: datetime
    sent_at: datetime | None
    opened_at: datetime | None
    answered_at: datetime | None


class SkippedInvitation(OutputModel):
    institution: str
    category: str
    email: str
    language: str
    voivodeship: str | None = None
    reason: Literal["duplicate"] = Field(description="duplicate: this institution and e-mail were already invited.")


class InvitationsCreated(OutputModel):
    created: list[InvitationOut]
    skipped: list[SkippedInvitation]


class InvitationList(OutputModel):
    invitations: list[InvitationOut]


# --- declarations (registrations) --------------------------------------------

class ParticipantIn(InputModel):
    name: Text(200, min_length=1)
    position: Text(200) = None
    needs: Text(1000, multiline=True) = Field(None, description="Special needs (diet, access, interpreter).")


class ConsentsIn(InputModel):
    rodo: bool = Field(None, description="Consent to the processing of personal data (RODO/GDPR); must be true.")
    statements: Annotated[list[bool], Field(max_length=MAX_STATEMENTS)] = Field(
        None, description="One true per statement of the meeting, in its order.")


class DeclarationPatch(InputModel):
    """Fields of a declaration; in PATCH every one is optional."""

    institution: Text(300, min_length=1) = None
    category: Category = None
    contact_name: Text(200, min_length=1) = None
    email: Text(254, min_length=1, email=True) = None
    phone: Text(100) = None
    participants: Annotated[list[ParticipantIn], Field(min_length=1, max_length=MAX_PARTICIPANTS)] = None
    consents: ConsentsIn = None
    language: Language = None
    notes: Text(2000, multiline=True) = None


class DeclarationIn(DeclarationPatch):
    institution: Text(300, min_length=1)
    category: Category
    contact_name: Text(200, min_length=1)
    email: Text(254, min_length=1, email=True)
    participants: Annotated[list[ParticipantIn], Field(min_length=1, max_length=MAX_PARTICIPANTS)]


class EnteredDeclarationIn(DeclarationIn):
    """A declaration that came by post or as an e-mailed scan, entered by the organiser."""

    channel: Literal[Channel.POST.value, Channel.EMAIL_SCAN.value]
    counted_at: InMoment = Field(description="The date that counts: postmark or sending date, with offset.")
    invitation_id: DbId = Field(None, description="The invitation it answers, if any.")


class ParticipantOut(OutputModel):
    name: str
    position: str
    needs: str


class ConsentsOut(OutputModel):
    rodo: bool
    statements: list[bool]


class RegistrationOut(OutputModel):
    id: int
    event_id: int
    status: Literal[tuple(s.value for s in RegistrationStatus)]
    institution: str
    category: str
    contact_name: str
    email: str
    phone: str
    language: str
    notes: str
    participants: list[ParticipantOut]
    consents: ConsentsOut
    seats: int
    waiting_list_position: int | None = Field(description="1 for the first in the queue; null unless waitlisted.")
    channel: Literal[tuple(c.value for c in Channel)]
    counted_at: datetime = Field(description="The moment that counts for the deadline.")
    created_at: datetime
    updated_at: datetime
    has_scan: bool
    manage_token: str = Field(description="Secret that lets its holder see, change or withdraw the declaration.")
    manage_url: str


class RegistrationList(OutputModel):
    registrations: list[RegistrationOut]


class InviteeInvitationOut(OutputModel):
    institution: str
    category: str
    email: str
    language: str
    status: Literal["new", "sent", "opened", "declared", "declined", "withdrawn", "rejected", "revoked"]
    declined_at: datetime | None


class PersonalLinkOut(OutputModel):
    """What the holder of a personal link sees: the invitation, the meeting and its own declaration."""

    invitation: InviteeInvitationOut
    event: PublicEventOut
    registration: RegistrationOut | None = Field(description="The declaration made through this link, unless withdrawn.")
