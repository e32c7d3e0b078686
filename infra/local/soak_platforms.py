"""The soak's five platforms: a sandbox each with several accounts, the post variants the soak
sends, the faults it injects, and what each sandbox's own records say is live.

Mirrors infra/local/platform_sandboxes.py (same sandboxes, same account shapes), with three
differences a benchmark needs:
- several accounts per platform, each its own user/creator/channel/organization;
- volume caps raised where one account of the real platform could not take a soak's share in a
  day (TikTok's 15 inits per creator, YouTube's 100 inserts per project), and TikTok's per-minute
  request windows switched off; injected rate-limit faults exercise those paths instead. Every
  sandbox keeps its content rules, state progressions, duplicate refusals and token checks;
- the accounts' Firestore caps (`limits`) are raised for the same reason.

Faults are chosen from each sandbox's own ENDPOINTS / FAULT_KINDS at run time, so a kind the
sandbox does not (yet) have is left out, and listed, rather than guessed.
"""

from __future__ import annotations

import re
import secrets as pysecrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.model.platform import PLATFORMS

# The platforms the soak and the analytics bench start: all but Buffer, whose sandbox has no soak faults
# or live view here yet (its publishing is proven by tests/test_publish_buffer.py and `make demo`).
SOAK_PLATFORMS: tuple[str, ...] = tuple(p for p in PLATFORMS if p != "buffer")

MARKER = re.compile(r"soakp(\d{5,})")


def marker(index: int) -> str:
    """The token in a post's text that ties a platform record to our post (survives every platform's
    rewriting: no URL, no reserved character, no entity)."""
    return f"soakp{index:05d}"


@dataclass(frozen=True)
class FaultSpec:
    endpoint: str
    kind: str
    params: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in sorted(self.params.items())
                         if k in ("respond", "via", "how", "after_accept", "daily", "fail_reason", "failure_reason",
                                  "rejection_reason", "code", "subcode", "http_status"))
        kind = "lost_response(after_accept)" if self.params.get("after_accept") and self.kind != "lost_response" else self.kind
        return f"{self.endpoint}:{kind}" + (f"[{extra}]" if extra else "")


@dataclass
class SoakAccount:
    account_id: str
    doc: dict  # Firestore accounts/{id}, secret_name included
    tokens: dict  # the account's one secret


@dataclass
class SoakPlatform:
    name: str
    sandbox: Any
    env: dict[str, str]
    accounts: list[SoakAccount]
    variants: list[str]  # post variants, cycled over this platform's posts
    faults: list[FaultSpec]  # what the soak draws from
    skipped_faults: list[str]  # candidate faults the sandbox does not offer
    lost_response_kind: str  # how "create succeeded, response lost" is injected here
    live: Callable[[], list[tuple[str, str]]]  # (platform id, text) of every record the platform shows as a post

    def target(self, variant: str, account_id: str, index: int) -> dict:
        return _TARGETS[self.name](variant, account_id, index)

    def media(self, variant: str) -> tuple[bool, int]:
        """(needs the video, number of images) for a variant."""
        return _MEDIA[self.name](variant)

    def pending_faults(self) -> int:
        """Injected faults not consumed yet (still queued in the sandbox)."""
        return self.sandbox.pending_faults()


# -- post variants: the target each one needs and the media it carries ---------------------------------
def _tiktok_target(variant, account_id, index):
    return {"account_id": account_id, "privacy_level": "PUBLIC_TO_EVERYONE"}


def _instagram_target(variant, account_id, index):
    target = {"account_id": account_id, "instagram_media_type": variant}
    if variant == "IMAGE":
        target["alt_text"] = f"A steel bottle on a rock ({marker(index)})"
    return target


def _x_target(variant, account_id, index):
    return {"account_id": account_id}


def _youtube_target(variant, account_id, index):
    return {"account_id": account_id, "title": f"Cold for 24 hours {marker(index)}", "youtube_privacy": variant,
            "tags": ["bottle", "soak"]}


def _linkedin_target(variant, account_id, index):
    target = {"account_id": account_id, "linkedin_visibility": "PUBLIC"}
    if variant == "image":
        target["alt_text"] = "A steel bottle"
    return target


_TARGETS = {"tiktok": _tiktok_target, "instagram": _instagram_target, "x": _x_target, "youtube": _youtube_target,
            "linkedin": _linkedin_target}
_MEDIA = {
    "tiktok": lambda v: (True, 0),
    "instagram": lambda v: {"IMAGE": (False, 1), "REELS": (True, 0), "CAROUSEL": (False, 2)}[v],
    "x": lambda v: {"text": (False, 0), "image": (False, 1), "video": (True, 0)}[v],
    "youtube": lambda v: (True, 0),
    "linkedin": lambda v: {"text": (False, 0), "image": (False, 1), "video": (True, 0)}[v],
}


