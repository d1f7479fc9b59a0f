"""Configuration classes; the only place where settings are read.

Every value can be overridden from the environment. `make run` uses the
embedded defaults (SQLite in ./instance, no SMTP), production sets at least
SECRET_KEY and DATABASE_URL.
"""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int | None) -> int | None:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _database_url(default: str) -> str:
    url = os.environ.get("DATABASE_URL", default)
    # psycopg 3 is the driver we ship; accept the common short URL forms too.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-not-secret")
    SQLALCHEMY_DATABASE_URI = _database_url(f"sqlite:///{BASE_DIR / 'instance' / 'scheduler.db'}")
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    # SQLite waits this long for the write lock before giving up (seconds).
    SQLITE_BUSY_TIMEOUT = _int("SQLITE_BUSY_TIMEOUT", 30)

    # Public address used in links inside e-mails and calendar objects.
    BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    DEFAULT_TIMEZONE = os.environ.get("DEFAULT_TIMEZONE", "Europe/Warsaw")

    BABEL_DEFAULT_LOCALE = "pl"
    BABEL_DEFAULT_TIMEZONE = DEFAULT_TIMEZONE
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "scheduler" / "translations")
    LANGUAGES = ("pl", "en")

    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None  # forms stay valid as long as the session does
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    # argon2id cost for organisers' passwords (argon2-cffi's defaults: 3 passes over 64 MiB, about 50 ms);
    # hashes made with other values are upgraded at the next login.
    ARGON2_TIME_COST = _int("ARGON2_TIME_COST", 3)
    ARGON2_MEMORY_KIB = _int("ARGON2_MEMORY_KIB", 64 * 1024)
    # One-time links to set a password: an invitation of a new organiser, a forgotten password.
    ACCOUNT_INVITE_HOURS = _int("ACCOUNT_INVITE_HOURS", 7 * 24)
    PASSWORD_RESET_MINUTES = _int("PASSWORD_RESET_MINUTES", 60)
    PASSWORD_RESET_RATE_LIMIT = os.environ.get("PASSWORD_RESET_RATE_LIMIT", "5/hour")

    # Limits on what a declarant may send. The application refuses a scan above MAX_SCAN_BYTES next to the file
    # field, keeping everything typed; the request limit stays well above it so that an oversize scan reaches the
    # application at all (a body past MAX_CONTENT_LENGTH is cut off by the server and gets a plain 413 page).
    MAX_SCAN_BYTES = _int("MAX_SCAN_BYTES", 10 * 1024 * 1024)
    MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH", 40 * 1024 * 1024)
    # The form's text fields (not files) together, and its number of fields: the largest form, paper entry with
    # 100 participant rows, stays far below both; Werkzeug's own defaults, named here to be set in one place.
    MAX_FORM_MEMORY_SIZE = _int("MAX_FORM_MEMORY_SIZE", 500_000)
    MAX_FORM_PARTS = _int("MAX_FORM_PARTS", 1000)
    # All scans of one meeting together (the database holds them); past this a declarant is told to e-mail the scan.
    MAX_SCAN_BYTES_PER_MEETING = _int("MAX_SCAN_BYTES_PER_MEETING", 500 * 1024 * 1024)
    MAX_PARTICIPANTS_PER_DECLARATION = _int("MAX_PARTICIPANTS_PER_DECLARATION", 50)
    MAX_INVITATIONS_PER_IMPORT = _int("MAX_INVITATIONS_PER_IMPORT", 2000)

    API_TOKEN_LIFETIME = timedelta(days=_int("API_TOKEN_LIFETIME_DAYS", 30) or 30)
    # Live (unexpired, unrevoked) API tokens one organiser may hold; one more is refused with 409.
    MAX_LIVE_API_TOKENS = _int("MAX_LIVE_API_TOKENS", 10)
    # JSON bodies never carry files, so the API takes far less than the web forms with scans.
    API_MAX_CONTENT_LENGTH = _int("API_MAX_CONTENT_LENGTH", 1024 * 1024)
    # Guessing passwords through POST /api/v1/tokens (Flask-Limiter notation, per client address).
    API_TOKEN_RATE_LIMIT = os.environ.get("API_TOKEN_RATE_LIMIT", "10 per minute")

    # E-mail. Without MAIL_SERVER messages stay in the outbox, visible in the mail log.
    MAIL_SERVER = os.environ.get("MAIL_SERVER") or None
    MAIL_PORT = _int("MAIL_PORT", 25)
    MAIL_USE_TLS = _bool("MAIL_USE_TLS", False)
    MAIL_USE_SSL = _bool("MAIL_USE_SSL", False)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "Liderzy kooperacji <noreply@liderzy-kooperacji.local>")
    MAIL_TIMEOUT_SECONDS = _int("MAIL_TIMEOUT_SECONDS", 15)
    MAIL_MESSAGE_ID_DOMAIN = os.environ.get("MAIL_MESSAGE_ID_DOMAIN", "liderzy-kooperacji.local")
    # A message the server refuses for itself (4xx) is tried this often; a 5xx fails it at once.
    MAIL_MAX_ATTEMPTS = _int("MAIL_MAX_ATTEMPTS", 6)
    # Small batches, so a crashed dispatcher strands few messages (taken over after the lease).
    MAIL_BATCH_SIZE = _int("MAIL_BATCH_SIZE", 20)
    # Whether to send is decided by MAIL_SERVER alone; Flask-Mail would otherwise stay silent under TESTING.
    MAIL_SUPPRESS_SEND = False
    # A failed delivery is retried after base * 2**(attempts-1) seconds, at most the maximum.
    MAIL_RETRY_BASE_SECONDS = _int("MAIL_RETRY_BASE_SECONDS", 60)
    MAIL_RETRY_MAX_SECONDS = _int("MAIL_RETRY_MAX_SECONDS", 3600)
    # While the mail server cannot be reached, messages wait (no attempt is charged) and are tried again
    # with the back-off above until this many hours after they were planned (or queued again); then failed.
    MAIL_RETRY_HORIZON_HOURS = _int("MAIL_RETRY_HORIZON_HOURS", 48)
    # While the server is unreachable, trying to connect costs nothing: the back-off stops growing at this,
    # so mail goes out within minutes after an outage however long it lasted.
    MAIL_OUTAGE_RETRY_MAX_SECONDS = _int("MAIL_OUTAGE_RETRY_MAX_SECONDS", 300)
    # A dispatcher's claim on its batch; renewed for the whole remaining batch before each message
    # (heartbeat), so it only runs out when the process died: another instance then takes the messages
    # over. Keep it above what one message may take (a few SMTP commands of MAIL_TIMEOUT_SECONDS each).
    MAIL_CLAIM_LEASE_SECONDS = _int("MAIL_CLAIM_LEASE_SECONDS", 60)
    # One dispatcher pass claims batch after batch while messages are due, for at most this long.
    MAIL_DRAIN_SECONDS = _int("MAIL_DRAIN_SECONDS", 25)
    # Accepted messages are marked "sent" in groups: after this many, or this long after the first of a group.
    # A process that dies loses at most one group's marks (those messages go out again, same Message-ID), so the
    # default keeps the promised window of one message; a larger group sends faster with a wider window.
    MAIL_SENT_GROUP_SIZE = _int("MAIL_SENT_GROUP_SIZE", 1)
    # Batches a dispatcher process sends side by side (threads, each with its own SMTP connection and database
    # session; see dispatcher.dispatch_due). PostgreSQL only: on SQLite a pass sends one batch at a time.
    MAIL_DISPATCH_THREADS = _int("MAIL_DISPATCH_THREADS", 3)
    # A pass that finds at least MAIL_PROCESS_BACKLOG messages due (PostgreSQL) starts MAIL_DISPATCH_PROCESSES - 1
    # more dispatcher processes for it: one process's threads share one interpreter lock, about one core.
    MAIL_DISPATCH_PROCESSES = _int("MAIL_DISPATCH_PROCESSES", 2)
    MAIL_PROCESS_BACKLOG = _int("MAIL_PROCESS_BACKLOG", 500)
    MAIL_SENT_GROUP_SECONDS = float(os.environ.get("MAIL_SENT_GROUP_SECONDS", "0.5"))

    # Calendars: the alarm in e-mailed invites and downloads, and how often subscribers refresh feeds.
    ICAL_ALARM_MINUTES = _int("ICAL_ALARM_MINUTES", 60)
    FEED_REFRESH_MINUTES = _int("FEED_REFRESH_MINUTES", 60)

    # The clock (APScheduler) that ticks the outbox dispatcher and reminder planner.
    SCHEDULER_ENABLED = _bool("SCHEDULER_ENABLED", True)
    SCHEDULER_TICK_SECONDS = _int("SCHEDULER_TICK_SECONDS", 30)
    # A reminder whose moment passed longer ago than this (downtime) is skipped and logged, not sent late.
    REMINDER_GRACE = timedelta(minutes=_int("REMINDER_GRACE_MINUTES", 360) or 360)

    # Per-address limits (Flask-Limiter). memory:// counts per process: production shares one storage
    # between every worker and machine, e.g. redis://127.0.0.1:6379/0 (the default there).
    RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "liderzy")
    # If the shared storage is down, count in memory per process rather than fail requests.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True
    # Behind a reverse proxy the client address is in X-Forwarded-For: the number of proxies to trust (0 = none).
    TRUSTED_PROXIES = _int("TRUSTED_PROXIES", 0)
    # Failed password attempts on POST /login and POST /api/v1/tokens, per client address.
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per minute")
    # Failed logins per account (the e-mail tried), counted in the database: this many within the window lock
    # the account for the rest of the window, whatever address the attempts come from.
    LOGIN_FAILURE_LIMIT = _int("LOGIN_FAILURE_LIMIT", 10)
    LOGIN_FAILURE_WINDOW = timedelta(minutes=_int("LOGIN_FAILURE_WINDOW_MINUTES", 15) or 15)
    # Anonymous declarations (open meetings per client address, personal links per link): generous enough
    # for a small office behind one address, low enough to stop a script filling a meeting with rows.
    DECLARATION_RATE_LIMIT = os.environ.get("DECLARATION_RATE_LIMIT", "30 per hour")

    # Personal data of declarants is anonymised this many days after a meeting ends (purge-personal-data).
    PERSONAL_DATA_RETENTION_DAYS = _int("PERSONAL_DATA_RETENTION_DAYS", 365)
    # The audit trail of organisers' changes holds no personal data and is kept this long (project documentation
    # of the European Social Fund must be kept for years after the project ends).
    AUDIT_RETENTION_DAYS = _int("AUDIT_RETENTION_DAYS", 10 * 365)

    FUNDING_FOOTER = (
        "Projekt „Liderzy kooperacji” realizowany w ramach Programu Operacyjnego Wiedza, Edukacja, Rozwój "
        "finansowanego ze środków Europejskiego Funduszu Społecznego na lata 2014-2020, "
        "Działanie 2.5 „Skuteczna pomoc społeczna”."
    )


class DevelopmentConfig(Config):
    DEBUG = False


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret"
    SQLALCHEMY_DATABASE_URI = _database_url("sqlite://")
    WTF_CSRF_ENABLED = False
    SCHEDULER_ENABLED = False
    RATELIMIT_ENABLED = False
    MAIL_SERVER = None
    BASE_URL = "http://localhost"
    # Cheap hashes: the suite creates hundreds of accounts.
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_KIB = 1024


class ProductionConfig(Config):
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379/0")
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    SCHEDULER_ENABLED = _bool("SCHEDULER_ENABLED", False)


CONFIGS = {
    "development": DevelopmentConfig,
    "test": TestConfig,
    "production": ProductionConfig,
}
