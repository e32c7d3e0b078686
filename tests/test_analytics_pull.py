"""Analytics pulls: the fan-out sends bounded messages of one account each, posts are due on a
decaying schedule, every fetch lands once in BigQuery and on the post, and a rate-limited or
disconnected account holds up nobody else. Real emulators and the TikTok sandbox throughout."""

from __future__ import annotations

import secrets as pysecrets
from datetime import UTC, timedelta

import pytest

from tests.conftest import ACCOUNT, PROJECT, function_client, pubsub_envelope, register_account

SECOND = "tiktok-two"


def _config(**overrides):
    from shared.runtime.config import get_config

    return get_config().model_copy(update=overrides)


def _seed(sandbox, token: str, n: int, *, account_id: str = ACCOUNT, age=timedelta(hours=3), scheduled: bool = False,
          first: int = 0, now=None) -> list[str]:
    """n published TikTok posts of the account, live in the sandbox, published `age` ago."""
    from infra.local.bench import published_post_doc, write_posts
    from shared import services
    from shared.runtime.clock import utcnow

    now = now or utcnow()
    docs = []
    for i in range(first, first + n):
        video = sandbox.add_video(token, age_seconds=age.total_seconds(), title=f"post {i}")
        docs.append(published_post_doc(post_id=f"{account_id}--p{i:03d}", account_id=account_id, platform="tiktok",
                                       platform_ids={"publish_id": video["publish_id"], "video_id": video["video_id"]},
                                       published_at=now - age, scheduled=scheduled,
                                       target={"account_id": account_id, "privacy_level": "PUBLIC_TO_EVERYONE"}))
    write_posts(services.repository().db, docs)
    return [d["id"] for d in docs]


def _second_account(sandbox) -> str:
    from tests.conftest import TIKTOK_SCOPES

    token = "act." + pysecrets.token_urlsafe(24)
    sandbox.add_creator(token, creator_username="brand_two", creator_nickname="Brand Two", scopes=TIKTOK_SCOPES)
    register_account(SECOND, "tiktok", {"access_token": token})
    return token


def _fan_out(*, now=None, config=None, payload=None, message_id=None, page_budget=None):
    from shared import services
    from shared.analytics.fanout import PAGES_PER_INVOCATION, pull

    work, ticks = [], []
    summary = pull(services.repository(), config=config or _config(), payload=payload or {"tick": "analytics"},
                   send_work=work.append, send_tick=ticks.append, message_id=message_id, now=now,
                   page_budget=page_budget or PAGES_PER_INVOCATION)
    return summary, work, ticks


def _deliver(message, *, now=None, config=None):
    from shared import services
    from shared.analytics.fetch import fetch_work

    return fetch_work(message, repo=services.repository(), config=config or _config(), secrets=services.secrets(),
                      bq=services.bigquery(), message_id="m", now=now)


def _whole_pull(*, now=None, config=None):
    """Fan-out, then every work message through the fetch (as Pub/Sub would deliver them)."""
    summary, work, ticks = _fan_out(now=now, config=config)
    assert ticks == []
    return summary, [_deliver(m, now=now, config=config) for m in work]


def _rows() -> list[dict]:
    from shared import services

    sql = f"SELECT * FROM `{PROJECT}.postgate.post_metrics` ORDER BY post_id, fetched_at"
    return [dict(r) for r in services.bigquery().query(sql).result()]


def _post(post_id: str) -> dict:
    from shared import services

    return services.repository().db.collection("posts").document(post_id).get().to_dict()


def _run_doc(run_id: str) -> dict:
    from shared import services

    return services.repository().db.collection("analytics_runs").document(run_id).get().to_dict()


# -- fan-out -------------------------------------------------------------------------------------------
def test_fan_out_sends_bounded_messages_of_one_account_each(env, sandbox):
    ids = _seed(sandbox, env["access_token"], 7, scheduled=True)
    other = _seed(sandbox, _second_account(sandbox), 2, account_id=SECOND, scheduled=True)

    summary, work, _ = _fan_out(config=_config(analytics_batch_max_posts=3))

    mine = [m for m in work if m["account_id"] == ACCOUNT]
    assert [len(m["post_ids"]) for m in mine] == [3, 3, 1]
    assert sorted(p for m in mine for p in m["post_ids"]) == ids
    [theirs] = [m for m in work if m["account_id"] == SECOND]
    assert sorted(theirs["post_ids"]) == other
    assert all(m["platform"] == "tiktok" and m["run_id"] == summary.run_id for m in work)
    run = _run_doc(summary.run_id)
    assert (run["messages"], run["posts"], run["accounts"]) == (4, 9, 2) and run["fanned_out_at"]


