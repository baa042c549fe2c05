"""Custom API channel.

Inbound: the brand POSTs JSON to /webhooks/api/{key}, signed like Stripe/Slack do it:
  X-Touchpoint-Timestamp: <unix seconds>
  X-Touchpoint-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>
The timestamp must be within five minutes, so a captured request cannot be replayed later.

Body: {"events": [
  {"type": "message", "id": "evt-1", "from": {"id": "user-42", "name": "Ana"}, "text": "hi", "timestamp": 1732400000},
  {"type": "status", "id": "evt-2", "message_id": "<id we got back when sending>", "status": "delivered"}
]}

Outbound: we POST {"id", "recipient": {"id"}, "text", "content", "conversation_id"} to the account's
`outbound_url`, signed the same way. A 2xx with {"message_id": "..."} is sent; 429/5xx are retried
(Retry-After honoured); other 4xx fail with the code from {"error": {"code": ...}} as the reason.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from touchpoint.channels.base import (
    AccountContext,
    NormalizedEvent,
    OutboundMessage,
    PayloadError,
    PermanentSendError,
    SendContext,
    SendResult,
    SignatureError,
    TransientSendError,
    WebhookReply,
    WebhookRequest,
)
from touchpoint.kit.signatures import constant_time_equals, hmac_sha256_hex
from touchpoint.kit.urls import UnsafeUrlError, check_outbound_url

SIGNATURE_HEADER = "x-touchpoint-signature"
TIMESTAMP_HEADER = "x-touchpoint-timestamp"
MAX_SKEW_SECONDS = 300
MAX_EVENTS = 100
STATUSES = {"sent", "delivered", "read", "failed"}


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    return "sha256=" + hmac_sha256_hex(secret, str(timestamp).encode() + b"." + body)


class ApiChannelAdapter:
    name = "api"
    accepts_webhooks = True

    def handshake(self, account: AccountContext, request: WebhookRequest) -> WebhookReply:
        return WebhookReply(200, "ok")

    def verify(self, account: AccountContext, request: WebhookRequest) -> None:
        secret = account.credentials.get("secret")
        if not secret:
            raise SignatureError("channel has no signing secret configured", status_code=403)
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        if not timestamp.isdigit():
            raise SignatureError("missing or malformed X-Touchpoint-Timestamp")
        if abs(time.time() - int(timestamp)) > MAX_SKEW_SECONDS:
            raise SignatureError("timestamp outside the five-minute window")
        if not constant_time_equals(sign(secret, timestamp, request.body), request.headers.get(SIGNATURE_HEADER)):
            raise SignatureError("signature does not match the body")

    def parse(self, account: AccountContext, request: WebhookRequest) -> list[NormalizedEvent]:
        try:
            data = json.loads(request.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise PayloadError(f"body is not JSON: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("events"), list):
            raise PayloadError('expected an object with an "events" list')
        if not data["events"] or len(data["events"]) > MAX_EVENTS:
            raise PayloadError(f"send between 1 and {MAX_EVENTS} events per request")
        return [self._event(i, raw) for i, raw in enumerate(data["events"])]

    def _event(self, index: int, raw: Any) -> NormalizedEvent:
        where = f"events[{index}]"
        if not isinstance(raw, dict):
            raise PayloadError(f"{where} is not an object")
        event_id = raw.get("id")
        if not isinstance(event_id, str) or not event_id or len(event_id) > 200:
            raise PayloadError(f"{where}.id must be a non-empty string of at most 200 characters")
        occurred = _timestamp(raw.get("timestamp"), where)
        kind = raw.get("type")
        if kind == "message":
            sender = raw.get("from")
            if not isinstance(sender, dict) or not isinstance(sender.get("id"), str) or not sender["id"]:
                raise PayloadError(f"{where}.from.id is required")
            text = raw.get("text", "")
            if not isinstance(text, str) or not text.strip():
                raise PayloadError(f"{where}.text must be a non-empty string")
            profile = {k: sender[k] for k in ("name", "email", "phone", "locale") if isinstance(sender.get(k), str)}
            return NormalizedEvent(kind="message", provider_event_id=event_id, sender_id=sender["id"][:200],
                                   occurred_at=occurred, text=text, profile=profile)
        if kind == "status":
            message_id, status = raw.get("message_id"), raw.get("status")
            if not isinstance(message_id, str) or status not in STATUSES:
                raise PayloadError(f"{where} needs message_id and a status in {sorted(STATUSES)}")
            return NormalizedEvent(kind="status", provider_event_id=event_id, sender_id="",
                                   occurred_at=occurred, provider_message_id=message_id, status=status,
                                   error=raw.get("error") if isinstance(raw.get("error"), str) else None)
        raise PayloadError(f"{where}.type must be 'message' or 'status'")

    def ack(self, account: AccountContext, request: WebhookRequest) -> WebhookReply:
        return WebhookReply(200, '{"ok":true}', "application/json")

    async def send(self, ctx: SendContext, account: AccountContext, message: OutboundMessage) -> SendResult:
        url = account.settings.get("outbound_url")
        secret = account.credentials.get("secret", "")
        if not url:
            raise PermanentSendError("no outbound_url configured", reason="channel_misconfigured")
        try:
            await check_outbound_url(url, allow_private=bool(getattr(ctx, "allow_private_urls", False)))
        except UnsafeUrlError as exc:
            raise PermanentSendError(str(exc), reason="unsafe_url") from exc
        body = json.dumps({"id": message.idempotency_key, "recipient": {"id": message.recipient_id},
                           "text": message.text, "content": message.content,
                           "conversation_id": message.conversation_id}).encode()
        timestamp = int(time.time())
        headers = {"content-type": "application/json", "idempotency-key": message.idempotency_key,
                   "x-touchpoint-timestamp": str(timestamp), "x-touchpoint-signature": sign(secret, timestamp, body)}
        try:
            response = await ctx.http.post(url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise TransientSendError(f"timeout: {exc}") from exc
        except httpx.TransportError as exc:
            raise TransientSendError(f"connection failed: {exc}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientSendError(f"HTTP {response.status_code}", retry_after=_retry_after(response))
        if response.status_code >= 400:
            raise PermanentSendError(f"HTTP {response.status_code}: {response.text[:200]}",
                                     reason=_error_code(response))
        try:
            provider_id = response.json().get("message_id")
        except ValueError:
            provider_id = None
        return SendResult(provider_message_id=str(provider_id) if provider_id else message.idempotency_key)


def _timestamp(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise PayloadError(f"{where}.timestamp must be unix seconds")
    return datetime.fromtimestamp(value, tz=UTC)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _error_code(response: httpx.Response) -> str:
    try:
        code = response.json()["error"]["code"]
        return f"provider:{code}"[:200]
    except (ValueError, KeyError, TypeError):
        return f"http_{response.status_code}"
