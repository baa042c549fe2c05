"""Business hours: weekends, holidays, time zones, daylight-saving changes, ranges past midnight, the open-time
clock the SLA uses, and how the next opening is said to a customer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from touchpoint.assistant.business_hours import (
    InvalidBusinessHours,
    business_hours_of,
    describe_opening,
    is_open,
    next_open,
    parse_business_hours,
)
from touchpoint.models import Workspace

LISBON = ZoneInfo("Europe/Lisbon")
WEEKDAYS = {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}


def lisbon(*args: int) -> datetime:
    return datetime(*args, tzinfo=LISBON)


def hours(**extra):
    return parse_business_hours({"weekly": WEEKDAYS, **extra}, "Europe/Lisbon")


def test_no_setting_means_always_open():
    workspace = Workspace(slug="w", name="W", timezone="Europe/Lisbon", settings={})
    assert business_hours_of(workspace) is None
    now = datetime(2026, 1, 3, 3, 0, tzinfo=UTC)  # a Saturday night
    assert is_open(None, now) and next_open(None, now) == now


def test_weekdays_open_and_close_on_local_time():
    h = hours()
    assert h.is_open(lisbon(2026, 7, 15, 10, 0))  # Wednesday
    assert h.is_open(lisbon(2026, 7, 15, 9, 0))  # opening minute included
    assert not h.is_open(lisbon(2026, 7, 15, 18, 0))  # closing minute excluded
    assert not h.is_open(lisbon(2026, 7, 15, 8, 59))
    assert h.next_open(lisbon(2026, 7, 15, 18, 30)) == lisbon(2026, 7, 16, 9, 0)
    assert h.next_open(lisbon(2026, 7, 15, 7, 0)) == lisbon(2026, 7, 15, 9, 0)
    now = lisbon(2026, 7, 15, 12, 0)
    assert h.next_open(now) == now


def test_weekends_wait_for_monday():
    h = hours()
    for saturday_or_sunday in (lisbon(2026, 7, 18, 12, 0), lisbon(2026, 7, 19, 23, 59), lisbon(2026, 7, 17, 20, 0)):
        assert not h.is_open(saturday_or_sunday)
        assert h.next_open(saturday_or_sunday) == lisbon(2026, 7, 20, 9, 0)


def test_holidays_close_the_whole_local_day():
    h = hours(holidays=["2026-12-25", "2026-12-28"])
    assert not h.is_open(lisbon(2026, 12, 25, 11, 0))  # a Friday
    assert h.is_open(lisbon(2026, 12, 24, 11, 0))
    assert h.next_open(lisbon(2026, 12, 24, 19, 0)) == lisbon(2026, 12, 29, 9, 0)  # Fri holiday, weekend, Mon holiday


def test_the_time_zone_is_the_settings_or_the_workspaces():
    new_york = parse_business_hours({"timezone": "America/New_York", "weekly": WEEKDAYS}, "Europe/Lisbon")
    at_13_utc = datetime(2026, 1, 14, 13, 30, tzinfo=UTC)  # 8:30 in New York, 13:30 in Lisbon
    assert not new_york.is_open(at_13_utc)
    assert hours().is_open(at_13_utc)
    assert new_york.next_open(at_13_utc) == datetime(2026, 1, 14, 14, 0, tzinfo=UTC)
    workspace = Workspace(slug="w", name="W", timezone="Asia/Tokyo", settings={"business_hours": {"weekly": WEEKDAYS}})
    tokyo = business_hours_of(workspace)
    assert tokyo is not None and tokyo.timezone == "Asia/Tokyo"
    assert tokyo.is_open(datetime(2026, 1, 14, 1, 0, tzinfo=UTC))  # 10:00 in Tokyo


def test_opening_stays_at_local_nine_across_daylight_saving_changes():
    h = hours()
    # Lisbon moves from UTC+0 to UTC+1 on Sunday 29 March 2026 and back on Sunday 25 October 2026.
    assert h.next_open(lisbon(2026, 3, 27, 19, 0)).astimezone(UTC) == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
    assert h.next_open(lisbon(2026, 3, 26, 19, 0)).astimezone(UTC) == datetime(2026, 3, 27, 9, 0, tzinfo=UTC)
    assert h.next_open(lisbon(2026, 10, 23, 19, 0)).astimezone(UTC) == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)
    nights = parse_business_hours({"weekly": {"sun": ["00:00-04:00"]}}, "Europe/Lisbon")
    spring = nights.intervals_on(lisbon(2026, 3, 29).date())
    autumn = nights.intervals_on(lisbon(2026, 10, 25).date())
    assert [end - start for start, end in spring] == [timedelta(hours=3)]  # the skipped hour is not open time
    assert [end - start for start, end in autumn] == [timedelta(hours=5)]  # the repeated hour is


def test_a_range_past_midnight_belongs_to_the_day_it_starts():
    late = parse_business_hours({"weekly": {"fri": ["22:00-02:00"], "sat": "10:00-24:00"}}, "UTC")
    assert late.is_open(datetime(2026, 7, 18, 1, 0, tzinfo=UTC))  # Saturday 01:00, from Friday's range
    assert not late.is_open(datetime(2026, 7, 18, 2, 0, tzinfo=UTC))
    assert late.is_open(datetime(2026, 7, 18, 23, 59, tzinfo=UTC))
    assert late.next_open(datetime(2026, 7, 18, 3, 0, tzinfo=UTC)) == datetime(2026, 7, 18, 10, 0, tzinfo=UTC)


def test_the_open_time_clock_stops_while_closed():
    h = hours(holidays=["2026-07-20"])
    friday_evening = lisbon(2026, 7, 17, 17, 55)
    assert h.add_open_time(friday_evening, timedelta(minutes=10)) == lisbon(2026, 7, 21, 9, 5)  # Mon is a holiday
    assert h.add_open_time(lisbon(2026, 7, 15, 10, 0), timedelta(minutes=10)) == lisbon(2026, 7, 15, 10, 10)
    assert h.add_open_time(lisbon(2026, 7, 18, 12, 0), timedelta(minutes=10)) == lisbon(2026, 7, 21, 9, 10)
    assert h.add_open_time(lisbon(2026, 7, 15, 10, 0), timedelta(hours=9)) == lisbon(2026, 7, 16, 10, 0)


def test_the_next_opening_is_said_in_the_customers_words():
    h = hours()
    saturday = lisbon(2026, 7, 18, 12, 0)
    assert describe_opening(h, h.next_open(saturday), saturday) == "at 9:00 on Monday (Lisbon time)"
    early = lisbon(2026, 7, 15, 7, 0)
    assert describe_opening(h, h.next_open(early), early) == "at 9:00 today (Lisbon time)"
    evening = lisbon(2026, 7, 15, 19, 0)
    assert describe_opening(h, h.next_open(evening), evening) == "at 9:00 tomorrow (Lisbon time)"
    utc = parse_business_hours({"weekly": {"mon": ["14:30-15:00"]}}, "UTC")
    now = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
    assert describe_opening(utc, utc.next_open(now), now) == "at 14:30 on Monday (UTC)"
    far = hours(holidays=[f"2026-07-{d}" for d in range(20, 32)])
    assert describe_opening(far, far.next_open(saturday), saturday) == "at 9:00 on Monday 3 August (Lisbon time)"


@pytest.mark.parametrize(("value", "message"), [
    ("9 to 5", "must be an object"),
    ({"weekly": {}}, "give opening hours per day"),
    ({"weekly": {"funday": ["09:00-17:00"]}}, "is not a day"),
    ({"weekly": {"mon": ["9-5"]}}, "is not a range"),
    ({"weekly": {"mon": ["25:00-26:00"]}}, "is not a time of day"),
    ({"weekly": {"mon": ["09:00-09:00"]}}, "is empty"),
    ({"weekly": {"mon": 9}}, "a list of ranges"),
    ({"weekly": WEEKDAYS, "holidays": ["christmas"]}, "is not a date"),
    ({"weekly": WEEKDAYS, "timezone": "Mars/Olympus"}, "unknown time zone"),
    ({"weekly": WEEKDAYS, "opens": "soon"}, "unknown key"),
    ({"weekly": {"mon": []}}, "no opening hours"),
])
def test_invalid_settings_are_refused_with_a_reason_but_never_break_a_handoff(value, message):
    with pytest.raises(InvalidBusinessHours, match=message) as caught:
        parse_business_hours(value, "UTC")
    assert caught.value.status_code == 422
    workspace = Workspace(slug="w", name="W", timezone="UTC", settings={"business_hours": value})
    assert business_hours_of(workspace) is None  # logged, treated as always open
