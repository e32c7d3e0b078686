"""The platforms Postgate posts to, declared once: every list of platform names in shared/ derives
from `Platform` here (tests/test_shared_names.py fails on a second list), and how people write
each name."""

from __future__ import annotations

from typing import Literal, get_args

Platform = Literal["tiktok", "instagram", "x", "youtube", "linkedin"]
PLATFORMS: tuple[Platform, ...] = get_args(Platform)

# As people write them, on pages and in messages.
DISPLAY_NAMES: dict[str, str] = {"tiktok": "TikTok", "instagram": "Instagram", "x": "X", "youtube": "YouTube",
                                 "linkedin": "LinkedIn"}


def display_name(platform: str) -> str:
    """The platform's name as people write it ("youtube" -> "YouTube"); an unknown name as given."""
    return DISPLAY_NAMES.get(platform, platform)


# Other names people (and the seed's /api/v1 clients) write for a platform: X was Twitter.
OTHER_NAMES: dict[str, str] = {"twitter": "x"}


def platform_named(name: str) -> str | None:
    """The platform a written name means ("twitter" -> "x", "x" -> "x"); None for a name we don't post to."""
    name = name.strip().lower()
    name = OTHER_NAMES.get(name, name)
    return name if name in PLATFORMS else None
