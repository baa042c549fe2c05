"""A local OpenAI-compatible server speaking the real chat.completions wire format, with switchable
failures (HTTP 500, a slow answer, garbage, an empty choice list), recording every request it gets."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def completion(content: str, model: str) -> dict[str, Any]:
    """A response body as OpenAI's API sends it."""
    return {"id": "chatcmpl-9xTest", "object": "chat.completion", "created": int(time.time()), "model": model,
            "system_fingerprint": "fp_test",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 412, "completion_tokens": 38, "total_tokens": 450}}


@dataclass
class FakeLlm:
    reply: str = ("Hi Grace, sorry the payment link did not open. I have asked a colleague to approve your "
                  "payment of 184.50 EUR; you will get a new secure link here shortly.")
    mode: str = "ok"  # ok | error500 | slow | garbage | empty | no_content
    delay: float = 2.0
    requests: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def completions(request: Request) -> Response:
            body = await request.body()
            self.requests.append({"path": request.url.path, "headers": dict(request.headers),
                                  "json": json.loads(body)})
            if self.mode == "error500":
                return JSONResponse({"error": {"message": "The server had an error", "type": "server_error"}},
                                    status_code=500)
            if self.mode == "slow":
                await asyncio.sleep(self.delay)
            if self.mode == "garbage":
                return Response(b"<html>502 Bad Gateway</html>", media_type="text/html")
            if self.mode == "empty":
                return JSONResponse({"id": "x", "object": "chat.completion", "choices": []})
            if self.mode == "no_content":
                return JSONResponse(completion("   ", "m"))
            return JSONResponse(completion(self.reply, self.requests[-1]["json"].get("model", "")))

        return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])

    def user_prompt(self) -> str:
        return str(self.requests[-1]["json"]["messages"][1]["content"])