# -- faults ------------------------------------------------------------------------------------------------
def _candidates(platform: str, long_seconds: float) -> tuple[list[FaultSpec], str, list[FaultSpec]]:
    """(every candidate fault, the create endpoint, the after_accept stand-ins for a missing lost_response)."""
    F = FaultSpec
    short = {"seconds": 0.3}
    long = {"seconds": long_seconds}  # longer than the client's timeout: the caller gives up, the platform acts
    if platform == "tiktok":
        return [
            F("creator_info", "rate_limit"), F("video_init", "rate_limit"), F("status", "rate_limit"),
            F("creator_info", "server_error"), F("video_init", "server_error"), F("upload", "server_error"),
            F("status", "server_error"),
            F("upload", "server_error", {"after_accept": True}),
            F("video_init", "error", {"http_status": 400, "code": "invalid_param", "message": "injected refusal"}),
            F("upload", "slow", short), F("video_init", "slow", long), F("status", "slow", long),
            F("status", "fail_publish", {"fail_reason": "internal"}),
            F("status", "fail_publish", {"fail_reason": "file_format_check_failed"}),
            F("video_init", "lost_response", {"respond": "drop"}),
            F("video_init", "lost_response", {"respond": "server_error"}),
            F("upload", "lost_response", {"respond": "drop"}),
            F("upload", "lost_response", {"respond": "server_error"}),
        ], "upload", [F("upload", "server_error", {"after_accept": True})]
    if platform == "instagram":
        return [
            F("publishing_limit", "rate_limit", {"code": 4}),
            F("media", "rate_limit", {"code": 80002, "regain_minutes": 5}),
            F("media_publish", "rate_limit", {"code": 17}),
            F("media", "server_error"), F("container_status", "server_error"), F("media_publish", "server_error"),
            F("media_list", "server_error"),
            F("media", "error", {"code": 100, "subcode": 2207052, "message": "injected refusal"}),
            F("media_publish", "slow", short), F("container_status", "slow", long), F("media_publish", "slow", long),
            F("media", "container_error", {"subcode": 2207053}), F("media", "container_error", {"subcode": 2207026}),
            F("media", "container_expired"),
            F("media", "lost_response", {"via": "drop"}),
            F("media_publish", "lost_response", {"via": "drop"}),
            F("media_publish", "lost_response", {"via": "server_error"}),
            F("media_publish", "lost_response", {"via": "timeout", **long}),
        ], "media_publish", [F("media_publish", "server_error", {"after_accept": True})]
    if platform == "x":
        return [
            F("create_post", "rate_limit", {"reset_in": 0}),
            F("create_post", "rate_limit", {"daily": True, "reset_in": 3600}),
            F("media_initialize", "rate_limit"),
            F("create_post", "server_error"), F("media_append", "server_error"), F("media_finalize", "server_error"),
            F("media_status", "server_error"), F("user_posts", "server_error"),
            F("create_post", "error", {"http_status": 403, "title": "Forbidden", "detail": "injected refusal"}),
            F("media_append", "slow", short), F("create_post", "slow", long),
            F("media_finalize", "fail_processing", {"message": "injected: unsupported codec"}),
            F("create_post", "lost_response", {"how": "error"}),
            F("create_post", "lost_response", {"how": "drop"}),
        ], "create_post", [F("create_post", "server_error", {"after_accept": True})]
    if platform == "youtube":
        return [
            F("insert", "rate_limit"), F("list", "rate_limit"),
            F("insert", "server_error"), F("upload", "server_error"), F("list", "server_error"),
            F("update", "server_error"),
            F("insert", "quota"),
            F("insert", "error", {"http_status": 400, "reason": "invalidVideoMetadata", "message": "injected refusal"}),
            F("upload", "slow", short), F("upload", "slow", long),
            F("upload", "interrupt", {"respond": "drop"}), F("upload", "interrupt", {"respond": "server_error"}),
            F("upload", "fail_processing", {"failure_reason": "codec"}),
            F("upload", "fail_processing", {"rejection_reason": "duplicate"}),
            F("upload", "lost_response", {"respond": "drop"}),
            F("upload", "lost_response", {"respond": "server_error"}),
        ], "upload", [F("upload", "interrupt", {"store_bytes": "all", "respond": "drop"})]
    if platform == "linkedin":
        return [
            F("posts_create", "rate_limit"), F("images_init", "rate_limit"),
            F("posts_create", "server_error"), F("image_upload", "server_error"), F("images_get", "server_error"),
            F("video_upload", "server_error"), F("videos_get", "server_error"), F("posts_get", "server_error"),
            F("posts_create", "error", {"http_status": 422, "code": "UNPROCESSABLE_ENTITY", "message": "injected refusal"}),
            F("image_upload", "slow", short), F("posts_create", "slow", long),
            F("images_get", "fail_processing"), F("videos_get", "fail_processing"),
            F("posts_create", "lost_response", {"how": "error"}), F("posts_create", "lost_response", {"how": "drop"}),
        ], "posts_create", [F("posts_create", "server_error", {"after_accept": True})]
    raise ValueError(platform)


