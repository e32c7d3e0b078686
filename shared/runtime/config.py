"""Configuration from the environment, validated once, with errors that name the variable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from shared.errors import ConfigError

# env var -> field name. Required fields have no default in Config.
_ENV = {
    "GOOGLE_CLOUD_PROJECT": "project",
    "POSTGATE_MEDIA_BUCKET": "media_bucket",
    "POSTGATE_APPROVAL_BASE_URL": "approval_base_url",
    "POSTGATE_APPROVAL_SIGNING_SECRET": "approval_signing_secret",
    "POSTGATE_APPROVAL_LINK_TTL_SECONDS": "approval_link_ttl_seconds",
    "POSTGATE_APPROVERS": "approvers",
    "POSTGATE_SECRET_BACKEND": "secret_backend",
    "POSTGATE_SECRETS_FILE": "secrets_file",
    "POSTGATE_GENERATOR": "generator",
    "POSTGATE_GEMINI_MODEL": "gemini_model",
    "POSTGATE_GEMINI_BASE_URL": "gemini_base_url",
    "POSTGATE_GEMINI_API_KEY_SECRET": "gemini_api_key_secret",
    "POSTGATE_GEMINI_USE_VERTEX": "gemini_use_vertex",
    "POSTGATE_GEMINI_LOCATION": "gemini_location",
    "POSTGATE_NOTIFIER": "notifier",
    "POSTGATE_SLACK_WEBHOOK_SECRET": "slack_webhook_secret",
    "POSTGATE_SMTP_HOST": "smtp_host",
    "POSTGATE_SMTP_PORT": "smtp_port",
    "POSTGATE_SMTP_FROM": "smtp_from",
    "POSTGATE_SMTP_PASSWORD_SECRET": "smtp_password_secret",
    "POSTGATE_TIKTOK_BASE_URL": "tiktok_base_url",
    "POSTGATE_INSTAGRAM_FB_LOGIN_BASE_URL": "instagram_fb_login_base_url",
    "POSTGATE_INSTAGRAM_IG_LOGIN_BASE_URL": "instagram_ig_login_base_url",
    "POSTGATE_INSTAGRAM_DEFAULT_LOGIN": "instagram_default_login",
    "POSTGATE_INSTAGRAM_CONTAINER_POLL_SECONDS": "instagram_container_poll_seconds",
    "POSTGATE_INSTAGRAM_CONTAINER_WAIT_SECONDS": "instagram_container_wait_seconds",
    "POSTGATE_X_BASE_URL": "x_base_url",
    "POSTGATE_X_CHUNK_BYTES": "x_chunk_bytes",
    "POSTGATE_YOUTUBE_BASE_URL": "youtube_base_url",
    "POSTGATE_YOUTUBE_OAUTH_URL": "youtube_oauth_url",
    "POSTGATE_YOUTUBE_CHUNK_BYTES": "youtube_chunk_bytes",
    "POSTGATE_YOUTUBE_DAILY_QUOTA": "youtube_daily_quota",
    "POSTGATE_YOUTUBE_DAILY_UPLOADS": "youtube_daily_uploads",
    "POSTGATE_LINKEDIN_BASE_URL": "linkedin_base_url",
    "POSTGATE_LINKEDIN_OAUTH_URL": "linkedin_oauth_url",
    "POSTGATE_LINKEDIN_VERSION": "linkedin_version",
    "POSTGATE_LINKEDIN_MEDIA_POLL_SECONDS": "linkedin_media_poll_seconds",
    "POSTGATE_LINKEDIN_MEDIA_WAIT_SECONDS": "linkedin_media_wait_seconds",
    "POSTGATE_SIGNED_URL_TTL_SECONDS": "signed_url_ttl_seconds",
    "POSTGATE_SIGNED_URL_ENDPOINT": "signed_url_endpoint",
    "POSTGATE_URL_SIGNING_KEY_FILE": "url_signing_key_file",
    "POSTGATE_BIGQUERY_ENDPOINT": "bigquery_endpoint",
    "POSTGATE_HTTP_TIMEOUT_SECONDS": "http_timeout_seconds",
    "POSTGATE_PUBLISH_LEASE_SECONDS": "publish_lease_seconds",
    "POSTGATE_RETRY_ATTEMPTS": "retry_attempts",
    "POSTGATE_RETRY_BASE_SECONDS": "retry_base_seconds",
    "POSTGATE_MAX_INPROCESS_WAIT_SECONDS": "max_inprocess_wait_seconds",
    "POSTGATE_TIKTOK_RATE_LIMIT_WAIT_SECONDS": "tiktok_rate_limit_wait_seconds",
    "POSTGATE_TIKTOK_CHUNK_BYTES": "tiktok_chunk_bytes",
    "POSTGATE_POLL_FIRST_CHECK_SECONDS": "poll_first_check_seconds",
    "POSTGATE_POLL_MAX_INTERVAL_SECONDS": "poll_max_interval_seconds",
    "POSTGATE_POLL_GIVE_UP_SECONDS": "poll_give_up_seconds",
    "POSTGATE_POLL_BATCH_SIZE": "poll_batch_size",
    "POSTGATE_MAX_MESSAGE_AGE_SECONDS": "max_message_age_seconds",
    "POSTGATE_API_BASE_URL": "api_base_url",
    "POSTGATE_API_JWT_SECRET": "api_jwt_secret",
    "POSTGATE_API_AUDIENCE": "api_audience",
    "POSTGATE_API_REQUESTS_PER_MINUTE": "api_requests_per_minute",
    "POSTGATE_API_STREAM_SECONDS": "api_stream_seconds",
    "POSTGATE_API_STREAM_IDLE_SECONDS": "api_stream_idle_seconds",
    "POSTGATE_API_STREAM_HEARTBEAT_SECONDS": "api_stream_heartbeat_seconds",
    "POSTGATE_API_STREAMS_PER_INSTANCE": "api_streams_per_instance",
    "POSTGATE_API_STREAMS_PER_USER": "api_streams_per_user",
    "POSTGATE_API_GOOGLE_CERTS_URL": "api_google_certs_url",
    "POSTGATE_OAUTH_CLIENTS_SECRET": "oauth_clients_secret",
    "POSTGATE_OAUTH_STATE_TTL_SECONDS": "oauth_state_ttl_seconds",
    "POSTGATE_TIKTOK_AUTHORIZE_URL": "tiktok_authorize_url",
    "POSTGATE_INSTAGRAM_AUTHORIZE_URL": "instagram_authorize_url",
    "POSTGATE_INSTAGRAM_TOKEN_URL": "instagram_token_url",
    "POSTGATE_INSTAGRAM_EXCHANGE_URL": "instagram_exchange_url",
    "POSTGATE_X_AUTHORIZE_URL": "x_authorize_url",
    "POSTGATE_YOUTUBE_AUTHORIZE_URL": "youtube_authorize_url",
    "POSTGATE_LINKEDIN_AUTHORIZE_URL": "linkedin_authorize_url",
    "POSTGATE_ANALYTICS_BATCH_MAX_POSTS": "analytics_batch_max_posts",
    "POSTGATE_ANALYTICS_YOUNG_AGE_HOURS": "analytics_young_age_hours",
    "POSTGATE_ANALYTICS_DAILY_UNTIL_DAYS": "analytics_daily_until_days",
    "POSTGATE_ANALYTICS_MAX_AGE_DAYS": "analytics_max_age_days",
}


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

    @property
    def approver_list(self) -> list[str]:
        return [a.strip() for a in self.approvers.split(",") if a.strip()]


def load_config(environ: Mapping[str, str] | None = None) -> Config:
    """Build Config from environment variables; a missing or bad one raises ConfigError naming it."""
    env = os.environ if environ is None else environ
    if env.get("POSTGATE_INSTAGRAM_BASE_URL", "") != "":
        # One host for every account sent Instagram Login tokens to graph.facebook.com (issue 16):
        # refuse it loudly rather than ignore a setting the operator believes is used.
        raise ConfigError("invalid configuration: POSTGATE_INSTAGRAM_BASE_URL was replaced by "
                          "POSTGATE_INSTAGRAM_FB_LOGIN_BASE_URL (graph.facebook.com) and "
                          "POSTGATE_INSTAGRAM_IG_LOGIN_BASE_URL (graph.instagram.com); each account's login picks one")
    values = {field: env[var] for var, field in _ENV.items() if env.get(var, "") != ""}
    if "project" not in values and env.get("POSTGATE_PROJECT"):
        values["project"] = env["POSTGATE_PROJECT"]
    try:
        return Config(**values)
    except PydanticValidationError as exc:
        by_field = {field: var for var, field in _ENV.items()}
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            var = by_field.get(field, field)
            problems.append(f"{var}: {'missing' if err['type'] == 'missing' else err['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_config() -> Config:
    """The process-wide config, read once per instance (cold start)."""
    return load_config()
