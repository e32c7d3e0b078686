"""Is the post we sent on the account's timeline? (X has no idempotency key, so a create whose answer
was lost is settled by looking, never by posting again.)

X does not give the text back as sent: every URL is rewritten to a t.co link (the original is
`entities.urls[].expanded_url`), a post with media gains a trailing t.co link to it (a url entity
carrying `media_key`), and &, < and > come back as HTML entities. So the comparison undoes that,
and compares the sent text with its URLs masked, then the URLs one by one. Media are compared by
id: a media key is "<type>_<media id>".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from twitter_text import extract_urls_with_indices

from shared.platforms.x.client import XClient

MAX_TIMELINE_PAGES = 5  # 500 posts since the create was sent is far more than one account makes
_URL = "\x00url\x00"


@dataclass(frozen=True)
class TimelineSearch:
    post: dict | None  # the matching post as X returned it
    complete: bool  # every post since `start_time` was read (no page left unread)


def find_sent_post(client: XClient, user_id: str, text: str, media_ids: list[str], start_time: datetime, *,
                   same_media_ids: bool = True) -> TimelineSearch:
    """`same_media_ids=False`: any upload of as many media counts (an earlier attempt uploaded its own)."""
    token = None
    for _ in range(MAX_TIMELINE_PAGES):
        page = client.user_posts(user_id, start_time=start_time, pagination_token=token)
        match = next((p for p in page.get("data") or [] if is_sent_post(p, text, media_ids, same_media_ids)), None)
        if match is not None:
            return TimelineSearch(match, complete=True)
        token = (page.get("meta") or {}).get("next_token")
        if not token:
            return TimelineSearch(None, complete=True)
    return TimelineSearch(None, complete=False)


def is_sent_post(post: dict, text: str, media_ids: list[str], same_media_ids: bool = True) -> bool:
    posted_media = [key.split("_", 1)[-1] for key in (post.get("attachments") or {}).get("media_keys") or []]
    if (posted_media != media_ids) if same_media_ids else (len(posted_media) != len(media_ids)):
        return False
    sent_masked, sent_urls = _mask_sent(text)
    got_masked, got_urls = _mask_returned(post)
    return sent_masked == got_masked and len(sent_urls) == len(got_urls) and all(
        _same_url(sent, got) for sent, got in zip(sent_urls, got_urls))


def _mask_sent(text: str) -> tuple[str, list[str]]:
    urls = extract_urls_with_indices(text)
    masked, last = [], 0
    for url in urls:
        start, end = url["indices"]
        masked.append(text[last:start] + _URL)
        last = end
    return ("".join(masked) + text[last:]).strip(), [u["url"] for u in urls]


def _mask_returned(post: dict) -> tuple[str, list[str]]:
    text = _unescape(str(post.get("text") or ""))
    entities = sorted((post.get("entities") or {}).get("urls") or [], key=lambda e: e.get("start", 0))
    expanded = []
    for entity in entities:
        short = str(entity.get("url") or "")
        if not short or short not in text:
            continue
        if entity.get("media_key"):  # the link X adds to a post with media: not part of what we sent
            text = text.replace(short, "")
        else:
            text = text.replace(short, _URL, 1)
            expanded.append(str(entity.get("expanded_url") or short))
    return text.strip(), expanded


def _same_url(sent: str, expanded: str) -> bool:
    # X adds a scheme to a bare domain ("example.com" comes back as "http://example.com").
    return expanded in (sent, f"http://{sent}", f"https://{sent}")


def _unescape(text: str) -> str:
    # Exactly the three X escapes, &amp; last: "&amp;lt;" is a literal "&lt;" that was sent.
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
