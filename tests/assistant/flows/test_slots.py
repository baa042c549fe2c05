"""Typed slots: what customers actually type becomes a clean value, or a reason for the re-prompt."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from touchpoint.assistant.flows.context import FlowContext
from touchpoint.assistant.flows.slots import Choice, SlotSpec, display_value, normalize_phone, parse_value

TODAY = date(2026, 5, 6)  # a Wednesday


def spec(kind: str, **options) -> SlotSpec:
    return SlotSpec(name="s", type=kind, prompt="?", **options)


def value(kind: str, text: str, **options):
    parsed = parse_value(spec(kind, **options), text, today=TODAY)
    assert parsed.ok, parsed.problem
    return parsed.value


def problem(kind: str, text: str, **options) -> str:
    parsed = parse_value(spec(kind, **options), text, today=TODAY)
    assert not parsed.ok, parsed.value
    return str(parsed.problem)


@pytest.mark.parametrize(("text", "expected"), [
    ("today", "2026-05-06"), ("tomorrow please", "2026-05-07"), ("the day after tomorrow", "2026-05-08"),
    ("12 May", "2026-05-12"), ("12th of May", "2026-05-12"), ("May 12", "2026-05-12"), ("on 12 may 2027", "2027-05-12"),
    ("2026-06-01", "2026-06-01"), ("12/06", "2026-06-12"), ("12/06/2026", "2026-06-12"), ("next friday", "2026-05-08"),
    ("friday", "2026-05-08"), ("wednesday", "2026-05-13"), ("in 3 days", "2026-05-09"), ("in a week", "2026-05-13"),
    ("we'd like to arrive on Sept 3rd", "2026-09-03"),
])
def test_dates(text, expected):
    assert value("date", text, future_only=True) == expected


def test_a_date_without_a_year_that_has_passed_means_next_year_for_future_only_slots():
    assert value("date", "3 January", future_only=True) == "2027-01-03"
    assert value("date", "3 January") == "2026-01-03"


def test_dates_that_cannot_be_accepted_say_why():
    assert "in the past" in problem("date", "2026-05-01", future_only=True)
    assert "doesn't exist" in problem("date", "31 February")
    assert "didn't catch a date" in problem("date", "whenever suits you")
    assert "too far ahead" in problem("date", "12 May 2027", max_days_ahead=90)


def test_month_first_numeric_dates_when_the_slot_says_so():
    assert value("date", "06/12", day_first=False) == "2026-06-12"


def test_relative_dates_follow_the_workspace_time_zone():
    late_evening_utc = datetime(2026, 5, 6, 22, 30, tzinfo=UTC)
    assert FlowContext(1, 1, 1, "Asia/Tokyo", late_evening_utc).today == date(2026, 5, 7)
    assert FlowContext(1, 1, 1, "America/New_York", late_evening_utc).today == date(2026, 5, 6)
    assert FlowContext(1, 1, 1, "Not/AZone", late_evening_utc).today == date(2026, 5, 6)


@pytest.mark.parametrize(("text", "expected"), [
    ("14:30", "14:30"), ("2pm", "14:00"), ("2:30 pm", "14:30"), ("12 am", "00:00"), ("9h15", "09:15"),
    ("around noon", "12:00"), ("at 7.45", "07:45"),
])
def test_times(text, expected):
    assert value("time", text) == expected


def test_times_out_of_range_or_missing():
    assert "too early" in problem("time", "6am", earliest="07:00")
    assert "too late" in problem("time", "23:30", latest="22:00")
    assert "doesn't exist" in problem("time", "25:10")
    assert "didn't catch a time" in problem("time", "later")


@pytest.mark.parametrize(("text", "expected"), [
    ("2", 2), ("2 nights", 2), ("two", 2), ("a couple of nights", 2), ("1,500", 1500), ("2.5", 2.5), ("2,5", 2.5),
    ("a night", 1),
])
def test_numbers(text, expected):
    assert value("number", text) == expected


def test_number_bounds_and_whole_numbers():
    assert "less than 1" in problem("number", "0", minimum=1)
    assert "more than 14" in problem("number", "20 nights", maximum=14)
    assert "whole number" in problem("number", "2.5", integer=True)
    assert "didn't catch a number" in problem("number", "a few")


ROOMS = (Choice("garden", "Garden room", ("ground floor",)), Choice("sea", "Sea view room"),
         Choice("suite", "Suite"))


@pytest.mark.parametrize(("text", "expected"), [
    ("2", "sea"), ("option 3", "suite"), ("Garden room", "garden"), ("sea", "sea"), ("the suite please", "suite"),
    ("ground floor", "garden"), ("gard", "garden"),
])
def test_choices_by_number_value_label_or_synonym(text, expected):
    assert value("choice", text, choices=ROOMS) == expected


def test_an_ambiguous_or_unknown_choice_lists_the_options():
    assert "Garden room, Sea view room, Suite" in problem("choice", "room", choices=ROOMS)
    assert "pick one" in problem("choice", "4", choices=ROOMS)


def test_free_text_with_a_pattern_extracts_what_matters():
    assert value("text", "my booking is hb-1234 thanks", regex=r"HB-\d{4}", transform="upper") == "HB-1234"
    assert value("text", "ref HB 4321", regex=r"HB[ -]?(?P<value>\d{4})") == "4321"
    assert "doesn't look right" in problem("text", "I don't know it", regex=r"HB-\d{4}")
    assert "at least 5" in problem("text", "hi", min_length=5)
    assert value("text", "Late arrival, around 11pm") == "Late arrival, around 11pm"


@pytest.mark.parametrize(("text", "country", "expected"), [
    ("+351 912 345 678", None, "+351912345678"), ("0044 7911 123456", None, "+447911123456"),
    ("07911 123456", "44", "+447911123456"), ("912-345-678", "351", "+351912345678"),
    ("call me on +1 (415) 555-2671", None, "+14155552671"),
])
def test_phone_numbers_are_normalised_to_e164(text, country, expected):
    assert normalize_phone(text, country) == expected
    assert value("phone", text, default_country=country) == expected


def test_phone_numbers_that_cannot_be_normalised():
    assert "country code" in problem("phone", "912 345 678")
    assert "doesn't look like a phone" in problem("phone", "no phone")
    assert "doesn't look like a phone" in problem("phone", "+12 345")


def test_email():
    assert value("email", "it's Ana.Silva@Example.COM") == "Ana.Silva@example.com"
    assert "email" in problem("email", "ana at example dot com")
    assert "email" in problem("email", "a..b@example.com")


def test_empty_and_huge_answers():
    assert "didn't get an answer" in problem("text", "   ")
    # Only the start of a huge message is read: the cost of parsing (and of a brand's regex) stays bounded.
    assert "didn't catch a number" in problem("number", "x" * 10_000 + " 3")


def test_display_values():
    assert display_value(spec("date"), "2026-05-12", today=TODAY) == "12 May"
    assert display_value(spec("date"), "2027-01-03", today=TODAY) == "3 January 2027"
    assert display_value(spec("choice", choices=ROOMS), "sea", today=TODAY) == "Sea view room"
    assert display_value(spec("number"), 2.0, today=TODAY) == "2"
