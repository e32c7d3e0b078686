"""analytics-pull and analytics-fetch: a Scheduler tick fans out into per-account batches, each
batch fetches platform metrics into BigQuery post_metrics and the posts."""

from __future__ import annotations

from typing import Any

from shared.analytics.fanout import PullSummary, pubsub_senders, pull
from shared.analytics.fetch import FetchSummary, fetch_work
from shared.analytics.manual import Target, mirror_pending
from shared.services import get_services


def pull_metrics(payload: dict[str, Any], message_id: str | None = None) -> PullSummary:
    """analytics-pull: a Scheduler tick (or a continuation of a big run) -> analytics-work messages,
    one account and at most analytics_batch_max_posts posts each. A new run first copies the manual
    snapshots whose BigQuery copy is behind (shared/analytics/manual.py)."""
    services = get_services()
    config = services.config
    if payload.get("run_id") is None:
        mirror_pending(services.repository, Target(services.bigquery, config.project))
    senders = pubsub_senders(config.project)
    return pull(services.repository, config=config, payload=payload, message_id=message_id, send_work=senders.work,
                send_tick=senders.tick)


def fetch_metrics(payload: dict[str, Any], message_id: str = "") -> FetchSummary:
    """analytics-fetch: one account's due posts -> platform metrics -> post_metrics rows and the posts."""
    services = get_services()
    return fetch_work(payload, repo=services.repository, config=services.config, secrets=services.secrets,
                      bq=services.bigquery(), message_id=message_id)
