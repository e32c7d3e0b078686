"""catalogue-refresh: on each Scheduler tick (or a continuation), import or refresh the catalogue of every
connected YouTube channel (shared/catalogue/refresh.py), within the function's time."""

from __future__ import annotations

import time
from typing import Any

from shared.catalogue.refresh import ChannelRefresh, refresh_channels
from shared.errors import BadMessage
from shared.runtime.pubsub import publish_json
from shared.services import get_services
from shared.topology import get_topology

FUNCTION = "catalogue-refresh"
MARGIN_SECONDS = 90  # left of the function's timeout for the last page, the run's end and the continuation


def refresh_catalogue(payload: dict[str, Any], message_id: str | None = None) -> list[ChannelRefresh]:
    accounts = payload.get("accounts")
    if accounts is not None and not (isinstance(accounts, list) and all(isinstance(a, str) for a in accounts)):
        raise BadMessage("catalogue tick: accounts must be a list of account ids")
    services = get_services()
    config = services.config
    topology = get_topology()
    tick_topic = topology.trigger_topic(FUNCTION)
    deadline = time.monotonic() + topology.functions[FUNCTION].timeout_seconds - MARGIN_SECONDS
    return refresh_channels(services.repository, config, services.secrets, account_ids=accounts,
                            bq_factory=services.bigquery, deadline=deadline,
                            send_tick=lambda message: publish_json(config.project, tick_topic, message,
                                                                   correlation_id=message_id or "catalogue"))
