"""Plausible engagement for the sandboxes' metrics endpoints, shared by all five.

A post's numbers are a function of how long it has been live on the sandbox's clock, seeded by its
id: they grow as the clock moves, never go down, and the same post at the same age always has the
same numbers (a test can ask the sandbox what it will answer). Views rise fast at first and then
level off (an audience of a few hundred to tens of thousands, reached with a half-life of hours),
with a slow tail after that; every other number is a fixed per-post share of the views, so each
one is as monotonic as the views are.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass

DAY = 86400.0


@dataclass(frozen=True)
class Engagement:
    views: int        # times seen (TikTok/YouTube views, X and LinkedIn impressions, Instagram views)
    reach: int        # distinct accounts that saw it (<= views)
    likes: int
    comments: int
    shares: int       # reposts / shares
    quotes: int       # X quote posts
    saves: int        # saves / bookmarks
    clicks: int       # LinkedIn clicks


@dataclass(frozen=True)
class _Profile:
    audience: float
    half_life: float
    rates: dict[str, float]


def _profile(post_id: str) -> _Profile:
    rng = random.Random(int.from_bytes(hashlib.sha256(post_id.encode()).digest()[:8], "big"))
    return _Profile(
        audience=10 ** rng.uniform(2.7, 4.7),          # about 500 .. 50,000 views in the first days
        half_life=rng.uniform(2.0, 36.0) * 3600,       # how fast it gets there
        rates={"reach": rng.uniform(0.55, 0.9), "likes": rng.uniform(0.02, 0.09),
               "comments": rng.uniform(0.002, 0.012), "shares": rng.uniform(0.002, 0.015),
               "quotes": rng.uniform(0.0005, 0.003), "saves": rng.uniform(0.003, 0.02),
               "clicks": rng.uniform(0.005, 0.03)})


def engagement(post_id: str, seconds_live: float) -> Engagement:
    """The numbers of `post_id` when it has been live `seconds_live` (0 or less: all zero)."""
    p = _profile(str(post_id))
    t = max(float(seconds_live), 0.0)
    views = p.audience * (1 - math.exp(-t / p.half_life)) + p.audience * 0.05 * math.log1p(t / DAY)
    counts = {name: math.floor(views * rate) for name, rate in p.rates.items()}
    return Engagement(views=math.floor(views), **counts)
