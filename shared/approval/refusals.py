"""Why a review cannot be shown or a decision was not recorded: typed refusals.

The decision code raises these and nothing else renders them: the signed link's pages
(shared/approval/pages.py), the content API's error mapping (shared/api/errors.py) and any other
front door each turn one into their own answer. Every refusal carries a stable `reason` code and
`message`, a sentence for a person; some carry what a caller needs to say more (what changed, when
to try again). Nothing was recorded when one is raised.
"""

from __future__ import annotations

from datetime import datetime


class Refusal(Exception):
    """`reason`: a short stable code; `message` (also str(self)): the sentence for a person."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason

    @property
    def message(self) -> str:
        return str(self)


class TokenRefused(Refusal):
    """The link itself cannot be used. reason: "invalid" (forged, altered or truncated),
    "wrong_action" (an approve link used to reject, or the reverse) or "expired"."""


class NothingToDecide(Refusal):
    """The item cannot be decided (any more). reason: "gone" (no such item), "link_used", or, for a
    subject with its own rules (a YouTube metadata change), "not_decidable"."""


class AlreadyDecided(NothingToDecide):
    """Somebody decided first (or the item left pending approval another way)."""

    def __init__(self, message: str, *, status: str, decided_by: str | None = None,
                 decided_at: datetime | None = None):
        super().__init__("already_decided", message)
        self.status = status
        self.decided_by = decided_by
        self.decided_at = decided_at


class ContentChanged(NothingToDecide):
    """The content changed since the version the link (or the API caller) was shown. `changes`:
    each newer version since the one shown, oldest first, as a sentence (what changed, why, when);
    empty when the version shown is not in the item's history."""

    def __init__(self, message: str, *, shown_hash: str, current_hash: str, current_version: int,
                 changes: tuple[str, ...] = ()):
        super().__init__("content_changed", message)
        self.shown_hash = shown_hash
        self.current_hash = current_hash
        self.current_version = current_version
        self.changes = changes


class MediaChangedSinceShown(Refusal):
    """A media file is no longer the generation the link was issued for. `change` says what changed;
    `reasked` is True when the approvers were sent the new version."""

    def __init__(self, message: str, *, change: str, reasked: bool):
        super().__init__("media_changed", message)
        self.change = change
        self.reasked = reasked


class MediaGone(Refusal):
    """A media file under review no longer exists: nothing can be approved. `change` says which."""

    def __init__(self, message: str, *, change: str):
        super().__init__("media_gone", message)
        self.change = change


class PlatformWouldRefuse(Refusal):
    """A target platform's rules refuse the content as it is (checked again at approval time).
    `field` and `limit` name the rule, when known."""

    def __init__(self, message: str, *, field: str | None = None, limit: str | None = None):
        super().__init__("platform_refused", message)
        self.field = field
        self.limit = limit


class DecisionBusy(Refusal):
    """Other decisions or writes held the item too long; try again after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: int):
        super().__init__("busy", message)
        self.retry_after = retry_after
