"""Outbound URL safety: private, loopback and link-local targets are refused unless allowed."""

from __future__ import annotations

import pytest

from touchpoint.kit.urls import UnsafeUrlError, check_outbound_url


@pytest.mark.parametrize("url", ["http://127.0.0.1/x", "http://10.1.2.3/x", "http://169.254.169.254/latest",
                                 "http://[::1]/x", "http://192.168.0.10:8080/hook", "http://0.0.0.0/"])
async def test_private_targets_are_refused(url):
    with pytest.raises(UnsafeUrlError):
        await check_outbound_url(url, allow_private=False)


async def test_private_targets_pass_when_allowed():
    await check_outbound_url("http://127.0.0.1:9/x", allow_private=True)


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "http:///nohost", "javascript:alert(1)"])
async def test_non_http_urls_are_refused_even_when_private_is_allowed(url):
    with pytest.raises(UnsafeUrlError):
        await check_outbound_url(url, allow_private=True)


async def test_public_address_literal_passes():
    await check_outbound_url("https://93.184.215.14/hook", allow_private=False)