def _choose_faults(platform: str, module, long_seconds: float) -> tuple[list[FaultSpec], list[str], str]:
    candidates, create_endpoint, stand_ins = _candidates(platform, long_seconds)
    kinds, endpoints = set(module.FAULT_KINDS), set(module.ENDPOINTS)
    usable = [f for f in candidates if f.kind in kinds and f.endpoint in endpoints]
    skipped = [f.label for f in candidates if f not in usable]
    if "lost_response" in kinds and any(f.kind == "lost_response" for f in usable):
        how = "lost_response"
    else:  # the sandbox has no such kind yet: the request is carried out, then answered with an error
        usable += [f for f in stand_ins if f.kind in kinds and f.endpoint in endpoints]
        how = f"{create_endpoint}: processed, then answered 5xx/dropped (after_accept stand-in)"
    return usable, skipped, how


# -- what each sandbox shows as a post (read under its lock) ------------------------------------------------
def _tiktok_live(box) -> list[tuple[str, str]]:
    with box._lock:
        # A complete upload becomes a post unless TikTok fails it; counting it before the status
        # fetch that reveals PUBLISH_COMPLETE is what the creator's profile would show.
        return [(pid, p["post_info"].get("title", "")) for pid, p in box._posts.items()
                if p["upload_complete"] and p["status"] != "FAILED" and not p.get("_pending_fail")]


def _instagram_live(box) -> list[tuple[str, str]]:
    with box._lock:
        return [(mid, m.get("caption") or "") for mid, m in box._media.items()]


def _x_live(box) -> list[tuple[str, str]]:
    with box._lock:
        return [(tid, p["text"]) for tid, p in box._posts.items()]


def _youtube_live(box) -> list[tuple[str, str]]:
    with box._lock:
        return [(vid, v["snippet"].get("title", "") + "\n" + v["snippet"].get("description", ""))
                for vid, v in box._videos.items()
                if v["status"].get("uploadStatus") not in ("failed", "rejected", "deleted") and not v.get("_fail")]


def _linkedin_live(box) -> list[tuple[str, str]]:
    with box._lock:
        return [(urn, p["commentary"]) for urn, p in box._posts.items() if p.get("lifecycleState") == "PUBLISHED"]


# -- the sandboxes and their accounts ------------------------------------------------------------------------
def _tokens(prefix: str) -> dict:
    return {"access_token": f"{prefix}-at.{pysecrets.token_urlsafe(24)}",
            "refresh_token": f"{prefix}-rt.{pysecrets.token_urlsafe(24)}",
            "client_id": "postgate-local", "client_secret": pysecrets.token_urlsafe(16)}


def _account(platform: str, n: int, tokens: dict, limits: list[dict], **fields) -> SoakAccount:
    account_id = f"soak-{platform}-{n}"
    doc = {"platform": platform, "handle": fields.pop("handle", account_id),
           "secret_name": f"{platform}-account-{account_id}", "limits": limits, **fields}
    return SoakAccount(account_id, doc, tokens)


