"""Reading request bodies with a hard size cap, before anything parses them."""

from __future__ import annotations

from starlette.requests import Request

from touchpoint.kit.errors import AppError, PayloadTooLarge


async def read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise AppError("Content-Length is not a number", code="bad_content_length")
        if int(declared) > limit:
            raise PayloadTooLarge(f"body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
