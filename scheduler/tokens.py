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


def looks_like_token(candidate: str | None) -> bool:
    return bool(candidate) and len(candidate) == TOKEN_LENGTH and candidate.isascii()


def same_token(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
