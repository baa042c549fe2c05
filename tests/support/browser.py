"""Headless Chromium for browser tests: Debian's /usr/bin/chromium driven by Playwright.

Without Chromium the tests skip with a message, unless TOUCHPOINT_REQUIRE_BROWSER=1 (CI), where a missing
browser is a failure rather than a silently smaller run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# The background-networking flags matter: without them Chromium keeps trying to reach Google's hosts.
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
WAIT_MS = 15_000  # an upper bound for a stuck test, not a timing assertion


def chromium_or_skip() -> str:
    if not CHROMIUM.exists():
        message = f"headless Chromium not found at {CHROMIUM}: browser test skipped"
        if os.environ.get("TOUCHPOINT_REQUIRE_BROWSER") == "1":
            pytest.fail(message + " (TOUCHPOINT_REQUIRE_BROWSER=1: install Debian's chromium)")
        pytest.skip(message)
    return str(CHROMIUM)
