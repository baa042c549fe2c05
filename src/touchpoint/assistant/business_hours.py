"""When people are there to answer: weekly opening hours in the workspace's time zone, minus holidays.

    workspace.settings["business_hours"] = {"timezone": "Europe/Lisbon",   # optional, default workspace.timezone
                                            "weekly": {"mon": ["09:00-18:00"], "sat": ["10:00-13:00"], ...},
                                            "holidays": ["2026-12-25"]}

No setting means always open. Hours are local wall-clock times, converted with zoneinfo day by day, so opening
stays at 9:00 across a daylight-saving change (and the day itself is an hour shorter or longer). A range may run
past midnight ("22:00-02:00"); "24:00" ends a day. A holiday closes the whole local date.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from touchpoint.kit.errors import AppError
from touchpoint.models import Workspace

log = logging.getLogger(__name__)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# How far ahead to look for the next opening: a year and a week covers any finite holiday list.
HORIZON_DAYS = 372
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class InvalidBusinessHours(AppError):
    status_code = 422
    code = "invalid_business_hours"


@dataclass(frozen=True, slots=True)
class BusinessHours:
    zone: ZoneInfo
    # weekday (0 = Monday) -> ranges as minutes from local midnight; an end past 1440 runs into the next day.
    weekly: dict[int, tuple[tuple[int, int], ...]]
    holidays: frozenset[date]

    @property
    def timezone(self) -> str:
        return self.zone.key

    def intervals_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The open intervals (UTC) that start on the local date `day`."""
        if day in self.holidays:
            return []
        out = []
        midnight = datetime.combine(day, time(0))
        for start, end in self.weekly.get(day.weekday(), ()):
            local_start = (midnight + timedelta(minutes=start)).replace(tzinfo=self.zone)
            local_end = (midnight + timedelta(minutes=end)).replace(tzinfo=self.zone)
            begins, ends = local_start.astimezone(UTC), local_end.astimezone(UTC)
            if ends > begins:
                out.append((begins, ends))
        return out

    def _intervals_from(self, now: datetime, days: int = HORIZON_DAYS) -> list[tuple[datetime, datetime]]:
        """Intervals that end after `now`, in order, from the local day before (ranges past midnight) on."""
        first = now.astimezone(self.zone).date() - timedelta(days=1)
        found: list[tuple[datetime, datetime]] = []
        for offset in range(days + 1):
            found.extend(iv for iv in self.intervals_on(first + timedelta(days=offset)) if iv[1] > now)
        return sorted(found)

    def is_open(self, now: datetime) -> bool:
        now = _utc(now)
        return any(start <= now < end for start, end in self._intervals_from(now, days=1))

    def next_open(self, now: datetime) -> datetime | None:
        """`now` when open, else the next opening (UTC); None when it never opens within a year."""
        now = _utc(now)
        for offset in (1, 8, HORIZON_DAYS):  # usually found within a day or a week; look further only if not
            intervals = self._intervals_from(now, days=offset)
            if intervals:
                return max(now, intervals[0][0])
        return None

    def add_open_time(self, start: datetime, duration: timedelta) -> datetime | None:
        """The moment `duration` of open time has passed after `start` (a clock that stops when closed)."""
        start = _utc(start)
        for horizon in (8, HORIZON_DAYS):  # a week and a day is nearly always enough
            remaining, cursor = duration, start
            for begins, ends in self._intervals_from(start, days=horizon):
                segment_start = max(cursor, begins)
                if segment_start >= ends:
                    continue
                available = ends - segment_start
                if remaining <= available:
                    return segment_start + remaining
                remaining -= available
                cursor = ends
        return None


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _minutes(hours: str, minutes: str, where: str) -> int:
    h, m = int(hours), int(minutes)
    if not (0 <= h <= 24 and 0 <= m <= 59) or (h == 24 and m):
        raise InvalidBusinessHours(f"{where}: {hours}:{minutes} is not a time of day")
    return h * 60 + m


