"""Requests per user per minute, counted in Firestore so every instance shares the count.

Fixed one-minute windows, one counter document per user and window, bumped with an atomic
increment (no transaction, so concurrent requests never contend or retry). The answer to the
request over the limit is 429 with Retry-After: the seconds until the window ends.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

RATE_COLLECTION = "api_rate"
WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    count: int
    retry_after: int


def count_request(db, user: str, limit: int, now: datetime) -> Verdict:
    from google.cloud import firestore

    window = int(now.timestamp()) // WINDOW_SECONDS
    user_key = hashlib.sha256(user.encode()).hexdigest()[:24]  # e-mails stay out of document ids
    ref = db.collection(RATE_COLLECTION).document(f"{user_key}-{window}")
    window_end = (window + 1) * WINDOW_SECONDS
    result = ref.set({"count": firestore.Increment(1), "window": window,
                      # A TTL policy on expires_at deletes old windows (Terraform).
                      "expires_at": datetime.fromtimestamp(window_end, now.tzinfo) + timedelta(hours=1)}, merge=True)
    count = int(result.transform_results[0].integer_value)
    retry_after = max(1, math.ceil(window_end - now.timestamp()))
    return Verdict(allowed=count <= limit, count=count, retry_after=retry_after)
