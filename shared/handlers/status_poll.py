"""status-poll: each Scheduler tick asks the platforms about posts in processing, settles unknown
outcomes, and does the work owed from earlier ticks."""

from __future__ import annotations

from collections.abc import Callable

from shared.content_id.owed import settle_owed as settle_owed_content_id
from shared.publishing.status_poll import PollSummary, poll_once
from shared.services import get_services
from shared.youtube_sync.bulk_applying import settle_owed_bulks
from shared.youtube_sync.owed import settle_owed_changes


def poll() -> PollSummary:
    services = get_services()
    return poll_once(repo=services.repository, config=services.config, secrets=services.secrets,
                     bq=services.bigquery(), owed_work=poll_owed_work())


def poll_owed_work() -> tuple[Callable[..., object], ...]:
    """What the status poll also settles each tick: YouTube metadata changes a crash or an unanswered
    update left approved, Content ID changes likewise, bulk metadata changes (their next run: resumed
    after a crash, the next quota day or a pause), and owed audit rows. Passed down so the pipeline never
    imports a feature."""
    return (settle_owed_changes, settle_owed_content_id, settle_owed_bulks)
