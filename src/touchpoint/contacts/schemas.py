"""Contact request and response schemas (Pydantic v2), and the input checks they share with the API.

Every check here exists so that bad input is a precise 422 instead of a database error: PostgreSQL refuses
NUL characters and non-finite numbers in JSON, ids beyond 64 bits overflow BIGINT, and an unknown time zone
would break quiet-hours arithmetic later, far from the request that stored it.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

MAX_ID = 2**63 - 1
MAX_ATTRIBUTES_BYTES = 16_384
MAX_JSON_DEPTH = 8
MAX_KEY_CHARS = 100


def check_storable_text(value: str) -> str:
    """Text every supported database can store."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


def check_json_object(value: dict[str, Any]) -> dict[str, Any]:
    """A JSON object we can store and hand back unchanged on both databases, of bounded size."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:  # iterative: a deeply nested body must not turn into a RecursionError
        item, depth = stack.pop()
        if isinstance(item, dict | list) and depth > MAX_JSON_DEPTH:
            raise ValueError(f"nests deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_CHARS:
                    raise ValueError(f"keys must be strings of 1 to {MAX_KEY_CHARS} characters")
                check_storable_text(key)
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            check_storable_text(item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError("numbers must be finite (no NaN or Infinity)")
        elif item is not None and not isinstance(item, bool | int | float):
            raise ValueError("values must be JSON: objects, arrays, strings, numbers, booleans or null")
    try:
        size = len(json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8"))
    except ValueError as exc:  # e.g. an integer too long to print
        raise ValueError(f"is not storable JSON: {exc}") from None
    if size > MAX_ATTRIBUTES_BYTES:
        raise ValueError(f"is larger than {MAX_ATTRIBUTES_BYTES} bytes as JSON")
    return value


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    # "localtime" is whatever the server happens to be set to: not a zone a contact lives in.
    return frozenset(available_timezones() - {"localtime"})


def check_time_zone(value: str) -> str:
    # Membership in the IANA list, never ZoneInfo(value): that would treat the value as a file path.
    if value not in _time_zones():
        raise ValueError("must be an IANA time zone name such as 'Europe/Lisbon' or 'UTC'")
    return value


StorableStr = Annotated[str, AfterValidator(check_storable_text)]
JsonObject = Annotated[dict[str, Any], AfterValidator(check_json_object)]
RowId = Annotated[int, Field(ge=1, le=MAX_ID)]

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9][0-9 ().\-]{2,30}$")
LOCALE = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8}){0,2}$")

_storable = AfterValidator(check_storable_text)
Name = Annotated[str, Field(min_length=1, max_length=200, examples=["Ana Silva"]), _storable]
Email = Annotated[str, Field(max_length=320, pattern=EMAIL.pattern, examples=["ana@example.com"]), _storable]
Phone = Annotated[str, Field(max_length=32, pattern=PHONE.pattern, examples=["+351 912 345 678"],
                             description="Digits, spaces and ( ) . - with an optional leading +."), _storable]
ExternalRef = Annotated[str, Field(min_length=1, max_length=200, examples=["user-42"],
                                   description="Your own id for this person; unique in the workspace."), _storable]
TimeZone = Annotated[str, AfterValidator(check_time_zone),
                     Field(max_length=64, examples=["Europe/Lisbon"], description="IANA time zone name.")]
Locale = Annotated[str, Field(max_length=16, pattern=LOCALE.pattern, examples=["pt-PT"],
                              description="BCP 47 language tag.")]
Attributes = Annotated[JsonObject, Field(
    examples=[{"tier": "gold", "nights": 12}],
    description=f"Free-form JSON object (at most {MAX_ATTRIBUTES_BYTES} bytes, {MAX_JSON_DEPTH} levels).")]


class ContactCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "name": "Ana Silva", "email": "ana@example.com", "phone": "+351912345678", "external_ref": "user-42",
        "timezone": "Europe/Lisbon", "locale": "pt-PT", "attributes": {"tier": "gold"}}]})

    name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    external_ref: ExternalRef | None = None
    timezone: TimeZone | None = None
    locale: Locale | None = None
    attributes: Attributes = Field(default_factory=dict)


class ContactUpdate(BaseModel):
    """Only the fields sent change. null clears a field. `attributes` is merged key by key
    (JSON merge patch): a key set to null is removed, keys not sent are kept."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"phone": "+351 912 000 111", "attributes": {"tier": "platinum", "old_key": None}}]})

    name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    external_ref: ExternalRef | None = None
    timezone: TimeZone | None = None
    locale: Locale | None = None
    attributes: Attributes | None = None


class ContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str | None
    email: str | None
    phone: str | None
    external_ref: str | None
    timezone: str | None
    locale: str | None
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class IdentityOut(BaseModel):
    id: int
    channel_account_id: int
    channel: str = Field(examples=["whatsapp"])
    external_id: str = Field(description="The person's id on that channel (phone number, chat id...).")
    reachable: bool
    created_at: datetime


class ConsentOut(BaseModel):
    """The record in force for one (topic, channel) pair: the most recent one. "*" means every topic/channel."""

    topic: str = Field(examples=["promotions"])
    channel: str = Field(examples=["*"])
    granted: bool
    source: str = Field(examples=["booking_form"])
    evidence: str | None
    recorded_at: datetime


class ContactDetail(ContactOut):
    identities: list[IdentityOut]
    consents: list[ConsentOut]


class ContactPage(BaseModel):
    data: list[ContactOut]
    next_after: int | None = Field(
        description="Pass as `after` to get the next page; null on the last page.", examples=[1234])
