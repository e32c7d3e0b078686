"""Demo data for `make up`, made through Postgate's own API and pipeline on a running LocalStack.

Everything a person would do goes through the api function over HTTP, as the editor or the approver
the console signs in: the campaign, an extra account connected through the platform's OAuth consent,
posts from the team's own copy, decisions bound to the content hash, a cancel. What happens next is
the pipeline's own work on the sandboxes: publish, status poll, the analytics pull into BigQuery, the
token refresh. Two sandbox faults stand in for the platforms' bad days: LinkedIn refusing a post
(403 ACCESS_DENIED) and a YouTube channel owner removing Postgate's access, which the token refresh
finds and records on the account.

The posts, by state:
  published         one item to all five demo accounts, approved, live on every sandbox, metrics in BigQuery
  failed            a LinkedIn post the platform refused, with LinkedIn's words as the reason
  scheduled         two approved items due tomorrow and in three days
  pending_approval  two items waiting for the approver (own copy and an AI draft)
  rejected          one item the approver turned down, with the reason
  cancelled         one approved, scheduled item the editor called off
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import requests

from infra.local.demo import pull_metrics, wait_for
from infra.local.stack import LOCAL_USERS, LocalStack
from shared import services
from shared.api.auth import issue_api_token
from shared.platforms.credentials import NEEDS_RECONNECT
from shared.runtime.pubsub import publish_json
from shared.topology import get_topology

EDITOR, APPROVER = "editor@example.com", "lead@example.com"
CAMPAIGN = "spring-launch"
RECONNECT_ACCOUNT = "youtube-outdoors"  # the account whose owner removed Postgate's access
LINKEDIN_REFUSAL = {"http_status": 403, "code": "ACCESS_DENIED", "service_error_code": 100,
                    "message": "Not enough permissions to access: partnerApiPostsExternal.CREATE"}
REJECTION = "We can't promise 'for life': legal approved a 10-year guarantee. Please reword."
VIDEO_BYTES = 1024 * 1024  # small: one chunk on every platform, so seeding stays quick


class SeedError(RuntimeError):
    pass


@dataclass
class Seeded:
    """What the seeding made: ids to look at, and how long it took."""

    campaign: str = CAMPAIGN
    accounts: list[str] = field(default_factory=list)
    reconnect_account: str = RECONNECT_ACCOUNT
    reconnect_reason: str = ""
    contents: dict[str, list[str]] = field(default_factory=dict)  # state -> content ids
    posts: dict[str, list[str]] = field(default_factory=dict)  # state -> post ids
    metrics_rows: int = 0
    seconds: float = 0.0


class Api:
    """The api function as one user calls it (bearer token minted from the stack's own key)."""

    def __init__(self, base_url: str, user: str, roles: list[str]):
        self.base_url, self.user = base_url, user
        token = issue_api_token(services.secrets().access("api-jwt-key"), user, roles)
        self._http = requests.Session()
        self._http.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, expect: int = 200, **kwargs) -> dict:
        response = self._http.request(method, self.base_url + path, timeout=60, **kwargs)
        if response.status_code != expect:
            raise SeedError(f"{method} {path} as {self.user}: HTTP {response.status_code} {response.text[:500]}")
        return response.json()


