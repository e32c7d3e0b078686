"""Reading a media's insights out of Meta's batch answer: which metrics are asked for, how long a
story has any, and a throttle that parks the whole batch."""

from __future__ import annotations

from datetime import timedelta

from shared.errors import CapReached, TransientError
from shared.model.analytics import MetricsRefused, PlatformMetrics
from shared.platforms.instagram.client import BatchAnswer, classify, is_throttle

# A story's insights last 24 h [developers.facebook.com/docs/instagram-platform/reference/instagram-media/
# insights]; after that Meta has none to give, so a story is not asked about again.
STORY_INSIGHTS_FOR = timedelta(hours=24)
# The current media metrics [developers.facebook.com/docs/instagram-platform/reference/instagram-media/
# insights]: impressions, plays and video_views are gone (2025-04) and asking for them fails the request,
# so views stands for them; Instagram has no impressions now. A story has no likes, comments or saves
# (asking for a metric its media type lacks fails that operation).
INSIGHT_METRICS = ("views", "reach", "likes", "comments", "shares", "saved")
STORY_INSIGHT_METRICS = ("views", "reach", "shares")
# A throttle without X-Business-Use-Case-Usage says no wait: the platform-level window is a rolling hour.
THROTTLE_WAIT_SECONDS = 3600.0


def throttled(exc: TransientError) -> CapReached:
    return CapReached(str(exc), retry_after=exc.retry_after or THROTTLE_WAIT_SECONDS, platform_code=exc.platform_code)


def media_metrics(media_id: str, answer: BatchAnswer | None) -> PlatformMetrics | MetricsRefused:
    if answer is None:
        return MetricsRefused(platform_post_id=media_id, reason="Meta did not complete this request within the batch")
    if not answer.ok:
        error = classify(answer.code, answer.body, answer.headers, "insights")
        if is_throttle(error):
            raise throttled(error)
        return MetricsRefused(platform_post_id=media_id, reason=str(error))
    values: dict[str, int] = {}
    for row in answer.body.get("data") or []:
        # Lifetime media metrics come as values[0].value; newer versions may send total_value.value.
        listed = row.get("values") or []
        value = (listed[0] or {}).get("value") if listed else (row.get("total_value") or {}).get("value")
        if row.get("name") and value is not None:
            values[str(row["name"])] = int(value)
    # "An empty data set instead of 0" when a metric is not available (yet): those stay None.
    return PlatformMetrics(platform_post_id=media_id, views=values.get("views"), reach=values.get("reach"),
                           likes=values.get("likes"), comments=values.get("comments"), shares=values.get("shares"),
                           saves=values.get("saved"))
