"""The one place where secret tokens are made and compared.

Personal links, manage links, API tokens and feed tokens all come from here:
32 random bytes (256 bits) from the OS, URL-safe.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_BYTES = 32
# token_urlsafe(32) gives 43 characters; anything far from that is not ours.
TOKEN_LENGTH = 43


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def looks_like_token(candidate: str | None) -> bool:
    # Only the URL-safe alphabet: a NUL or other control byte would make PostgreSQL refuse the query (500).
    return (isinstance(candidate, str) and len(candidate) == TOKEN_LENGTH
            and all(ch in _TOKEN_CHARS for ch in candidate))


def same_token(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
