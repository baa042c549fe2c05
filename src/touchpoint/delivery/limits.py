"""The rate limits a channel account's sends fall under, built from its settings."""

from __future__ import annotations

import math
from typing import Any

from touchpoint.channels.base import AccountContext
from touchpoint.delivery.ratelimit import Limit

DEFAULT_RATES = {"api": 50.0, "webchat": 200.0}
# Providers count arrivals per second. An account's limit is a cap on the sends in any sliding second, a
# little under the configured rate, and a GCRA bucket (burst 2) that spaces them. The cap is the
# guarantee: what arrives at the provider in a second can be what we granted in a slightly longer span (a
# send delayed on our side or on the network lands next to the following one), so it keeps
# ARRIVAL_JITTER_SECONDS worth of slots free (3 at 80/s: 77 a second). The bucket runs CATCH_UP times the
# configured rate: after a pause (a GC, a busy loop, the machine) the sender catches up within the cap,
# some 7 slots a second, instead of losing them. Its burst stays 2: a larger one comes back as a bunch
# at the same point of every second, where the cap releases it. Measured in docs/benchmarks.md.
ARRIVAL_JITTER_SECONDS = 0.04
CATCH_UP = 1.05


def account_limit(account: AccountContext, channel: str) -> tuple[Limit, float]:
    """The account's own bucket, and the per-recipient rate (0: none)."""
    settings = account.settings
    per_second = _positive(settings.get("rate_per_second"), DEFAULT_RATES.get(channel, 20.0))
    burst = max(int(_positive(settings.get("rate_burst"), 2 if per_second >= 25 else 1)), 1)
    return (Limit(f"acct:{account.id}", per_second * CATCH_UP, burst, per_window=_per_window(per_second)),
            _positive(settings.get("recipient_per_second"), 0.0))


def _per_window(per_second: float) -> int:
    # Whole messages of margin (3 at 80/s, none below 25/s): a fraction would round a low rate down a slot.
    return max(math.floor(per_second - math.floor(per_second * ARRIVAL_JITTER_SECONDS)), 1)


def recipient_limit(account_id: int, recipient: str, per_second: float) -> Limit:
    return Limit(f"rcpt:{account_id}:{recipient}", per_second, 1, per_window=_per_window(per_second))


def limits_for(account: AccountContext, channel: str, recipient: str) -> list[Limit]:
    limit, per_recipient = account_limit(account, channel)
    return [limit, recipient_limit(account.id, recipient, per_recipient)] if per_recipient else [limit]


def _positive(value: Any, default: float) -> float:
    """Account settings are typed in by people: a missing, malformed or non-positive rate means the
    default, never a crash of the whole batch (or an unlimited one)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 and math.isfinite(number) else default
