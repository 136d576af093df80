"""Values read from a URL, which anyone can type or tamper with. Each answers None for a
value the database could not take (an id beyond its integers, text with NUL or a lone
surrogate, a date whose day does not fit in a datetime), so a page treats it as absent
instead of failing with a 500."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TypeVar

from django.db.models import Model, QuerySet
from django.utils import timezone

# The largest id a BigAutoField holds on PostgreSQL and SQLite alike.
DB_ID_MAX = 2**63 - 1


def db_id(raw: object) -> int | None:
    """A row id: a positive integer the database can hold, given as ASCII digits (from a
    query string) or as a number (from a decoded cursor)."""
    if isinstance(raw, str):
        if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(DB_ID_MAX)):
            return None
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 < raw <= DB_ID_MAX:
        return None
    return raw


def db_text(raw: object) -> str | None:
    """Text the database can store and compare: a string without NUL (PostgreSQL refuses
    it) and without a lone surrogate (which no UTF-8 encoder takes)."""
    if not isinstance(raw, str) or "\x00" in raw:
        return None
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return raw


def aware_moment(raw: object) -> datetime | None:
    """An ISO 8601 date and time with its offset that can also be written in UTC (the
    database's own zone): ``9999-12-31T23:59:59-12:00`` cannot."""
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw)
        if moment.tzinfo is None or moment.utcoffset() is None:
            return None
        moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return moment


def day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime] | None:
    """The start of ``day`` and of the day after in ``tz``, or None when either does not
    fit in a datetime written in UTC (the first and last days of the calendar)."""
    try:
        start = datetime.combine(day, time.min, tz)
        end = start + timedelta(days=1)
        start.astimezone(UTC), end.astimezone(UTC)
    except OverflowError:
        return None
    return start, end


M = TypeVar("M", bound=Model)


def days_between(
    rows: QuerySet[M], *, field: str, first: date | None, last: date | None
) -> QuerySet[M]:
    """``rows`` whose ``field`` falls on the days from ``first`` to ``last`` (each optional)
    in the current time zone. A day at the calendar's edge (0001-01-01, 9999-12-31) has no
    bound a datetime can hold: it means "from the beginning" or "to the end"."""
    tz = timezone.get_current_timezone()
    if first and (bounds := day_bounds(first, tz)):
        rows = rows.filter(**{f"{field}__gte": bounds[0]})
    if last and (bounds := day_bounds(last, tz)):
        rows = rows.filter(**{f"{field}__lt": bounds[1]})
    return rows
