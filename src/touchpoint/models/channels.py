"""Channel accounts: one connected WhatsApp number, Telegram bot, web chat widget, custom API..."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from touchpoint.db.base import Base, CreatedMixin, IdMixin, workspace_fk


class ChannelAccount(IdMixin, CreatedMixin, Base):
    __tablename__ = "channel_accounts"

    workspace_id: Mapped[int] = workspace_fk()
    channel: Mapped[str] = mapped_column(String(32))
    # Public, unguessable key used in webhook URLs: /webhooks/{channel}/{key}.
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    credentials_sealed: Mapped[str | None] = mapped_column(String(4000), default=None)
    # Non-secret settings: outbound URL, rate limits ({"per_second": 80, "per_recipient_per_second": 1}).
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
