"""A local fake of a brand's endpoint for the custom API channel: it checks our signature exactly as the
docs tell brands to, records what it receives, and can be told to fail or throttle."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from touchpoint.channels.api.adapter import sign


@dataclass
class FakeBrand:
    secret: str
    received: list[dict[str, Any]] = field(default_factory=list)
    arrival_times: list[float] = field(default_factory=list)
    # Scripted answers, consumed first: (status, headers, body).
    script: list[tuple[int, dict[str, str], dict[str, Any]]] = field(default_factory=list)
    delay: float = 0.0
    bad_signatures: int = 0

    def app(self) -> Starlette:
        async def receive(request: Request) -> JSONResponse:
            body = await request.body()
            ts = request.headers.get("x-touchpoint-timestamp", "")
            if sign(self.secret, ts, body) != request.headers.get("x-touchpoint-signature"):
                self.bad_signatures += 1
                return JSONResponse({"error": {"code": "bad_signature"}}, status_code=401)
            if self.delay:
                import asyncio

                await asyncio.sleep(self.delay)
            if self.script:
                status, headers, payload = self.script.pop(0)
                return JSONResponse(payload, status_code=status, headers=headers)
            data = json.loads(body)
            self.received.append(data)
            self.arrival_times.append(time.monotonic())
            return JSONResponse({"message_id": f"brand-{data['id']}"})

        return Starlette(routes=[Route("/inbox", receive, methods=["POST"])])

    def texts(self) -> list[str]:
        return [m["text"] for m in self.received]