class Seeder:
    def __init__(self, stack: LocalStack, out: Callable[[str], None], timeout: float):
        self.stack, self.timeout = stack, timeout
        self._out, self._t0 = out, time.monotonic()
        api = stack.function_urls["api"]
        self.editor = Api(api, EDITOR, LOCAL_USERS[EDITOR])
        self.approver = Api(api, APPROVER, LOCAL_USERS[APPROVER])
        self.repo = services.repository()
        self.seeded = Seeded()
        video = stack.upload_video("demo/bottle-24h.mp4", VIDEO_BYTES)
        image = stack.upload_image("demo/bottle-on-rock.jpg", 1080, 1350)
        self.media = {"video": video, "images": [image]}

    def say(self, line: str) -> None:
        self._out(f"  [{time.monotonic() - self._t0:5.1f}s] {line}")

    # -- people, campaign, accounts -----------------------------------------------------------
    def campaign(self) -> None:
        today = datetime.now(UTC).date()
        self.editor.call("POST", "/campaigns", 201, json={
            "id": CAMPAIGN, "name": "Spring launch", "status": "active",
            "description": "The bottle that keeps drinks cold for 24 hours, on every channel",
            "starts_on": (today - timedelta(days=7)).isoformat(), "ends_on": (today + timedelta(days=30)).isoformat()})
        self.say(f"campaign    {CAMPAIGN} (active)")

    def demo_accounts(self) -> None:
        """The stack's five demo accounts: each tested through the real client against its sandbox."""
        for local in self.stack.platforms.values():
            result = self.editor.call("POST", f"/accounts/{local.account_id}/test")
            if result["result"] != "ok":
                raise SeedError(f"account {local.account_id} test: {result}")
            self.seeded.accounts.append(local.account_id)
        self.say(f"accounts    {', '.join(self.seeded.accounts)}: connected, tested ok")

    def connect_reconnect_account(self) -> None:
        """A second YouTube channel, connected through Google's consent (the sandbox's), whose owner
        then removes Postgate's access; the token refresh finds out and records why on the account."""
        local = self.stack.platforms["youtube"]
        box = local.sandbox
        channel = box.add_account("unused-" + RECONNECT_ACCOUNT, title="Postgate Outdoors")["channel_id"]
        self.editor.call("POST", "/accounts", 201, json={"id": RECONNECT_ACCOUNT, "platform": "youtube",
                                                         "handle": "Postgate Outdoors"})
        box.oauth.sign_in(channel)  # the channel's owner at the consent page
        try:
            started = self.editor.call("POST", f"/accounts/{RECONNECT_ACCOUNT}/connect", json={})
            consent = requests.get(started["authorize_url"], allow_redirects=False, timeout=30)
            back = consent.headers.get("Location", "")
            if consent.status_code != 302 or not back.startswith(self.stack.function_urls["api"]):
                raise SeedError(f"the YouTube consent page answered {consent.status_code}: {consent.text[:300]}")
            done = requests.get(back, timeout=60)  # the browser back at the api's OAuth callback
            if done.status_code != 200:
                raise SeedError(f"OAuth callback: HTTP {done.status_code} {done.text[:300]}")
        finally:
            box.oauth.sign_in(local.oauth_user)  # `postgate accounts connect` of the demo account works again
        self.say(f"accounts    {RECONNECT_ACCOUNT} connected through the YouTube consent page")
        box.revoke_authorization(channel)
        publish_json(self.stack.project, get_topology().schedules["token-refresh-tick"].topic, {"tick": "token-refresh"})

    def wait_reconnect_flagged(self) -> None:
        def flagged():
            record = self.repo.db.collection("accounts").document(RECONNECT_ACCOUNT).get().to_dict() or {}
            return record if record.get("status") == NEEDS_RECONNECT else None

        record = self.wait(flagged, f"{RECONNECT_ACCOUNT} to be marked needs_reconnect by the token refresh")
        self.seeded.reconnect_reason = record.get("status_reason", "")
        self.say(f"accounts    {RECONNECT_ACCOUNT} needs reconnecting: {self.seeded.reconnect_reason}")

    # -- posts --------------------------------------------------------------------------------
    def own_copy(self, caption: str, targets: list[dict], *, hashtags: list[str], publish_at: datetime | None = None,
                 media: dict | None = None) -> dict:
        body = {"campaign": CAMPAIGN, "caption": caption, "hashtags": hashtags, "targets": targets, **(media or {})}
        if publish_at is not None:
            body["publish_at"] = publish_at.isoformat()
        return self.editor.call("POST", "/posts", 201, json=body)

    def decide(self, content: dict, action: str, reason: str | None = None) -> dict:
        body = {"action": action, "content_hash": content["content_hash"], **({"reason": reason} if reason else {})}
        return self.approver.call("POST", f"/contents/{content['id']}/decision", json=body)

    def content_posts(self, content: dict) -> list:
        return self.repo.posts_for_content(content["id"])

    def settled(self, content: dict, states: set[str]):
        posts = self.content_posts(content)
        return posts if posts and all(p.status in states for p in posts) else None

    def record(self, state: str, content: dict) -> None:
        self.seeded.contents.setdefault(state, []).append(content["id"])
        self.seeded.posts.setdefault(state, []).extend(p.id for p in self.content_posts(content))

    # -- the states, one by one -------------------------------------------------------------------
    def failed(self) -> None:
        """LinkedIn refuses the post: the fault is taken by the next post creation, and no other
        LinkedIn post is in flight until this one has failed."""
        item = self.own_copy("Spring launch: meet the bottle that keeps drinks cold for 24 hours.",
                             self.targets("linkedin"), hashtags=["SpringLaunch"])
        self.stack.platforms["linkedin"].sandbox.inject("posts_create", "error", **LINKEDIN_REFUSAL)
        self.decide(item, "approve")
        [post] = self.wait(lambda: self.settled(item, {"failed"}), "the refused LinkedIn post to fail")
        self.record("failed", item)
        self.say(f"failed      {post.id} (linkedin): {post.fail_reason}")

    def launch(self) -> dict:
        """One item to every demo account, approved: the publishers take it from here."""
        item = self.own_copy("Cold for 24 hours, hot for 12. The Postgate bottle is here. Pre-order today.",
                             self.targets(*self.stack.platforms), hashtags=["SpringLaunch", "StayCold"], media=self.media)
        self.decide(item, "approve")
        self.say(f"approved    {item['id']} -> {len(self.stack.platforms)} platforms; publishing on the sandboxes")
        return item

    def scheduled(self, at: datetime, caption: str, *platforms: str) -> None:
        item = self.own_copy(caption, self.targets(*platforms), hashtags=["SpringLaunch"], publish_at=at,
                             media=self.media)
        self.decide(item, "approve")
        self.record("scheduled", item)
        self.say(f"scheduled   {item['id']} ({', '.join(platforms)}) for {at:%Y-%m-%d %H:%M} UTC")

    def cancelled(self, at: datetime) -> None:
        item = self.own_copy("Flash sale at midnight!", self.targets("x"), hashtags=["SpringLaunch"], publish_at=at)
        self.decide(item, "approve")
        [post] = self.content_posts(item)
        self.editor.call("POST", f"/posts/{post.id}/cancel")
        self.record("cancelled", item)
        self.say(f"cancelled   {post.id} (x), approved then called off by {EDITOR}")

    def rejected(self) -> None:
        item = self.own_copy("The only bottle you will ever need. Guaranteed for life.", self.targets("instagram"),
                             hashtags=["SpringLaunch"], media=self.media)
        self.decide(item, "reject", REJECTION)
        self.record("rejected", item)
        self.say(f"rejected    {item['id']} (instagram): {REJECTION}")

    def pending(self, at: datetime) -> None:
        """Two items for the approval queue: the team's own copy, and an AI draft from a brief."""
        self.record("pending_approval", self.own_copy(
            "Behind the scenes: how we test 24 hours of cold.", self.targets("tiktok", "youtube"),
            hashtags=["SpringLaunch", "BehindTheScenes"], publish_at=at, media=self.media))
        self.record("pending_approval", self.editor.call("POST", "/posts/generate", 201, json={
            "campaign": CAMPAIGN, "topic": "Refill stations on every trail we love", "audience": "hikers",
            "tone": "friendly", "call_to_action": "Find a station near you.", "hashtags": ["SpringLaunch"],
            "images": self.media["images"], "targets": self.targets("instagram", "x", "linkedin")}))
        self.say(f"pending     {len(self.seeded.contents['pending_approval'])} items wait for {APPROVER}")

    def published(self, item: dict) -> None:
        """Wait for every post of `item` to be confirmed and in publish_log, then one analytics pull."""
        def confirmed():
            posts = self.settled(item, {"published"})
            return posts if posts and all(p.publish_log_written for p in posts) else None

        posts = self.wait(confirmed, "every launch post to be published")
        self.record("published", item)
        self.say(f"published   {item['id']} on {', '.join(p.platform for p in posts)}")
        self.seeded.metrics_rows = pull_metrics(self.stack, item["id"], len(posts), self.timeout)
        self.say(f"analytics   one pull: {self.seeded.metrics_rows} posts with metrics in BigQuery post_metrics")

    def catalogue(self, videos: int = 120) -> None:
        """The demo channel's whole catalogue: more videos on it than Postgate published, then a refresh
        asked for through the API (catalogue-refresh imports them; /console/catalogue searches them)."""
        local = self.stack.platforms["youtube"]
        local.sandbox.add_catalogue_videos(local.tokens["access_token"], videos)
        channel = local.account["platform_account_id"]
        self.editor.call("POST", f"/youtube/catalogue/channels/{channel}/refresh", 202)

        def imported():
            doc = self.repo.db.collection("catalogue_channels").document(channel).get().to_dict() or {}
            done = doc.get("last_refresh") or {}
            return done if done.get("outcome") == "done" and (doc.get("video_count") or 0) >= videos else None

        done = self.wait(imported, "the demo channel's catalogue to be imported")
        self.say(f"catalogue   {local.account_id}: {done['videos_written']} videos written, {done['units']} quota units; "
                 "search them at /console/catalogue")

    # -- helpers ------------------------------------------------------------------------------
    def targets(self, *platforms: str) -> list[dict]:
        """The demo accounts' targets (platform options as the demo brief sets them)."""
        return [self.stack.platforms[p].target for p in platforms]

    def wait(self, predicate, what: str):
        found = wait_for(predicate, timeout=self.timeout, interval=0.3)
        if not found:
            raise SeedError(f"waited {self.timeout:.0f} s for {what}; logs in {self.stack.workdir}")
        return found


def seed(stack: LocalStack, out: Callable[[str], None] = print, timeout: float = 90.0) -> Seeded:
    """Seed a started LocalStack; progress lines go to `out`. Raises SeedError naming what did not happen."""
    t0 = time.monotonic()
    s = Seeder(stack, out, timeout)
    tomorrow_9 = (datetime.now(UTC) + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    s.campaign()
    s.demo_accounts()
    s.connect_reconnect_account()  # the token refresh flags it while the rest goes on
    s.failed()
    launch = s.launch()
    # While the launch publishes: the calendar and the queue.
    s.scheduled(tomorrow_9, "Trail-tested: 24 hours on the ridge and still ice-cold.", "instagram", "x")
    s.scheduled(tomorrow_9 + timedelta(days=2), "Which colour goes with you? Moss, slate or sand.", "tiktok", "linkedin")
    s.cancelled(tomorrow_9 + timedelta(hours=15))
    s.rejected()
    s.pending(tomorrow_9 + timedelta(days=4))
    s.wait_reconnect_flagged()
    s.published(launch)
    s.catalogue()
    s.seeded.seconds = round(time.monotonic() - t0, 1)
    return s.seeded
