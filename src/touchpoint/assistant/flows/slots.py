"""Typed slot parsers: turn what a customer typed into a value a brand's system can use, or say why not.

Values are JSON-friendly and unambiguous (dates ISO `2026-05-12`, times `14:30`, phones E.164
`+351912345678`); `display_value` turns them back into what a person reads ("12 May"). Relative dates
("tomorrow", "next friday") are relative to `today` in the workspace's time zone, which the runner passes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

SLOT_TYPES = ("date", "time", "number", "choice", "text", "phone", "email")
MAX_INPUT = 500  # customer text looked at by a parser (bounds the cost of a brand's regex too)

MONTHS = {"jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4, "may": 5,
          "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9, "september": 9,
          "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12}
WEEKDAYS = {"monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2, "thursday": 3,
            "thu": 3, "thur": 3, "thurs": 3, "friday": 4, "fri": 4, "saturday": 5, "sat": 5, "sunday": 6, "sun": 6}
NUMBER_WORDS = {"zero": 0, "one": 1, "single": 1, "two": 2, "couple": 2, "three": 3, "four": 4,
                "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
                "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
                "nineteen": 19, "twenty": 20, "thirty": 30}
UNITS = {"night", "day", "week", "room", "person", "guest", "adult", "child", "bed", "ticket", "table"}

_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_WEEKDAY = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?\s+({_MONTH})\b\.?(?:,?\s+(\d{{4}}))?")
_MONTH_DAY = re.compile(rf"\b({_MONTH})\b\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?")
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})[/.](\d{1,2})(?:[/.](\d{2}|\d{4}))?\b")
_WEEKDAY_RE = re.compile(rf"\b(?:(next|this|on|coming|last|past)\s+)?({_WEEKDAY})\b")
_IN_DAYS = re.compile(r"\bin\s+(\d{1,3}|a|one|two|three|four|five|six|seven)\s+(day|days|week|weeks)\b")
_CLOCK = re.compile(r"\b(\d{1,2})\s*[:h.]\s*(\d{2})\s*(a\.?m\.?|p\.?m\.?)?(?![\w.])")
_HOUR_AMPM = re.compile(r"\b(\d{1,2})\s*(a\.?m\.?|p\.?m\.?)(?!\w)")
_THOUSANDS = re.compile(r"(?<![\d.,])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])")
_DECIMAL = re.compile(r"(?<![\d])-?\d+(?:[.,]\d+)?")
_WORD = re.compile(r"[a-z]+")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?:\+|\b00|\b0|\b)[\d][\d\s().\-/]{5,24}\d")


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    label: str
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SlotSpec:
    """One slot of a flow, as validated at import (definition.py)."""

    name: str
    type: str
    prompt: str
    reprompt: str | None = None
    max_attempts: int = 3
    # number
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    # date: `future_only` refuses dates before today (today is fine); max_days_ahead bounds the other end.
    future_only: bool = False
    max_days_ahead: int | None = None
    day_first: bool = True
    # time, "HH:MM"
    earliest: str | None = None
    latest: str | None = None
    # text
    regex: str | None = None
    min_length: int = 1
    max_length: int = 500
    transform: str | None = None  # upper | lower
    # choice
    choices: tuple[Choice, ...] = ()
    # phone: the calling code assumed for numbers typed without one ("351")
    default_country: str | None = None
    line: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Parsed:
    value: Any = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _bad(problem: str) -> Parsed:
    return Parsed(None, problem)


def parse_value(spec: SlotSpec, text: str, *, today: date) -> Parsed:
    """The slot's value in `text`, or the reason there is none (said to the customer in a re-prompt)."""
    text = (text or "").strip()[:MAX_INPUT]
    if not text:
        return _bad("I didn't get an answer.")
    parser = _PARSERS[spec.type]
    return parser(spec, text, today)


# ---- date ------------------------------------------------------------------------------------------------

def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _with_year(spec: SlotSpec, month: int, day: int, year_text: str | None, today: date) -> date | None:
    if year_text:
        year = int(year_text)
        if year < 100:
            year += 2000
        return _safe_date(year, month, day)
    found = _safe_date(today.year, month, day)
    if found is None and month == 2 and day == 29:
        found = _safe_date(today.year + 1, 2, 29) or _safe_date(today.year + 2, 2, 29) \
            or _safe_date(today.year + 3, 2, 29)
    # Without a year, a booking date that has passed this year means next year's.
    if found is not None and found < today and spec.future_only:
        found = _safe_date(today.year + 1, month, day)
    return found


