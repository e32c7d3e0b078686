"""Per-account caps (invariant 4) across concurrent publishers: a burst never exceeds the cap,
and posts over it wait in `queued` with a next attempt time instead of failing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from tests.conftest import ACCOUNT, approve, brief, upload_video

CAP = 5
BURST = 200


def _clone_queued_posts(template, count: int) -> list[str]:
    """`count` approved, queued posts of the same approved content, all for one account."""
    from shared import services
    from shared.stores.posts import dump

    db = services.repository().db
    ids = [f"{template.id}-burst-{i:03d}" for i in range(count)]
    for start in range(0, count, 400):
        batch = db.batch()
        for post_id in ids[start:start + 400]:
            batch.set(services.repository().post_ref(post_id), dump(template.model_copy(update={"id": post_id})))
        batch.commit()
    return ids


def _set_cap(max_count: int, window_seconds: int = 86400) -> None:
    from shared import services

    repo = services.repository()
    account = repo.get_account(ACCOUNT)
    repo.put_account(ACCOUNT, {**account, "limits": [{"name": "posts_per_day", "max_count": max_count,
                                                      "window_seconds": window_seconds}]})


def test_burst_of_200_posts_at_one_account_never_exceeds_the_cap(env, sandbox):
    from shared import entrypoints, services
    from shared.publishing.publisher import publish_post
    from shared.runtime.config import get_config

    _set_cap(CAP)
    content = entrypoints.generate(brief(upload_video()))
    [template] = approve(env, content)
    ids = _clone_queued_posts(template, BURST)
    repo, config = services.repository(), get_config()

    def publish(post_id: str):
        return publish_post(post_id, repo=repo, config=config, secrets=services.secrets(), media_store=services.media_store())

    with ThreadPoolExecutor(max_workers=32) as pool:
        outcomes = list(pool.map(publish, ids))

    statuses = [o.status for o in outcomes]
    assert statuses.count("processing") == CAP
    assert statuses.count("queued") == BURST - CAP
    assert sandbox.count("video_init") == CAP  # the platform saw exactly the cap, never more
    posts = [repo.get_post(i) for i in ids]
    waiting = [p for p in posts if p.status == "queued"]
    assert len(waiting) == BURST - CAP
    assert all(p.next_attempt_at is not None and p.fail_reason is None for p in waiting)
    # They wait for the first slot to free: about one window from now, not a retry loop.
    assert min(p.next_attempt_at for p in waiting) > posts[0].created_at + timedelta(hours=23)
    assert not [p for p in posts if p.status == "failed"]


def test_a_waiting_post_goes_out_once_a_slot_frees(env, sandbox):
    from shared import entrypoints, services
    from shared.publishing.publisher import publish_post
    from shared.runtime.config import get_config
    from shared.stores import posting_caps as limits

    _set_cap(1, window_seconds=3600)
    content = entrypoints.generate(brief(upload_video()))
    [template] = approve(env, content)
    first, second = _clone_queued_posts(template, 2)
    repo = services.repository()
    kwargs = dict(repo=repo, config=get_config(), secrets=services.secrets(), media_store=services.media_store())
    assert publish_post(first, **kwargs).status == "processing"
    assert publish_post(second, **kwargs).status == "queued"
    parked = repo.get_post(second)
    assert parked.next_attempt_at is not None
    # Before the wait is over, a redelivery is not even claimed.
    assert publish_post(second, **kwargs).status == "skipped"
    # The window passes: the slot expires and a later attempt takes it over.
    db = repo.db
    for slot in db.collection(limits.RATE_LIMITS).document(ACCOUNT).collection("slots").stream():
        slot.reference.update({"expires_at": slot.to_dict()["taken_at"]})
    repo.update_fields(second, next_attempt_at=parked.next_attempt_at - timedelta(hours=2))
    assert publish_post(second, **kwargs).status == "processing"
    assert sandbox.count("video_init") == 2


def test_a_transient_failure_gives_the_slot_back(env, sandbox):
    from shared import entrypoints, services
    from shared.model.account import Limit
    from shared.publishing.publisher import publish_post
    from shared.runtime.config import get_config
    from shared.stores import posting_caps as limits

    _set_cap(1)
    content = entrypoints.generate(brief(upload_video()))
    [due] = approve(env, content)
    sandbox.inject("creator_info", "server_error", count=20)
    outcome = publish_post(due.id, repo=services.repository(), config=get_config(), secrets=services.secrets(),
                           media_store=services.media_store())
    assert outcome.status == "queued" and outcome.retry
    assert limits.slots_in_use(services.repository(), ACCOUNT, Limit("posts_per_day", 1, 86400)) == 0
