"""Request bodies of the widget endpoints and the frames of its WebSocket.

Text length is deliberately not capped here: a too-long message gets its own 413 with the limit in it
(see service.check_text), not a generic validation error.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


class SessionRequest(_Strict):
    account: str = Field(min_length=1, max_length=64)
    visitor_token: str | None = Field(default=None, max_length=1000)
    user_id: str | None = Field(default=None, max_length=128)
    user_hash: str | None = Field(default=None, max_length=128)
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)


class SendRequest(_Strict):
    client_id: str = Field(min_length=1, max_length=64)
    text: str


class ReceiptRequest(_Strict):
    message_id: int = Field(ge=1)
    status: Literal["delivered", "read"] = "read"
