"""How Buffer's request limits are read (developers.buffer.com/guides/api-limits.html): the structured
RateLimit / RateLimit-Policy headers per window, the older single-window headers, and what a 429 means:
the 15-minute window is a wait before sending again, the daily and 30-day windows park the post."""

from __future__ import annotations

from datetime import UTC, datetime

from requests.structures import CaseInsensitiveDict

from shared.errors import CapReached
from shared.platforms.buffer.rate_limits import (
    RATE_LIMIT_FLOOR_SECONDS,
    RateLimited,
    rate_limited,
    remaining_summary,
    window_statuses,
)

STRUCTURED = CaseInsensitiveDict({
    "RateLimit": '"100-in-15min";r=98;t=897, "500-in-1day";r=0;t=3600, "15000-in-30days";r=14000;t=696980',
    "RateLimit-Policy": '"100-in-15min";q=100;w=900;pk=:ZjJj:, "500-in-1day";q=500;w=86400;pk=:ZjJj:, '
                        '"15000-in-30days";q=15000;w=2592000;pk=:ZjJj:'})


def test_each_window_is_known_by_its_length_not_its_name():
    statuses = {s.window_seconds: (s.remaining, s.reset_seconds, s.quota) for s in window_statuses(STRUCTURED)}
    assert statuses == {900: (98, 897.0, 100), 86400: (0, 3600.0, 500), 2592000: (14000, 696980.0, 15000)}
    assert remaining_summary(STRUCTURED) == {"15min": 98, "1day": 0, "30days": 14000}


def test_a_429_from_the_daily_window_parks_the_post_until_that_window_resets():
    error = rate_limited(STRUCTURED, {"code": "RATE_LIMIT_EXCEEDED", "retryAfter": 900}, "rate limited")
    assert isinstance(error, CapReached) and error.retry_after == 3600.0


def test_a_429_from_the_fifteen_minute_window_is_a_wait_of_buffers_retry_after():
    headers = CaseInsensitiveDict({"RateLimit": '"100-in-15min";r=0;t=120', "Retry-After": "120"})
    error = rate_limited(headers, {"code": "RATE_LIMIT_EXCEEDED", "retryAfter": 120}, "rate limited")
    assert type(error) is RateLimited and error.retry_after == 120.0


def test_the_window_named_in_the_answer_counts_when_headers_say_nothing():
    error = rate_limited(CaseInsensitiveDict(), {"code": "RATE_LIMIT_EXCEEDED", "window": "30d"}, "rate limited")
    assert isinstance(error, CapReached) and error.retry_after == 86400
    assert rate_limited(CaseInsensitiveDict(), {}, "rate limited").retry_after == 900  # no word at all: the short window


def test_older_single_window_headers_are_read_too_and_a_past_reset_still_waits():
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    headers = CaseInsensitiveDict({"RateLimit-Limit": "3000", "RateLimit-Remaining": "0",
                                   "RateLimit-Reset": "2026-12-06T12:10:00.000Z"})
    [status] = window_statuses(headers, now)
    assert (status.remaining, status.reset_seconds, status.quota) == (0, 600.0, 3000)
    error = rate_limited(headers, {"retryAfter": -5}, "rate limited", now=now)
    assert error.retry_after == RATE_LIMIT_FLOOR_SECONDS
