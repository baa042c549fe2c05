"""The provider HTTP client's own path (delivery/http.py, http_wire.py) against a scripted raw HTTP/1.1
server: keep-alive reuse, every response framing, what a provider may do wrong (close, stall, oversize,
garbage), and that callers get httpx's objects and exceptions whichever path a request takes."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest

from touchpoint.delivery import http_wire
from touchpoint.delivery.http import ProviderClient

Handler = Callable[["Exchange"], Awaitable[bytes | None]]  # the raw answer, or None to hang up


@dataclass
class Exchange:
    connection: int  # which connection (1, 2, ...)
    number: int  # which request on it (1, 2, ...)
    head: str
    body: bytes


@dataclass
class Server:
    port: int
    requests: list[Exchange] = field(default_factory=list)
    connections: int = 0
    open_now: int = 0
    most_open: int = 0

    def url(self, path: str = "/send") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def answer(status: str = "200 OK", body: bytes = b'{"message_id":"m-1"}', headers: str = "") -> bytes:
    return (f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n{headers}\r\n"
            .encode() + body)


@contextlib.asynccontextmanager
async def scripted(handler: Handler) -> AsyncIterator[Server]:
    state = Server(0)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections += 1
        state.open_now += 1
        state.most_open = max(state.most_open, state.open_now)
        connection, number = state.connections, 0
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                length = next((int(line.split(":", 1)[1]) for line in head.split("\r\n")
                               if line.lower().startswith("content-length:")), 0)
                number += 1
                exchange = Exchange(connection, number, head, await reader.readexactly(length))
                state.requests.append(exchange)
                reply = await handler(exchange)
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
                if reply.startswith(b"HTTP/1.0") or b"connection: close" in reply.lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            state.open_now -= 1
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        server.close()


@contextlib.asynccontextmanager
async def client(**kwargs: object) -> AsyncIterator[ProviderClient]:
    c = ProviderClient(timeout=httpx.Timeout(2.0, connect=2.0), headers={"user-agent": "Touchpoint/test"}, **kwargs)
    try:
        yield c
    finally:
        await c.aclose()


async def ok(exchange: Exchange) -> bytes:
    return answer()


async def test_posts_reuse_one_keep_alive_connection_and_return_httpx_responses():
    async with scripted(ok) as server, client() as c:
        for n in range(3):
            response = await c.post(server.url(), content=b'{"n":%d}' % n,
                                    headers={"content-type": "application/json", "X-Custom": "v"})
            assert isinstance(response, httpx.Response)
            assert (response.status_code, response.json(), response.headers["Content-Type"]) == (
                200, {"message_id": "m-1"}, "application/json")
            assert response.request.method == "POST" and str(response.request.url) == server.url()
        assert server.connections == 1 and [r.number for r in server.requests] == [1, 2, 3]
        head = server.requests[0].head.lower()
        assert "x-custom: v" in head and "user-agent: touchpoint/test" in head and "content-length: 7" in head
        assert f"host: 127.0.0.1:{server.port}" in head and server.requests[2].body == b'{"n":2}'


async def test_json_bodies_are_compact_and_typed():
    async with scripted(ok) as server, client() as c:
        await c.post(server.url(), json={"text": "héllo", "n": [1, 2]})
    [request] = server.requests
    assert request.body == json.dumps({"text": "héllo", "n": [1, 2]}, ensure_ascii=False,
                                      separators=(",", ":")).encode()
    assert "content-type: application/json" in request.head.lower()


@pytest.mark.parametrize("raw", [
    # chunked, with a chunk extension and trailers
    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;x=y\r\n{\"mes\r\n"
    b"F\r\nsage_id\":\"m-1\"}\r\n0\r\nx-trailer: 1\r\n\r\n",
    # informational answer first
    b"HTTP/1.1 100 Continue\r\n\r\n" + answer(),
    # HTTP/1.0 without a length: the body ends with the connection
    b"HTTP/1.0 200 OK\r\ncontent-type: application/json\r\n\r\n{\"message_id\":\"m-1\"}",
])
async def test_every_framing_of_the_answer_is_read(raw):
    async def handler(exchange: Exchange) -> bytes | None:
        return raw

    async with scripted(handler) as server, client() as c:
        for _ in range(2):
            response = await c.post(server.url(), content=b"{}")
            assert response.json() == {"message_id": "m-1"}
        # Read-until-close cannot be kept alive; the others are.
        assert server.connections == (2 if raw.startswith(b"HTTP/1.0") else 1)


async def test_connection_close_and_idle_closes_open_a_new_connection():
    async def closing(exchange: Exchange) -> bytes | None:
        return answer(headers="connection: close\r\n")

    async with scripted(closing) as server, client() as c:
        for _ in range(3):
            assert (await c.post(server.url(), content=b"{}")).status_code == 200
        assert server.connections == 3


async def test_a_kept_alive_connection_the_server_dropped_is_retried_once_when_idempotent():
    # The server reads the second request on the first connection and hangs up without answering, as
    # one does when its keep-alive timeout and our request cross: nothing was answered, so with an
    # idempotency key one more try on a new connection is safe. Without one, the caller decides.
    async def drops_second(exchange: Exchange) -> bytes | None:
        return None if (exchange.connection, exchange.number) in {(1, 2), (2, 2)} else answer()

    async with scripted(drops_second) as server, client() as c:
        await c.post(server.url(), content=b"{}")
        response = await c.post(server.url(), content=b"{}", headers={"idempotency-key": "k-1"})
        assert response.status_code == 200 and server.connections == 2
        with pytest.raises(httpx.RemoteProtocolError):
            await c.post(server.url(), content=b"{}")  # no key: not repeated behind the caller's back
        assert len(server.requests) == 4


async def test_a_provider_that_does_not_answer_times_out():
    async def stalls(exchange: Exchange) -> bytes | None:
        await asyncio.sleep(30)
        return answer()

    async with scripted(stalls) as server, client() as c:
        with pytest.raises(httpx.ReadTimeout):
            await c.post(server.url(), content=b"{}", timeout=0.2)


async def test_garbage_and_oversize_answers_are_protocol_errors(monkeypatch):
    monkeypatch.setattr(http_wire, "MAX_RESPONSE_BYTES", 1000)
    answers = [b"SPAM 200 yes\r\n\r\n", answer(body=b"x" * 5000),
               b"HTTP/1.1 200 OK\r\ncontent-length: many\r\n\r\n"]

    async def bad(exchange: Exchange) -> bytes | None:
        return answers[exchange.connection - 1]

    async with scripted(bad) as server, client() as c:
        for _ in answers:
            with pytest.raises(httpx.RemoteProtocolError):
                await c.post(server.url(), content=b"{}")
        assert server.connections == 3  # each bad answer closed its connection: nothing was reused


async def test_header_injection_is_refused_before_anything_is_sent():
    async with scripted(ok) as server, client() as c:
        with pytest.raises(httpx.LocalProtocolError):
            await c.post(server.url(), content=b"{}", headers={"x-note": "a\r\nx-evil: 1"})
        assert server.requests == []


async def test_connections_per_host_are_bounded_and_waiters_served():
    async def slow(exchange: Exchange) -> bytes | None:
        await asyncio.sleep(0.05)
        return answer()

    async with scripted(slow) as server, client(max_connections_per_host=2) as c:
        responses = await asyncio.gather(*(c.post(server.url(), content=b"{}") for _ in range(8)))
        assert [r.status_code for r in responses] == [200] * 8
        assert server.most_open <= 2 and server.connections == 2


async def test_unusual_requests_take_httpx_own_path():
    async def echo_target(exchange: Exchange) -> bytes | None:
        return answer(body=json.dumps({"target": exchange.head.split(" ")[1]}).encode())

    async with scripted(echo_target) as server, client() as c:
        response = await c.post(server.url(), content=b"{}", params={"a": "1"})
        assert response.json() == {"target": "/send?a=1"}
        assert (await c.get(server.url())).status_code == 200


async def test_closing_closes_idle_connections():
    async with scripted(ok) as server:
        async with client() as c:
            await c.post(server.url(), content=b"{}")
            assert server.open_now == 1
        for _ in range(100):
            if server.open_now == 0:
                break
            await asyncio.sleep(0.01)
        assert server.open_now == 0
