"""One template rendering per batch for the e-mails a fan-out repeats, with each recipient's own lines put in.

An invitation or a deadline reminder to five hundred institutions is the same
e-mail five hundred times except for the institution's name and its personal
link. Rendering the text and HTML templates (Jinja, Babel's lookups) was the
largest cost of sending one. Within a batch (`per_batch`, opened by the
dispatcher) the templates are rendered once per e-mail that differs in
anything but those values, with stand-ins for them, and each message gets its
own values put in: as they are in the text part, escaped in the HTML part, as
the templates' autoescaping would.

It changes nothing a recipient sees: a batch renders from what its claim
loaded, so the meeting is the same object in the same state for every
message of the batch. Only values of plain types are keyed (anything else,
e.g. a declaration with its participants, is rendered as before), a personal
value must be a non-empty string (so the templates' conditions take the same
branch for the stand-in), and a stand-in a template changed (a filter) makes
that message render on its own. tests/test_render_cache.py compares both
ways of rendering, with names that need escaping.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import is_dataclass
from datetime import date, datetime
from typing import Callable, Iterator

from flask_babel import get_locale
from markupsafe import Markup, escape

# What differs from recipient to recipient of the same e-mail, by name in the templates' context.
PERSONAL = ("institution", "link")
# Stand-ins from Unicode's private use area: no filter, escaping or case change touches them.
_MARK = "\ue000"
_STAND_INS = {name: f"{_MARK}{chr(0xE001 + n)}{_MARK}" for n, name in enumerate(PERSONAL)}

_batch: ContextVar[dict | None] = ContextVar("render_cache_batch", default=None)

Texts = tuple[str, str]


@contextmanager
def per_batch() -> Iterator[None]:
    """Renderings made inside are shared by the messages of the block (one claimed batch)."""
    token = _batch.set({})
    try:
        yield
    finally:
        _batch.reset(token)


def once(key: tuple, compute: Callable[[], object]):
    """`compute()`, once per batch for this key (outside a batch, every time): what every message of the batch
    about one meeting shows alike (its time in words, place, links), whichever template it renders."""
    cache = _batch.get()
    if cache is None:
        return compute()
    key = ("once", *key)
    if key not in cache:
        cache[key] = compute()
    return cache[key]


class _NotPlain(Exception):
    pass


def _plain(value):
    """A hashable stand-in for a context value of a plain type; raises _NotPlain for anything else."""
    if value is None or isinstance(value, (bool, int, float, str, date, datetime)):
        return value if not isinstance(value, Markup) else ("markup", str(value))
    if isinstance(value, (list, tuple)):
        return tuple(_plain(item) for item in value)
    if isinstance(value, (set, frozenset)):
        return frozenset(_plain(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((str(key), _plain(item)) for key, item in value.items()))
    if is_dataclass(value) and type(value).__dataclass_params__.frozen:
        return value  # compared by value (e.g. the logo strip's inline image, the same for a whole project)
    raise _NotPlain(type(value).__name__)


def _key(template: str, context: dict):
    personal = [context.get(name) for name in PERSONAL if name in context]
    if not personal or not all(isinstance(value, str) and value and _MARK not in value for value in personal):
        return None
    parts = [template, str(get_locale())]
    try:
        for name in sorted(context):
            if name in PERSONAL:
                continue
            value = context[name]
            if name == "event":
                # The same object for the whole batch, in the state its claim loaded.
                parts.append(("event", id(value), value.id, getattr(value, "updated_at", None)))
            else:
                parts.append((name, _plain(value)))
    except _NotPlain:
        return None
    return tuple(parts)


def texts(template: str, context: dict, render: Callable[..., Texts]) -> Texts:
    """(text, html) of `template` for this context: `render(template, **context)`, shared within a batch."""
    cache = _batch.get()
    key = _key(template, context) if cache is not None else None
    if key is None:
        return render(template, **context)
    shared = cache.get(key)
    if shared is None:
        shared = cache[key] = render(template, **{**context, **{name: _STAND_INS[name] for name in PERSONAL
                                                               if name in context}})
    text, html = shared
    for name in PERSONAL:
        if name in context:
            text = text.replace(_STAND_INS[name], context[name])
            html = html.replace(_STAND_INS[name], str(escape(context[name])))
    if _MARK in text or _MARK in html:
        # A template changed a stand-in (cut it, say): this e-mail cannot be shared; render it as it is.
        cache[key] = shared
        return render(template, **context)
    return text, html
