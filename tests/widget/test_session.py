"""POST /widget/v1/session: anonymous visitors (new, resumed), verified users, and every refusal."""

from __future__ import annotations

import time

from tests.support.harness import running
from tests.widget.helpers import (
    bearer,
    demo_user_hash,
    send,
    session_token,
    set_widget_policy,
    start_session,
)
from touchpoint.demo import WIDGET_KEY
from touchpoint.widget import tokens


def _refusals(h, kind, result):
    return h.app.state.metrics.widget.labels(kind, result)._value.get()


async def test_anonymous_visitor_is_issued_then_resumed_with_the_visitor_token(settings):
    async with running(settings) as h:
        _, first = await session_token(h)
        assert first["visitor"]["id"].startswith("v:") and first["visitor"]["verified"] is False
        assert first["resumed"] is False and first["visitor_token"]
        assert first["config"]["title"] == "Harbour Stays"
        assert first["config"]["greeting"] == "Hi! How can we help with your stay?"
        claims = tokens.read_session(settings.secret_key, first["session_token"])
        assert claims.account_key == WIDGET_KEY and claims.visitor_id == first["visitor"]["id"]
        assert claims.expires_at > time.time()

        _, again = await session_token(h, visitor_token=first["visitor_token"])
        assert again["resumed"] is True and again["visitor"]["id"] == first["visitor"]["id"]

        # A token we did not sign (or signed for another account) starts a new visitor, it resumes nobody.
        forged = tokens.issue_visitor_token("some-other-secret", WIDGET_KEY, first["visitor"]["id"])
        _, fresh = await session_token(h, visitor_token=forged)
        assert fresh["resumed"] is False and fresh["visitor"]["id"] != first["visitor"]["id"]


async def test_verified_user_with_the_right_hash_gets_a_verified_session(settings):
    async with running(settings) as h:
        good = await demo_user_hash(h, "guest-42")
        _, data = await session_token(h, user_id="guest-42", user_hash=good, name="Ana Silva")
        assert data["visitor"] == {"id": "u:guest-42", "verified": True}
        # Signed-in users prove themselves every session; no long-lived token stands in for the hash.
        assert data["visitor_token"] is None


async def test_wrong_or_missing_user_hash_is_refused_with_a_stable_code(settings):
    async with running(settings) as h:
        good = await demo_user_hash(h, "guest-42")
        wrong = await start_session(h, user_id="guest-42", user_hash=good[:-1] + ("0" if good[-1] != "0" else "1"))
        assert wrong.status_code == 403
        assert wrong.json()["error"]["code"] == "invalid_user_hash"
        other_user = await start_session(h, user_id="guest-43", user_hash=good)
        assert other_user.status_code == 403 and other_user.json()["error"]["code"] == "invalid_user_hash"
        missing = await start_session(h, user_id="guest-42")
        assert missing.status_code == 403 and missing.json()["error"]["code"] == "invalid_user_hash"
        assert _refusals(h, "session", "invalid_user_hash") == 3
        # Refusals carry CORS headers too, so the widget on the brand's site can read the reason.
        assert wrong.headers["access-control-allow-origin"] == "*"


async def test_verified_only_mode_refuses_anonymous_visitors_and_their_old_sessions(settings):
    async with running(settings) as h:
        old_token, _ = await session_token(h)
        await set_widget_policy(h, require_verified=True)
        refused = await start_session(h)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "verification_required"
        # Chatwoot #9493: enforcing verification must not leave the anonymous path open.
        late = await send(h, old_token, "hello?")
        assert late.status_code == 403 and late.json()["error"]["code"] == "verification_required"
        good = await demo_user_hash(h, "guest-42")
        _, data = await session_token(h, user_id="guest-42", user_hash=good)
        assert data["visitor"]["verified"] is True


async def test_unknown_account_bad_json_and_expired_tokens(settings):
    async with running(settings) as h:
        unknown = await h.client.post(f"{h.base_url}/widget/v1/session", json={"account": "nope"})
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_account"
        # The custom API channel's key is not a web chat.
        api_key = await h.client.post(f"{h.base_url}/widget/v1/session", json={"account": h.account_key})
        assert api_key.status_code == 404
        bad = await h.client.post(f"{h.base_url}/widget/v1/session", content=b"{not json",
                                  headers={"content-type": "application/json"})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"

        claims = tokens.SessionClaims(WIDGET_KEY, "v:someone", int(time.time()) - 1)
        expired = tokens.issue_session(settings.secret_key, claims)
        response = await h.client.get(f"{h.base_url}/widget/v1/messages", headers=bearer(expired))
        assert response.status_code == 401 and response.json()["error"]["code"] == "session_expired"
        tampered = await h.client.get(f"{h.base_url}/widget/v1/messages", headers=bearer(expired + "x"))
        assert tampered.status_code == 401 and tampered.json()["error"]["code"] == "session_invalid"
        none = await h.client.get(f"{h.base_url}/widget/v1/messages")
        assert none.status_code == 401 and none.json()["error"]["code"] == "session_missing"


async def test_origin_allow_list(settings):
    async with running(settings) as h:
        await set_widget_policy(h, allowed_origins=["https://harbour.example"])
        ok = await h.client.post(
            f"{h.base_url}/widget/v1/session", json={"account": WIDGET_KEY},
            headers={"origin": "https://harbour.example"})
        assert ok.status_code == 200, ok.text
        token = ok.json()["session_token"]
        evil = await h.client.post(f"{h.base_url}/widget/v1/session", json={"account": WIDGET_KEY},
                                   headers={"origin": "https://evil.example"})
        assert evil.status_code == 403 and evil.json()["error"]["code"] == "origin_not_allowed"
        stolen = await send(h, token, "hi", headers={"origin": "https://evil.example"})
        assert stolen.status_code == 403
        assert _refusals(h, "session", "origin_not_allowed") == 1
        assert _refusals(h, "send", "origin_not_allowed") == 1


async def test_preflight_is_answered_for_cross_site_embedding(settings):
    async with running(settings) as h:
        response = await h.client.options(f"{h.base_url}/widget/v1/messages", headers={
            "origin": "https://harbour.example", "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type"})
        assert response.status_code == 204
        assert "authorization" in response.headers["access-control-allow-headers"].lower()
