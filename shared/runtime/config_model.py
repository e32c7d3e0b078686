"""The validated configuration model (shared/runtime/config.py reads it from the environment).

A module of its own so that importing shared.runtime.config (every entry module does) does not import
pydantic and build this model: that is ~70 ms of a cold start, paid only when the config is first read.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    project: str = Field(min_length=1)
    media_bucket: str = Field(min_length=3)
    approval_base_url: str = Field(pattern=r"^https?://")
    approval_signing_secret: str = "approval-signing-key"
    approval_link_ttl_seconds: int = Field(default=72 * 3600, gt=0)
    approvers: str = ""

    secret_backend: Literal["secret-manager", "file", "env"] = "secret-manager"
    secrets_file: str | None = None

    generator: Literal["offline", "gemini"] = "offline"
    gemini_model: str = "gemini-nano-banana-2.1"
    gemini_base_url: str | None = None
    gemini_api_key_secret: str = "gemini-api-key"
    gemini_use_vertex: bool = False
    gemini_location: str = "global"

    notifier: Literal["log", "slack", "smtp"] = "log"
    slack_webhook_secret: str = "slack-webhook-url"
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_from: str | None = None
    smtp_password_secret: str | None = None

    tiktok_base_url: str = "https://open.tiktokapis.com"
    # The Graph API host follows the login an account's token comes from [developers.facebook.com/docs/
    # instagram-platform/overview]: Facebook Login tokens on graph.facebook.com, Instagram Login (Business
    # Login for Instagram) tokens on graph.instagram.com. Both with the version.
    instagram_fb_login_base_url: str = Field(default="https://graph.facebook.com/v25.0", pattern=r"^https?://")
    instagram_ig_login_base_url: str = Field(default="https://graph.instagram.com/v25.0", pattern=r"^https?://")
    # The login of an account that recorded none (hand-made before logins were recorded): see
    # shared/platforms/instagram/login_tokens.py login_of.
    instagram_default_login: Literal["facebook", "instagram"] = "facebook"
    # Containers are polled about once a minute for at most five minutes (docs/platforms.md#instagram-endpoints).
    instagram_container_poll_seconds: float = Field(default=60.0, ge=0)
    instagram_container_wait_seconds: float = Field(default=300.0, ge=0)
    x_base_url: str = "https://api.x.com"
    # 1 MiB like X's samples: 5 MB multipart segments are refused at the edge (413).
    x_chunk_bytes: int = Field(default=1024 * 1024, ge=1024, le=5 * 1024 * 1024)
    youtube_base_url: str = "https://www.googleapis.com"
    youtube_oauth_url: str = "https://oauth2.googleapis.com/token"
    youtube_chunk_bytes: int = Field(default=8 * 1024 * 1024, ge=256 * 1024, multiple_of=256 * 1024)
    youtube_daily_quota: int = Field(default=10000, gt=0)  # units of the general bucket (all but videos.insert)
    youtube_daily_uploads: int = Field(default=100, gt=0)  # videos.insert calls: a bucket of its own since 2026-06
    linkedin_base_url: str = "https://api.linkedin.com"
    linkedin_oauth_url: str = "https://www.linkedin.com/oauth/v2/accessToken"
    # 202511 was sunset 2026-11-16; 202607 is the newest version confirmed released (supported >= 1 year).
    linkedin_version: str = Field(default="202607", pattern=r"^\d{6}$")
    # Uploaded images/videos are polled until AVAILABLE before the post is created, at most this long.
    linkedin_media_poll_seconds: float = Field(default=3.0, ge=0)
    linkedin_media_wait_seconds: float = Field(default=120.0, ge=0)
    # Instagram fetches media from a V4 signed Cloud Storage URL.
    signed_url_ttl_seconds: int = Field(default=3600, gt=0, le=7 * 24 * 3600)
    signed_url_endpoint: str | None = None  # locally: the storage emulator's URL
    url_signing_key_file: str | None = None  # locally: a service-account key; in GCP: IAM signBlob
    bigquery_endpoint: str | None = None

    http_timeout_seconds: float = Field(default=30.0, gt=0)
    publish_lease_seconds: int = Field(default=600, gt=0)
    retry_attempts: int = Field(default=4, ge=1, le=10)
    retry_base_seconds: float = Field(default=1.0, ge=0)
    max_inprocess_wait_seconds: float = Field(default=65.0, ge=0)
    # TikTok documents a one-minute window and no Retry-After header.
    tiktok_rate_limit_wait_seconds: float = Field(default=60.0, ge=0)
    tiktok_chunk_bytes: int = Field(default=10 * 1024 * 1024, ge=5 * 1024 * 1024, le=64 * 1024 * 1024)

    poll_first_check_seconds: float = Field(default=10.0, ge=0)
    poll_max_interval_seconds: float = Field(default=300.0, gt=0)
    poll_give_up_seconds: float = Field(default=6 * 3600.0, gt=0)
    poll_batch_size: int = Field(default=50, ge=1, le=500)
    max_message_age_seconds: float = Field(default=24 * 3600.0, gt=0)

    # Content API (functions/api). Its own URL: OAuth redirect URIs and links in answers.
    api_base_url: str | None = Field(default=None, pattern=r"^https?://")
    # HS256 key for the API's bearer tokens (local and small teams); Google ID tokens need no key.
    api_jwt_secret: str = "api-jwt-key"
    # Expected `aud` of bearer tokens: for Google ID tokens the function's URL.
    api_audience: str = "postgate-api"
    api_requests_per_minute: int = Field(default=60, ge=1)
    # Where Google publishes the certificates that sign ID tokens (a local stand-in in tests).
    api_google_certs_url: str = Field(default="https://www.googleapis.com/oauth2/v1/certs", pattern=r"^https?://")
    # A live-status stream ends after this long; clients reconnect (EventSource does by itself).
    api_stream_seconds: float = Field(default=300.0, gt=0)
    # ... and sooner when nothing changed for this long; a comment line every heartbeat keeps idle
    # proxies from cutting it and lets the server notice a client that left (shared/api/streams.py).
    api_stream_idle_seconds: float = Field(default=120.0, gt=0)
    api_stream_heartbeat_seconds: float = Field(default=15.0, gt=0)
    # Open streams an instance and a user may hold; unset: half the instance's request threads (THREADS).
    api_streams_per_instance: int | None = Field(default=None, ge=1)
    api_streams_per_user: int = Field(default=5, ge=1)
    # One secret holding every platform's OAuth app credentials: {"<platform>": {"client_id", "client_secret"}}.
    oauth_clients_secret: str = "oauth-clients"
    # Connecting an account (shared/accounts/oauth.py): how long an authorize link's `state` lasts,
    # and each platform's authorize page (token endpoints are the ones refresh already uses, except
    # Instagram Login's two). Overridable so tests and the local stack point them at the sandboxes.
    oauth_state_ttl_seconds: int = Field(default=600, gt=0, le=3600)
    tiktok_authorize_url: str = Field(default="https://www.tiktok.com/v2/auth/authorize/", pattern=r"^https?://")
    instagram_authorize_url: str = Field(default="https://www.instagram.com/oauth/authorize", pattern=r"^https?://")
    instagram_token_url: str = Field(default="https://api.instagram.com/oauth/access_token", pattern=r"^https?://")
    instagram_exchange_url: str = Field(default="https://graph.instagram.com/access_token", pattern=r"^https?://")
    x_authorize_url: str = Field(default="https://x.com/i/oauth2/authorize", pattern=r"^https?://")
    youtube_authorize_url: str = Field(default="https://accounts.google.com/o/oauth2/v2/auth", pattern=r"^https?://")
    linkedin_authorize_url: str = Field(default="https://www.linkedin.com/oauth/v2/authorization", pattern=r"^https?://")

    # Analytics pulls (shared/analytics): one work message carries at most this many posts of one
    # account (rounded down to whole platform batches). Posts younger than the first age are pulled
    # on every run, then daily until the second, then weekly until the last; older ones never.
    analytics_batch_max_posts: int = Field(default=500, ge=1, le=5000)
    analytics_young_age_hours: int = Field(default=48, ge=0)
    analytics_daily_until_days: int = Field(default=30, ge=0)
    analytics_max_age_days: int = Field(default=365, ge=1)

    # The console (shared/console, served by the api function under /console/). Sign in with Google checks
    # ID tokens against this OAuth client id (their `aud`); unset: no Google sign-in (docs/console.md).
    console_oauth_client_id: str | None = None
    # Secret holding the key that signs the console's session cookie and CSRF tokens.
    console_session_secret: str = "console-session-key"
    # The local stack's sign-in page listing its users, no password: only with a local secret backend.
    console_local_sign_in: bool = False

    @property
    def approver_list(self) -> list[str]:
        return [a.strip() for a in self.approvers.split(",") if a.strip()]
