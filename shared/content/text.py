"""Text people write for a post: a caption a reader can see (no control characters, not only
invisible ones) and clean hashtags; the caption limits the API states in its schema."""

from __future__ import annotations

import unicodedata

# Longest text any platform takes (YouTube's description); each platform's own rule is checked per target.
CAPTION_MAX_CHARS = 5000
# No control characters but tab, line feed and carriage return (check_caption also refuses invisible-only text).
CAPTION_PATTERN = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"


def clean_hashtags(tags: list[str]) -> list[str]:
    """Without the leading '#'; blank ones dropped; whitespace or a control character inside one is
    an error (ValueError)."""
    cleaned = [t.strip().lstrip("#") for t in tags if t.strip().lstrip("#")]
    for tag in cleaned:
        if any(ch.isspace() for ch in tag):
            raise ValueError(f"hashtag {tag!r} contains whitespace")
        if _control(tag):
            raise ValueError(f"hashtag {tag!r} contains a control character")
    return cleaned


# Characters that print nothing: a caption of only these (and spaces) is blank to a reader.
_INVISIBLE = {"Cf", "Zs", "Zl", "Zp", "Mn", "Me"}


def _control(text: str) -> str | None:
    """The first control character other than tab, line feed and carriage return (NUL among them)."""
    return next((ch for ch in text if ch not in "\t\n\r" and unicodedata.category(ch) == "Cc"), None)


def check_caption(caption: str) -> str:
    """A caption a person can read: no control characters (NUL...) and not blank, where zero-width
    and other invisible characters count as blank. ValueError saying which."""
    bad = _control(caption)
    if bad is not None:
        raise ValueError(f"caption contains the control character U+{ord(bad):04X}")
    if all(ch.isspace() or unicodedata.category(ch) in _INVISIBLE for ch in caption):
        raise ValueError("caption is blank (only spaces or invisible characters)")
    return caption
