"""Error types with the decision attached. Handlers map these to ack / retry in one place."""

from __future__ import annotations


class PostgateError(Exception):
    """Base of every error Postgate raises on purpose."""


class ValidationError(PostgateError):
    """Bad input: refuse before approval (or fail the post before any platform call).

    `field` names what was wrong and `limit` the rule it broke, so a person can fix it.
    """

    def __init__(self, message: str, *, field: str | None = None, limit: str | None = None):
        super().__init__(message)
        self.field = field
        self.limit = limit


class ConfigError(PostgateError):
    """Configuration missing or malformed: the deployment must be fixed, retrying will not help."""


class TransientError(PostgateError):
    """Temporary failure (429, 5xx, timeout before anything was created): retry with backoff.

    `retry_after` is the wait in seconds the platform asked for, when it said one.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, platform_code: str | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.platform_code = platform_code


class PermanentError(PostgateError):
    """The platform refused for good (validation, policy): fail the post with its reason, once."""

    def __init__(self, message: str, *, platform_code: str | None = None):
        super().__init__(message)
        self.platform_code = platform_code


class AmbiguousError(PostgateError):
    """The platform may or may not have acted (e.g. a timeout after a create call was sent).

    Retrying could post twice, so the post fails for a person to check instead.
    """


class IllegalTransition(PostgateError):
    """A state change the post state machine does not allow."""


class BadMessage(PostgateError):
    """A Pub/Sub message or request body that cannot be parsed: ack it and log it, never retry."""


class AuthError(PermanentError):
    """The platform rejected the account's token even after one refresh: a person must reconnect it."""


class CapReached(TransientError):
    """A posting cap or quota (ours or the platform's) is used up: the post waits, it does not fail.

    `retry_after` is how long until a slot frees; the publisher parks the post in `queued`
    with a next attempt time and dispatch sends it again then.
    """


class MediaChanged(PermanentError):
    """An approved media object is no longer the generation that was approved (replaced or deleted).

    The approval covers those exact bytes, so it is void: the content goes back to its approver
    (or, when the object is gone, the post fails naming it). `uri` names the object.
    """

    def __init__(self, message: str, *, uri: str, vanished: bool):
        super().__init__(message, platform_code="media_changed")
        self.uri = uri
        self.vanished = vanished
