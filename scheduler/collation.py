"""Sorting names as Polish readers expect: ą after a, ł after l, ś after s, ż after ź after z.

ICU's Polish collation is the maintained way to do this, but PyICU ships no
wheels for this platform (it builds only against the system's ICU headers),
so the Polish alphabet is spelled out here, once.
"""
from __future__ import annotations

import unicodedata

_ALPHABET = "aąbcćdeęfghijklłmnńoópqrsśtuvwxyzźż"
_RANK = {letter: index for index, letter in enumerate(_ALPHABET)}


def polish_key(text: str) -> tuple:
    """A sort key: Polish letters in their own places, case ignored first, then used to break ties."""
    folded = text.casefold()
    primary = []
    for char in folded:
        if char in _RANK:
            primary.append((0, _RANK[char]))
        else:
            # Other letters (é, ü, ...) sort with their base letter; digits and punctuation before letters.
            base = unicodedata.normalize("NFKD", char)[:1]
            primary.append((0, _RANK[base]) if base in _RANK else (-1, ord(char)))
    return tuple(primary), text
