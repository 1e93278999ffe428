"""What the web layer accepts from a URL or a form before any view reads it.

Ids are PostgreSQL `integer` (int4) columns: a larger number in a query makes PostgreSQL raise
instead of finding nothing, so a path id outside 1..MAX_ID is no route (404) and a filter outside
it is no filter. PostgreSQL text cannot hold a NUL byte either, so one in the path is a 404 and one
in a query string or form is refused (400) before a view sends it to the database. Typed dates are
held to `plausible` years, so that a page's date arithmetic never overflows. The admin API
checks its own query strings (bot.api.fields), to name the field at fault in its 422.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from flask import Flask, abort, request
from werkzeug.routing import BaseConverter, ValidationError

# The largest value of a PostgreSQL `integer`, the type of every id.
MAX_ID = 2**31 - 1
# Blueprints that check their own query strings and bodies.
SELF_CHECKED = frozenset({"api"})
MSG_UNREADABLE = "请求中含有无法识别的字符，请检查后再试"
EARLIEST_YEAR, LATEST_YEAR = 1900, 2999


class IdConverter(BaseConverter):
    """`<id:name>`: a database id, 1 to MAX_ID in ASCII digits; anything else matches no route."""

    # ASCII only: `\d` (werkzeug's `int`) also takes other scripts' digits, which int() reads.
    regex = r"[1-9][0-9]{0,9}"
    weight = 50  # like werkzeug's own number converters, so a number wins over a string part

    def to_python(self, value: str) -> int:
        """The id, or no match when it is past MAX_ID."""
        number = int(value)
        if number > MAX_ID:
            raise ValidationError()
        return number

    def to_url(self, value) -> str:
        """The id as digits."""
        return str(int(value))


def plausible(moment: date) -> bool:
    """Whether a typed date (or time) lies in EARLIEST_YEAR..LATEST_YEAR, far from the calendar's
    ends, where the day after or the week before no longer exists and Python raises."""
    return EARLIEST_YEAR <= moment.year <= LATEST_YEAR


def whole_number(text: str | None, largest: int = MAX_ID) -> int | None:
    """The number that ASCII digits spell, from 1 to `largest`, else None (also for "²" or "٣")."""
    if text is None:
        return None
    text = text.strip()
    # The length check keeps int() away from a megabyte of digits.
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(largest)):
        return None
    number = int(text)
    return number if 1 <= number <= largest else None


def id_arg(source: Mapping[str, str], name: str) -> int | None:
    """An id from a query string or form, or None when absent or one that cannot exist."""
    return whole_number(source.get(name))


def page_arg(source: Mapping[str, str], name: str = "page") -> int:
    """A page number from 1; anything else is the first page."""
    return whole_number(source.get(name)) or 1


def _has_nul(pairs: Iterable[tuple[str, str]]) -> bool:
    """Whether any key or value holds a NUL byte."""
    return any("\x00" in key or "\x00" in value for key, value in pairs)


def refuse_nul_bytes() -> None:
    """Answer 404 for a NUL byte in the path and 400 for one in a query string or form."""
    if "\x00" in request.path:
        abort(404)
    if request.blueprint in SELF_CHECKED:
        return
    # Only a urlencoded form is read here: uploads keep the size limit their own view sets.
    form = request.form.items(multi=True) if request.mimetype == "application/x-www-form-urlencoded" else ()
    if _has_nul(request.args.items(multi=True)) or _has_nul(form):
        abort(400, description=MSG_UNREADABLE)


def init_app(app: Flask) -> None:
    """Register the `id` converter and the NUL check; before any blueprint, whose rules use the converter."""
    app.url_map.converters["id"] = IdConverter
    app.before_request(refuse_nul_bytes)
