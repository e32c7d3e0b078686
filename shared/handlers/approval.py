"""approval-notify and approval-http: send the signed links for a version, serve the review page and
record the decision (a YouTube metadata change and a Content ID change each have their own review and apply)."""

from __future__ import annotations

import logging
from typing import Any

from shared.approval import checks, link_answers, pages
from shared.approval.links import approval_requests
from shared.approval.notifiers import DecisionNotice, notifier_from_config
from shared.content_id import links as content_id_links
from shared.errors import BadMessage
from shared.handlers.messages import after_decision, request_approval
from shared.model.content import ContentItem
from shared.runtime.config_model import Config
from shared.runtime.logging import log_context, log_event
from shared.services import get_services
from shared.youtube_sync import bulk_links
from shared.youtube_sync import links as metadata_links
from shared.youtube_sync.notices import notify

log = logging.getLogger("postgate")


def notify_approvers(payload: dict[str, Any]) -> int:
    services = get_services()
    if isinstance(payload.get("metadata_change_id"), str):  # a YouTube metadata change, not a content item
        return notify(payload, repo=services.repository, config=services.config, secrets=services.secrets)
    if isinstance(payload.get("metadata_bulk_id"), str):  # a YouTube bulk metadata change
        return bulk_links.notify(payload, repo=services.repository, config=services.config, secrets=services.secrets)
    if isinstance(payload.get("content_id_change_id"), str):  # a YouTube Content ID change
        return content_id_links.notify(payload, repo=services.repository, config=services.config,
                                       secrets=services.secrets)
    content_id = payload.get("content_id")
    if not isinstance(content_id, str):
        raise BadMessage("content.created message without content_id")
    config = services.config
    repo = services.repository
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
        key = services.secrets.access(config.approval_signing_secret)
        accounts = {t.account_id: repo.get_account(t.account_id) or {} for t in content.targets}
        notifier = notifier_from_config(config, services.secrets)
        sent = 0
        for request in approval_requests(config, key, content, accounts):
            notifier.send(request)
            sent += 1
        log_event(log, logging.INFO, "approval requested", recipients=sent)
        return sent


def _tell_requester(config: Config, content: ContentItem | None, payload: dict[str, Any]) -> int:
    if content is None or content.status != "rejected" or content.content_hash != payload.get("content_hash"):
        log_event(log, logging.INFO, "decision notice no longer applies", status=content.status if content else None)
        return 0
    approval = content.approval
    assert approval is not None, "a rejected item has its decision"
    notice = DecisionNotice(content.id, content.campaign, content.requested_by, "rejected", approval.decided_by,
                            approval.reason, content.text())
    notifier_from_config(config, get_services().secrets).notify(notice)
    return 1


def approval_page(method: str, form: dict[str, str], query_token: str | None = None) -> pages.PageResult:
    """The approval HTTP function: a PageResult. POST publishes due posts after the commit.

    GET without a token: the page that reads the token from the link's fragment and POSTs it.
    GET ?token= (links sent before tokens moved into the fragment): the review, read-only.
    POST step=review: the review. POST action=approve|reject: the decision.
    """
    if method in ("GET", "HEAD") and not query_token:
        return pages.shell()
    if method not in ("GET", "HEAD", "POST"):
        return pages.not_allowed()
    token = query_token if method != "POST" else form.get("token")
    if not token:
        return pages.no_token()
    services = get_services()
    config = services.config
    repo = services.repository
    key = services.secrets.access(config.approval_signing_secret)
    if metadata_links.is_change_link(key, token):  # a YouTube metadata change: its own review and apply
        return metadata_links.answer(method, form, token, repo=repo, signing_key=key, config=config,
                                     secrets=services.secrets, bq=services.bigquery())
    if bulk_links.is_bulk_link(key, token):  # a YouTube bulk metadata change: one approval for every video
        return bulk_links.answer(method, form, token, repo=repo, signing_key=key, config=config,
                                 secrets=services.secrets, bq=services.bigquery())
    if content_id_links.is_change_link(key, token):  # a YouTube Content ID change: its own review and apply
        return content_id_links.answer(method, form, token, repo=repo, signing_key=key, config=config,
                                       secrets=services.secrets, bq=services.bigquery())
    env = checks.ReviewEnv(media_store=services.media, config=config,
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
