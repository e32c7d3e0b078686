"""The local stack's platforms: one contract-faithful sandbox and one demo account per platform.

Each entry starts its sandbox, registers the demo account's tokens with it, and says what the
functions need to reach it (environment), what Firestore and the secret store hold for the
account, and how the demo brief targets it. Tokens are random per run.
"""

from __future__ import annotations

import secrets as pysecrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class LocalPlatform:
    platform: str
    sandbox: Any
    account_id: str
    account: dict  # Firestore `accounts/{id}` fields besides platform and secret_name
    tokens: dict  # the account's one secret
    env: dict[str, str]
    target: dict  # this account in the demo brief's `targets`
    secret_values: list[str] = field(default_factory=list)  # must never appear in a log
    oauth_user: Any = None  # who is signed in at the sandbox's consent page (the demo account's owner)
    secret: str | None = None  # the account's secret when it is not its own (a Buffer configuration's)

    @property
    def oauth_client(self) -> dict[str, str] | None:
        """Postgate's app on this platform: its entry in the `oauth-clients` secret (None: no sign-in page)."""
        if "client_id" not in self.tokens:
            return None
        return {"client_id": self.tokens["client_id"], "client_secret": self.tokens["client_secret"]}

    @property
    def secret_name(self) -> str:
        return self.secret or f"{self.platform}-account-{self.account_id}"


def _tokens(prefix: str) -> tuple[str, str]:
    return f"{prefix}-at.{pysecrets.token_urlsafe(24)}", f"{prefix}-rt.{pysecrets.token_urlsafe(24)}"


def _app_credentials(tokens: dict) -> dict:
    """The account's tokens with the app's credentials beside them (what refresh sends); the same
    app connects accounts through the sandbox's consent page (register_oauth_app)."""
    return {**tokens, "client_id": "postgate-local", "client_secret": pysecrets.token_urlsafe(16)}


def register_oauth_app(platforms: dict[str, LocalPlatform], redirect_uri: str) -> None:
    """Register Postgate's app (and its exact redirect URI) with every sandbox's consent page, and
    sign the demo account's owner in there, consenting: `postgate accounts connect` then completes
    against the local stack."""
    for local in platforms.values():
        client = local.oauth_client
        if client is None:  # a Buffer channel posts with its configuration's key: no consent page
            continue
        local.sandbox.oauth.register_client(client["client_id"], client["client_secret"], [redirect_uri])
        local.sandbox.oauth.sign_in(local.oauth_user)


def _tiktok(ctx: dict) -> LocalPlatform:
    from infra.local.sandboxes.tiktok import TikTokSandbox

    access, refresh = _tokens("tt")
    # Photo posts: TikTok pulls the images from their signed URLs, which must lie under a URL prefix
    # verified for the app (403 url_ownership_unverified otherwise): here, the storage emulator's.
    box = TikTokSandbox(status_fetches_before_complete=1, verified_url_prefixes=[ctx["storage_url"] + "/"])
    box.add_creator(access, creator_username="postgate_demo", creator_nickname="Postgate Demo")
    box.add_refresh_token(refresh, access)
    box.start()
    return LocalPlatform(
        "tiktok", box, "tiktok-demo", {"handle": "postgate_demo"},
        _app_credentials({"access_token": access, "refresh_token": refresh}),
        {"POSTGATE_TIKTOK_BASE_URL": box.base_url, "POSTGATE_TIKTOK_CHUNK_BYTES": str(5 * 1024 * 1024),
         "POSTGATE_TIKTOK_RATE_LIMIT_WAIT_SECONDS": "1", "POSTGATE_TIKTOK_AUTHORIZE_URL": box.base_url + "/v2/auth/authorize/",
         **ctx["signed_urls"]},
        {"account_id": "tiktok-demo", "privacy_level": "PUBLIC_TO_EVERYONE"}, [access, refresh], "postgate_demo")


def _instagram(ctx: dict) -> LocalPlatform:
    from infra.local.sandboxes.instagram import InstagramSandbox

    access, refresh = _tokens("ig")
    box = InstagramSandbox(status_checks_before_finished=1)
    box.start()
    # Connected through Business Login for Instagram, as `postgate accounts connect` does: its tokens
    # are valid on graph.instagram.com only, and the login is recorded on the account and its secret.
    ids = box.add_account(access, refresh, username="postgate_demo", login="instagram")
    return LocalPlatform(
        "instagram", box, "instagram-demo",
        {"handle": ids["username"], "platform_account_id": ids["ig_user_id"], "instagram_login": "instagram"},
        _app_credentials({"access_token": access, "refresh_token": refresh, "login": "instagram"}),
        {**box.settings, "POSTGATE_INSTAGRAM_CONTAINER_POLL_SECONDS": "0.2",
         "POSTGATE_INSTAGRAM_CONTAINER_WAIT_SECONDS": "20", **ctx["signed_urls"]},
        {"account_id": "instagram-demo", "instagram_media_type": "IMAGE",
         "alt_text": "A steel bottle on a mossy rock"}, [access, refresh], ids["ig_user_id"])


