"""The bare baseline bench/ingest.py compares Touchpoint with: the least a correct webhook endpoint does.

One raw ASGI callable on the same server stack as `touchpoint serve` (uvicorn.run with the same
settings, one process): check the timestamp and the HMAC-SHA256 signature over "<timestamp>." + body
exactly like the custom API channel, parse the JSON for the event id, and insert one row (ignoring a
duplicate id) into a SQLite file with the same pragmas (WAL, synchronous=FULL, BEGIN IMMEDIATE), one
commit per request, before answering 200. No framework, no ORM, no thread hop: the synchronous sqlite3
call runs on the event loop, which is the fastest way to do one durable commit per request in Python.

    python bench/_baseline_app.py --port 8123 --db /tmp/x/baseline.db --secret s3cret
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sqlite3
import time
from typing import Any

import uvicorn

MAX_SKEW_SECONDS = 300


def make_app(db_path: str, secret: str) -> Any:
    key = secret.encode()
    db = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA busy_timeout=10000")
    db.execute("CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, provider_event_id TEXT NOT NULL UNIQUE, "
               "payload TEXT NOT NULL, status TEXT NOT NULL, created_at REAL NOT NULL)")

    async def respond(send: Any, status: int, body: bytes) -> None:
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    db.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["method"] == "GET":
            await respond(send, 200, b'{"ready":true}')
            return
        chunks = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        headers = dict(scope["headers"])
        timestamp = headers.get(b"x-touchpoint-timestamp", b"")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > MAX_SKEW_SECONDS:
            await respond(send, 401, b'{"error":"bad timestamp"}')
            return
        expected = "sha256=" + hmac.new(key, timestamp + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), headers.get(b"x-touchpoint-signature", b"")):
            await respond(send, 401, b'{"error":"bad signature"}')
            return
        event_id = json.loads(body)["events"][0]["id"]
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO events (provider_event_id, payload, status, created_at) VALUES (?, ?, 'pending', ?) "
                   "ON CONFLICT (provider_event_id) DO NOTHING", (event_id, body.decode(), time.time()))
        db.execute("COMMIT")
        await respond(send, 200, b'{"ok":true}')

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--secret", required=True)
    args = parser.parse_args()
    # The same uvicorn settings as touchpoint.cli._serve, so only the application differs.
    uvicorn.run(make_app(args.db, args.secret), host="127.0.0.1", port=args.port, log_level="info",
                proxy_headers=True, ws_max_size=64 * 1024)


if __name__ == "__main__":
    main()
