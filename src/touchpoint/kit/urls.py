"""Refuse brand-configured URLs that point inside our network (SSRF), unless explicitly allowed.

The lookup is asynchronous (a blocking getaddrinfo would stall every send in the process) and cached
briefly, since a dispatcher checks the same few URLs thousands of times a minute.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from urllib.parse import urlsplit

CACHE_SECONDS = 60.0
_verdicts: dict[tuple[str, int], tuple[float, str | None]] = {}


class UnsafeUrlError(ValueError):
    pass


def _problem_with(address: str) -> str | None:
    ip = ipaddress.ip_address(address)
    if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast \
            or ip.is_unspecified:
        return f"resolves to a non-public address ({ip})"
    return None


async def check_outbound_url(url: str, *, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrlError(f"not an http(s) URL: {url!r}")
    if allow_private:
        return
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    cached = _verdicts.get((host, port))
    if cached is None or cached[0] < time.monotonic():
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        except socket.gaierror as exc:
            raise UnsafeUrlError(f"cannot resolve {host}") from exc
        problem = next((p for p in (_problem_with(str(info[4][0])) for info in infos) if p), None)
        cached = (time.monotonic() + CACHE_SECONDS, problem)
        _verdicts[(host, port)] = cached
    if cached[1]:
        raise UnsafeUrlError(f"{host} {cached[1]}")
