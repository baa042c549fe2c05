"""Dispatcher behaviour around the edges: a provider id that cannot be stored does not make the batch
be sent again; stopping a process finishes the batch in hand; an account's rate limit defers sends
without counting the wait as a failed attempt; malformed limits in account settings fall back."""

from __future__ import annotations

from tests.delivery.support import (
    UNLIMITED,
    CountingBrand,
    finished,
    message,
    open_conversations,
    outbox,
    queue_texts,
)
from tests.support.harness import API_SECRET, running
from tests.support.servers import eventually
from touchpoint.channels.base import AccountContext
from touchpoint.delivery.limits import DEFAULT_RATES, limits_for


async def test_provider_id_clash_is_recorded_without_sending_again(settings):
    # A buggy provider answers two different messages with the same id: the second cannot be stored
    # (unique per account). The sends happened; both must be recorded, neither sent a second time.
    brand = CountingBrand(secret=API_SECRET, script=[(200, {}, {"message_id": "same-id"})] * 2)
    async with running(settings, brand=brand, account_settings=UNLIMITED) as h:
        first, second = await open_conversations(h, 2)
        ids = await queue_texts(h, [(first, "one"), (second, "two")])
        rows = await finished(h, timeout=15)
        assert [r.status for r in rows] == ["done", "done"]
        messages = [await message(h, m) for m in ids]
        assert [m.status for m in messages] == ["sent", "sent"]
        assert sorted(m.external_id or "" for m in messages) == ["", "same-id"]
        assert brand.started == 2


async def test_stopping_finishes_the_batch_in_hand(settings):
    brand = CountingBrand(secret=API_SECRET, delay=0.5)
    async with running(settings, brand=brand, account_settings=UNLIMITED) as h:
        conversations = await open_conversations(h, 5)
        await queue_texts(h, [(c, f"to {c}") for c in conversations])
        await eventually(lambda: brand.started == 5)
        await h.runtime.state["loops"].stop()  # what SIGTERM or a server shutdown does
        rows = await outbox(h)
        # Sent and recorded: nothing is left leased to be sent again when the lease runs out.
        assert [r.status for r in rows] == ["done"] * 5
        assert len(brand.received) == 5


async def test_rate_limited_sends_are_deferred_without_using_an_attempt(settings):
    # Twenty conversations, four sends a second for the account: the batch cannot go out within the
    # dispatcher's inline wait. What does not fit waits in the table (not in memory, where it would
    # outlast its lease), and waiting is not a failed attempt.
    async with running(settings, account_settings={"rate_per_second": 4}) as h:
        conversations = await open_conversations(h, 20)
        ids = await queue_texts(h, [(c, f"to {c}") for c in conversations])

        async def deferred():
            rows = [r for r in await outbox(h) if r.status == "pending" and r.last_error == "rate limited"]
            return rows or None

        rows = await eventually(deferred, timeout=15)
        assert {r.attempts for r in rows} == {0}
        assert all(r.available_at > r.created_at for r in rows)
        assert {(await message(h, r.message_id)).status for r in rows} == {"queued"}
        assert len(h.brand.received) < len(ids)


def test_limits_fall_back_when_account_settings_are_malformed():
    def account(**settings):
        return AccountContext(7, 1, "key", {}, settings)

    [default] = limits_for(account(), "api", "r1")
    assert (default.per_window, default.burst) == (DEFAULT_RATES["api"] - 2, 2)
    for bad in ({"rate_per_second": 0}, {"rate_per_second": -3}, {"rate_per_second": "fast"},
                {"rate_per_second": None}, {"rate_per_second": float("inf")}):
        [limit] = limits_for(account(**bad), "api", "r1")
        assert limit.per_window == default.per_window, bad
    account_limit, recipient_limit = limits_for(
        account(rate_per_second="80", rate_burst=5, recipient_per_second=1), "api", "r1")
    assert (account_limit.key, account_limit.per_window, account_limit.burst) == ("acct:7", 77, 5)
    assert (recipient_limit.key, recipient_limit.per_second, recipient_limit.per_window) == ("rcpt:7:r1", 1.0, 1)
    assert len(limits_for(account(recipient_per_second=-1), "api", "r1")) == 1


def test_account_limits_keep_every_second_under_the_providers_limit():
    # Providers count arrivals per second: the window cap never exceeds the configured rate, and at 80/s
    # (a WhatsApp number) leaves three slots for arrival jitter; low rates get no burst.
    for rate in (1, 4, 20, 24, 25, 50, 80, 250, 1000):
        [limit] = limits_for(AccountContext(1, 1, "key", {}, {"rate_per_second": rate}), "api", "r")
        assert 1 <= limit.per_window <= rate and limit.window == 1.0, rate
        if rate >= 80:
            assert limit.per_window <= rate - 3, rate
        assert limit.burst == (2 if rate >= 25 else 1), rate
        assert limit.sustained == limit.per_window  # the cap decides the rate; the bucket only spaces
