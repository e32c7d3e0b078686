"""A Buffer post's numbers, as Buffer collects them from the network (docs/platforms.md#publishing-through-buffer).

Buffer's `Post.metrics` (marked experimental by Buffer) lists normalized metrics for a sent post, null
before it is sent; `metricsUpdatedAt` is null until Buffer's daily collection has read the network, so
the numbers lag the network by up to a day (developers.buffer.com/guides/post-metrics.html,
types/PostMetricType.md). One request carries up to 30 posts, one aliased `post` lookup each (Buffer
allows 30 aliases per query: guides/api-limits.html).

Mapping: reactions are likes; comments; shares, reposts and quotes together are shares (as for X);
views, impressions, reach and saves as named. Percentages (engagementRate) are not counts and are left
out: Postgate computes its own rate. Buffer reports 0 for a metric the network did not report, so a 0
here may mean "not reported"; only a metric Buffer lists is taken.
"""

from __future__ import annotations

from shared.errors import CapReached
from shared.model.analytics import MetricsRefused, PlatformMetrics
from shared.platforms.base import MetricsContext
from shared.platforms.buffer.publish import client_for
from shared.platforms.buffer.rate_limits import RateLimited
from shared.platforms.metrics import check_batch, ids_to_fetch, in_post_order

METRICS_BATCH_SIZE = 30
_SHARES = ("shares", "reposts", "quotes")


def fetch_metrics(ctx: MetricsContext) -> list[PlatformMetrics | MetricsRefused]:
    check_batch("buffer", ctx.posts, METRICS_BATCH_SIZE)
    ids = ids_to_fetch(ctx.posts, "post_id")
    answers: dict[str, PlatformMetrics | MetricsRefused] = {}
    if ids:
        try:
            found, refused = client_for(ctx.tokens, ctx.config).post_metrics(ids)
        except RateLimited as exc:  # the 15-minute window is spent: the batch waits for it
            raise CapReached(str(exc), retry_after=exc.retry_after, platform_code=exc.platform_code) from None
        answers.update({post_id: MetricsRefused(platform_post_id=post_id, reason=reason)
                        for post_id, reason in refused.items()})
        answers.update({post_id: post_metrics(post_id, data) for post_id, data in found.items()})
    return in_post_order(ctx.posts, "post_id", answers, no_id="no Buffer post id was recorded for this post",
                         not_answered="Buffer's answer did not mention it")


def post_metrics(post_id: str, data: dict) -> PlatformMetrics | MetricsRefused:
    metrics = data.get("metrics")
    if metrics is None:
        return MetricsRefused(platform_post_id=post_id,
                              reason=f"Buffer has no metrics for a post that is {data.get('status') or 'not sent'}")
    if not data.get("metricsUpdatedAt"):
        return MetricsRefused(platform_post_id=post_id,
                              reason="Buffer has not collected this post's metrics yet (it does once a day)")
    counts = {str(m.get("type")): float(m["value"]) for m in metrics
              if isinstance(m, dict) and m.get("unit") == "count" and isinstance(m.get("value"), int | float)}

    def count(name: str) -> int | None:
        return int(counts[name]) if name in counts else None

    shares = [count(name) for name in _SHARES if name in counts]
    return PlatformMetrics(platform_post_id=post_id, views=count("views"), likes=count("reactions"),
                           comments=count("comments"), shares=sum(v or 0 for v in shares) if shares else None,
                           saves=count("saves"), reach=count("reach"), impressions=count("impressions"))
