"""Is the post we sent among the channel's posts in Buffer? (createPost has no idempotency key, so a
create whose answer was lost is settled by looking, never by creating again.)

The channel's posts come from Buffer's `posts` query filtered by the channel and created since the
create was sent (less a margin), newest first, a page at a time. A post is ours when its text is the
text we sent and its assets are as many images and videos, in the same order. URLs are compared as
present, not as written: Buffer may shorten links (a channel's link shortening), and an asset's
`source` is Buffer's own copy of the file, not the URL we gave it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.platforms.buffer.client import BufferClient, BufferPost

MAX_PAGES = 5  # 250 posts on one channel since the create was sent is far more than any channel makes
_URL = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class ChannelSearch:
    post: BufferPost | None  # the matching post as Buffer returned it
    complete: bool  # every post created since the start was read


def find_sent_post(client: BufferClient, organization_id: str, channel_id: str, text: str, asset_kinds: Sequence[str],
                   created_after: datetime) -> ChannelSearch:
    cursor = None
    for _ in range(MAX_PAGES):
        page = client.posts(organization_id, channel_id=channel_id, created_after=created_after, after=cursor)
        match = next((p for p in page.posts if is_sent_post(p, channel_id, text, asset_kinds)), None)
        if match is not None:
            return ChannelSearch(match, complete=True)
        if page.next_cursor is None:
            return ChannelSearch(None, complete=True)
        cursor = page.next_cursor
    return ChannelSearch(None, complete=False)


def is_sent_post(post: BufferPost, channel_id: str, text: str, asset_kinds: Sequence[str]) -> bool:
    """`asset_kinds`: image | video per asset sent, in order."""
    if post.channel_id and post.channel_id != channel_id:
        return False
    return masked(post.text) == masked(text) and list(post.asset_types) == list(asset_kinds)


def masked(text: str) -> tuple[str, int]:
    """The text with each URL replaced by a marker, and how many URLs it had."""
    return _URL.sub("\x00url\x00", text.strip()), len(_URL.findall(text))
