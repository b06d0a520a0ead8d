"""The time a report covers: bounds in a time zone, 15-minute slots, local hours of the day.

Figures are kept per 15-minute slot of UTC time (``slot = epoch seconds // 900``): every
time zone in use today is a whole number of quarter hours away from UTC, so each slot
falls in exactly one local hour, on daylight-saving days too. A report's bounds are
widened to whole slots: ``from`` down, ``to`` up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cti.reports.exceptions import InvalidRange, RangeTooLong, UnknownTimeZone

SLOT_SECONDS = 900
FIRST_YEAR, LAST_YEAR = 1970, 9998


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``UTC``, ``Europe/Moscow``); ``UnknownTimeZone`` if none."""
    try:
        if not name or len(name) > 64:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UnknownTimeZone(
            f"Unknown time zone {name[:64]!r}: give an IANA name such as 'Europe/Moscow'."
        ) from exc


def slot_of(moment: datetime) -> int:
    """The slot an aware moment falls in."""
    return math.floor(moment.timestamp() / SLOT_SECONDS)


def slot_start(slot: int, tz: ZoneInfo | None = None) -> datetime:
    """When a slot begins, in ``tz`` (UTC if none)."""
    return datetime.fromtimestamp(slot * SLOT_SECONDS, UTC).astimezone(tz or UTC)


def local_hour(slot: int, tz: ZoneInfo) -> int:
    """The hour of the day (0-23) the slot falls in, on the clocks of ``tz``."""
    return slot_start(slot, tz).hour


@dataclass(frozen=True, slots=True)
class ReportRange:
    """A report's span: whole slots ``[first_slot, end_slot)``, shown in ``tz``."""

    first_slot: int
    end_slot: int
    tz: ZoneInfo

    @property
    def start(self) -> datetime:
        return slot_start(self.first_slot, self.tz)

    @property
    def end(self) -> datetime:
        return slot_start(self.end_slot, self.tz)

    @property
    def start_utc(self) -> datetime:
        return slot_start(self.first_slot)

    @property
    def end_utc(self) -> datetime:
        return slot_start(self.end_slot)

    def slots(self) -> range:
        return range(self.first_slot, self.end_slot)

    def to_dict(self) -> dict[str, Any]:
        """The span as covered (after widening to whole slots), for a report's reply."""
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "tz": self.tz.key,
            "hours": round((self.end_slot - self.first_slot) * SLOT_SECONDS / 3600, 2),
        }

    def file_part(self) -> str:
        """For file names: ``2026-11-10`` for one local day, else ``2026-11-01--2026-12-01``."""
        start, end = self.start, self.end
        midnight = start.time() == end.time() == datetime.min.time()
        if midnight and end.date() - start.date() == timedelta(days=1):
            return start.date().isoformat()
        if midnight:
            return f"{start.date().isoformat()}--{end.date().isoformat()}"
        return f"{start:%Y-%m-%dT%H%M}--{end:%Y-%m-%dT%H%M}"


def parse_moment(value: str, tz: ZoneInfo, name: str) -> datetime:
    """A bound given as an ISO date (local midnight) or date-time (local if no offset)."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=tz)
        else:
            moment = datetime.fromisoformat(text)
            moment = moment.replace(tzinfo=tz) if moment.tzinfo is None else moment.astimezone(tz)
    except (ValueError, OverflowError) as exc:
        raise InvalidRange(
            f"'{name}' must be an ISO date (2026-11-10) or date-time (2026-11-10T08:00), "
            f"not {value[:40]!r}."
        ) from exc
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise InvalidRange(f"'{name}' must lie between {FIRST_YEAR} and {LAST_YEAR}.")
    return moment


def report_range(start: str, end: str, tz_name: str = "UTC", *, max_days: int) -> ReportRange:
    """The range ``[start, end)`` in ``tz_name``; refused if empty, reversed or too long.

    Length is counted on the local clock (a 92-day range is allowed across a
    daylight-saving change although it lasts an hour more or less).
    """
    tz = zone(tz_name)
    lower, upper = parse_moment(start, tz, "from"), parse_moment(end, tz, "to")
    if upper <= lower:
        raise InvalidRange("'to' must be later than 'from' (the range is [from, to)).")
    wall = upper.replace(tzinfo=None) - lower.replace(tzinfo=None)
    if wall > timedelta(days=max_days):
        raise RangeTooLong(
            f"The range covers {wall.total_seconds() / 86400:.1f} days; a report may cover "
            f"at most {max_days} (CTI_REPORTS_MAX_DAYS). Ask for a shorter range."
        )
    first = slot_of(lower)
    last = math.ceil(upper.timestamp() / SLOT_SECONDS)
    return ReportRange(first, last, tz)


def day_range(day: str, tz_name: str = "UTC", *, max_days: int) -> ReportRange:
    """One local calendar day: 23, 24 or 25 hours."""
    tz = zone(tz_name)
    first = parse_moment(day, tz, "date")
    if len(day.strip()) != 10:
        raise InvalidRange(f"'date' must be an ISO date (2026-11-10), not {day[:40]!r}.")
    following = first.date() + timedelta(days=1)
    return report_range(first.date().isoformat(), following.isoformat(), tz_name, max_days=max_days)
