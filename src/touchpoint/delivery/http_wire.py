"""The wire side of the provider HTTP client (http.py): one HTTP/1.1 keep-alive connection as an asyncio
Protocol that parses the response as it arrives, and the pool of them for one host. Errors are httpx's
exceptions, so callers handle them as they would httpx's own.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import httpx

MAX_HEAD_BYTES = 64 * 1024
# A provider's answer to a send is a few hundred bytes; a brand-configured URL must not make us buffer
# without bound.
MAX_RESPONSE_BYTES = 4 * 1024 * 1024


class Connection(asyncio.Protocol):
    """One keep-alive connection. `exchange` writes a request and resolves with (status, headers, body)
    once the response is complete (Content-Length, chunked, or read-until-close framing)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, list[tuple[bytes, bytes]], bytes]] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.closed = False
        self.reusable = True
        self.received = False  # any byte of the current response
        self.idle_since = 0.0
        self.head_only = False
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.framing = ""  # "" (reading the head) | length | chunked | close
        self.remaining = 0
        self.chunks: list[bytes] = []

    # ---- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's are not asyncio.Transport subclasses

    def data_received(self, data: bytes) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            # Bytes nobody asked for: this connection is out of step with the server.
            self.reusable = False
            self.close()
            return
        self.received = True
        self.buf += data
        try:
            self._parse()
        except httpx.HTTPError as exc:
            self._fail(exc)

    def eof_received(self) -> bool:
        self._lost(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost(exc)

    def _lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if self.framing == "close":
            self._finish(bytes(self.buf))
        elif exc is not None:
            self._fail(httpx.ReadError(f"connection lost: {exc!r}"))
        else:
            self._fail(httpx.RemoteProtocolError("server disconnected without sending a complete response"))

    # ---- requests
    def exchange(self, data: bytes, timeout: float | None, head_only: bool) -> asyncio.Future[Any]:
        waiter = self.loop.create_future()
        self.waiter = waiter
        self.received = False
        self.head_only = head_only
        self.framing = ""
        self.chunks = []
        if timeout is not None:
            self.timer = self.loop.call_later(timeout, self._timed_out)
        assert self.transport is not None
        self.transport.write(data)
        return waiter

    def _timed_out(self) -> None:
        self.timer = None
        self._fail(httpx.ReadTimeout("provider did not answer in time"))

    def _finish(self, body: bytes) -> None:
        if self.buf and self.framing != "close":
            self.reusable = False  # bytes beyond the response: not something to build on
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result((self.status, self.headers, body))

    def _fail(self, exc: Exception) -> None:
        self.reusable = False
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    # ---- response parsing
    def _parse(self) -> None:
        if len(self.buf) > MAX_RESPONSE_BYTES:
            raise httpx.RemoteProtocolError(f"response larger than {MAX_RESPONSE_BYTES} bytes")
        while not self.framing:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > MAX_HEAD_BYTES:
                    raise httpx.RemoteProtocolError("response head too large")
                return
            head = bytes(self.buf[:end])
            del self.buf[:end + 4]
            self._head(head)
        if self.framing == "length":
            if len(self.buf) >= self.remaining:
                body = bytes(self.buf[:self.remaining])
                del self.buf[:self.remaining]
                self._finish(body)
        elif self.framing == "chunked":
            self._chunked()

    def _head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise httpx.RemoteProtocolError(f"malformed status line {lines[0][:100]!r}")
        status = int(parts[1])
        if 100 <= status < 200:
            if status == 101:
                raise httpx.RemoteProtocolError("unexpected protocol switch")
            return  # informational (100 Continue, 103 Early Hints): the real answer follows
        headers = []
        length: int | None = None
        chunked = False
        keep_alive = parts[0] == b"HTTP/1.1"
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name, value = name.strip(), value.strip()
            headers.append((name, value))
            lower = name.lower()
            if lower == b"content-length":
                if not value.isdigit():
                    raise httpx.RemoteProtocolError("malformed Content-Length")
                length = int(value)
            elif lower == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif lower == b"connection":
                token = value.lower()
                keep_alive = b"keep-alive" in token if not keep_alive else b"close" not in token
        self.status, self.headers = status, headers
        if not keep_alive:
            self.reusable = False
        if self.head_only or status in (204, 304):
            self.framing = "length"
            self.remaining = 0
        elif chunked:
            self.framing = "chunked"
        elif length is not None:
            self.framing = "length"
            self.remaining = length
        else:
            self.framing = "close"
            self.reusable = False

    def _chunked(self) -> None:
        buf = self.buf
        while True:
            end = buf.find(b"\r\n")
            if end < 0:
                return
            size_text = bytes(buf[:end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise httpx.RemoteProtocolError("malformed chunk size") from None
            if size == 0:
                # Optional trailers, then an empty line.
                if buf[end + 2:end + 4] == b"\r\n":
                    del buf[:end + 4]
                else:
                    trailers_end = buf.find(b"\r\n\r\n", end + 2)
                    if trailers_end < 0:
                        return
                    del buf[:trailers_end + 4]
                self._finish(b"".join(self.chunks))
                return
            if len(buf) < end + 2 + size + 2:
                return
            self.chunks.append(bytes(buf[end + 2:end + 2 + size]))
            del buf[:end + 2 + size + 2]


class HostPool:
    """Connections to one (scheme, host, port): idle ones last-in first-out, at most `limit` open."""

    def __init__(self, scheme: str, host: str, port: int, *, limit: int, keepalive_expiry: float,
                 tls: Callable[[], ssl.SSLContext]) -> None:
        self.scheme, self.host, self.port, self.limit = scheme, host, port, limit
        self.keepalive_expiry = keepalive_expiry
        self.tls = tls
        self.idle: list[Connection] = []
        self.open = 0
        self.waiters: deque[asyncio.Future[Connection | None]] = deque()
        self.closed = False

    async def acquire(self, connect_timeout: float | None, pool_timeout: float | None) -> tuple[Connection, bool]:
        """A connection and whether it was used before (a reused one may have been closed by the server)."""
        while True:
            now = time.monotonic()
            while self.idle:
                conn = self.idle.pop()
                if not conn.closed and now - conn.idle_since < self.keepalive_expiry:
                    return conn, True
                self._discard(conn)
            if self.open < self.limit:
                self.open += 1
                try:
                    return await self._connect(connect_timeout), False
                except BaseException:
                    self.open -= 1
                    self._wake_one(None)
                    raise
            waiter: asyncio.Future[Connection | None] = asyncio.get_running_loop().create_future()
            self.waiters.append(waiter)
            try:
                async with asyncio.timeout(pool_timeout):
                    handed = await waiter
            except BaseException as exc:
                if waiter.done() and not waiter.cancelled():
                    # Handed a connection (or a free slot) just as we gave up: pass it on.
                    late = waiter.result()
                    if late is not None:
                        self.release(late)
                    else:
                        self._wake_one(None)
                if isinstance(exc, TimeoutError):
                    raise httpx.PoolTimeout(f"no free connection to {self.host} in time") from None
                raise
            if handed is not None:
                return handed, True

    async def _connect(self, connect_timeout: float | None) -> Connection:
        loop = asyncio.get_running_loop()
        tls = self.tls() if self.scheme == "https" else None
        try:
            async with asyncio.timeout(connect_timeout):
                _, protocol = await loop.create_connection(
                    lambda: Connection(loop), self.host, self.port, ssl=tls,
                    server_hostname=self.host if tls else None)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {self.host}:{self.port} timed out") from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        return protocol

    def release(self, conn: Connection) -> None:
        if conn.reusable and not conn.closed and not self.closed:
            conn.waiter = None
            while self.waiters:
                waiter = self.waiters.popleft()
                if not waiter.done():
                    waiter.set_result(conn)
                    return
            conn.idle_since = time.monotonic()
            self.idle.append(conn)
            return
        self._discard(conn)
        self._wake_one(None)

    def _discard(self, conn: Connection) -> None:
        conn.close()
        self.open -= 1

    def _wake_one(self, conn: Connection | None) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)  # None: a slot is free, connect a new one
                return

    def close(self) -> None:
        self.closed = True
        for conn in self.idle:
            conn.close()
        self.open -= len(self.idle)
        self.idle.clear()
