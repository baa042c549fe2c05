"""Signing in and out, session cookies, CSRF, and the failed-login throttle."""

from __future__ import annotations

import os
import time
import uuid

import pytest
from sqlalchemy import update
from starlette.responses import Response

from tests.inbox.helpers import MARIA, new_browser, post_login, sign_in
from tests.support.harness import running
from touchpoint.config import Settings
from touchpoint.demo import DEMO_PASSWORD
from touchpoint.inbox import auth
from touchpoint.kit.passwords import hash_password
from touchpoint.models import Agent

GENERIC_ERROR = "That email and password do not match an account."


async def test_login_sets_a_secure_session_and_logout_ends_it(settings):
    async with running(settings, run_background=False) as h:
        http = new_browser(h)
        response = await post_login(http, "  Maria@Harbour.example ", DEMO_PASSWORD, next="/inbox?view=bot")
        assert response.status_code == 303
        assert response.headers["location"] == "/inbox?view=bot"
        cookie = next(v for k, v in response.headers.multi_items()
                      if k == "set-cookie" and v.startswith(auth.SESSION_COOKIE + "="))
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=43200" in cookie
        assert "Secure" not in cookie  # test settings: plain HTTP on loopback
        page = await http.get("/inbox")
        assert page.status_code == 200 and "Maria Lopez" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
        # An already signed-in agent visiting /login goes straight to the inbox.
        assert (await http.get("/login")).status_code == 303

        token = auth.load_session(h.runtime.settings, http.cookies[auth.SESSION_COOKIE])
        assert token is not None
        out = await http.post("/logout", data={"csrf_token": token.csrf})
        assert out.status_code == 303 and out.headers["location"] == "/login"
        after = await http.get("/inbox")
        assert after.status_code == 303 and after.headers["location"].startswith("/login")
        await http.aclose()


@pytest.mark.parametrize("email,password", [(MARIA, "wrong-password"), ("nobody@harbour.example", DEMO_PASSWORD)])
async def test_failed_login_says_the_same_thing_for_unknown_email_and_wrong_password(settings, email, password):
    async with running(settings, run_background=False) as h:
        http = new_browser(h)
        response = await post_login(http, email, password)
        assert response.status_code == 401
        assert GENERIC_ERROR in response.text
        assert auth.SESSION_COOKIE not in http.cookies
        assert (await http.get("/inbox")).status_code == 303
        await http.aclose()


async def test_failed_logins_are_throttled_per_email_and_address(settings):
    async with running(settings, run_background=False) as h:
        http = new_browser(h)
        for _ in range(auth.MAX_FAILURES_PER_EMAIL_IP):
            assert (await post_login(http, MARIA, "guess")).status_code == 401
        blocked = await post_login(http, MARIA, DEMO_PASSWORD)
        assert blocked.status_code == 429
        assert "Too many failed attempts" in blocked.text
        assert auth.SESSION_COOKIE not in http.cookies
        # Another agent from the same address is not locked out by Maria's failures.
        assert (await post_login(http, "sam@harbour.example", DEMO_PASSWORD)).status_code == 303
        await http.aclose()


async def test_login_form_needs_its_csrf_token(settings):
    async with running(settings, run_background=False) as h:
        http = new_browser(h)
        await http.get("/login")
        response = await http.post("/login", data={"email": MARIA, "password": DEMO_PASSWORD, "csrf_token": "forged"})
        assert response.status_code == 403
        assert auth.SESSION_COOKIE not in http.cookies
        await http.aclose()


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/inbox", "/\\evil.example",
                                    "/inbox\\@evil", "/api/v1/contacts"])
def test_login_never_redirects_outside_the_inbox(target):
    from touchpoint.inbox.pages import safe_next

    assert safe_next(target) == "/inbox"
    assert safe_next("/inbox/conversations/3") == "/inbox/conversations/3"


async def test_pages_redirect_to_login_when_signed_out(settings):
    async with running(settings, run_background=False) as h:
        http = new_browser(h)
        for path in ("/inbox", "/inbox/list", "/inbox/conversations/1", "/inbox/conversations/1/messages"):
            response = await http.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/login?next=")
        htmx = await http.get("/inbox/list", headers={"HX-Request": "true"})
        assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/login")
        action = await http.post("/inbox/conversations/1/resolve", data={"csrf_token": "x"})
        assert action.status_code == 303 and action.headers["location"] == "/login?next=/inbox"
        # A forged or tampered cookie is no session either.
        http.cookies.set(auth.SESSION_COOKIE, "eyJhIjoxfQ.forged.signature")
        assert (await http.get("/inbox")).status_code == 303
        await http.aclose()