def test_messages_are_whole_platform_batches(env, sandbox):
    from shared.analytics.fanout import message_size

    assert message_size(500, 20) == 500 and message_size(500, 100) == 500 and message_size(130, 50) == 100
    assert message_size(3, 20) == 3
    _seed(sandbox, env["access_token"], 45, scheduled=True)
    _, work, _ = _fan_out(config=_config(analytics_batch_max_posts=30))  # TikTok batches of 20: 20 per message
    assert [len(m["post_ids"]) for m in work] == [20, 20, 5]


def test_a_big_run_continues_in_the_next_invocation_without_repeating_posts(env, sandbox):
    ids = _seed(sandbox, env["access_token"], 8, scheduled=True)
    config = _config(analytics_batch_max_posts=3)
    first, work, [tick] = _fan_out(config=config, page_budget=2)
    assert [len(m["post_ids"]) for m in work] == [3, 3] and first.continued and not first.done
    assert tick["run_id"] == first.run_id and tick["cursor"]["account_id"] == ACCOUNT

    rest, more, ticks = _fan_out(config=config, payload=tick)
    assert ticks == [] and rest.done and rest.run_id == first.run_id
    assert sorted(p for m in work + more for p in m["post_ids"]) == ids
    assert _run_doc(first.run_id)["posts"] == 8


def test_a_redelivered_tick_is_the_same_run_and_sends_nothing_twice(env, sandbox):
    _seed(sandbox, env["access_token"], 2, scheduled=True)
    first, work, _ = _fan_out(message_id="tick-1")
    again, repeat, _ = _fan_out(message_id="tick-1")
    assert again.run_id == first.run_id and len(work) == 1 and repeat == []


def test_posts_without_a_schedule_are_backfilled_once_and_pulled(env, sandbox):
    from shared import services
    from shared.stores import metrics_due

    ids = _seed(sandbox, env["access_token"], 3, scheduled=False)
    summary, work, _ = _fan_out()
    assert summary.backfilled == 3 and sorted(work[0]["post_ids"]) == ids
    assert _post(ids[0])["metrics_next_at"] == _post(ids[0])["published_at"]
    # The backfill resumes after what it saw: the next run reads nothing it already handled.
    assert metrics_due.backfill_schedules(services.repository(), summary.started_at + timedelta(minutes=1), _config()) == 0


# -- the schedule ---------------------------------------------------------------------------------------
def test_young_posts_every_run_then_daily_then_weekly_then_never(env, sandbox):
    from shared.runtime.clock import utcnow

    t0 = utcnow()
    token = env["access_token"]
    young = _seed(sandbox, token, 1, age=timedelta(hours=40), first=0, now=t0)[0]  # young for 8 more hours
    daily = _seed(sandbox, token, 1, age=timedelta(days=10), first=1, now=t0)[0]
    weekly = _seed(sandbox, token, 1, age=timedelta(days=100), first=2, now=t0)[0]
    last = _seed(sandbox, token, 1, age=timedelta(days=362), first=3, now=t0)[0]  # its next slot is past a year
    too_old = _seed(sandbox, token, 1, age=timedelta(days=400), first=4, now=t0)[0]

    def pulled(at) -> set[str]:
        _, fetches = _whole_pull(now=at)
        assert all(f.outcome == "done" for f in fetches)
        return {p for p, doc in ((p, _post(p)) for p in (young, daily, weekly, last, too_old))
                if doc.get("metrics_checked_at") == at}

    assert pulled(t0) == {young, daily, weekly, last}
    assert _post(last)["metrics_next_at"] is None and _post(too_old).get("metrics_next_at") is None
    assert pulled(t0 + timedelta(hours=1)) == {young}
    assert pulled(t0 + timedelta(hours=2)) == {young}
    assert pulled(t0 + timedelta(days=1)) == {young, daily}
    assert pulled(t0 + timedelta(days=1, hours=1)) == set()  # 65 h old: no longer young, pulled a day later
    assert pulled(t0 + timedelta(days=2)) == {young, daily}
    assert pulled(t0 + timedelta(days=7)) == {young, daily, weekly}
    assert pulled(t0 + timedelta(days=14)) == {young, daily, weekly}


