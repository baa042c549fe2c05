"""The adapter protocol every provider implements, and the normalised events they produce."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

import httpx


class SignatureError(Exception):
    """The request did not prove it came from the provider (401/403, nothing stored)."""

    def __init__(self, message: str, *, status_code: int = 401) -> None:
        super().__init__(message)
        self.status_code = status_code


class PayloadError(Exception):
    """The body is not something this provider sends (400, nothing stored)."""


@dataclass(slots=True)
class NormalizedEvent:
    """What every provider's webhook becomes. `kind` is message | status | opt_out | opt_in."""

    kind: str
    provider_event_id: str
    sender_id: str  # the contact's id on this channel (phone number, chat id, visitor id)
    occurred_at: datetime | None = None
    text: str = ""
    content: dict[str, Any] = field(default_factory=dict)
    profile: dict[str, Any] = field(default_factory=dict)  # name, locale... as the provider tells
    # For status receipts: which of our outbound messages, and what happened to it.
    provider_message_id: str | None = None
    status: str | None = None
    error: str | None = None

    def to_payload(self) -> dict[str, Any]:
        data = asdict(self)
        data["occurred_at"] = self.occurred_at.isoformat() if self.occurred_at else None
        return data

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> NormalizedEvent:
        data = dict(data)
        occurred = data.get("occurred_at")
        data["occurred_at"] = datetime.fromisoformat(occurred) if occurred else None
        return cls(**data)


@dataclass(slots=True)
class AccountContext:
    """What an adapter may know of a channel account: its key, decrypted credentials and settings."""

    id: int
    workspace_id: int
    key: str
    credentials: dict[str, Any]
    settings: dict[str, Any]


@dataclass(slots=True)
class OutboundMessage:
    message_id: int
    recipient_id: str
    text: str
    content: dict[str, Any]
    idempotency_key: str
    conversation_id: int


@dataclass(slots=True)
class SendResult:
    provider_message_id: str | None
    status: str = "sent"


class TransientSendError(Exception):
    """Try again later (429, 5xx, timeouts). retry_after is the provider's hint in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentSendError(Exception):
    """Never retry blindly: the provider refused for a reason (window closed, blocked, invalid)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(slots=True)
class WebhookRequest:
    method: str
    url: str
    headers: dict[str, str]  # lower-cased names
    query: dict[str, str]
    body: bytes


@dataclass(slots=True)
class WebhookReply:
    status_code: int = 200
    body: str = ""
    media_type: str = "text/plain"


class SendContext(Protocol):
    """What the dispatcher lends an adapter to send: the shared HTTP client and the realtime hub."""

    http: httpx.AsyncClient

    async def publish(self, topic: str, event: dict[str, Any]) -> None: ...


class ChannelAdapter(Protocol):
    name: str
    # Whether the provider POSTs to /webhooks/{name}/{key}; web chat has its own endpoints.
    accepts_webhooks: bool

    def handshake(self, account: AccountContext, request: WebhookRequest) -> WebhookReply:
        """Answer a provider's GET verification (Meta hub.challenge, WeChat echostr)."""
        ...

    def verify(self, account: AccountContext, request: WebhookRequest) -> None:
        """Raise SignatureError unless the raw body is signed by the provider."""
        ...

    def parse(self, account: AccountContext, request: WebhookRequest) -> list[NormalizedEvent]:
        """Raise PayloadError for anything malformed. Never partially parse."""
        ...

    def ack(self, account: AccountContext, request: WebhookRequest) -> WebhookReply:
        """The 2xx the provider expects once the events are stored."""
        ...

    async def send(self, ctx: SendContext, account: AccountContext, message: OutboundMessage) -> SendResult:
        ...
