"""The HTTP client provider sends go through: an httpx.AsyncClient whose `post` takes a short path of its own.

Why: sending was most of the dispatcher's CPU, and httpx spends it in its generic layers (request and
response models, auth and cookie flows) and in httpcore's pool, which scans every pooled connection per
request through anyio. Measured against the benchmarks' fake provider in one session: httpx `post` 0.56
ms of CPU per request at concurrency 1 and 1.0 ms at 20; this path 0.07 to 0.12 ms, JSON body and
signature included (docs/benchmarks.md, "HTTP client"). The dispatcher's budget is ~0.6 ms per message.

The short path (http_wire.py): HTTP/1.1 keep-alive connections, one request at a time each, reused
last-in first-out per host (so a handful stay warm at low concurrency), on an asyncio Protocol that parses
the response as it arrives. It returns real `httpx.Response` objects and raises httpx's exceptions
(ConnectError, ReadTimeout, RemoteProtocolError...), so adapters are written against httpx and cannot tell.

What it leaves to httpx (super().post, its own pool): anything unusual for a provider call (form data,
files, params, cookies, auth, redirects, extensions, event hooks) and every request when an HTTP proxy
is configured in the environment. HTTPS uses httpx's SSL context (same trust store).
"""

from __future__ import annotations

import json as jsonlib
import ssl
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import httpx

from touchpoint.delivery.http_wire import HostPool

DEFAULT_MAX_PER_HOST = 256
DROPPED_DEFAULT_HEADERS = frozenset({"accept-encoding", "connection", "host", "content-length", "transfer-encoding"})
IDEMPOTENT_METHODS = frozenset({b"GET", b"HEAD", b"PUT", b"DELETE", b"OPTIONS"})


class ProviderClient(httpx.AsyncClient):
    """httpx.AsyncClient with a fast `post` for plain provider calls (see the module docstring)."""

    def __init__(self, *, max_connections_per_host: int = DEFAULT_MAX_PER_HOST, keepalive_expiry: float = 5.0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_connections_per_host = max_connections_per_host
        self.keepalive_expiry = keepalive_expiry
        self._pools: dict[tuple[str, str, int], HostPool] = {}
        self._targets: dict[str, tuple[HostPool, bytes, httpx.URL]] = {}
        self._ssl: ssl.SSLContext | None = None
        # Behind a proxy every request takes httpx's path, which knows how to use it.
        self.fast = not (self.trust_env and urllib.request.getproxies())
        self._closing = False
        base = {name.lower(): value for name, value in self.headers.items()
                if name.lower() not in DROPPED_DEFAULT_HEADERS}
        self._base_headers = base

    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context(trust_env=self.trust_env)
            self._ssl.set_alpn_protocols(["http/1.1"])
        return self._ssl

    async def post(self, url: httpx.URL | str, *, content: Any = None, data: Any = None, files: Any = None,
                   json: Any = None, params: Any = None, headers: Any = None, cookies: Any = None,
                   auth: Any = httpx.USE_CLIENT_DEFAULT, follow_redirects: Any = httpx.USE_CLIENT_DEFAULT,
                   timeout: Any = httpx.USE_CLIENT_DEFAULT,  # noqa: ASYNC109 (httpx's signature)
                   extensions: Any = None) -> httpx.Response:
        plain = (self.fast and not self._closing and data is None and files is None and params is None
                 and cookies is None and auth is httpx.USE_CLIENT_DEFAULT and extensions is None
                 and follow_redirects is not True
                 and isinstance(content, bytes | str | None) and (content is None or json is None))
        if plain and isinstance(url, str) and not (self.auth or self.cookies or self.follow_redirects
                                                   or self._has_hooks()):
            target = self._target(url)
            if target is not None:
                if json is not None:
                    content = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"),
                                            allow_nan=False).encode()
                    headers = {"content-type": "application/json", **dict(headers or {})}
                elif isinstance(content, str):
                    content = content.encode()
                return await self._fast_request(b"POST", target, content or b"", headers, self._timeouts(timeout))
        return await super().post(url, content=content, data=data, files=files, json=json, params=params,
                                  headers=headers, cookies=cookies, auth=auth, follow_redirects=follow_redirects,
                                  timeout=timeout, extensions=extensions)

    def _has_hooks(self) -> bool:
        hooks = self.event_hooks
        return bool(hooks.get("request") or hooks.get("response"))

    def _target(self, url: str) -> tuple[HostPool, bytes, httpx.URL] | None:
        found = self._targets.get(url)
        if found is not None:
            return found
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
            return None
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = parts.hostname
        key = (parts.scheme, host, port)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = HostPool(parts.scheme, host, port, limit=self.max_connections_per_host,
                                               keepalive_expiry=self.keepalive_expiry, tls=self.ssl_context)
        authority = f"[{host}]" if ":" in host else host
        if parts.port is not None and port != (443 if parts.scheme == "https" else 80):
            authority += f":{port}"
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        start = f" {path} HTTP/1.1\r\nhost: {authority}\r\n".encode("ascii", "strict")
        found = (pool, start, httpx.URL(url))
        if len(self._targets) < 10_000:  # one entry per configured provider URL, normally a handful
            self._targets[url] = found
        return found

    def _timeouts(self, timeout: Any) -> httpx.Timeout:
        return self.timeout if timeout is httpx.USE_CLIENT_DEFAULT else httpx.Timeout(timeout)

    async def _fast_request(self, method: bytes, target: tuple[HostPool, bytes, httpx.URL], body: bytes,
                            headers: Any, limits: httpx.Timeout) -> httpx.Response:
        pool, start, url = target
        merged = dict(self._base_headers)
        if headers:
            for name, value in (headers.items() if hasattr(headers, "items") else headers):
                name = name.decode("latin-1") if isinstance(name, bytes) else name
                merged[name.lower()] = value.decode("latin-1") if isinstance(value, bytes) else value
        for name in DROPPED_DEFAULT_HEADERS:
            merged.pop(name, None)
        lines = "".join(f"{name}: {value}\r\n" for name, value in merged.items())
        if lines.count("\n") != len(merged) or lines.count("\r") != len(merged):
            raise httpx.LocalProtocolError("header names and values must not contain line breaks")
        data = (method + start + lines.encode("latin-1")
                + b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        retry_stale = method in IDEMPOTENT_METHODS or "idempotency-key" in merged
        for attempt in (1, 2):
            conn, reused = await pool.acquire(limits.connect, limits.pool)
            try:
                status, raw_headers, content = await conn.exchange(data, limits.read, method == b"HEAD")
            except (httpx.RemoteProtocolError, httpx.ReadError):
                pool.release(conn)
                # A kept-alive connection the server closed just before we wrote: nothing reached it, so
                # one more try on a new connection is safe when a retry is (idempotency key, GET...).
                if attempt == 1 and reused and not conn.received and retry_stale:
                    continue
                raise
            except BaseException:
                conn.reusable = False
                pool.release(conn)
                raise
            pool.release(conn)
            return httpx.Response(status, headers=raw_headers, content=content,
                                  request=httpx.Request(method.decode(), url))
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        self._closing = True
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        self._targets.clear()
        await super().aclose()
