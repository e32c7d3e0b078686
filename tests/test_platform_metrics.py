"""Platform metrics: each adapter's fetch_metrics against its platform's sandbox over real HTTP.

For every platform: a full batch is one call with every number mapped; the numbers grow as the
sandbox clock moves; one post over the documented batch limit is refused by the platform; a
deleted post is refused while the rest succeed; a rate limit parks the whole batch until the
platform's reset; a rejected token is refreshed once (through the real credential store) and the
fetch succeeds. Then what is particular to each platform.
"""

from __future__ import annotations

import json
import secrets as pysecrets
import time
from datetime import UTC, datetime

import pytest
import requests

from shared.errors import CapReached, PermanentError
from shared.model.analytics import MetricsRefused, PlatformMetrics
from shared.model.content import TargetSpec
from shared.model.post import Post
from shared.platforms.base import MetricsContext
from shared.platforms.credentials import StaticToken
from shared.platforms.registry import PLATFORMS, adapter_for
from shared.runtime.config import Config

CLIENT = {"client_id": "postgate-metrics", "client_secret": "metrics-client-secret"}


class FakeClock:
    """The sandboxes' clock: starts at the real time (X's reset epochs are compared with it) and
    moves only when a test says so."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _config(**urls) -> Config:
    return Config(project="test-project", media_bucket="test-media", approval_base_url="http://approval.test",
                  http_timeout_seconds=10, **urls)


def _post(platform: str, account_id: str, platform_ids: dict[str, str], **target) -> Post:
    now = datetime.now(UTC)
    return Post(id=f"content-{pysecrets.token_hex(4)}--{account_id}", content_id="content", account_id=account_id,
                platform=platform, campaign="Launch", status="published", content_hash="hash",
                target=TargetSpec(account_id=account_id, **target), platform_ids=platform_ids, created_at=now,
                updated_at=now, published_at=now)


# ---- one harness per platform: its sandbox, account, posts and what its numbers map to ----------------------

class Harness:
    name: str
    key: str                    # the platform_ids key fetch_metrics asks by
    refresh_endpoint = "token"  # the sandbox endpoint a token refresh calls
    target: dict = {}

    def __init__(self, clock: FakeClock):
        self.clock = clock
        self.access, self.refresh = f"{self.name}-at-{pysecrets.token_hex(8)}", f"{self.name}-rt-{pysecrets.token_hex(8)}"
        self.account: dict = {"platform": self.name}
        self.start()

    @property
    def adapter(self):
        return adapter_for(self.name)

    @property
    def batch_size(self) -> int:
        return self.adapter.METRICS_BATCH_SIZE

    def posts(self, n: int, *, age_seconds: float = 3600.0) -> list[Post]:
        return [_post(self.name, "acct", self.ids_of(self.publish(age_seconds)), **self.target) for _ in range(n)]

    def ids_of(self, platform_id: str) -> dict[str, str]:
        return {self.key: platform_id}

    def context(self, posts: list[Post], tokens=None, **kwargs) -> MetricsContext:
        return MetricsContext(posts=posts, account=self.account, tokens=tokens or StaticToken(self.access),
                              config=self.config, **kwargs)

    def fetch(self, posts: list[Post], tokens=None, **kwargs) -> list:
        return self.adapter.fetch_metrics(self.context(posts, tokens, **kwargs))

    def stored_tokens(self) -> dict:
        """The account's secret with an access token the platform no longer accepts."""
        return {"access_token": f"{self.name}-expired", "refresh_token": self.refresh, **CLIENT}

    def stop(self) -> None:
        self.sandbox.stop()


