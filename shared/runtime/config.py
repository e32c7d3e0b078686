"""Configuration from the environment, validated once, with errors that name the variable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING

from shared.errors import ConfigError

if TYPE_CHECKING:
    from shared.runtime.config_model import Config

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
    "POSTGATE_CONSOLE_OAUTH_CLIENT_ID": "console_oauth_client_id",
    "POSTGATE_CONSOLE_SESSION_SECRET": "console_session_secret",
    "POSTGATE_CONSOLE_LOCAL_SIGN_IN": "console_local_sign_in",
}


def load_config(environ: Mapping[str, str] | None = None) -> Config:
    """Build Config from environment variables; a missing or bad one raises ConfigError naming it."""
    # Imported here, not at the top: pydantic and the model cost ~70 ms, kept out of a function's
    # import (cold start) until the config is first read.
    from pydantic import ValidationError as PydanticValidationError

    from shared.runtime.config_model import Config

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


def __getattr__(name: str):
    # `from shared.runtime.config import Config` still works, building the model only then.
    if name == "Config":
        from shared.runtime.config_model import Config

        return Config
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