def test_schedule_boundaries():
    from datetime import datetime

    from shared.analytics.selection import EARLY, next_pull_at
    from shared.runtime.config import load_config

    # Its own environment: no fixture here, so nothing else has set the process's.
    config = load_config({"GOOGLE_CLOUD_PROJECT": PROJECT, "POSTGATE_MEDIA_BUCKET": "test-media",
                          "POSTGATE_APPROVAL_BASE_URL": "http://approval.test"}).model_copy(
        update=dict(analytics_young_age_hours=48, analytics_daily_until_days=30, analytics_max_age_days=365))
    run = datetime(2026, 11, 1, tzinfo=UTC)
    assert next_pull_at(run - timedelta(hours=47), run, config) == run + EARLY
    assert next_pull_at(run - timedelta(hours=48), run, config) == run + timedelta(days=1) - EARLY
    assert next_pull_at(run - timedelta(days=30), run, config) == run + timedelta(days=7) - EARLY
    assert next_pull_at(run - timedelta(days=360), run, config) is None
    assert next_pull_at(run - timedelta(days=365), run, config) is None


# -- the fetch ------------------------------------------------------------------------------------------
def test_latest_metrics_on_the_post_rows_in_bigquery_and_a_summary(env, sandbox, logs):
    from shared.model.analytics import PlatformMetrics, engagement_rate

    ids = _seed(sandbox, env["access_token"], 25, scheduled=True)
    sandbox.set_video_metrics(_post(ids[0])["platform_ids"]["video_id"], view_count=1000, like_count=30,
                              comment_count=5, share_count=5)
    calls_before = sandbox.metrics_calls()
    summary, [fetch] = _whole_pull()

    assert sandbox.metrics_calls() - calls_before == 2  # 25 posts: batches of 20 and 5
    assert (fetch.fetched, fetch.refused, fetch.failed, fetch.calls) == (25, 0, 0, 2)
    first = _post(ids[0])
    assert first["metrics"] == {"views": 1000, "likes": 30, "comments": 5, "shares": 5, "saves": None, "reach": None,
                                "impressions": None, "engagement_rate": 0.04}
    assert first["metrics_fetched_at"] and first["metrics_next_at"] > summary.started_at
    rows = _rows()
    assert len(rows) == 25 and {r["post_id"] for r in rows} == set(ids)
    row = next(r for r in rows if r["post_id"] == ids[0])
    assert (row["views"], row["likes"], row["platform"], row["account_id"], row["campaign"]) == (1000, 30, "tiktok",
                                                                                              ACCOUNT, "Launch")
    assert row["engagement_rate"] == engagement_rate(PlatformMetrics(platform_post_id="x", views=1000, likes=30,
                                                                     comments=5, shares=5)) == 0.04
    run = _run_doc(summary.run_id)
    assert (run["fetched"], run["calls"], run["messages_done"], run["messages"]) == (25, 2, 1, 1)
    [pulled] = [e for e in logs.entries if e["message"] == "analytics pull fanned out"]
    [done] = [e for e in logs.entries if e["message"] == "analytics fetch done"]
    assert (pulled["messages"], pulled["posts"]) == (1, 25)
    assert (done["account_id"], done["posts"], done["fetched"], done["refused"], done["calls"]) == (ACCOUNT, 25, 25, 0, 2)
    assert done["duration_seconds"] >= 0 and env["access_token"] not in logs.text