async def test_state_changing_requests_without_the_csrf_token_are_refused(settings):
    async with running(settings, run_background=False) as h:
        maria = await sign_in(h)
        for path in ("/inbox/conversations/2/resolve", "/inbox/conversations/2/take-over"):
            missing = await maria.act(path, csrf=None)
            assert missing.status_code == 403, path
            wrong = await maria.act(path, csrf="not-the-token", htmx=False)
            assert wrong.status_code == 403, path
            assert "csrf_failed" in wrong.text
        assert (await maria.act("/inbox/conversations/2/note", {"text": "hi"}, csrf=None)).status_code == 403
        assert (await maria.http.post("/logout")).status_code == 403
        # Nothing changed: the waiting conversation is still waiting, with no note.
        page = await maria.get("/inbox/conversations/2")
        assert "pill-queued" in page.text and "msg-note" not in page.text
        await maria.aclose()


async def test_a_password_change_or_deactivation_ends_existing_sessions(settings):
    async with running(settings, run_background=False) as h:
        maria = await sign_in(h)
        async with h.runtime.transaction() as session:
            await session.execute(update(Agent).where(Agent.email == MARIA)
                                  .values(password_hash=hash_password("a-new-password-2026")))
        assert (await maria.get("/inbox")).status_code == 303
        sam = await sign_in(h, "sam@harbour.example")
        async with h.runtime.transaction() as session:
            await session.execute(update(Agent).where(Agent.email == "sam@harbour.example").values(is_active=False))
        assert (await sam.get("/inbox")).status_code == 303
        assert (await post_login(new_browser(h), "sam@harbour.example", DEMO_PASSWORD)).status_code == 401
        await maria.aclose()
        await sam.aclose()


def test_sessions_expire_and_cannot_be_forged():
    settings = Settings(environment="test", secret_key="k" * 40)
    fresh = auth.new_session(agent_id=1, workspace_id=1, password_hash="h")
    assert auth.load_session(settings, auth.dump_session(settings, fresh)) == fresh
    old = auth.SessionData(1, 1, "csrf", "fp", time.time() - auth.SESSION_MAX_AGE - 5)
    assert auth.load_session(settings, auth.dump_session(settings, old)) is None
    other = Settings(environment="test", secret_key="z" * 40)
    assert auth.load_session(other, auth.dump_session(settings, fresh)) is None
    assert auth.load_session(settings, "garbage") is None


def test_cookie_is_secure_when_configured():
    settings = Settings(environment="test", secret_key="k" * 40, session_cookie_secure=True)
    response = Response()
    auth.set_session_cookie(response, settings, auth.new_session(agent_id=1, workspace_id=1, password_hash="h"))
    header = response.headers["set-cookie"]
    assert "Secure" in header and "HttpOnly" in header and "SameSite=lax" in header


async def test_memory_throttle_window_counts_failures():
    throttle = auth.MemoryLoginThrottle()
    for _ in range(auth.MAX_FAILURES_PER_EMAIL_IP - 1):
        await throttle.failed("a@x", "1.2.3.4")
    assert await throttle.retry_after("a@x", "1.2.3.4") == 0
    await throttle.failed("A@X ", "1.2.3.4")
    assert await throttle.retry_after("a@x", "1.2.3.4") > 0
    assert await throttle.retry_after("a@x", "5.6.7.8") == 0
    await throttle.succeeded("a@x", "1.2.3.4")
    assert await throttle.retry_after("a@x", "1.2.3.4") == 0


@pytest.mark.skipif(not os.environ.get("TOUCHPOINT_TEST_REDIS_URL"), reason="TOUCHPOINT_TEST_REDIS_URL is not set")
async def test_redis_throttle_is_shared_between_processes():
    url = os.environ["TOUCHPOINT_TEST_REDIS_URL"]
    email, ip = f"{uuid.uuid4().hex}@x", f"10.{uuid.uuid4().int % 250}.0.1"
    one, two = auth.RedisLoginThrottle(url), auth.RedisLoginThrottle(url)
    for _ in range(auth.MAX_FAILURES_PER_EMAIL_IP):
        await one.failed(email, ip)
    assert await two.retry_after(email, ip) > 0
    await two.succeeded(email, ip)
    assert await one.retry_after(email, ip) == 0
