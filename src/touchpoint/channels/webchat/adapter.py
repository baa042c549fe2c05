"""Web chat adapter. Inbound arrives on the widget endpoints, not on /webhooks; outbound is published
to the visitor's realtime topic, and the widget's acknowledgements come back as status events."""

from __future__ import annotations

from touchpoint.channels.base import (
    AccountContext,
    NormalizedEvent,
    OutboundMessage,
    PayloadError,
    SendContext,
    SendResult,
    SignatureError,
    WebhookReply,
    WebhookRequest,
)


def visitor_topic(account_key: str, visitor_id: str) -> str:
    return f"visitor:{account_key}:{visitor_id}"


class WebChatAdapter:
    name = "webchat"
    accepts_webhooks = False

    def handshake(self, account: AccountContext, request: WebhookRequest) -> WebhookReply:
        return WebhookReply(404, "web chat has no webhook")

    def verify(self, account: AccountContext, request: WebhookRequest) -> None:
        raise SignatureError("web chat does not accept webhooks", status_code=404)

    def parse(self, account: AccountContext, request: WebhookRequest) -> list[NormalizedEvent]:
        raise PayloadError("web chat does not accept webhooks")

    def ack(self, account: AccountContext, request: WebhookRequest) -> WebhookReply:
        return WebhookReply(200, "")

    async def send(self, ctx: SendContext, account: AccountContext, message: OutboundMessage) -> SendResult:
        # The transcript is in the database, so a visitor who is offline now reads it on reconnect;
        # publishing is the fast path for a visitor who is connected.
        await ctx.publish(visitor_topic(account.key, message.recipient_id), {
            "type": "message", "id": message.message_id, "text": message.text,
            "content": message.content, "conversation_id": message.conversation_id,
        })
        return SendResult(provider_message_id=f"wc-{message.message_id}")
