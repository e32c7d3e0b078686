"""In-process retry for transient platform errors (tenacity), honouring the platform's wait."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from shared.errors import CapReached, TransientError

T = TypeVar("T")


def make_retry(attempts: int, base_seconds: float, max_wait_seconds: float) -> Callable[[Callable[[], T]], T]:
    """Retry TransientError up to `attempts` times. A wait longer than `max_wait_seconds` (or a cap)
    is not worth holding an instance for: it re-raises at once so Pub/Sub redelivers later."""

    def _retryable(exc: BaseException) -> bool:
        if not isinstance(exc, TransientError) or isinstance(exc, CapReached):
            return False
        return exc.retry_after is None or exc.retry_after <= max_wait_seconds

    def _wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, TransientError) and exc.retry_after is not None:
            return exc.retry_after
        return base_seconds * (2 ** (state.attempt_number - 1))

    def run(fn: Callable[[], T]) -> T:
        for attempt in Retrying(stop=stop_after_attempt(attempts), wait=_wait, retry=retry_if_exception(_retryable),
                                reraise=True):
            with attempt:
                return fn()
        raise AssertionError("unreachable")

    return run