def find_date(spec: SlotSpec, text: str, today: date) -> date | str | None:
    """A date, None when there is none, or "invalid" when the text names a day that does not exist."""
    lowered = text.casefold()
    if re.search(r"\bday after tomorrow\b", lowered):
        return today + timedelta(days=2)
    if re.search(r"\b(today|tonight)\b", lowered):
        return today
    if re.search(r"\b(tomorrow|tmrw|tmr)\b", lowered):
        return today + timedelta(days=1)
    if match := _ISO_DATE.search(lowered):
        return _safe_date(int(match[1]), int(match[2]), int(match[3])) or "invalid"
    if match := _DAY_MONTH.search(lowered):
        return _with_year(spec, MONTHS[match[2]], int(match[1]), match[3], today) or "invalid"
    if match := _MONTH_DAY.search(lowered):
        return _with_year(spec, MONTHS[match[1]], int(match[2]), match[3], today) or "invalid"
    if match := _NUMERIC_DATE.search(lowered):
        first, second = int(match[1]), int(match[2])
        day, month = (first, second) if spec.day_first else (second, first)
        return _with_year(spec, month, day, match[3], today) or "invalid"
    if match := _IN_DAYS.search(lowered):
        count = int(match[1]) if match[1].isdigit() else NUMBER_WORDS.get(match[1], 1)
        return today + timedelta(days=count * (7 if match[2].startswith("week") else 1))
    if match := _WEEKDAY_RE.search(lowered):
        # "friday", "this friday" and "next friday" all mean the first Friday after today: people who
        # mean the one after that say the date.
        if match[1] in ("last", "past"):
            return today - timedelta(days=(today.weekday() - WEEKDAYS[match[2]]) % 7 or 7)
        ahead = (WEEKDAYS[match[2]] - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead)
    return None


def _parse_date(spec: SlotSpec, text: str, today: date) -> Parsed:
    found = find_date(spec, text, today)
    if found is None:
        return _bad("I didn't catch a date there (for example 12 May, tomorrow or next Friday).")
    if isinstance(found, str):
        return _bad("That date doesn't exist.")
    if spec.future_only and found < today:
        return _bad("That date is in the past.")
    if spec.max_days_ahead is not None and found > today + timedelta(days=spec.max_days_ahead):
        return _bad(f"That's too far ahead: we can only take dates up to {spec.max_days_ahead} days from today.")
    return Parsed(found.isoformat())


# ---- time ------------------------------------------------------------------------------------------------

def _hour_minute(hour: int, minute: int, ampm: str | None) -> tuple[int, int] | None:
    if ampm:
        if not 1 <= hour <= 12:
            return None
        pm = ampm.startswith("p")
        hour = (hour % 12) + (12 if pm else 0)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return hour, minute


def _parse_time(spec: SlotSpec, text: str, _today: date) -> Parsed:
    lowered = text.casefold()
    found: tuple[int, int] | None = None
    if re.search(r"\b(noon|midday)\b", lowered):
        found = (12, 0)
    elif re.search(r"\bmidnight\b", lowered):
        found = (0, 0)
    elif match := _CLOCK.search(lowered):
        found = _hour_minute(int(match[1]), int(match[2]), match[3])
        if found is None:
            return _bad("That time doesn't exist.")
    elif match := _HOUR_AMPM.search(lowered):
        found = _hour_minute(int(match[1]), 0, match[2])
        if found is None:
            return _bad("That time doesn't exist.")
    if found is None:
        return _bad("I didn't catch a time there (for example 14:30 or 2pm).")
    value = f"{found[0]:02d}:{found[1]:02d}"
    if spec.earliest and value < spec.earliest:
        return _bad(f"That's too early: the earliest is {spec.earliest}.")
    if spec.latest and value > spec.latest:
        return _bad(f"That's too late: the latest is {spec.latest}.")
    return Parsed(value)


# ---- number ----------------------------------------------------------------------------------------------

def find_number(text: str) -> float | None:
    lowered = text.casefold()
    if match := _THOUSANDS.search(lowered):
        return float(match[0].replace(",", ""))
    if match := _DECIMAL.search(lowered):
        return float(match[0].replace(",", "."))
    words = _WORD.findall(lowered)
    for word in words:
        if word in NUMBER_WORDS:
            return float(NUMBER_WORDS[word])
    # "a night" is one; "a few", "a lot", "a hundred" are not.
    if len(words) >= 2 and words[-2] in ("a", "an", "one", "just") and words[-1] in UNITS:
        return 1.0
    return None