def start_platforms(*, accounts_per_platform: int, posts_per_account: int, workdir: Path, project: str,
                    storage_url: str, http_timeout: float, clock: Callable[[], float],
                    instrument: Callable[[str, Any], None] = lambda name, box: None) -> dict[str, SoakPlatform]:
    """Start the five sandboxes on `clock` (the soak's clock, which Postgate reads too: a platform and
    its client must agree on the time), each `instrument`ed before it serves; register the accounts."""
    from infra.local.sandboxes import instagram, linkedin, tiktok, x, youtube
    from infra.local.signing_key import write_local_signing_key

    long_seconds = http_timeout + 1.0
    # Our own per-account cap: every post of the soak fits in it, so caps never park a post.
    limits = [{"name": "soak_posts_per_day", "max_count": max(4 * posts_per_account, 20), "window_seconds": 86400}]
    started: dict[str, SoakPlatform] = {}

    def add(name, module, box, env, accounts, variants, live):
        faults, skipped, how = _choose_faults(name, module, long_seconds)
        started[name] = SoakPlatform(name, box, env, accounts, variants, faults, skipped, how, lambda: live(box))

    try:
        box = tiktok.TikTokSandbox(status_fetches_before_complete=1, enforce_rate_limits=False, daily_post_cap=10**6,
                                  clock=clock)
        instrument("tiktok", box)
        box.start()
        accounts = []
        for n in range(accounts_per_platform):
            tok = _tokens("tt")
            box.add_creator(tok["access_token"], creator_username=f"soak_tt_{n}", creator_nickname=f"Soak {n}")
            box.add_refresh_token(tok["refresh_token"], tok["access_token"])
            accounts.append(_account("tiktok", n, tok, limits, handle=f"soak_tt_{n}"))
        add("tiktok", tiktok, box, {"POSTGATE_TIKTOK_BASE_URL": box.base_url,
                                    "POSTGATE_TIKTOK_CHUNK_BYTES": str(5 * 1024 * 1024),
                                    "POSTGATE_TIKTOK_RATE_LIMIT_WAIT_SECONDS": "0.2"},
            accounts, ["PUBLIC_TO_EVERYONE"], _tiktok_live)

        box = instagram.InstagramSandbox(status_checks_before_finished=1, clock=clock)
        instrument("instagram", box)
        box.start()
        key_file = write_local_signing_key(Path(workdir) / "url-signing-key.json", project)
        accounts = []
        for n in range(accounts_per_platform):
            login = ("instagram", "facebook")[n % 2]  # both logins, each on its own host
            tok = {**_tokens("ig"), "login": login}
            ids = box.add_account(tok["access_token"], tok["refresh_token"], username=f"soak_ig_{n}", login=login)
            accounts.append(_account("instagram", n, tok, limits, handle=ids["username"],
                                     platform_account_id=ids["ig_user_id"], instagram_login=login))
        add("instagram", instagram, box, {**box.settings,
                                          "POSTGATE_INSTAGRAM_CONTAINER_POLL_SECONDS": "0.05",
                                          "POSTGATE_INSTAGRAM_CONTAINER_WAIT_SECONDS": "20",
                                          "POSTGATE_SIGNED_URL_ENDPOINT": storage_url,
                                          "POSTGATE_URL_SIGNING_KEY_FILE": str(key_file)},
            accounts, ["IMAGE", "REELS", "CAROUSEL"], _instagram_live)

        box = x.XSandbox(check_after_secs=0, clock=clock)
        instrument("x", box)
        box.start()
        accounts = []
        for n in range(accounts_per_platform):
            tok = _tokens("x")
            ids = box.add_account(tok["access_token"], tok["refresh_token"], username=f"soak_x_{n}")
            accounts.append(_account("x", n, tok, limits, handle=ids["username"], platform_account_id=ids["user_id"]))
        add("x", x, box, {"POSTGATE_X_BASE_URL": box.base_url}, accounts, ["text", "image", "video"], _x_live)

        # insert_daily_calls is per API project at YouTube; every soak account has its own project
        # (quota_project), so the sandbox, which counts for all of them together, gets their sum.
        box = youtube.YouTubeSandbox(list_requests_before_processed=1, daily_quota=10**7, insert_daily_calls=10**6,
                                     clock=clock)
        instrument("youtube", box)
        box.start()
        accounts = []
        for n in range(accounts_per_platform):
            tok = _tokens("yt")
            ids = box.add_account(tok["access_token"], tok["refresh_token"], title=f"Soak channel {n}")
            accounts.append(_account("youtube", n, tok, limits, handle=f"Soak channel {n}",
                                     platform_account_id=ids["channel_id"], quota_project=f"soak-project-{n}"))
        add("youtube", youtube, box, {"POSTGATE_YOUTUBE_BASE_URL": box.base_url,
                                      "POSTGATE_YOUTUBE_OAUTH_URL": box.token_url,
                                      "POSTGATE_YOUTUBE_CHUNK_BYTES": str(256 * 1024)},
            accounts, ["public", "unlisted", "private"], _youtube_live)

        box = linkedin.LinkedInSandbox(clock=clock)
        instrument("linkedin", box)
        box.start()
        accounts = []
        for n in range(accounts_per_platform):
            tok = _tokens("li")
            ids = box.add_account(tok["access_token"], tok["refresh_token"], organization_id="auto")
            accounts.append(_account("linkedin", n, tok, limits, handle=f"Soak org {n}",
                                     platform_account_id=ids["organization_urn"]))
        add("linkedin", linkedin, box, {"POSTGATE_LINKEDIN_BASE_URL": box.base_url,
                                        "POSTGATE_LINKEDIN_OAUTH_URL": box.oauth_url,
                                        "POSTGATE_LINKEDIN_MEDIA_POLL_SECONDS": "0.05"},
            accounts, ["text", "image", "video"], _linkedin_live)
    except BaseException:
        stop_platforms(started)
        raise
    return started


def stop_platforms(platforms: dict[str, SoakPlatform] | Iterable[SoakPlatform]) -> None:
    for p in (platforms.values() if isinstance(platforms, dict) else platforms):
        try:
            p.sandbox.stop()
        except Exception:  # noqa: BLE001 - stopping the rest matters more
            pass