class TikTok(Harness):
    name, key = "tiktok", "video_id"
    target = {"privacy_level": "PUBLIC_TO_EVERYONE"}

    def start(self):
        from infra.local.sandboxes.tiktok import TikTokSandbox

        self.sandbox = TikTokSandbox(clock=self.clock)
        self.sandbox.add_creator(self.access, creator_username="brand")
        self.sandbox.add_refresh_token(self.refresh, self.access)
        self.sandbox.start()
        self.config = _config(tiktok_base_url=self.sandbox.base_url, tiktok_rate_limit_wait_seconds=60)
        self._publish_ids: dict[str, str] = {}

    def publish(self, age_seconds: float) -> str:
        ids = self.sandbox.add_video(self.access, age_seconds=age_seconds)
        self._publish_ids[ids["video_id"]] = ids["publish_id"]
        return ids["video_id"]

    def ids_of(self, platform_id: str) -> dict[str, str]:
        return {"publish_id": self._publish_ids[platform_id], "video_id": platform_id}

    def expected(self, vid: str) -> PlatformMetrics:
        m = self.sandbox.metrics_of(vid)
        return PlatformMetrics(platform_post_id=vid, views=m["view_count"], likes=m["like_count"],
                               comments=m["comment_count"], shares=m["share_count"])

    def delete(self, vid: str) -> None:
        self.sandbox.delete_video(vid)

    def rate_limit(self) -> float:
        self.sandbox.inject("video_query", "rate_limit")
        return 60.0  # TikTok sends no Retry-After: its one-minute window (config)

    def one_over_the_limit(self):
        ids = [str(7_000_000_000_000_000_000 + i) for i in range(self.batch_size + 1)]
        r = requests.post(self.sandbox.base_url + "/v2/video/query/?fields=id,view_count",
                          json={"filters": {"video_ids": ids}}, headers={"Authorization": f"Bearer {self.access}"},
                          timeout=10)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_param"


class X(Harness):
    name, key = "x", "tweet_id"

    def start(self):
        from infra.local.sandboxes.x import XSandbox

        self.sandbox = XSandbox(clock=self.clock, check_after_secs=0)
        self.sandbox.add_account(self.access, self.refresh, username="brand")
        self.sandbox.start()
        self.config = _config(x_base_url=self.sandbox.base_url)

    def publish(self, age_seconds: float) -> str:
        return self.sandbox.add_post(self.access, f"post {pysecrets.token_hex(4)}", age_seconds=age_seconds)

    def expected(self, tweet_id: str) -> PlatformMetrics:
        m = self.sandbox.metrics_of(tweet_id)
        return PlatformMetrics(platform_post_id=tweet_id, views=m["impression_count"], impressions=m["impression_count"],
                               likes=m["like_count"], comments=m["reply_count"],
                               shares=m["repost_count"] + m["quote_count"], saves=m["bookmark_count"])

    def delete(self, tweet_id: str) -> None:
        self.sandbox.delete_post(tweet_id)

    def rate_limit(self) -> float:
        self.sandbox.inject("posts_lookup", "rate_limit", reset_in=600)
        return 600.0  # until x-rate-limit-reset

    def one_over_the_limit(self):
        from shared.platforms.x.client import XClient

        ids = [str(1_800_000_000_000_000_000 + i) for i in range(self.batch_size + 1)]
        with pytest.raises(PermanentError, match="between 1 and 100"):
            XClient(self.access, base_url=self.sandbox.base_url).posts_public_metrics(ids)


class YouTube(Harness):
    name, key = "youtube", "video_id"

    def start(self):
        from infra.local.sandboxes.youtube import YouTubeSandbox

        self.sandbox = YouTubeSandbox(clock=self.clock)
        self.sandbox.add_account(self.access, self.refresh, title="Brand")
        self.sandbox.start()
        self.config = _config(youtube_base_url=self.sandbox.base_url, youtube_oauth_url=self.sandbox.token_url)
        self.account = {"platform": "youtube", "quota_project": f"metrics-{pysecrets.token_hex(6)}"}

    def publish(self, age_seconds: float) -> str:
        return self.sandbox.add_video(self.access, age_seconds=age_seconds)

    def expected(self, vid: str) -> PlatformMetrics:
        m = self.sandbox.metrics_of(vid)
        return PlatformMetrics(platform_post_id=vid, views=int(m["viewCount"]), likes=int(m["likeCount"]),
                               comments=int(m["commentCount"]))

    def delete(self, vid: str) -> None:
        self.sandbox.delete_video(vid)

    def rate_limit(self) -> float:
        from shared.platforms.youtube.quota import seconds_until_pacific_midnight

        self.sandbox.inject("list", "quota")  # 403 quotaExceeded: the project's daily quota
        return seconds_until_pacific_midnight()

    def one_over_the_limit(self):
        from shared.platforms.youtube.client import YouTubeClient

        with pytest.raises(PermanentError, match="invalidValue"):
            YouTubeClient(self.access, base_url=self.sandbox.base_url).video_statistics(
                [f"vid{i:08d}" for i in range(self.batch_size + 1)])


