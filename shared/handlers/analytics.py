"""analytics-pull and analytics-fetch: a Scheduler tick fans out into per-account batches, each
batch fetches platform metrics into BigQuery post_metrics and the posts."""

from __future__ import annotations

from typing import Any

from shared.analytics.fanout import PullSummary, pull
from shared.analytics.fetch import FetchSummary, fetch_work
from shared.runtime.pubsub import publish_json
from shared.services import get_services
from shared.topology import get_topology


def pull_metrics(payload: dict[str, Any], message_id: str | None = None) -> PullSummary:
    """analytics-pull: a Scheduler tick (or a continuation of a big run) -> analytics-work messages,
    one account and at most analytics_batch_max_posts posts each."""
    services = get_services()
    config = services.config
    topology = get_topology()
    work_topic = topology.trigger_topic("analytics-fetch")
    tick_topic = topology.trigger_topic("analytics-pull")
    return pull(services.repository, config=config, payload=payload, message_id=message_id,
                send_work=lambda message: publish_json(config.project, work_topic, message,
                                                       correlation_id=message["run_id"]),
                send_tick=lambda message: publish_json(config.project, tick_topic, message,
                                                       correlation_id=message["run_id"]))


def fetch_metrics(payload: dict[str, Any], message_id: str = "") -> FetchSummary:
    """analytics-fetch: one account's due posts -> platform metrics -> post_metrics rows and the posts."""
    services = get_services()
    return fetch_work(payload, repo=services.repository, config=services.config, secrets=services.secrets,
                      bq=services.bigquery(), message_id=message_id)