def parse_business_hours(value: Any, default_timezone: str = "UTC") -> BusinessHours:
    """Validate the setting (a 422 names what is wrong)."""
    if not isinstance(value, dict):
        raise InvalidBusinessHours("business_hours must be an object with 'weekly' (and optional 'timezone', "
                                   "'holidays')")
    unknown = set(value) - {"timezone", "weekly", "holidays"}
    if unknown:
        raise InvalidBusinessHours(f"business_hours: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    zone_name = value.get("timezone") or default_timezone or "UTC"
    try:
        zone = ZoneInfo(str(zone_name))
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidBusinessHours(f"business_hours.timezone: unknown time zone {zone_name!r}") from None
    weekly_in = value.get("weekly")
    if not isinstance(weekly_in, dict) or not weekly_in:
        raise InvalidBusinessHours("business_hours.weekly: give opening hours per day, like {\"mon\": "
                                   "[\"09:00-18:00\"]}")
    weekly: dict[int, tuple[tuple[int, int], ...]] = {}
    for day, ranges in weekly_in.items():
        key = str(day).casefold()[:3]
        if key not in DAYS:
            raise InvalidBusinessHours(f"business_hours.weekly: {day!r} is not a day (mon, tue, ... sun)")
        if isinstance(ranges, str):
            ranges = [ranges]
        if not isinstance(ranges, list):
            raise InvalidBusinessHours(f"business_hours.weekly.{day}: a list of ranges like \"09:00-18:00\"")
        parsed = []
        for text in ranges:
            match = _RANGE.match(text) if isinstance(text, str) else None
            if match is None:
                raise InvalidBusinessHours(f"business_hours.weekly.{day}: {text!r} is not a range like "
                                           "\"09:00-18:00\"")
            start = _minutes(match[1], match[2], f"business_hours.weekly.{day}")
            end = _minutes(match[3], match[4], f"business_hours.weekly.{day}")
            if end == start:
                raise InvalidBusinessHours(f"business_hours.weekly.{day}: {text!r} is empty")
            parsed.append((start, end if end > start else end + 24 * 60))  # past midnight
        weekly[DAYS.index(key)] = tuple(sorted(parsed))
    holidays = set()
    for item in value.get("holidays") or []:
        try:
            holidays.add(date.fromisoformat(str(item)))
        except ValueError:
            raise InvalidBusinessHours(f"business_hours.holidays: {item!r} is not a date like 2026-12-25") from None
    if not any(weekly.values()):
        raise InvalidBusinessHours("business_hours.weekly: no opening hours on any day")
    return BusinessHours(zone=zone, weekly=weekly, holidays=frozenset(holidays))


def business_hours_of(workspace: Workspace) -> BusinessHours | None:
    """The workspace's hours; None = always open. A broken setting is logged and treated as always open: a
    customer must never get an error instead of an answer because of a typo in the settings."""
    value = (workspace.settings or {}).get("business_hours")
    if not value:
        return None
    try:
        return parse_business_hours(value, workspace.timezone or "UTC")
    except InvalidBusinessHours as exc:
        log.warning("workspace %s: ignoring invalid business_hours (%s)", workspace.id, exc.message)
        return None


def is_open(hours: BusinessHours | None, now: datetime) -> bool:
    return hours is None or hours.is_open(now)


def next_open(hours: BusinessHours | None, now: datetime) -> datetime | None:
    """`now` when open (or no hours are set), else the next opening."""
    return _utc(now) if hours is None else hours.next_open(now)


def place_name(zone_key: str) -> str:
    """"Europe/Lisbon" -> "Lisbon", "America/Argentina/Buenos_Aires" -> "Buenos Aires", "UTC" -> "UTC"."""
    return zone_key.rsplit("/", 1)[-1].replace("_", " ")


def describe_opening(hours: BusinessHours, opening: datetime, now: datetime) -> str:
    """"at 9:00 on Monday (Lisbon time)", "at 14:30 today (UTC)", "at 9:00 tomorrow (Lisbon time)"."""
    local = opening.astimezone(hours.zone)
    today = _utc(now).astimezone(hours.zone).date()
    days = (local.date() - today).days
    if days <= 0:
        when = "today"
    elif days == 1:
        when = "tomorrow"
    elif days < 7:
        when = f"on {local.strftime('%A')}"
    else:
        when = f"on {local.strftime('%A')} {local.day} {local.strftime('%B')}"
    zone = place_name(hours.timezone)
    suffix = "UTC" if zone in ("UTC", "GMT", "Zulu", "UCT") else f"{zone} time"
    return f"at {local.hour}:{local.minute:02d} {when} ({suffix})"
