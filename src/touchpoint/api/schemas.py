"""Request and response schemas of /api/v1 for conversations, messages and errors.
Contact schemas live in touchpoint.contacts.schemas."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from touchpoint.contacts.schemas import JsonObject, RowId, check_storable_text
from touchpoint.models import ConversationStatus
from touchpoint.policy.gate import Purpose

MAX_TEXT_CHARS = 4096
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_MICROS = (datetime(9999, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)


class ErrorBody(BaseModel):
    code: str = Field(description="Stable, machine-readable code.", examples=["not_found"])
    message: str = Field(description="What went wrong, for a human.", examples=["no conversation 7 in this workspace"])
    details: Any = Field(default=None, description="Extra facts, such as the fields that failed validation.")


class ErrorResponse(BaseModel):
    error: ErrorBody


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        400: "The request cannot be processed as sent.",
        401: "Missing, unknown or revoked API key (`unauthorized`).",
        404: "Not found in this workspace (`not_found`).",
        409: "Conflicts with the current state (see the code).",
        413: "The body is larger than the API accepts (`payload_too_large`).",
        422: "The request does not validate (`validation_error`, with `details`).",
    }
    return {status: {"model": ErrorResponse, "description": descriptions[status]} for status in statuses}


# ---- cursors --------------------------------------------------------------------------------------------

def encode_conversation_cursor(last_message_at: datetime, conversation_id: int) -> str:
    micros = (last_message_at.astimezone(UTC) - _EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"{micros}:{conversation_id}".encode()).decode().rstrip("=")


def decode_conversation_cursor(value: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
        micros_text, id_text = raw.split(":")
        micros, conversation_id = int(micros_text), int(id_text)
        if not 1 <= conversation_id < 2**63 or not 0 <= micros < _MAX_MICROS:
            raise ValueError
        return _EPOCH + timedelta(microseconds=micros), conversation_id
    except (ValueError, OverflowError, UnicodeDecodeError, binascii.Error):
        raise ValueError("is not a cursor this API returned") from None


ConversationCursor = Annotated[str, Field(max_length=100), AfterValidator(decode_conversation_cursor)]


# ---- conversations --------------------------------------------------------------------------------------

class ConversationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: ConversationStatus = Field(description="bot: the bot answers; queued: waiting for a person; "
                                                   "assigned: an agent owns it; snoozed; resolved.")
    contact_id: int
    channel_account_id: int
    team_id: int | None
    agent_id: int | None
    priority: int
    handoff_reason: str | None
    last_message_at: datetime
    last_message_preview: str | None = Field(description="Customer text: escape it wherever you display it.")
    created_at: datetime
    resolved_at: datetime | None
    snoozed_until: datetime | None


class ConversationPage(BaseModel):
    data: list[ConversationOut]
    next_before: str | None = Field(description="Pass as `before` for the next (older) page; null on the last page.")


class ContactSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str | None
    email: str | None
    phone: str | None
    external_ref: str | None


class AssignRequest(BaseModel):
    """Give the conversation to an agent, to a team's queue, or both (team first, then the agent)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"agent_id": 3}, {"team_id": 1}]})

    agent_id: RowId | None = Field(default=None, description="An active agent of this workspace.")
    team_id: RowId | None = Field(default=None, description="A team of this workspace.")

    @model_validator(mode="after")
    def _one_target(self) -> AssignRequest:
        if self.agent_id is None and self.team_id is None:
            raise ValueError("give agent_id, team_id or both")
        return self


# ---- messages -------------------------------------------------------------------------------------------

class GateOut(BaseModel):
    """The send gate's verdict, stored with the message: why it was sent, deferred or suppressed."""

    action: Literal["send", "defer", "fallback", "suppress"]
    reasons: list[str] = Field(examples=[["no_consent"]])
    until: datetime | None = Field(default=None, description="For `defer`: when it will be sent.")


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    conversation_id: int
    direction: Literal["in", "out"]
    sender: str = Field(validation_alias="sender_kind", examples=["agent"],
                        description="contact | bot | agent | system")
    agent_id: int | None
    text: str = Field(description="Customer text for inbound messages: escape it wherever you display it.")
    content: dict[str, Any]
    purpose: str | None
    topic: str | None
    status: str = Field(examples=["queued"], description="received | note | queued | deferred | sent | delivered | "
                                                       "read | failed | suppressed")
    status_reason: str | None = Field(examples=["no_consent"])
    gate: GateOut | None
    external_id: str | None = Field(description="The provider's id once sent.")
    created_at: datetime
    status_at: datetime | None


class MessagePage(BaseModel):
    data: list[MessageOut]
    next_after: int | None = Field(description="Pass as `after` for the next page; null when you are up to date.")


class ConversationDetail(ConversationOut):
    contact: ContactSummary
    messages: list[MessageOut] = Field(description="The latest messages, oldest first.")


class Sender(StrEnum):
    agent = "agent"
    system = "system"


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"text": "Your room is ready. See you soon!", "sender": "agent", "agent_id": 3},
        {"text": "20% off your next stay this weekend", "sender": "system", "purpose": "marketing",
         "topic": "promotions"},
    ]})

    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS), AfterValidator(check_storable_text)]
    sender: Sender = Field(description="agent: a person's reply (takes the conversation, as in the inbox); "
                                       "system: an automated message from your systems.")
    agent_id: RowId | None = Field(default=None, description="Required when sender is agent.")
    purpose: Purpose = Field(default=Purpose.service, description="transactional messages are consent-exempt; "
                                                                  "marketing needs an opt-in for the topic.")
    topic: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_.:-]+$")] | None = Field(
        default=None, description="Consent topic. Default: 'promotions' for marketing, else 'service'.",
        examples=["promotions"])
    content: JsonObject | None = Field(default=None, description="Structured extras passed to the channel "
                                                                 "(quick replies, template parameters...).")

    @model_validator(mode="after")
    def _sender_rules(self) -> MessageCreate:
        if self.sender == Sender.agent:
            if self.agent_id is None:
                raise ValueError("agent_id is required when sender is 'agent'")
            # Agent replies go through the inbox path (which is a service reply by definition).
            if self.purpose != Purpose.service or self.topic not in (None, "service") or self.content:
                raise ValueError("agent messages are service replies with text only; send marketing, "
                                 "transactional or structured messages with sender 'system'")
        elif self.agent_id is not None:
            raise ValueError("agent_id is only for sender 'agent'")
        return self

    @property
    def resolved_topic(self) -> str:
        return self.topic or ("promotions" if self.purpose == Purpose.marketing else "service")