class Instagram(Harness):
    name, key = "instagram", "media_id"
    refresh_endpoint = "ig_refresh"

    def start(self):
        from infra.local.sandboxes.instagram import InstagramSandbox

        self.sandbox = InstagramSandbox(clock=self.clock)
        self.sandbox.start()
        # Connected through Business Login for Instagram: its tokens are valid on graph.instagram.com only.
        ids = self.sandbox.add_account(self.access, self.refresh, username="brand", login="instagram")
        self.config = _config(instagram_fb_login_base_url=self.sandbox.graph_url,
                              instagram_ig_login_base_url=self.sandbox.ig_graph_url)
        self.account = {"platform": "instagram", "platform_account_id": ids["ig_user_id"], "instagram_login": "instagram"}

    def publish(self, age_seconds: float) -> str:
        return self.sandbox.add_media(self.access, age_seconds=age_seconds)

    def expected(self, media_id: str) -> PlatformMetrics:
        m = self.sandbox.metrics_of(media_id)
        return PlatformMetrics(platform_post_id=media_id, views=m["views"], reach=m["reach"], likes=m["likes"],
                               comments=m["comments"], shares=m["shares"], saves=m["saved"])

    def delete(self, media_id: str) -> None:
        self.sandbox.delete_media(media_id)

    def rate_limit(self) -> float:
        self.sandbox.inject("batch", "rate_limit", code=80002, regain_minutes=7)
        return 7 * 60.0  # X-Business-Use-Case-Usage estimated_time_to_regain_access

    def one_over_the_limit(self):
        from shared.platforms.instagram.client import InstagramClient

        with pytest.raises(PermanentError, match="Maximum batch size is 50"):
            InstagramClient(self.access, base_url=self.sandbox.ig_graph_url).insights_batch(
                [str(17_800_000_000_000_000 + i) for i in range(self.batch_size + 1)], ["views"])

    def stored_tokens(self) -> dict:
        return {**super().stored_tokens(), "login": "instagram"}  # refreshed with ig_refresh_token


class LinkedIn(Harness):
    name, key = "linkedin", "post_urn"

    def start(self):
        from infra.local.sandboxes.linkedin import LinkedInSandbox

        self.sandbox = LinkedInSandbox(clock=self.clock)
        self.sandbox.start()
        ids = self.sandbox.add_account(self.access, self.refresh, organization_id="auto")
        self.organization, self.person = ids["organization_urn"], ids["person_urn"]
        self.config = _config(linkedin_base_url=self.sandbox.base_url, linkedin_oauth_url=self.sandbox.oauth_url)
        self.account = {"platform": "linkedin", "platform_account_id": self.organization}

    def publish(self, age_seconds: float, kind: str = "share") -> str:
        return self.sandbox.add_post(self.access, age_seconds=age_seconds, kind=kind)

    def expected(self, urn: str) -> PlatformMetrics:
        m = self.sandbox.metrics_of(urn)
        return PlatformMetrics(platform_post_id=urn, impressions=m["impressionCount"], reach=m["uniqueImpressionsCount"],
                               likes=m["likeCount"], comments=m["commentCount"], shares=m["shareCount"])

    def delete(self, urn: str) -> None:
        self.sandbox.delete_post(urn)

    def rate_limit(self) -> float:
        self.sandbox.inject("share_statistics", "rate_limit")
        now = datetime.now(UTC)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp() + 86400
        return midnight - now.timestamp()  # LinkedIn's daily limits reset at midnight UTC

    def one_over_the_limit(self):
        from shared.platforms.linkedin.client import LinkedInClient

        urns = [f"urn:li:share:{7_000_000_000_000_000_000 + i}" for i in range(self.batch_size + 1)]
        client = LinkedInClient(self.access, base_url=self.sandbox.base_url, version=self.config.linkedin_version)
        with pytest.raises(PermanentError, match="at most 20"):
            client.share_statistics(self.organization, urns)


