"""The post text in LinkedIn's little text format (docs/platforms.md#linkedin-endpoints).

Reserved characters must be backslash-escaped in plain text, or LinkedIn silently cuts the
commentary at the first unescaped one. Escape the person's text first, then add templates.
"""

from __future__ import annotations

from shared.model.content import ContentItem

RESERVED = frozenset("\\|{}@[]()<>#*_~")
COMMENTARY_LIMIT = 3000  # characters of the commentary field as sent


def escape(text: str) -> str:
    return "".join("\\" + ch if ch in RESERVED else ch for ch in text)


def hashtag(tag: str) -> str:
    return "{hashtag|\\#|" + escape(tag) + "}"


def build_commentary(content: ContentItem) -> str:
    """Caption (escaped), a blank line, then one hashtag template per tag."""
    text = escape(content.caption)
    if content.hashtags:
        text = f"{text}\n\n" + " ".join(hashtag(t) for t in content.hashtags)
    return text
