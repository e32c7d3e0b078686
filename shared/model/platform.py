"""The platforms Postgate posts to, declared once: every list of platform names in shared/ derives
from `Platform` here (tests/test_shared_names.py fails on a second list), and how people write
each name."""

from __future__ import annotations

from typing import Literal, get_args

# "buffer": a Buffer channel, published through Buffer to the network behind it (docs/platforms.md#buffer).
Platform = Literal["tiktok", "instagram", "x", "youtube", "linkedin", "buffer"]
PLATFORMS: tuple[Platform, ...] = get_args(Platform)

# As people write them, on pages and in messages.
DISPLAY_NAMES: dict[str, str] = {"tiktok": "TikTok", "instagram": "Instagram", "x": "X", "youtube": "YouTube",
                                 "linkedin": "LinkedIn", "buffer": "Buffer"}


# The networks behind Buffer channels, as Buffer's `Service` enum names them
# (developers.buffer.com/types/Service.md). Where Postgate publishes to the network itself, Buffer posts
# to it follow that platform's rules (shared/platforms/buffer/networks.py); the others get Buffer's own.
BUFFER_NETWORK_PLATFORMS: dict[str, Platform] = {"twitter": "x", "instagram": "instagram", "linkedin": "linkedin",
                                                  "tiktok": "tiktok", "youtube": "youtube"}
BUFFER_NETWORK_NAMES: dict[str, str] = {"facebook": "Facebook", "threads": "Threads", "bluesky": "Bluesky",
                                        "pinterest": "Pinterest", "mastodon": "Mastodon",
                                        "googlebusiness": "Google Business Profile", "startPage": "Start Page"}


def display_name(platform: str) -> str:
    """The platform's name as people write it ("youtube" -> "YouTube"); an unknown name as given."""
    return DISPLAY_NAMES.get(platform, platform)


def platform_named(name: str) -> str | None:
    """The platform a written name means, ours or Buffer's (the seed's /api/v1 clients write "twitter" for X,
    as Buffer does): "twitter" -> "x", "x" -> "x"; None for a network Postgate does not post to itself."""
    name = name.strip().lower()
    name = BUFFER_NETWORK_PLATFORMS.get(name, name)
    return name if name in PLATFORMS else None


def network_name(buffer_service: str) -> str:
    """The network behind a Buffer channel as people write it ("twitter" -> "X")."""
    platform = BUFFER_NETWORK_PLATFORMS.get(buffer_service)
    return display_name(platform) if platform else BUFFER_NETWORK_NAMES.get(buffer_service, buffer_service)


def account_platform_name(platform: str, buffer_service: str | None = None) -> str:
    """Where an account's posts go, as pages show it: "X", or "Buffer · X" for a Buffer channel."""
    if platform == "buffer" and buffer_service:
        return f"{display_name(platform)} · {network_name(buffer_service)}"
    return display_name(platform)
