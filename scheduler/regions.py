"""Poland's sixteen voivodeships (województwa): the regions the project reports its reach in.

One place for them: stored values, Polish names (their official names, not
translated: they are proper names on every page and export), and reading a
name someone typed. A small bottom module; it imports no feature package.
"""
from __future__ import annotations

import enum
import re
import unicodedata


class Voivodeship(str, enum.Enum):
    DOLNOSLASKIE = "dolnoslaskie"
    KUJAWSKO_POMORSKIE = "kujawsko-pomorskie"
    LUBELSKIE = "lubelskie"
    LUBUSKIE = "lubuskie"
    LODZKIE = "lodzkie"
    MALOPOLSKIE = "malopolskie"
    MAZOWIECKIE = "mazowieckie"
    OPOLSKIE = "opolskie"
    PODKARPACKIE = "podkarpackie"
    PODLASKIE = "podlaskie"
    POMORSKIE = "pomorskie"
    SLASKIE = "slaskie"
    SWIETOKRZYSKIE = "swietokrzyskie"
    WARMINSKO_MAZURSKIE = "warminsko-mazurskie"
    WIELKOPOLSKIE = "wielkopolskie"
    ZACHODNIOPOMORSKIE = "zachodniopomorskie"

    @property
    def label(self) -> str:
        return VOIVODESHIP_NAMES[self]


# In Polish alphabetical order, as official lists give them.
VOIVODESHIP_NAMES = {
    Voivodeship.DOLNOSLASKIE: "dolnośląskie",
    Voivodeship.KUJAWSKO_POMORSKIE: "kujawsko-pomorskie",
    Voivodeship.LUBELSKIE: "lubelskie",
    Voivodeship.LUBUSKIE: "lubuskie",
    Voivodeship.LODZKIE: "łódzkie",
    Voivodeship.MALOPOLSKIE: "małopolskie",
    Voivodeship.MAZOWIECKIE: "mazowieckie",
    Voivodeship.OPOLSKIE: "opolskie",
    Voivodeship.PODKARPACKIE: "podkarpackie",
    Voivodeship.PODLASKIE: "podlaskie",
    Voivodeship.POMORSKIE: "pomorskie",
    Voivodeship.SLASKIE: "śląskie",
    Voivodeship.SWIETOKRZYSKIE: "świętokrzyskie",
    Voivodeship.WARMINSKO_MAZURSKIE: "warmińsko-mazurskie",
    Voivodeship.WIELKOPOLSKIE: "wielkopolskie",
    Voivodeship.ZACHODNIOPOMORSKIE: "zachodniopomorskie",
}

# The stored value's length: the column is sized to the longest.
VALUE_LENGTH = 20


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", str(text).casefold().replace("ł", "l"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(re.findall(r"[^\W_]+", text))


# "województwo śląskie", "Slaskie", "woj. łódzkie" and the stored value all name the same region.
_LOOKUP = {_fold(name): v.value for v, name in VOIVODESHIP_NAMES.items()} | {_fold(v.value): v.value
                                                                            for v in Voivodeship}
_PREFIX = re.compile(r"^(wojewodztwo|woj)\s+")


def voivodeship_from(text) -> str | None:
    """The stored value a typed name means (letter case, Polish letters and "województwo" do not count), or None."""
    return _LOOKUP.get(_PREFIX.sub("", _fold(text or "")))


def voivodeship_label(value: str | None) -> str:
    """The Polish name of a stored value; empty for none (or a value no longer known)."""
    try:
        return VOIVODESHIP_NAMES[Voivodeship(value)] if value else ""
    except ValueError:
        return ""


def choices() -> list[tuple[str, str]]:
    """(value, Polish name) for a select, in the names' order."""
    return [(v.value, name) for v, name in VOIVODESHIP_NAMES.items()]