def test_a_retried_work_message_writes_no_duplicate_rows(env, sandbox):
    from shared import services
    from shared.errors import TransientError

    ids = _seed(sandbox, env["access_token"], 25, scheduled=True)
    _, [message], _ = _fan_out()
    # The first batch is answered, the second gets a 5xx: the first is kept and Pub/Sub redelivers.
    sandbox.inject("video_query", "slow", seconds=0)
    sandbox.inject("video_query", "server_error")
    with pytest.raises(TransientError):
        _deliver(message)
    assert len(_rows()) == 20
    calls = sandbox.metrics_calls()
    redelivered = _deliver(message)
    assert (redelivered.already, redelivered.fetched, redelivered.calls) == (20, 5, 1)
    assert sandbox.metrics_calls() - calls == 1 and len(_rows()) == 25
    assert _deliver(message).calls == 0 and len(_rows()) == 25  # once more: every post is done for this run
    # Delivered again after a lost Firestore write (posts not marked): refetched, and no row twice.
    db = services.repository().db
    for post_id in ids:
        db.collection("posts").document(post_id).update({"metrics_run_id": None})
    again = _deliver(message)
    assert again.fetched == 25 and len(_rows()) == 25
    assert sorted(r["snapshot_id"] for r in _rows()) == sorted(f"{p}@{message['run_id']}" for p in ids)


def test_a_rate_limited_account_is_parked_and_the_others_are_fetched(env, sandbox):
    first = _seed(sandbox, env["access_token"], 3, scheduled=True)
    second = _seed(sandbox, _second_account(sandbox), 3, account_id=SECOND, scheduled=True)
    summary, work, _ = _fan_out()
    [mine] = [m for m in work if m["account_id"] == ACCOUNT]
    [theirs] = [m for m in work if m["account_id"] == SECOND]
    due_before = _post(first[0])["metrics_next_at"]

    sandbox.inject("video_query", "rate_limit", count=1)
    parked = _deliver(mine)
    fetched = _deliver(theirs)

    assert parked.outcome == "parked" and parked.fetched == 0
    assert fetched.outcome == "done" and fetched.fetched == 3
    assert _post(first[0])["metrics_next_at"] == due_before and _post(first[0]).get("metrics") is None  # still due
    assert _post(second[0])["metrics"]["views"] is not None
    from shared import services

    until = services.repository().db.collection("analytics_parked").document(ACCOUNT).get().get("until")
    assert until > summary.started_at
    # Runs before the reset skip the account (its posts stay due); the first run after it pulls them.
    skipped, work, _ = _fan_out(now=until - timedelta(milliseconds=1))
    assert ACCOUNT in skipped.skipped and work == []
    _, work, _ = _fan_out(now=until + timedelta(seconds=1))
    assert [sorted(m["post_ids"]) for m in work] == [first]
    assert _run_doc(summary.run_id)["parked_messages"] == 1


def test_a_revoked_account_needs_reconnecting_and_is_skipped_after(env, sandbox):
    from shared import services

    _seed(sandbox, env["access_token"], 2, scheduled=True)
    _, [message], _ = _fan_out()
    sandbox.revoke_authorization("brand_main")
    assert _deliver(message).outcome == "needs_reconnect"
    assert services.repository().get_account(ACCOUNT)["status"] == "needs_reconnect"
    summary, work, _ = _fan_out()
    assert work == [] and summary.skipped[ACCOUNT] == "needs reconnecting"


# -- the deployed entry points -----------------------------------------------------------------------------
def test_entry_points_fan_out_to_pubsub_and_fetch_a_work_message(env, sandbox):
    from shared import services

    ids = _seed(sandbox, env["access_token"], 2, scheduled=True)
    pull = function_client("functions/analytics/main.py", "pull_metrics")
    assert pull.post("/", json=pubsub_envelope({"tick": "analytics"}, message_id="tick-42")).status_code == 200
    [run] = [d.to_dict() for d in services.repository().db.collection("analytics_runs").stream()]
    assert (run["messages"], run["posts"]) == (1, 2)

    work = {"run_id": run["run_id"], "run_at": run["started_at"].isoformat(), "platform": "tiktok",
            "account_id": ACCOUNT, "post_ids": ids}
    fetch = function_client("functions/analytics/main.py", "fetch_metrics")
    assert fetch.post("/", json=pubsub_envelope(work, message_id="w-1")).status_code == 200
    assert len(_rows()) == 2 and _run_doc(run["run_id"])["fetched"] == 2
    # A malformed message is acked and dropped, never retried forever.
    assert fetch.post("/", json=pubsub_envelope({"run_id": "r", "post_ids": "nope"})).status_code == 200
