"""POST /analytics/sync: a pull now, through the path the hourly pull takes. One post: one work message
for analytics-fetch; every post: a tick for analytics-pull whose run pulls every post on the schedule,
due or not, and one such run at a time. Real emulators and the TikTok sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import ACCOUNT, PROJECT, bearer, drain_messages


def _live_posts(sandbox, token: str, n: int, *, next_at: datetime | None = None) -> list[str]:
    """n published TikTok posts live in the sandbox; `next_at`: when each is next due (default: now)."""
    from infra.local.bench import published_post_doc, write_posts
    from shared import services

    now = datetime.now(UTC)
    docs = []
    for i in range(n):
        video = sandbox.add_video(token, age_seconds=3 * 86400, title=f"post {i}")
        doc = published_post_doc(post_id=f"sync-p{i}", account_id=ACCOUNT, platform="tiktok",
                                 platform_ids={"publish_id": video["publish_id"], "video_id": video["video_id"]},
                                 published_at=now - timedelta(days=3),
                                 target={"account_id": ACCOUNT, "privacy_level": "PUBLIC_TO_EVERYONE"})
        doc["metrics_next_at"] = next_at or now
        docs.append(doc)
    write_posts(services.repository().db, docs)
    return [d["id"] for d in docs]


def _rows() -> list[dict]:
    from shared import services

    sql = f"SELECT post_id, source FROM `{PROJECT}.postgate.post_metrics` ORDER BY post_id"
    return [dict(r) for r in services.bigquery().query(sql).result()]


def _fetch(message: dict):
    from shared import services
    from shared.analytics.fetch import fetch_work
    from shared.runtime.config import get_config

    return fetch_work(message, repo=services.repository(), config=get_config(), secrets=services.secrets(),
                      bq=services.bigquery(), message_id="m")


def test_a_sync_of_one_post_sends_its_work_message_and_the_fetch_pulls_it_now(api, env, sandbox):
    # Not due for a week: only the sync pulls it now.
    [post_id, _] = _live_posts(sandbox, env["access_token"], 2, next_at=datetime.now(UTC) + timedelta(days=7))
    drain_messages("analytics-fetch")
    answer = api.post("/analytics/sync", json={"post_id": post_id}, headers=bearer(env))
    assert answer.status_code == 202, answer.get_json()
    started = answer.get_json()
    assert (started["scope"], started["post_id"], started["account_id"], started["platform"]) == (
        "post", post_id, ACCOUNT, "tiktok")
    assert started["requested_by"] == "editor@example.com" and started["already_running"] is False
    [message] = drain_messages("analytics-fetch")
    assert message["run_id"] == started["run_id"] and message["post_ids"] == [post_id]
    assert _fetch(message).fetched == 1
    assert _rows() == [{"post_id": post_id, "source": "platform"}]


def test_a_sync_of_every_post_ticks_the_pull_which_takes_posts_not_yet_due(api, env, sandbox):
    from shared import services
    from shared.analytics.fanout import pull
    from shared.runtime.config import get_config

    ids = _live_posts(sandbox, env["access_token"], 3, next_at=datetime.now(UTC) + timedelta(days=6))
    drain_messages("analytics-pull")
    answer = api.post("/analytics/sync", headers=bearer(env))  # no body at all: every post
    assert answer.status_code == 202, answer.get_json()
    started = answer.get_json()
    assert started["scope"] == "all" and started["already_running"] is False
    [tick] = drain_messages("analytics-pull")
    assert tick["sync_run_id"] == started["run_id"]

    work: list[dict] = []
    summary = pull(services.repository(), config=get_config(), payload=tick, send_work=work.append,
                   send_tick=lambda m: None, message_id="pubsub-1")
    assert summary.run_id == started["run_id"] and summary.posts == 3
    assert sorted(p for m in work for p in m["post_ids"]) == ids
    # The hourly tick at the same moment pulls none of them: they are not due.
    hourly: list[dict] = []
    pull(services.repository(), config=get_config(), payload={"tick": "analytics"}, send_work=hourly.append,
         send_tick=lambda m: None, message_id="pubsub-2")
    assert hourly == []

    again = api.post("/analytics/sync", json={}, headers=bearer(env, user="lead@example.com", roles=("approver",)))
    assert again.status_code == 202
    assert again.get_json()["run_id"] == started["run_id"] and again.get_json()["already_running"] is True
    assert again.get_json()["requested_by"] == "editor@example.com"
    assert drain_messages("analytics-pull") == []


def test_a_sync_names_the_post_it_cannot_pull(api, env, sandbox):
    from infra.local.bench import published_post_doc, write_posts
    from shared import services

    draft = published_post_doc(post_id="not-out", account_id=ACCOUNT, platform="tiktok", platform_ids={},
                               published_at=datetime.now(UTC))
    draft["status"] = "scheduled"
    no_ids = published_post_doc(post_id="no-ids", account_id=ACCOUNT, platform="tiktok", platform_ids={},
                                published_at=datetime.now(UTC))
    write_posts(services.repository().db, [draft, no_ids])
    drain_messages("analytics-fetch")
    for post_id, status in (("nope", 404), ("not-out", 409), ("no-ids", 409)):
        answer = api.post("/analytics/sync", json={"post_id": post_id}, headers=bearer(env))
        assert (answer.status_code, answer.get_json()["field"]) == (status, "post_id"), answer.get_json()
    assert api.post("/analytics/sync", json={"post_id": "a/b"}, headers=bearer(env)).status_code == 400
    assert api.post("/analytics/sync", json={}, headers=bearer(env, roles=())).status_code == 403
    assert drain_messages("analytics-fetch") == []
