"""Turning an outbox row into an e-mail, and the SMTP connection Flask-Mail opens.

The MIME layout is the one Outlook, Gmail, Apple Mail and Thunderbird all
show as an invitation (iMIP, RFC 6047), with the HTML part's images inline
(RFC 2387) and files attached at the end:

    multipart/mixed                                      (with a calendar object or files)
      multipart/alternative
        text/plain
        multipart/related; type="text/html"              (with images; else text/html alone)
          text/html                                      (shows them as <img src="cid:...">)
          image/png  Content-ID: <logo-strip....@...>    (the project's logo strip, check-in codes)
        text/calendar; method=REQUEST; charset=utf-8     (method = the object's METHOD)
      application/ics  invite.ics                        (for clients that only offer attachments)
      application/pdf  ZS-2026-0001.pdf                  (files, e.g. certificates)

Messages without a calendar object or files are the multipart/alternative alone.

Building a message (`build`) and handing it to the server (`deliver`) are
separate steps, so the dispatcher can tell a message that cannot be sent
(an address or header that cannot be encoded: that message fails) from a
mail server that cannot be reached (every message waits).

No SMTPUTF8 (RFC 6531): messages go out with an ASCII envelope, so an
address needs an ASCII local part; the domain is sent in its IDNA (xn--)
form. `validation.clean_email` refuses other addresses at the door, and
`build` refuses any that got in before that rule.
"""
from __future__ import annotations

import base64
import binascii
import random
import re
import smtplib
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.generator import BytesGenerator
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import formatdate, parseaddr
from functools import lru_cache
from io import BytesIO

import flask_mail
from flask import current_app


# The sender and reply-to addresses repeat from message to message; parsing and encoding them is not free.
_address = lru_cache(maxsize=256)(flask_mail.sanitize_address)

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_BARE_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


def _recipient(address: str) -> str:
    """The address as it goes into the To header and the envelope.

    A bare ASCII address (what validation.clean_email lets in) is its own
    sanitised form; parsing it to find that out was a fifth of building a
    message. Anything else (a display name, an IDN domain) goes through Flask-Mail.
    """
    if _BARE_ADDRESS.fullmatch(address):
        return address
    return flask_mail.sanitize_address(address, "utf-8")


@lru_cache(maxsize=64)
def _named(name: str, default) -> tuple[str, str] | None:
    address = parseaddr(default if isinstance(default, str) else flask_mail.sanitize_address(default))[1]
    return (name, address) if address else None


def _sender(name: str | None):
    """The organisation's sender name with the service's own sending address; None: MAIL_DEFAULT_SENDER as it is."""
    default = current_app.config.get("MAIL_DEFAULT_SENDER")
    if not name or not default:
        return None
    return _named(name, default if isinstance(default, str) else tuple(default))


def _wire_base64(data: bytes) -> str:
    # Lines of 76 characters (RFC 2045) ending as on the wire, so the generator can write the body whole.
    return base64.encodebytes(data).decode("ascii").replace("\n", "\r\n")


@dataclass(frozen=True)
class InlineImage:
    """An image the HTML part shows as `<img src="cid:{content_id}">` (the logo strip, a check-in code).

    Holds its base64 text, encoded once: the strip is the same in every e-mail
    of a project, and this value is what rendering caches for it.
    """

    content_id: str
    filename: str
    encoded: str  # base64, CRLF line ends
    width: int = 0   # pixels, when known: the HTML gives the image its size before it loads
    height: int = 0
    subtype: str = "png"

    @classmethod
    def of(cls, data: bytes, content_id: str, filename: str, subtype: str = "png") -> "InlineImage":
        width = height = 0
        if subtype == "png" and data[:8] == b"\x89PNG\r\n\x1a\n":
            width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        return cls(content_id, filename, _wire_base64(data), width, height, subtype)

    def size_within(self, max_width: int) -> tuple[int, int]:
        """Width and height to show it at, no wider than `max_width` (0, 0: unknown)."""
        if not self.width or not self.height:
            return 0, 0
        width = min(self.width, max_width)
        return width, max(1, round(self.height * width / self.width))


@dataclass(frozen=True)
class Attachment:
    """A file attached to the message (a certificate as PDF)."""

    filename: str
    data: bytes
    maintype: str = "application"
    subtype: str = "pdf"


@dataclass(frozen=True)
class Outgoing:
    """What the dispatcher needs to send one message, read before the SMTP conversation.

    A plain value, so no database transaction stays open (and, on SQLite,
    no write lock is held) while talking to a slow mail server.
    """

    id: int
    recipient: str
    subject: str
    body_text: str | None
    body_html: str | None
    ics: str | None
    ics_method: str | None
    message_id: str
    reply_to: str | None = None
    # The organisation's name for its e-mails (settings); the address stays MAIL_DEFAULT_SENDER's, whose domain
    # the mail server may send for (SPF, DKIM).
    sender_name: str | None = None
    # Rendered at delivery (rendering.render fills subject, bodies and .ics from these); None: as given.
    payload: dict | None = None
    kind: str = ""
    language: str = "pl"
    event_id: int | None = None
    invitation_id: int | None = None
    registration_id: int | None = None
    planned_at: datetime | None = None
    # Shown by the HTML part (cid:), and attached files; both only ever set by rendering.
    inline_images: tuple[InlineImage, ...] = ()
    attachments: tuple[Attachment, ...] = ()


