"""What each deployed function does, in terms of shared/ services. main.py files call these."""

from __future__ import annotations

import logging
from typing import Any

from shared import services
from shared.errors import BadMessage, TransientError
from shared.runtime.config import get_config
from shared.runtime.logging import log_context, log_event

log = logging.getLogger("postgate")


def generate(brief_payload: dict[str, Any], idempotency_key: str | None = None):
    """Brief -> draft -> content-created message. Returns the ContentItem."""
    from shared.content.drafts import create_draft, parse_brief
    from shared.content.generation import generator_from_config

    config = get_config()
    brief = parse_brief(brief_payload)
    content, _created = create_draft(
        brief, generator=generator_from_config(config), repo=services.repository(), media_store=services.media_store(),
        media_bucket=config.media_bucket, idempotency_key=idempotency_key)
    # Published even on a redelivery: approval-notify is idempotent per content version.
    request_approval(config, content)
    return content


def request_approval(config, content) -> None:
    """Ask the approvers about this exact version (content-created; approval-notify sends the links)."""
    from shared.runtime.pubsub import publish_json
    from shared.topology import get_topology

    with log_context(correlation_id=content.id):
        topic = get_topology().trigger_topic("approval-notify")
        publish_json(config.project, topic, {"content_id": content.id, "content_hash": content.content_hash},
                     correlation_id=content.id)


def notify_approvers(payload: dict[str, Any]) -> int:
    from shared.approval.links import approval_requests
    from shared.approval.notifiers import notifier_from_config

    if isinstance(payload.get("metadata_change_id"), str):  # a YouTube metadata change, not a content item
        from shared.youtube_sync.notices import notify

        return notify(payload, repo=services.repository(), config=get_config(), secrets=services.secrets())
    content_id = payload.get("content_id")
    if not isinstance(content_id, str):
        raise BadMessage("content.created message without content_id")
    config = get_config()
    repo = services.repository()
    with log_context(correlation_id=content_id):
        content = repo.get_content(content_id)
        if payload.get("decision") == "rejected":
            return _tell_requester(config, content, payload)
        if content is None or content.status != "pending_approval":
            log_event(log, logging.INFO, "no approval needed", status=content.status if content else None)
            return 0
        if payload.get("content_hash") and payload["content_hash"] != content.content_hash:
            log_event(log, logging.INFO, "content changed since this message; a newer request covers it")
            return 0
        key = services.secrets().access(config.approval_signing_secret)
        accounts = {t.account_id: repo.get_account(t.account_id) or {} for t in content.targets}
        notifier = notifier_from_config(config, services.secrets())
        sent = 0
        for request in approval_requests(config, key, content, accounts):
            notifier.send(request)
            sent += 1
        log_event(log, logging.INFO, "approval requested", recipients=sent)
        return sent


def _tell_requester(config, content, payload: dict[str, Any]) -> int:
    from shared.approval.notifiers import DecisionNotice, notifier_from_config

    if content is None or content.status != "rejected" or content.content_hash != payload.get("content_hash"):
        log_event(log, logging.INFO, "decision notice no longer applies", status=content.status if content else None)
        return 0
    approval = content.approval
    notice = DecisionNotice(content.id, content.campaign, content.requested_by, "rejected", approval.decided_by,
                            approval.reason, content.text())
    notifier_from_config(config, services.secrets()).notify(notice)
    return 1


def approval_page(method: str, form: dict[str, str], query_token: str | None = None):
    """The approval HTTP function: a PageResult. POST publishes due posts after the commit.

    GET without a token: the page that reads the token from the link's fragment and POSTs it.
    GET ?token= (links sent before tokens moved into the fragment): the review, read-only.
    POST step=review: the review. POST action=approve|reject: the decision.
    """
    from shared.approval import checks, link_answers, pages
    from shared.youtube_sync import links as metadata_links

    if method in ("GET", "HEAD") and not query_token:
        return pages.shell()
    if method not in ("GET", "HEAD", "POST"):
        return pages.not_allowed()
    token = query_token if method != "POST" else form.get("token")
    if not token:
        return pages.no_token()
    config = get_config()
    repo = services.repository()
    key = services.secrets().access(config.approval_signing_secret)
    if metadata_links.is_change_link(key, token):  # a YouTube metadata change: its own review and apply
        return metadata_links.answer(method, form, token, repo=repo, signing_key=key, config=config,
                                     secrets=services.secrets(), bq=services.bigquery())
    env = checks.ReviewEnv(media_store=services.media_store(), config=config,
                           request_approval=lambda content: request_approval(config, content))
    if method != "POST":
        return link_answers.render_review(repo, key, token, env, may_reask=False)
    action = form.get("action")
    if form.get("step") == "review" and not action:
        return link_answers.render_review(repo, key, token, env, tz=form.get("tz"))
    if action not in ("approve", "reject"):
        return pages.unknown_action()
    result = link_answers.apply_decision(repo, key, token, action, env, reason=form.get("reason"), tz=form.get("tz"))
    after_decision(config, result)
    return result


