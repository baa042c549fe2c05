"""Which adapters exist. Provider packages register here; unknown channels are a 404."""

from __future__ import annotations

from touchpoint.channels.api.adapter import ApiChannelAdapter
from touchpoint.channels.base import ChannelAdapter
from touchpoint.channels.webchat.adapter import WebChatAdapter

_ADAPTERS: dict[str, ChannelAdapter] = {}


def register(adapter: ChannelAdapter) -> None:
    _ADAPTERS[adapter.name] = adapter


def get_adapter(name: str) -> ChannelAdapter | None:
    return _ADAPTERS.get(name)


def adapter_names() -> list[str]:
    return sorted(_ADAPTERS)


register(ApiChannelAdapter())
register(WebChatAdapter())