class OutboxEmail(flask_mail.Message):
    """A Flask-Mail message laid out for iMIP, with the outbox row's Message-ID."""

    def __init__(self, outgoing: Outgoing):
        # Not flask_mail.Message.__init__: it draws a Message-ID of its own with make_msgid(), which asks for this
        # host's name by a reverse DNS lookup (socket.getfqdn) for every message, a fifth of a fan-out's CPU; the
        # outbox row has its Message-ID already. The attributes are the ones its methods read.
        sender = _sender(outgoing.sender_name) or current_app.extensions["mail"].default_sender
        self.sender = f"{sender[0]} <{sender[1]}>" if isinstance(sender, tuple) else sender
        self.recipients = [outgoing.recipient]  # as given, for has_bad_headers
        self.to = [_recipient(outgoing.recipient)]
        self.subject = outgoing.subject
        self.body = outgoing.body_text
        self.alts = {"html": outgoing.body_html} if outgoing.body_html else {}
        self.reply_to = outgoing.reply_to or None
        self.cc, self.bcc, self.attachments = [], [], []
        self.date = None
        self.charset = "utf-8"
        self.extra_headers = None
        self.mail_options, self.rcpt_options = [], []
        self.msgId = outgoing.message_id
        self.ics = outgoing.ics
        self.ics_method = outgoing.ics_method
        self.inline_images = outgoing.inline_images
        self.files = outgoing.attachments

    def _message(self):
        alternative = MIMEMultipart("alternative", boundary=_boundary())
        alternative.attach(_text_part(self.body or "", "plain"))
        if self.html:
            html = _text_part(self.html, "html")
            if self.inline_images:
                related = MIMEMultipart("related", boundary=_boundary(), type="text/html")
                related.attach(html)
                for image in self.inline_images:
                    related.attach(_encoded_part("image", image.subtype, image.encoded, "inline", image.filename,
                                                 image.content_id))
                html = related
            alternative.attach(html)
        message = alternative
        if self.ics or self.files:
            message = MIMEMultipart("mixed", boundary=_boundary())
            message.attach(alternative)
        if self.ics:
            encoded = _wire_base64(self.ics.encode("utf-8"))
            calendar_part = _Encoded("text", "calendar", charset="utf-8")
            calendar_part["Content-Transfer-Encoding"] = "base64"
            # Outlook rejects a method that differs from the object's METHOD and shows a bare attachment without one.
            calendar_part.set_param("method", self.ics_method, requote=False)
            calendar_part.set_payload(encoded)
            alternative.attach(calendar_part)
            message.attach(_encoded_part("application", "ics", encoded, "attachment", "invite.ics"))
        for file in self.files:
            message.attach(_encoded_part(file.maintype, file.subtype, _wire_base64(file.data), "attachment",
                                         file.filename))
        subject = flask_mail.force_text(self.subject)
        # An encoded word only when needed, folded once per subject (re-parsing it as policy.SMTP does costs more
        # than building the rest of the message; a fan-out repeats one subject hundreds of times).
        message["Subject"] = subject if subject.isascii() else _EncodedSubject(subject)
        message["From"] = _address(self.sender, "utf-8")
        message["To"] = ", ".join(self.to)
        message["Date"] = formatdate(self.date, localtime=True)
        message["Message-ID"] = self.msgId
        if self.reply_to:
            message["Reply-To"] = _address(self.reply_to, "utf-8")
        # Tells mail servers and out-of-office responders not to answer automatically (RFC 3834).
        message["Auto-Submitted"] = "auto-generated"
        message.policy = WIRE
        return message


class _Encoded(MIMENonMultipart):
    """A part whose body is encoded text (base64, quoted-printable) with CRLF line ends already (see _WireGenerator)."""

    preencoded = True


def _text_part(text: str, subtype: str) -> _Encoded:
    """A UTF-8 text part in quoted-printable, encoded in one call of the C codec.

    Not 8bit (Flask-Mail's registration of utf-8), which breaks on servers
    without 8BITMIME and on lines over 998 bytes. MIMEText gives the same bytes
    (email.quoprimime encodes character by character in Python, a third of
    building a message; binascii only places soft line breaks elsewhere), and
    then the generator parses the parameters again and writes line by line.
    """
    part = _Encoded("text", subtype, charset="utf-8")
    part["Content-Transfer-Encoding"] = "quoted-printable"
    encoded = binascii.b2a_qp(text.encode("utf-8"), istext=True).decode("ascii") if text else ""
    part.set_payload(_LINE_END.sub("\r\n", encoded))  # line ends as on the wire, as the generator writes them
    return part


_LINE_END = re.compile(r"\r\n|\r|\n")