def after_decision(config, result) -> None:
    """Once a decision is committed (link or API): due posts go to their platforms' publish topics,
    and a rejection is told to whoever asked for the approval, with the reason. Neither can undo
    the decision: a lost message leaves the post queued for dispatch, a lost notice is logged."""
    from shared.runtime.pubsub import publish_json
    from shared.topology import get_topology

    topology = get_topology()
    if result.decision == "rejected":  # approval-notify tells whoever asked for it, with the reason
        content_id = result.content.id
        with log_context(correlation_id=content_id):
            try:
                publish_json(config.project, topology.trigger_topic("approval-notify"),
                             {"content_id": content_id, "content_hash": result.content.content_hash,
                              "decision": "rejected"}, correlation_id=content_id)
            except Exception as exc:  # noqa: BLE001 - the decision stands; only the notice is lost
                log_event(log, logging.ERROR, "could not send the rejection notice", error=str(exc))
    for post in result.due_posts:
        with log_context(correlation_id=post.content_id, post_id=post.id, platform=post.platform):
            try:
                publish_json(config.project, topology.publish_topic(post.platform), {"post_id": post.id},
                             correlation_id=post.content_id)
            except Exception as exc:  # noqa: BLE001 - the decision stands; the post stays queued for dispatch
                log_event(log, logging.ERROR, "could not enqueue approved post; it stays queued", error=str(exc))


def publish(payload: dict[str, Any]):
    from shared.publishing.publisher import publish_post

    post_id = payload.get("post_id")
    if not isinstance(post_id, str) or not post_id:
        raise BadMessage("publish message without post_id")
    config = get_config()
    outcome = publish_post(post_id, repo=services.repository(), config=config, secrets=services.secrets(),
                           media_store=services.media_store(), request_approval=lambda c: request_approval(config, c))
    if outcome.retry:
        raise TransientError(outcome.detail)
    return outcome


def poll():
    from shared.publishing.status_poll import poll_once

    return poll_once(repo=services.repository(), config=get_config(), secrets=services.secrets(), bq=services.bigquery(),
                     owed_work=poll_owed_work())


def poll_owed_work():
    """What the status poll also settles each tick: YouTube metadata changes a crash or an unanswered
    update left approved, and owed audit rows. Passed down so the pipeline never imports a feature."""
    return (_settle_owed_youtube_changes,)


def _settle_owed_youtube_changes(**tick):
    from shared.youtube_sync.owed import settle_owed_changes  # loaded when the tick gets there, as before

    return settle_owed_changes(**tick)


def refresh_tokens():
    from shared.publishing.token_refresh import refresh_expiring_tokens

    return refresh_expiring_tokens(repo=services.repository(), config=get_config(), secrets=services.secrets())


def dispatch():
    """Send scheduled posts that are due and parked posts whose wait is over to their platform topics."""
    from shared.publishing.dispatch import LOST_MESSAGE_RESEND_SECONDS, dispatch_due
    from shared.runtime.pubsub import publish_json
    from shared.topology import get_topology

    config = get_config()
    topology = get_topology()

    def send(post) -> None:
        publish_json(config.project, topology.publish_topic(post.platform), {"post_id": post.id},
                     correlation_id=post.content_id)

    return dispatch_due(repo=services.repository(), send=send, batch_size=config.poll_batch_size,
                        redispatch_seconds=LOST_MESSAGE_RESEND_SECONDS)


def pull_metrics(payload: dict[str, Any], message_id: str | None = None):
    """analytics-pull: a Scheduler tick (or a continuation of a big run) -> analytics-work messages,
    one account and at most analytics_batch_max_posts posts each."""
    from shared.analytics.fanout import pull
    from shared.runtime.pubsub import publish_json
    from shared.topology import get_topology

    config = get_config()
    topology = get_topology()
    work_topic = topology.trigger_topic("analytics-fetch")
    tick_topic = topology.trigger_topic("analytics-pull")
    return pull(services.repository().db, config=config, payload=payload, message_id=message_id,
                send_work=lambda message: publish_json(config.project, work_topic, message,
                                                       correlation_id=message["run_id"]),
                send_tick=lambda message: publish_json(config.project, tick_topic, message,
                                                       correlation_id=message["run_id"]))


def fetch_metrics(payload: dict[str, Any], message_id: str = ""):
    """analytics-fetch: one account's due posts -> platform metrics -> post_metrics rows and the posts."""
    from shared.analytics.fetch import fetch_work

    return fetch_work(payload, repo=services.repository(), config=get_config(), secrets=services.secrets(),
                      bq=services.bigquery(), message_id=message_id)
