"""Health, readiness and metrics endpoints."""

from __future__ import annotations

from tests.support.harness import running


async def test_healthz_and_readyz_report_each_check(settings):
    async with running(settings) as h:
        assert (await h.client.get(f"{h.base_url}/healthz")).json() == {"status": "ok"}
        ready = await h.client.get(f"{h.base_url}/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"database": "ok", "migrations": "ok", "dispatcher": "ok"}


async def test_readyz_says_external_when_this_process_does_not_dispatch(settings):
    async with running(settings, run_background=False) as h:
        ready = await h.client.get(f"{h.base_url}/readyz")
        assert ready.json()["checks"]["dispatcher"] == "external"


async def test_readyz_is_503_when_the_dispatcher_stalls(settings):
    async with running(settings) as h:
        loops = h.runtime.state["loops"]
        loops.heartbeats["outbox"] = 0.0
        # Stop the loops so the heartbeat is not refreshed while we look.
        await loops.stop()
        ready = await h.client.get(f"{h.base_url}/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["dispatcher"] == "stalled"


async def test_metrics_expose_queue_depth_and_lag(settings):
    async with running(settings) as h:
        text = (await h.client.get(f"{h.base_url}/metrics")).text
        for name in ("touchpoint_outbox_depth", "touchpoint_dispatcher_lag_seconds", "touchpoint_messages",
                     "touchpoint_inbound_lag_seconds", "touchpoint_webhooks_received_total"):
            assert name in text


async def test_root_leads_to_the_inbox(settings):
    async with running(settings, run_background=False) as h:
        response = await h.client.get(f"{h.base_url}/", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/inbox"