def _encoded_part(maintype: str, subtype: str, encoded: str, disposition: str, filename: str,
                  content_id: str | None = None) -> _Encoded:
    part = _Encoded(maintype, subtype)
    part["Content-Transfer-Encoding"] = "base64"
    if content_id:
        part["Content-ID"] = f"<{content_id}>"
    part.add_header("Content-Disposition", disposition, filename=filename)
    part.set_payload(encoded)
    return part


class _WireGenerator(BytesGenerator):
    """The stdlib's generator, writing a pre-encoded base64 body in one piece.

    The generic path splits a body into its lines and writes each: a logo
    strip of 100 kB is some 1,800 lines, in every message of a fan-out. The
    bytes are the same (the body already has the wire's line ends).
    """

    def _writeBody(self, msg):
        if getattr(msg, "preencoded", False) and self._NL == "\r\n":
            self._fp.write(msg.get_payload().encode("ascii"))
        else:
            super()._writeBody(msg)


def _boundary() -> str:
    # The form the email package gives a boundary, chosen here so the generator does not search every part
    # for it: "=" followed by "=" never occurs in quoted-printable or base64 text, and "-" not in base64.
    return f"{'=' * 15}{random.randrange(sys.maxsize):019d}=="


@lru_cache(maxsize=256)
def _encoded_subject(subject: str, linesep: str, maxlinelen: int) -> str:
    return Header(subject, "utf-8", header_name="Subject").encode(linesep=linesep, maxlinelen=maxlinelen)


class _EncodedSubject:
    """A non-ASCII Subject as the generator asks a Header for it, encoded once per subject (Header's
    encoder measures each prefix of the text again, quadratic in its length)."""

    def __init__(self, subject: str):
        self.subject = subject

    def encode(self, linesep: str = "\n", maxlinelen: int | None = None, splitchars: str = ";, \t") -> str:
        return _encoded_subject(self.subject, linesep, 78 if maxlinelen is None else maxlinelen)

    def __str__(self) -> str:
        return self.subject


class _Wire(type(policy.compat32)):
    """compat32, writing a short printable ASCII header as it is instead of through email.header.Header.

    Header gives the same text for such a value (checked against it on random
    values) at a fiftieth of the cost; a message has some twenty such headers.
    """

    def _fold(self, name, value, sanitize):
        if (isinstance(value, str) and len(name) + len(value) + 2 <= self.max_line_length and value.isascii()
                and value.isprintable()):
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


# How a message is written for SMTP: CRLF line ends, lines folded at 78. compat32 writes the headers built
# above as they are; email.policy.SMTP parses every header again to refold it (it made serialising the
# message three times slower, without changing what a mail client shows).
WIRE = _Wire(linesep="\r\n")


class UnsendableMessage(ValueError):
    """This message cannot be sent as it is (e.g. its address); trying again will not help."""


@dataclass(frozen=True)
class Envelope:
    """A message ready for the SMTP conversation: envelope sender, recipients and the bytes of the e-mail."""

    sender: str
    recipients: list[str]
    data: bytes


def build(outgoing: Outgoing) -> Envelope:
    """Lay out and encode one message; raises (UnsendableMessage or any encoding error) if it cannot be sent."""
    local_part = outgoing.recipient.rpartition("@")[0]
    if not local_part.isascii():
        raise UnsendableMessage(
            f"The address {outgoing.recipient} has non-ASCII characters before the @; sending it would need "
            "SMTPUTF8, which this service does not use. Correct the address and send the message again.")
    message = OutboxEmail(outgoing)
    if not message.sender:
        raise UnsendableMessage("No sender is configured (MAIL_DEFAULT_SENDER).")
    if message.has_bad_headers():
        raise UnsendableMessage("A header of the message contains a line break.")
    message.date = time.time()
    out = BytesIO()
    _WireGenerator(out, mangle_from_=False, policy=WIRE).flatten(message._message())
    return Envelope(sender=_address(message.sender),
                    recipients=list(message.to),
                    data=out.getvalue())


def deliver(connection: "TimeoutConnection", envelope: Envelope) -> None:
    """Hand one built message to the server over an open connection (smtplib's exceptions pass through)."""
    connection.host.sendmail(envelope.sender, envelope.recipients, envelope.data)


class TimeoutConnection(flask_mail.Connection):
    """Flask-Mail's connection with a socket timeout (it has none: a silent server would hang the dispatcher)."""

    def configure_host(self):
        timeout = current_app.config["MAIL_TIMEOUT_SECONDS"]
        if self.mail.use_ssl:
            host = smtplib.SMTP_SSL(self.mail.server, self.mail.port, timeout=timeout)
        else:
            host = smtplib.SMTP(self.mail.server, self.mail.port, timeout=timeout)
        host.set_debuglevel(int(self.mail.debug))
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


def open_connection() -> TimeoutConnection:
    """One SMTP connection for a batch; the caller closes it with `close_connection`."""
    connection = TimeoutConnection(current_app.extensions["mail"])
    connection.host = connection.configure_host()
    connection.num_emails = 0
    return connection


def close_connection(connection: TimeoutConnection) -> None:
    if connection.host is None:
        return
    try:
        connection.host.quit()
    except (OSError, smtplib.SMTPException):
        connection.host.close()