def _parse_number(spec: SlotSpec, text: str, _today: date) -> Parsed:
    number = find_number(text)
    if number is None:
        return _bad("I didn't catch a number there.")
    if spec.integer and not number.is_integer():
        return _bad("Please give a whole number.")
    if spec.minimum is not None and number < spec.minimum:
        return _bad(f"That's less than {_plain_number(spec.minimum)}.")
    if spec.maximum is not None and number > spec.maximum:
        return _bad(f"That's more than {_plain_number(spec.maximum)}.")
    return Parsed(int(number) if number.is_integer() else number)


def _plain_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# ---- choice ----------------------------------------------------------------------------------------------

def _norm(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


def _parse_choice(spec: SlotSpec, text: str, _today: date) -> Parsed:
    said = _norm(text)
    number = re.fullmatch(r"(?:option |number |no )?(\d{1,2})", said)
    if number and 1 <= int(number[1]) <= len(spec.choices):
        return Parsed(spec.choices[int(number[1]) - 1].value)
    names = [(choice, [_norm(n) for n in (choice.value, choice.label, *choice.synonyms) if _norm(n)])
             for choice in spec.choices]
    for choice, forms in names:
        if said in forms:
            return Parsed(choice.value)
    padded = f" {said} "
    mentioned = {choice.value for choice, forms in names if any(f" {form} " in padded for form in forms)}
    if len(mentioned) == 1:
        return Parsed(mentioned.pop())
    if len(said) >= 3:
        prefixed = {choice.value for choice, forms in names if any(form.startswith(said) for form in forms)}
        if len(prefixed) == 1:
            return Parsed(prefixed.pop())
    options = ", ".join(choice.label for choice in spec.choices)
    return _bad(f"Please pick one of: {options}.")


# ---- text, phone, email ----------------------------------------------------------------------------------

def _parse_text(spec: SlotSpec, text: str, _today: date) -> Parsed:
    value = text.upper() if spec.transform == "upper" else text.lower() if spec.transform == "lower" else text
    if spec.regex:
        # search, not fullmatch: "it's HB-1234" gives HB-1234. A named group `value` picks the part kept.
        match = re.search(spec.regex, value)
        if match is None:
            return _bad("That doesn't look right.")
        value = match.groupdict().get("value") or match.group(0)
    if len(value) < spec.min_length:
        return _bad(f"Please write at least {spec.min_length} characters.")
    if len(value) > spec.max_length:
        return _bad(f"Please keep it under {spec.max_length} characters.")
    return Parsed(value)


def normalize_phone(text: str, default_country: str | None = None) -> str | None:
    """E.164 (`+` and 8-15 digits), or None. Numbers without a country code get `default_country`, after
    dropping a national trunk 0 (UK 07911 123456 → +447911123456)."""
    match = _PHONE.search(text)
    if match is None:
        return None
    raw = match.group(0).strip()
    digits = re.sub(r"\D", "", raw)
    if raw.startswith("+"):
        full = digits
    elif digits.startswith("00"):
        full = digits[2:]
    elif default_country:
        full = default_country + (digits[1:] if digits.startswith("0") else digits)
    else:
        return None
    if not 8 <= len(full) <= 15 or full.startswith("0"):
        return None
    return "+" + full


def _parse_phone(spec: SlotSpec, text: str, _today: date) -> Parsed:
    phone = normalize_phone(text, spec.default_country)
    if phone is None:
        if _PHONE.search(text) and not spec.default_country:
            return _bad("Please include the country code, for example +44 7911 123456.")
        return _bad("That doesn't look like a phone number.")
    return Parsed(phone)


def _parse_email(spec: SlotSpec, text: str, _today: date) -> Parsed:
    match = _EMAIL.search(text)
    if match is None or len(match.group(0)) > 254 or ".." in match.group(0):
        return _bad("That doesn't look like an email address.")
    local, _, domain = match.group(0).rpartition("@")
    return Parsed(f"{local}@{domain.lower()}")


_PARSERS = {"date": _parse_date, "time": _parse_time, "number": _parse_number, "choice": _parse_choice,
            "text": _parse_text, "phone": _parse_phone, "email": _parse_email}


# ---- display ---------------------------------------------------------------------------------------------

def display_value(spec: SlotSpec | None, value: Any, *, today: date) -> str:
    """How a slot value reads in a message: "12 May" (the year only when it is not this year)."""
    if value is None:
        return ""
    if spec is not None and spec.type == "date" and isinstance(value, str):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return value
        shown = f"{day.day} {day.strftime('%B')}"
        return shown if day.year == today.year else f"{shown} {day.year}"
    if spec is not None and spec.type == "choice":
        return next((choice.label for choice in spec.choices if choice.value == value), str(value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
