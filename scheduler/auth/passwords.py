"""Passwords: argon2id hashes (older werkzeug hashes still verify and are upgraded at login) and the rules
for a new password, after NIST SP 800-63B: a minimum length, no composition rules, and a check against
common and guessable passwords (zxcvbn's dictionaries of leaked passwords, names and keyboard patterns,
plus the words of this service and the person's own address)."""
from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l
from werkzeug.security import check_password_hash

MIN_LENGTH = 10
MAX_LENGTH = 200
# zxcvbn's score 3: about 10^8 guesses or more; below that a password is on a leaked list or close to one.
_MIN_SCORE = 3
# Words an attacker of this service would try first.
_SERVICE_WORDS = ["liderzy", "kooperacji", "kooperacja", "rops", "mcps", "pcpr", "organizator", "spotkanie",
                  "haslo", "hasło", "rzeszow", "lublin", "bialystok", "kielce", "warszawa"]


@lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_cost: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost)


def _current() -> PasswordHasher:
    return _hasher(current_app.config["ARGON2_TIME_COST"], current_app.config["ARGON2_MEMORY_KIB"])


def hash_password(password: str) -> str:
    return _current().hash(password)


def verify_password(stored: str, password: str) -> tuple[bool, str | None]:
    """Whether `password` matches `stored`, and a new hash to store when `stored` is old (werkzeug's scrypt or
    pbkdf2 from before, or argon2 with weaker parameters than configured now)."""
    hasher = _current()
    if not stored:  # an invited account that has not set its password yet
        return False, None
    if stored.startswith("$argon2"):
        try:
            hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False, None
        return True, (hash_password(password) if hasher.check_needs_rehash(stored) else None)
    if check_password_hash(stored, password):
        return True, hash_password(password)
    return False, None


@lru_cache(maxsize=4)
def _dummy_hash(time_cost: int, memory_cost: int) -> str:
    return _hasher(time_cost, memory_cost).hash("not-a-real-password-0000")


def spend_verification_time(password: str) -> None:
    """Verify against a throwaway hash, so an unknown address costs the same time as a known one."""
    hasher = _current()
    try:
        hasher.verify(_dummy_hash(hasher.time_cost, hasher.memory_cost), password)
    except VerificationError:
        pass


def password_problem(password, *, personal: tuple[str, ...] = ()):
    """Why `password` may not be used (a translatable message), or None."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        return _l("The password must have at least %(n)d characters.", n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _l("The password may have at most %(n)d characters.", n=MAX_LENGTH)
    words = list(_SERVICE_WORDS)
    for value in filter(None, personal):
        value = value.lower()
        words += [value, value.split("@")[0], *value.replace("@", " ").replace(".", " ").split()]
    # Imported when a password is set (a tenth of a second of dictionaries every process start would pay), and
    # zxcvbn's cost grows with length: the first 100 characters decide whether a password is guessable.
    from zxcvbn import zxcvbn

    if zxcvbn(password[:100], user_inputs=words)["score"] < _MIN_SCORE:
        return _l("This password is too easy to guess: it is common, or close to a common password, a name or "
                  "your e-mail address. Choose a longer one, e.g. a few unrelated words.")
    return None
