"""The configuration model: one field per environment variable, read and validated by pydantic-settings.

The variable of a field is its name in upper case after `POSTGATE_` (`media_bucket` is
`POSTGATE_MEDIA_BUCKET`), except the project, which is `GOOGLE_CLOUD_PROJECT` (or `POSTGATE_PROJECT`).
Names match exactly, an empty variable counts as unset, and a validation error's location is the
variable's name (the field's validation alias), so a ConfigError names it.
docs/configuration.md lists every variable (tests/test_config.py compares the two).

A module of its own so that importing shared.runtime.config (every entry module does) does not import
pydantic and pydantic-settings and build this model: that is paid when the config is first read, not
at a function's import (cold start, tests/test_coldstart.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import AliasChoices, AliasGenerator, Field, ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

from shared.errors import ConfigError

ENV_PREFIX = "POSTGATE_"


def env_name(field: str) -> str:
    """The environment variable of a field (the project's has its own names: see Config.project)."""
    return ENV_PREFIX + field.upper()


class Config(BaseSettings):
    model_config = SettingsConfigDict(
        frozen=True, extra="forbid", case_sensitive=True, env_ignore_empty=True,
        alias_generator=AliasGenerator(validation_alias=env_name),
        validate_by_name=True)  # Config(media_bucket=...) in code and tests, as for any model

    project: str = Field(min_length=1, validation_alias=AliasChoices("GOOGLE_CLOUD_PROJECT", "POSTGATE_PROJECT"))
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
    # The YouTube Content ID API (youtubePartner v1; docs/platforms.md#youtube-content-id).
    youtube_partner_base_url: str = Field(default="https://youtubepartner.googleapis.com", pattern=r"^https?://")
    youtube_content_id: bool = False  # connecting a YouTube account also asks for the youtubepartner scope
    linkedin_base_url: str = "https://api.linkedin.com"
    linkedin_oauth_url: str = "https://www.linkedin.com/oauth/v2/accessToken"
    # 202511 was sunset 2026-11-16; 202607 is the newest version confirmed released (supported >= 1 year).
    linkedin_version: str = Field(default="202607", pattern=r"^\d{6}$")
    # Uploaded images/videos are polled until AVAILABLE before the post is created, at most this long.
    linkedin_media_poll_seconds: float = Field(default=3.0, ge=0)
    linkedin_media_wait_seconds: float = Field(default=120.0, ge=0)
    # Buffer's GraphQL API (docs/platforms.md#buffer). Buffer fetches a post's media from its URL when
    # it sends the post (developers.buffer.com/guides/hosting-media.html), so those V4 signed URLs live
    # the longest a V4 URL may (7 days): far past the status poll's give-up, and Buffer sends at once.
    buffer_base_url: str = Field(default="https://api.buffer.com", pattern=r"^https?://")
    buffer_media_url_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=3600, le=7 * 24 * 3600)
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
    # /api/v1 posts' media_urls are fetched once into the media bucket (shared/content/media_import.py):
    # at most this many bytes each, within this many seconds.
    media_fetch_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    media_fetch_timeout_seconds: float = Field(default=20.0, gt=0, le=300)
    # Local stacks and tests only: {"https://example.com": "http://127.0.0.1:8080"} fetches a URL under a
    # prefix from the local base instead, without the public-address checks. Unset in deployments.
    media_fetch_overrides: dict[str, str] | None = None
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

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only what read_config hands in, read by EnvironSource from os.environ or a test's mapping: no
        # .env file or secrets directory, and a test's mapping is never mixed with the process's environment.
        return (init_settings,)

    @classmethod
    def variables(cls, *, every_name: bool = False) -> dict[str, str]:
        """Environment variable -> field, every field: under its first name (the project's other
        too with `every_name`)."""
        out: dict[str, str] = {}
        for name, field in cls.model_fields.items():
            alias = field.validation_alias
            choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
            for choice in choices if every_name else choices[:1]:
                out[str(choice)] = name
        return out


class EnvironSource(EnvSettingsSource):
    """pydantic-settings' environment source reading a given mapping (os.environ or a test's), and
    in it only Config's variables: validate_by_name would also read a variable named like a field."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]):
        names = Config.variables(every_name=True)
        self._environ = {var: value for var, value in environ.items() if var in names}
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


def read_config(environ: Mapping[str, str]) -> Config:
    """Config from `environ`; a missing or bad variable raises ConfigError naming it."""
    if environ.get("POSTGATE_INSTAGRAM_BASE_URL", "") != "":
        # One host for every account sent Instagram Login tokens to graph.facebook.com (issue 16):
        # refuse it loudly rather than ignore a setting the operator believes is used.
        raise ConfigError("invalid configuration: POSTGATE_INSTAGRAM_BASE_URL was replaced by "
                          "POSTGATE_INSTAGRAM_FB_LOGIN_BASE_URL (graph.facebook.com) and "
                          "POSTGATE_INSTAGRAM_IG_LOGIN_BASE_URL (graph.instagram.com); each account's login picks one")
    try:
        return Config(**EnvironSource(Config, environ)())
    except ValidationError as exc:
        # Each error is located by the variable's name (the field's validation alias).
        problems = [f"{err['loc'][0] if err['loc'] else '?'}: {'missing' if err['type'] == 'missing' else err['msg']}"
                    for err in exc.errors()]
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