HARNESSES = {h.name: h for h in (TikTok, X, YouTube, Instagram, LinkedIn)}


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture(params=sorted(HARNESSES))
def platform(request, clock):
    harness = HARNESSES[request.param](clock)
    yield harness
    harness.stop()


def _primary(m: PlatformMetrics) -> int:
    return m.views if m.views is not None else m.impressions


# ---- every platform -------------------------------------------------------------------------------------

def test_registry_requires_the_metrics_contract_of_every_adapter():
    for name in PLATFORMS:
        adapter = adapter_for(name)
        assert isinstance(adapter.METRICS_BATCH_SIZE, int) and adapter.METRICS_BATCH_SIZE >= 1
        assert callable(adapter.fetch_metrics)
    assert {n: adapter_for(n).METRICS_BATCH_SIZE for n in PLATFORMS} == {
        "tiktok": 20, "x": 100, "youtube": 50, "instagram": 50, "linkedin": 20, "buffer": 30}


def test_a_full_batch_is_one_call_with_every_number_mapped(platform):
    posts = platform.posts(platform.batch_size)
    results = platform.fetch(posts)
    assert platform.sandbox.metrics_calls() == 1
    assert [r.platform_post_id for r in results] == [p.platform_ids[platform.key] for p in posts]  # the posts' order
    assert results == [platform.expected(p.platform_ids[platform.key]) for p in posts]
    assert all(_primary(r) > 0 for r in results)  # an hour live: seen by someone


def test_numbers_grow_as_time_passes_and_never_go_down(platform, clock):
    posts = platform.posts(5, age_seconds=600)
    first = platform.fetch(posts)
    clock.advance(6 * 3600)
    later = platform.fetch(posts)
    assert platform.sandbox.metrics_calls() == 2
    for before, after in zip(first, later):
        assert _primary(after) > _primary(before)
        for field in ("views", "likes", "comments", "shares", "saves", "reach", "impressions"):
            old, new = getattr(before, field), getattr(after, field)
            assert (old is None) == (new is None) and (old is None or new >= old), field


@pytest.mark.sandbox_probe  # sends one id over the documented limit on purpose: not contract-checked
def test_one_post_over_the_limit_is_refused_by_the_platform_and_never_sent_by_the_adapter(platform):
    platform.one_over_the_limit()  # the client's call reaches the sandbox, which refuses it
    calls = platform.sandbox.metrics_calls()
    posts = [_post(platform.name, "acct", {platform.key: str(i)}) for i in range(platform.batch_size + 1)]
    with pytest.raises(ValueError, match=f"at most {platform.batch_size}"):
        platform.fetch(posts)
    assert platform.sandbox.metrics_calls() == calls


def test_a_deleted_post_is_refused_while_the_rest_succeed(platform):
    posts = platform.posts(4)
    gone = posts[1].platform_ids[platform.key]
    platform.delete(gone)
    results = platform.fetch(posts)
    assert platform.sandbox.metrics_calls() == 1
    assert isinstance(results[1], MetricsRefused) and results[1].platform_post_id == gone and results[1].reason
    assert [results[i] for i in (0, 2, 3)] == [platform.expected(posts[i].platform_ids[platform.key]) for i in (0, 2, 3)]


def test_a_rate_limit_parks_the_whole_batch_until_the_platforms_reset(platform):
    posts = platform.posts(3)
    reset = platform.rate_limit()
    with pytest.raises(CapReached) as caught:
        platform.fetch(posts)
    assert caught.value.retry_after == pytest.approx(reset, abs=5)
    assert platform.sandbox.metrics_calls() == 1  # no retry inside: the batch waits


def test_a_rejected_token_is_refreshed_once_then_the_batch_succeeds(platform, stack_env):
    from shared import services
    from shared.publishing.publisher import account_tokens
    from tests.conftest import register_account

    account_id = f"{platform.name}-metrics-{pysecrets.token_hex(4)}"
    account = register_account(account_id, platform.name, platform.stored_tokens(), **{
        k: v for k, v in platform.account.items() if k != "platform"})
    tokens = account_tokens(account_id, account, platform.adapter, repo=services.repository(), config=platform.config,
                            secrets=services.secrets())
    posts = platform.posts(3)
    results = platform.fetch(posts, tokens=tokens, repo=services.repository())
    assert results == [platform.expected(p.platform_ids[platform.key]) for p in posts]
    assert platform.sandbox.count(platform.refresh_endpoint) == 1
    assert platform.sandbox.metrics_calls(401 if platform.name != "instagram" else 400) == 1  # Meta: 400 / code 190
    assert platform.sandbox.metrics_calls(200) == 1
    stored = json.loads(services.secrets().access(account["secret_name"]))
    assert stored["access_token"] != f"{platform.name}-expired"  # the new token was kept for next time


