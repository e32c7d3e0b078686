"""analytics-fetch: one work message = one account's due posts -> platform metrics -> BigQuery + the posts.

The posts are cut into the platform's METRICS_BATCH_SIZE and each chunk is one adapter call (one
platform HTTP call). What a platform error means for the message:
- CapReached (a rate limit): the account is parked until the platform's reset; the posts not
  fetched stay due and later runs skip the account until then. Acked: redelivering would only
  hit the limit again.
- AuthError: the account is marked needs_reconnect (a person must act). Acked.
- TransientError (5xx, timeout): what was fetched is saved, then Pub/Sub redelivers the message;
  posts this run already covered are skipped (`metrics_run_id`), rows dedup on snapshot_id.
- a permanent refusal of one chunk: logged; those posts stay due, the other chunks go on.
Nothing of one account reaches another's message, so a failing account fails nobody else.

A lease per message keeps a concurrent duplicate delivery from fetching (and merging) the same
posts at the same time; it is asked to come back later instead.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.analytics import selection, writer
from shared.errors import (
    AuthError,
    BadMessage,
    CapReached,
    ConfigError,
    PermanentError,
    TransientError,
    ValidationError,
)
from shared.model.analytics import MetricsRefused, PlatformMetrics
from shared.model.platform import PLATFORMS
from shared.model.post import Post
from shared.platforms.base import MetricsContext
from shared.platforms.credentials import NEEDS_RECONNECT, mark_needs_reconnect
from shared.platforms.registry import adapter_for
from shared.publishing.publisher import account_tokens
from shared.runtime.clock import utcnow
from shared.runtime.config_model import Config
from shared.runtime.logging import log_context, log_event
from shared.stores import analytics_runs as runs
from shared.stores import metrics_due
from shared.stores.posts import Repository
from shared.stores.protocols import SecretStore

if TYPE_CHECKING:
    from google.cloud import bigquery

log = logging.getLogger(__name__)
MAX_POST_IDS = 5000  # the config allows at most this many per message
DEFAULT_PARK_SECONDS = 3600  # a rate limit that names no reset: skip the account until the next run
LEASE_SECONDS = 330  # the function's timeout (300 s) and a little: a crashed holder blocks no longer


@dataclass(frozen=True)
class WorkMessage:
    run_id: str
    run_at: datetime
    platform: str
    account_id: str
    post_ids: list[str]


@dataclass
class FetchSummary:
    run_id: str
    account_id: str
    platform: str
    outcome: str = "done"  # done | parked | needs_reconnect | skipped
    posts: int = 0  # ids in the message
    fetched: int = 0  # got numbers (one post_metrics row each)
    refused: int = 0  # the platform answered but not for this post
    failed: int = 0  # left due: a refused chunk, a post without platform ids, a parked or disconnected account
    already: int = 0  # covered by an earlier delivery of this run
    calls: int = 0
    duration_seconds: float = 0.0


def parse_work(payload: dict[str, Any]) -> WorkMessage:
    try:
        run_id, platform, account_id, post_ids = (payload["run_id"], payload["platform"], payload["account_id"],
                                                  payload["post_ids"])
        run_at = datetime.fromisoformat(payload["run_at"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BadMessage(f"analytics work message: {type(exc).__name__}: {exc}") from None
    if not (isinstance(run_id, str) and run_id and isinstance(account_id, str) and account_id):
        raise BadMessage("analytics work message needs run_id and account_id")
    if platform not in PLATFORMS:
        raise BadMessage(f"analytics work message: unknown platform {platform!r}")
    if (not isinstance(post_ids, list) or not post_ids or len(post_ids) > MAX_POST_IDS
            or not all(isinstance(p, str) and p and "/" not in p for p in post_ids)):
        raise BadMessage(f"analytics work message: post_ids must be 1..{MAX_POST_IDS} post ids")
    return WorkMessage(run_id, run_at, platform, account_id, list(dict.fromkeys(post_ids)))


def fetch_work(payload: dict[str, Any], *, repo: Repository, config: Config, secrets: SecretStore, bq: bigquery.Client, message_id: str = "",
               now: datetime | None = None) -> FetchSummary:
    work = parse_work(payload)
    started = time.monotonic()
    summary = FetchSummary(work.run_id, work.account_id, work.platform, posts=len(work.post_ids))
    with log_context(correlation_id=work.run_id, account_id=work.account_id, platform=work.platform):
        holder = uuid.uuid4().hex
        lease = "analytics--" + hashlib.sha256("|".join([work.run_id, work.account_id, *work.post_ids])
                                               .encode()).hexdigest()[:32]
        if not repo.try_lease(lease, holder, LEASE_SECONDS):
            raise TransientError("another delivery of this work message is fetching it")
        try:
            # A fixed `now` (tests move the clock) is also every row's fetched_at.
            _fetch(work, repo=repo, config=config, secrets=secrets, bq=bq, now=now or utcnow(),
                   clock=(lambda: now) if now else utcnow, summary=summary)
        except TransientError:
            summary.duration_seconds = round(time.monotonic() - started, 3)
            _record(repo, summary, message_id, final=False)
            raise
        finally:
            repo.release_lease(lease, holder)
        summary.duration_seconds = round(time.monotonic() - started, 3)
        _record(repo, summary, message_id, final=True)
    return summary


def _fetch(work: WorkMessage, *, repo: Repository, config: Config, secrets: SecretStore, bq: bigquery.Client, now: datetime, clock, summary: FetchSummary) -> None:
    account = repo.get_account(work.account_id)
    if account is None or account.get("platform") != work.platform:
        log_event(log, logging.ERROR, "analytics work for an unknown account; dropped")
        summary.outcome, summary.failed = "skipped", summary.posts
        return
    if account.get("status") == NEEDS_RECONNECT:
        summary.outcome, summary.failed = "needs_reconnect", summary.posts
        return
    if runs.parked_until(repo, work.account_id, now):  # another message of the run hit the limit first
        summary.outcome, summary.failed = "parked", summary.posts
        return
    posts = _load_posts(repo, work, summary)
    if not posts:
        return
    adapter = adapter_for(work.platform)
    batch_size = adapter.METRICS_BATCH_SIZE
    tokens = account_tokens(work.account_id, account, adapter, repo=repo, config=config, secrets=secrets)
    rows: list[dict] = []
    updates: list[tuple[str, dict]] = []
    try:
        for start in range(0, len(posts), batch_size):
            chunk = posts[start:start + batch_size]
            ctx = MetricsContext(posts=chunk, account=account, tokens=tokens, config=config, repo=repo, now=now)
            summary.calls += 1
            try:
                results = adapter.fetch_metrics(ctx)
            except CapReached as exc:
                until = runs.park(repo, work.account_id, platform=work.platform, run_id=work.run_id, reason=str(exc),
                                  now=now, seconds=exc.retry_after or DEFAULT_PARK_SECONDS)
                summary.outcome = "parked"
                summary.failed += len(posts) - start
                log_event(log, logging.WARNING, "platform rate limit: account parked; its posts stay due",
                          until=until.isoformat(), error=str(exc))
                break
            except AuthError as exc:
                mark_needs_reconnect(repo, work.account_id, str(exc))
                summary.outcome = "needs_reconnect"
                summary.failed += len(posts) - start
                break
            except (PermanentError, ValidationError, ConfigError) as exc:
                summary.failed += len(chunk)
                log_event(log, logging.ERROR, "platform refused a metrics batch; its posts stay due",
                          error_type=type(exc).__name__, error=str(exc), posts=len(chunk))
                continue
            _collect(chunk, results, work=work, config=config, fetched_at=clock(), rows=rows, updates=updates,
                     summary=summary)
    finally:  # on a TransientError too: what was fetched is kept, the redelivery skips it
        try:
            _save(repo, bq, config, work, rows, updates)
        except TransientError:
            summary.fetched = summary.refused = 0  # nothing was kept: the redelivery does it all again
            raise


def _load_posts(repo: Repository, work: WorkMessage, summary: FetchSummary) -> list[Post]:
    found = metrics_due.posts_by_id(repo, work.post_ids)
    posts = []
    for post_id in work.post_ids:
        doc = found.get(post_id)
        if doc is None or doc.get("status") != "published" or doc.get("account_id") != work.account_id:
            summary.failed += 1  # deleted or moved on since the fan-out: nothing to fetch
            continue
        if doc.get("metrics_run_id") == work.run_id:
            summary.already += 1
            continue
        post = Post.model_validate(doc)
        if not post.platform_ids:
            summary.failed += 1
            log_event(log, logging.ERROR, "published post has no platform ids; no metrics", post_id=post.id)
            continue
        posts.append(post)
    return posts


def _collect(chunk: list[Post], results: list, *, work: WorkMessage, config: Config, fetched_at: datetime, rows: list,
             updates: list, summary: FetchSummary) -> None:
    # Empty ids (e.g. X's media_ids on a text post) name nothing: never match an answer by them.
    by_platform_id = {pid: post for post in chunk for pid in post.platform_ids.values() if pid}
    answered: set[str] = set()
    in_order = len(results) == len(chunk)  # base.py's adapters answer one entry per post, in order
    for position, result in enumerate(results):
        post = by_platform_id.get(result.platform_post_id)
        if post is None and in_order and isinstance(result, MetricsRefused):
            post = chunk[position]  # a refusal of a post without the id its platform asks by
        if post is None or post.id in answered:
            continue  # not one of ours (or said twice): never credit numbers to the wrong post
        answered.add(post.id)
        next_at = selection.next_pull_at(post.published_at, work.run_at, config)
        if isinstance(result, PlatformMetrics):
            rows.append(writer.metrics_row(post, result.platform_post_id, result, run_id=work.run_id,
                                           fetched_at=fetched_at))
            summary.fetched += 1
        elif isinstance(result, MetricsRefused):
            summary.refused += 1
        else:
            continue
        updates.append((post.id, writer.post_update(result, run_id=work.run_id, fetched_at=fetched_at,
                                                     next_at=next_at)))
    for post in chunk:
        if post.id not in answered:  # the platform said nothing about it: a refusal without a reason
            summary.refused += 1
            silent = MetricsRefused(platform_post_id=next((v for v in post.platform_ids.values() if v), ""),
                                    reason="not in the answer")
            updates.append((post.id, writer.post_update(silent, run_id=work.run_id, fetched_at=fetched_at,
                                                         next_at=selection.next_pull_at(post.published_at, work.run_at,
                                                                                        config))))


def _save(repo: Repository, bq: bigquery.Client, config: Config, work: WorkMessage, rows: list[dict], updates: list[tuple[str, dict]]) -> None:
    """Rows first, then the posts: a crash in between re-fetches on redelivery and the MERGE drops
    the repeated rows; the other order could mark posts done whose rows were never written."""
    try:
        writer.write_rows(bq, config.project, rows, work.run_at)
    except Exception as exc:  # noqa: BLE001 - any BigQuery failure: redeliver; nothing was marked done
        raise TransientError(f"post_metrics write failed: {type(exc).__name__}: {exc}") from exc
    metrics_due.update_posts(repo, updates)


def _record(repo: Repository, summary: FetchSummary, message_id: str, *, final: bool) -> None:
    outcome = {f"{summary.outcome}_messages": 1} if final and summary.outcome != "done" else {}
    runs.add_to_run(repo, summary.run_id, fetched=summary.fetched, refused=summary.refused,
                    failed=summary.failed if final else 0, calls=summary.calls, messages_done=1 if final else 0,
                    retried=0 if final else 1, **outcome)  # type: ignore[arg-type]  # "<outcome>_messages", never set_fields
    log_event(log, logging.INFO if final else logging.WARNING,
              "analytics fetch done" if final else "analytics fetch will be retried", message_id=message_id,
              outcome=summary.outcome, posts=summary.posts, fetched=summary.fetched, refused=summary.refused,
              failed=summary.failed, already=summary.already, calls=summary.calls,
              duration_seconds=summary.duration_seconds)