def _x(ctx: dict) -> LocalPlatform:
    from infra.local.sandboxes.x import XSandbox

    access, refresh = _tokens("x")
    box = XSandbox(check_after_secs=0)
    box.start()
    ids = box.add_account(access, refresh, username="postgate_demo")
    return LocalPlatform(
        "x", box, "x-demo", {"handle": ids["username"], "platform_account_id": ids["user_id"]},
        _app_credentials({"access_token": access, "refresh_token": refresh}),
        {"POSTGATE_X_BASE_URL": box.base_url, "POSTGATE_X_AUTHORIZE_URL": box.base_url + "/i/oauth2/authorize"},
        {"account_id": "x-demo"}, [access, refresh], ids["user_id"])


def _youtube(ctx: dict) -> LocalPlatform:
    from infra.local.sandboxes.youtube import YouTubeSandbox

    access, refresh = _tokens("yt")
    box = YouTubeSandbox(list_requests_before_processed=1)
    box.start()
    ids = box.add_account(access, refresh, title="Postgate Demo")
    return LocalPlatform(
        "youtube", box, "youtube-demo", {"handle": "Postgate Demo", "platform_account_id": ids["channel_id"]},
        _app_credentials({"access_token": access, "refresh_token": refresh}),
        {"POSTGATE_YOUTUBE_BASE_URL": box.base_url, "POSTGATE_YOUTUBE_OAUTH_URL": box.token_url,
         "POSTGATE_YOUTUBE_CHUNK_BYTES": str(4 * 1024 * 1024),
         "POSTGATE_YOUTUBE_AUTHORIZE_URL": box.base_url + "/o/oauth2/v2/auth"},
        {"account_id": "youtube-demo", "title": "Cold for 24 hours: the Postgate bottle",
         "youtube_privacy": "public", "tags": ["bottle", "hiking"]}, [access, refresh], ids["channel_id"])


def _linkedin(ctx: dict) -> LocalPlatform:
    from infra.local.sandboxes.linkedin import LinkedInSandbox

    access, refresh = _tokens("li")
    box = LinkedInSandbox()
    box.start()
    ids = box.add_account(access, refresh, organization_id="auto")
    return LocalPlatform(
        "linkedin", box, "linkedin-demo", {"handle": "Postgate", "platform_account_id": ids["organization_urn"]},
        _app_credentials({"access_token": access, "refresh_token": refresh}),
        {"POSTGATE_LINKEDIN_BASE_URL": box.base_url, "POSTGATE_LINKEDIN_OAUTH_URL": box.oauth_url,
         "POSTGATE_LINKEDIN_MEDIA_POLL_SECONDS": "0.2",
         "POSTGATE_LINKEDIN_AUTHORIZE_URL": box.base_url + "/oauth/v2/authorization"},
        {"account_id": "linkedin-demo", "linkedin_visibility": "PUBLIC"}, [access, refresh], ids["person_urn"])


def _buffer(ctx: dict) -> LocalPlatform:
    """A Buffer organization (Team plan) with one X channel, linked as an account through a Buffer
    configuration whose secret holds the demo key. Buffer fetches the post's media from V4 signed URLs
    of the storage emulator, as Instagram does."""
    from infra.local.sandboxes.buffer import BufferSandbox
    from shared.model.account import buffer_config_secret_name

    key = f"buffer-key.{pysecrets.token_urlsafe(24)}"
    box = BufferSandbox()
    box.start()
    organization = box.add_api_key(key, plan="team", organization_name="Postgate Demo")
    channel = box.add_channel(key, service="twitter", name="postgate_demo")
    config_id = "buffer-demo"
    return LocalPlatform(
        "buffer", box, "buffer-demo",
        {"handle": "postgate_demo", "platform_account_id": channel, "buffer_service": "twitter",
         "buffer_organization_id": organization, "buffer_config_id": config_id, "buffer_plan": "team"},
        {"access_token": key}, {"POSTGATE_BUFFER_BASE_URL": box.base_url, **ctx["signed_urls"]},
        {"account_id": "buffer-demo"}, [key], secret=buffer_config_secret_name(config_id))


STARTERS: dict[str, Callable[[dict], LocalPlatform]] = {
    "tiktok": _tiktok, "instagram": _instagram, "x": _x, "youtube": _youtube, "linkedin": _linkedin,
    "buffer": _buffer,
}


def start_platforms(*, workdir: Path, project: str, storage_url: str) -> dict[str, LocalPlatform]:
    started: dict[str, LocalPlatform] = {}
    from infra.local.signing_key import write_local_signing_key

    # V4 signed URLs of the media bucket, for every platform that fetches media by URL (Instagram,
    # TikTok photo posts, Buffer), whichever of them run: one throwaway key, the storage emulator's address.
    key_file = write_local_signing_key(Path(workdir) / "url-signing-key.json", project)
    ctx = {"workdir": workdir, "project": project, "storage_url": storage_url,
           "signed_urls": {"POSTGATE_SIGNED_URL_ENDPOINT": storage_url, "POSTGATE_URL_SIGNING_KEY_FILE": str(key_file)}}
    try:
        for platform, start in STARTERS.items():
            started[platform] = start(ctx)
    except BaseException:
        stop_platforms(started)
        raise
    return started


def stop_platforms(platforms: dict[str, LocalPlatform]) -> None:
    for local in platforms.values():
        local.sandbox.stop()