# ---- what is particular to each platform ----------------------------------------------------------------

@pytest.fixture
def tiktok(clock):
    harness = TikTok(clock)
    yield harness
    harness.stop()


def test_tiktok_post_without_a_public_video_id_is_refused_without_a_call(tiktok):
    live = tiktok.posts(1)[0]
    private = _post("tiktok", "acct", {"publish_id": "v_pub_file~v2-1.123"}, privacy_level="SELF_ONLY")
    results = tiktok.fetch([private, live])
    assert results[0] == MetricsRefused(platform_post_id="v_pub_file~v2-1.123", reason=results[0].reason)
    assert "SELF_ONLY" in results[0].reason
    assert results[1] == tiktok.expected(live.platform_ids["video_id"])
    assert tiktok.fetch([private])[0].platform_post_id == "v_pub_file~v2-1.123"
    assert tiktok.sandbox.metrics_calls() == 1  # the second fetch had nothing to ask


@pytest.fixture
def instagram(clock):
    harness = Instagram(clock)
    yield harness
    harness.stop()


def test_instagram_throttle_inside_the_batch_parks_it_until_meta_says(instagram):
    posts = instagram.posts(3)
    instagram.sandbox.inject("insights", "rate_limit", code=4, regain_minutes=3)  # the first operation only
    with pytest.raises(CapReached) as caught:
        instagram.fetch(posts)
    assert caught.value.retry_after == 180 and caught.value.platform_code == "4"


def test_instagram_asks_only_for_current_metrics_and_a_media_error_is_refused_in_metas_words(instagram):
    posts = instagram.posts(2)
    instagram.delete(posts[0].platform_ids["media_id"])
    refused, ok = instagram.fetch(posts)
    assert "does not exist" in refused.reason and ok.impressions is None and ok.views > 0
    [batch] = [e for e in instagram.sandbox.requests_log if e["endpoint"] == "batch"]
    operations = json.loads(batch["params"]["batch"])
    assert [op["relative_url"].split("=", 1)[1] for op in operations] == ["views,reach,likes,comments,shares,saved"] * 2


def test_instagram_story_asks_for_story_metrics_and_after_24_hours_is_not_asked(instagram):
    from datetime import timedelta

    feed = instagram.posts(1)[0]
    story_id = instagram.sandbox.add_media(instagram.access, age_seconds=3600, media_type="STORIES")
    story = _post("instagram", "acct", {"media_id": story_id}, instagram_media_type="STORIES")
    story = story.model_copy(update={"published_at": datetime.now(UTC) - timedelta(hours=1)})
    numbers, feed_numbers = instagram.fetch([story, feed])
    live = instagram.sandbox.metrics_of(story_id)
    assert numbers == PlatformMetrics(platform_post_id=story_id, views=live["views"], reach=live["reach"],
                                      shares=live["shares"])  # a story has no likes, comments or saves
    assert feed_numbers == instagram.expected(feed.platform_ids["media_id"])
    [batch] = [e for e in instagram.sandbox.requests_log if e["endpoint"] == "batch"]
    metrics = [op["relative_url"].split("=", 1)[1] for op in json.loads(batch["params"]["batch"])]
    assert metrics == ["views,reach,shares", "views,reach,likes,comments,shares,saved"]
    gone = story.model_copy(update={"published_at": datetime.now(UTC) - timedelta(hours=25)})
    [refused] = instagram.fetch([gone])
    assert refused.platform_post_id == story_id and "24 hours" in refused.reason
    assert instagram.sandbox.metrics_calls() == 1  # nothing asked about the expired story


