"""Bad input on the webhook path: precise 4xx, nothing stored, never a 500, and counted in /metrics."""

from __future__ import annotations

import json
import time

from sqlalchemy import func, select

from tests.support.harness import running
from tests.support.servers import eventually
from touchpoint.channels.api.adapter import sign
from touchpoint.models import InboundEvent


async def _stored(h) -> int:
    async with h.runtime.sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(InboundEvent))).scalar() or 0)


async def test_wrong_or_missing_signature_is_refused_and_nothing_is_stored(settings):
    async with running(settings, run_background=False) as h:
        event = [{"type": "message", "id": "e1", "from": {"id": "u1"}, "text": "hello"}]
        wrong = await h.post_events(event, secret="not-the-secret")
        assert wrong.status_code == 401
        assert wrong.json()["error"]["code"] == "bad_signature"
        missing = await h.client.post(h.webhook_url(), content=json.dumps({"events": event}),
                                      headers={"content-type": "application/json"})
        assert missing.status_code == 401
        stale = await h.post_events(event, timestamp=int(time.time()) - 3600)
        assert stale.status_code == 401
        assert "five-minute" in stale.json()["error"]["message"]
        assert await _stored(h) == 0


async def test_body_changed_after_signing_is_refused(settings):
    async with running(settings, run_background=False) as h:
        body = json.dumps({"events": [{"type": "message", "id": "e1", "from": {"id": "u1"}, "text": "hi"}]}).encode()
        ts = int(time.time())
        signature = sign("brand-shared-secret-for-tests", ts, body)
        tampered = body.replace(b"hi", b"ho")
        response = await h.client.post(h.webhook_url(), content=tampered, headers={
            "x-touchpoint-timestamp": str(ts), "x-touchpoint-signature": signature})
        assert response.status_code == 401
        assert await _stored(h) == 0


async def test_malformed_payloads_are_400_with_a_reason_and_nothing_half_stored(settings):
    async with running(settings, run_background=False) as h:
        cases = {
            "not json": b"{nope",
            "no events": json.dumps({"foo": 1}).encode(),
            "second event broken": json.dumps({"events": [
                {"type": "message", "id": "ok-1", "from": {"id": "u1"}, "text": "fine"},
                {"type": "message", "id": "bad-2", "from": {}, "text": "no sender"}]}).encode(),
            "unknown type": json.dumps({"events": [{"type": "reaction", "id": "x"}]}).encode(),
            "binary": bytes(range(256)),
        }
        for name, body in cases.items():
            ts = int(time.time())
            response = await h.client.post(h.webhook_url(), content=body, headers={
                "x-touchpoint-timestamp": str(ts),
                "x-touchpoint-signature": sign("brand-shared-secret-for-tests", ts, body)})
            assert response.status_code == 400, (name, response.text)
            assert response.json()["error"]["code"] == "malformed", name
            assert response.json()["error"]["message"], name
        assert await _stored(h) == 0


async def test_oversize_body_is_413(settings):
    settings = settings.model_copy(update={"max_webhook_bytes": 2_000})
    async with running(settings, run_background=False) as h:
        response = await h.post_events([{"type": "message", "id": "big", "from": {"id": "u"}, "text": "x" * 5_000}])
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"
        assert await _stored(h) == 0


async def test_unknown_channel_and_unknown_account_are_404(settings):
    async with running(settings, run_background=False) as h:
        assert (await h.client.post(f"{h.base_url}/webhooks/carrier-pigeon/abc", content=b"{}")).status_code == 404
        assert (await h.client.post(f"{h.base_url}/webhooks/api/no-such-account", content=b"{}")).status_code == 404
        # The web chat account exists but does not take webhooks.
        assert (await h.client.post(f"{h.base_url}/webhooks/webchat/demo-widget", content=b"{}")).status_code == 404
        assert (await h.client.get(f"{h.base_url}/webhooks/api/no-such-account")).status_code == 404


async def test_the_same_event_three_times_makes_one_message(settings):
    async with running(settings) as h:
        for _ in range(3):
            response = await h.say("user-7", "Do you have wifi?", event_id="provider-evt-1")
            assert response.status_code == 200
        await eventually(lambda: h.brand.received)
        rows = await h.messages()
        inbound = [m for m in rows if m.direction == "in" and m.text == "Do you have wifi?"]
        assert len(inbound) == 1
        assert len(h.brand.received) == 1
        assert await _stored(h) == 1


async def test_refusals_are_counted_in_metrics(settings):
    async with running(settings, run_background=False) as h:
        await h.post_events([{"type": "message", "id": "e", "from": {"id": "u"}, "text": "x"}], secret="wrong")
        await h.client.post(f"{h.base_url}/webhooks/nope/x", content=b"{}")
        await h.say("u9", "hello")
        text = (await h.client.get(f"{h.base_url}/metrics")).text
        assert 'touchpoint_webhooks_received_total{channel="api",result="bad_signature"} 1.0' in text
        assert 'touchpoint_webhooks_received_total{channel="unknown",result="unknown_channel"} 1.0' in text
        assert 'touchpoint_webhooks_received_total{channel="api",result="stored"} 1.0' in text
        assert 'touchpoint_inbound_depth{status="pending"} 1.0' in text


async def test_database_locked_answers_503_and_the_retry_is_stored(settings, db_kind):
    """A provider retrying after our 503 must get its event stored exactly once."""
    async with running(settings, run_background=False) as h:
        original = h.runtime.transaction

        def broken():
            from sqlalchemy.exc import OperationalError

            raise OperationalError("INSERT", {}, Exception("database is locked"))

        h.runtime.transaction = broken  # type: ignore[method-assign]
        first = await h.say("u1", "hello", event_id="retry-me")
        assert first.status_code == 503
        assert first.headers["retry-after"]
        h.runtime.transaction = original  # type: ignore[method-assign]
        second = await h.say("u1", "hello", event_id="retry-me")
        assert second.status_code == 200
        assert await _stored(h) == 1