@pytest.fixture
def youtube(clock):
    harness = YouTube(clock)
    yield harness
    harness.stop()


def test_youtube_charges_one_quota_unit_per_call_and_stops_when_the_quota_is_spent(youtube, stack_env):
    from shared import services
    from shared.platforms.youtube import quota

    repo = services.repository()
    key = youtube.account["quota_project"]
    posts = youtube.posts(youtube.batch_size)
    youtube.fetch(posts, repo=repo)
    assert quota.usage(repo.db, key=key)["general"] == 1 and youtube.sandbox.quota_used["general"] == 1
    youtube.config = youtube.config.model_copy(update={"youtube_daily_quota": 1})
    with pytest.raises(CapReached) as caught:
        youtube.fetch(posts, repo=repo)
    assert caught.value.platform_code == "quotaExceeded"
    assert youtube.sandbox.metrics_calls() == 1  # refused before any call


def test_youtube_statistics_reads_do_not_advance_processing(youtube):
    vid = youtube.publish(60)
    youtube.fetch([_post("youtube", "acct", {"video_id": vid})])
    assert youtube.sandbox.posts[vid]["list_requests"] == 0


def test_youtube_rate_limit_without_a_reset_waits_a_minute(youtube):
    posts = youtube.posts(2)
    youtube.sandbox.inject("list", "rate_limit")
    with pytest.raises(CapReached) as caught:
        youtube.fetch(posts)
    assert caught.value.retry_after == 60 and caught.value.platform_code == "rateLimitExceeded"


@pytest.fixture
def linkedin(clock):
    harness = LinkedIn(clock)
    yield harness
    harness.stop()


def test_linkedin_asks_for_shares_and_ugc_posts_in_one_call(linkedin):
    share, ugc = linkedin.publish(3600), linkedin.publish(3600, kind="ugcPost")
    posts = [_post("linkedin", "acct", {"post_urn": urn}) for urn in (share, ugc)]
    assert linkedin.fetch(posts) == [linkedin.expected(share), linkedin.expected(ugc)]
    assert linkedin.sandbox.metrics_calls() == 1


def test_linkedin_member_posts_are_refused_without_a_call(linkedin):
    linkedin.account = {"platform": "linkedin", "platform_account_id": linkedin.person}
    urn = linkedin.sandbox.add_post(linkedin.access, author=linkedin.person)
    [refused] = linkedin.fetch([_post("linkedin", "acct", {"post_urn": urn})])
    assert refused.platform_post_id == urn and "organization posts only" in refused.reason
    assert linkedin.sandbox.metrics_calls() == 0


def test_linkedin_statistics_need_an_administrator_of_the_organization(linkedin):
    linkedin.account = {"platform": "linkedin", "platform_account_id": "urn:li:organization:999"}
    with pytest.raises(PermanentError, match="ACCESS_DENIED"):
        linkedin.fetch(linkedin.posts(1))


@pytest.fixture
def x(clock):
    harness = X(clock)
    yield harness
    harness.stop()


def test_x_missing_post_is_refused_in_xs_words(x):
    kept = x.posts(1)[0]
    missing = _post("x", "acct", {"tweet_id": "1799999999999999999"})
    refused, ok = x.fetch([missing, kept])
    assert refused.reason == "X: Not Found Error: Could not find tweet with id: [1799999999999999999]."
    assert ok == x.expected(kept.platform_ids["tweet_id"])


# ---- the sandboxes' numbers ---------------------------------------------------------------------------------

def test_sandbox_engagement_grows_with_age_and_never_decreases():
    from infra.local.sandboxes.engagement import engagement

    for post_id in ("a", "7301234567890123456", "urn:li:share:1"):
        ages = [0, 1, 60, 3600, 6 * 3600, 86400, 7 * 86400, 90 * 86400]
        series = [engagement(post_id, age) for age in ages]
        assert series[0].views == 0
        for earlier, later in zip(series, series[1:]):
            assert all(getattr(later, f) >= getattr(earlier, f) for f in earlier.__dataclass_fields__)
        week = series[-2]
        assert 100 <= week.views <= 100_000 and week.reach <= week.views and week.likes < week.views
        assert engagement(post_id, 3600) == engagement(post_id, 3600)  # the same post, the same age, the same numbers
