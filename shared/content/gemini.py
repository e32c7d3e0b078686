"""Gemini ("Nano Banana") adapter: a brief in, a caption + hashtags + one image out.

The google-genai SDK is imported lazily (on the first `generate`), because importing it
costs noticeable cold-start time and most instances run the offline generator.

Error mapping (see docs/platforms.md#gemini-image-generation):
  429 RESOURCE_EXHAUSTED, 408, 5xx / UNAVAILABLE, network errors, timeouts -> TransientError
  404 NOT_FOUND (model id unknown or shut down)                          -> ConfigError
  other 4xx (INVALID_ARGUMENT, bad API key, PERMISSION_DENIED, ...)       -> PermanentError
  a reply without an image (refusal, safety block, NO_IMAGE, ...)         -> PermanentError

The SDK's own retries are switched off (attempts=1): the caller owns retry and backoff.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from shared.errors import ConfigError, PermanentError, TransientError
from shared.model.content import Brief, GeneratedDraft, GeneratedImage
from shared.runtime.config_model import Config
from shared.stores.secrets import secret_store_from_config

# google-genai 3.x talks to the Gemini API's `v1` by default. The image-generation docs and
# the REST contract Postgate was written against use `v1beta`, so the version is pinned here
# for the Gemini API (Vertex AI keeps the SDK's own default, `v1beta1`).
GEMINI_API_VERSION = "v1beta"

_MAX_HASHTAGS = 30
_OK_FINISH = {None, "STOP", "FINISH_REASON_UNSPECIFIED"}
_FENCE = re.compile(r"^\s*```[a-zA-Z0-9_-]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)


class GeminiGenerator:
    """ContentGenerator backed by a Gemini image model (Gemini API key or Vertex AI with ADC)."""

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None = None,
        base_url: str | None = None,
        vertexai: bool = False,
        project: str | None = None,
        location: str = "global",
        aspect_ratio: str = "9:16",
        timeout_seconds: float = 60.0,
    ):
        if not model or not model.strip():
            raise ConfigError("Gemini model id is empty (POSTGATE_GEMINI_MODEL)")
        if vertexai:
            if not project:
                raise ConfigError("Gemini on Vertex AI needs a project (GOOGLE_CLOUD_PROJECT)")
        elif not (api_key and api_key.strip()):
            raise ConfigError("Gemini API key is empty (secret POSTGATE_GEMINI_API_KEY_SECRET)")
        if timeout_seconds <= 0:
            raise ConfigError("Gemini timeout must be positive")
        self.model = model.strip()
        self.name = f"gemini:{self.model}"
        self._api_key = api_key.strip() if api_key else None
        self._base_url = base_url or None
        self._vertexai = vertexai
        self._project = project
        self._location = location or "global"
        self.aspect_ratio = aspect_ratio
        self.timeout_seconds = timeout_seconds
        self._client_obj: Any = None

    @classmethod
    def from_config(cls, config: Config) -> GeminiGenerator:
        """Build from Config. Gemini API mode reads the key from the secret store; Vertex uses ADC."""
        api_key = None
        if not config.gemini_use_vertex:
            api_key = secret_store_from_config(config).access(config.gemini_api_key_secret)
        return cls(
            model=config.gemini_model,
            api_key=api_key,
            base_url=config.gemini_base_url,
            vertexai=config.gemini_use_vertex,
            project=config.project if config.gemini_use_vertex else None,
            location=config.gemini_location,
            # Image generation is slower than the platform APIs that http_timeout_seconds is sized for.
            timeout_seconds=max(float(config.http_timeout_seconds), 60.0),
        )

    # -- SDK client -------------------------------------------------------------------------

    @property
    def _client(self):
        if self._client_obj is None:
            from google import genai
            from google.genai import types

            http_options = types.HttpOptions(
                base_url=self._base_url,
                api_version=None if self._vertexai else GEMINI_API_VERSION,
                timeout=int(self.timeout_seconds * 1000),  # milliseconds
                # attempts=1: no SDK retries (tenacity inside the SDK); our caller retries.
                retry_options=types.HttpRetryOptions(attempts=1),
            )
            try:
                if self._vertexai:
                    # vertexai=True explicitly, so GOOGLE_GENAI_USE_VERTEXAI cannot flip the mode.
                    self._client_obj = genai.Client(
                        vertexai=True,
                        project=self._project,
                        location=self._location,
                        http_options=http_options,
                    )
                else:
                    self._client_obj = genai.Client(
                        vertexai=False, api_key=self._api_key, http_options=http_options
                    )
            except Exception as exc:  # ValueError (no key/project), google.auth DefaultCredentialsError
                raise ConfigError(f"cannot create the Gemini client: {exc}") from exc
        return self._client_obj

    # -- generate ---------------------------------------------------------------------------

    def generate(self, brief: Brief) -> GeneratedDraft:
        client = self._client
        from google.genai import types

        config = types.GenerateContentConfig(
            response_modalities=["TEXT", "IMAGE"],
            image_config=types.ImageConfig(aspect_ratio=self.aspect_ratio),
        )
        try:
            response = client.models.generate_content(
                model=self.model, contents=[build_prompt(brief)], config=config
            )
        except Exception as exc:
            mapped = self._map_exception(exc)
            if mapped is exc:
                raise
            raise mapped from exc
        return self._parse(response, brief)

    def _map_exception(self, exc: Exception) -> Exception:
        from google.genai import errors as genai_errors

        if isinstance(exc, genai_errors.APIError):
            code = exc.code
            status = exc.status or ""
            message = exc.message or str(exc)
            what = f"Gemini {code} {status}: {message}".strip()
            if code == 404 or status == "NOT_FOUND":
                return ConfigError(
                    f"Gemini model {self.model!r} not found (unknown or shut down; "
                    f"check POSTGATE_GEMINI_MODEL against client.models.list()): {message}"
                )
            if code in (408, 429) or status in ("RESOURCE_EXHAUSTED", "UNAVAILABLE", "DEADLINE_EXCEEDED") or (
                isinstance(code, int) and 500 <= code < 600
            ):
                return TransientError(what, retry_after=_retry_after(exc), platform_code=status or str(code))
            reason = _error_reason(exc.details)
            if reason and reason.startswith("API_KEY"):
                what = f"Gemini rejected the API key ({reason}): {message}"
            return PermanentError(what, platform_code=reason or status or str(code))
        if _is_network_error(exc):
            return TransientError(f"Gemini request failed ({type(exc).__name__}): {exc}", platform_code="NETWORK")
        if isinstance(exc, genai_errors.UnknownApiResponseError):
            # A 200 whose body was not JSON: a proxy or truncated body, worth one more try.
            return TransientError(f"Gemini returned an unreadable response: {exc}", platform_code="BAD_RESPONSE")
        return exc

    def _parse(self, response: Any, brief: Brief) -> GeneratedDraft:
        candidates = response.candidates or []
        if not candidates:
            feedback = response.prompt_feedback
            reason = _enum_name(feedback.block_reason) if feedback else None
            detail = (feedback.block_reason_message if feedback else None) or ""
            raise PermanentError(
                f"Gemini returned no candidates (prompt blocked: {reason or 'no reason given'}) {detail}".strip(),
                platform_code=reason or "NO_CANDIDATES",
            )
        candidate = candidates[0]
        finish = _enum_name(candidate.finish_reason)
        parts = (candidate.content.parts if candidate.content else None) or []

        texts: list[str] = []
        image: GeneratedImage | None = None
        for part in parts:
            if part.thought:  # thinking models send interim thoughts (text and draft images): skip
                continue
            if part.text:
                texts.append(part.text)
            elif part.inline_data is not None and part.inline_data.data and image is None:
                image = GeneratedImage(
                    mime_type=part.inline_data.mime_type or "image/png", data=part.inline_data.data
                )
        text = "\n".join(texts).strip()

        if finish not in _OK_FINISH:
            raise PermanentError(
                f"Gemini stopped with finish_reason {finish}"
                + (f": {candidate.finish_message}" if candidate.finish_message else "")
                + (f" (text: {text[:300]!r})" if text else ""),
                platform_code=finish,
            )
        if image is None:
            raise PermanentError(
                f"Gemini returned no image (finish_reason {finish or 'unset'})"
                + (f"; it said: {text[:500]!r}" if text else ""),
                platform_code=finish or "NO_IMAGE",
            )

        caption, model_tags = parse_caption_json(text)
        if not caption:
            raise PermanentError("Gemini returned an empty caption", platform_code="EMPTY_CAPTION")
        hashtags = merge_hashtags(brief.hashtags, model_tags if model_tags is not None else [])
        return GeneratedDraft(caption=caption, hashtags=hashtags, image=image, generator=self.name)


# -- prompt and parsing helpers (module level so they can be tested on their own) ------------


def build_prompt(brief: Brief) -> str:
    lines = [
        "You write social media posts and make the image that goes with them.",
        f"Campaign: {brief.campaign}",
        f"Topic: {brief.topic}",
    ]
    if brief.audience:
        lines.append(f"Audience: {brief.audience}")
    lines.append(f"Tone: {brief.tone}")
    if brief.call_to_action:
        lines.append(f"Call to action (include it in the caption): {brief.call_to_action}")
    if brief.hashtags:
        lines.append("Hashtags that must be used: " + " ".join(f"#{t}" for t in brief.hashtags))
    lines.append(f"Language of the caption: {brief.language}")
    lines += [
        "",
        "Reply with exactly two parts:",
        '1. A text part holding only a JSON object {"caption": string, "hashtags": [string]}. '
        "The caption is the post text without hashtags; hashtags are words without '#' and without spaces.",
        "2. One image for the post. No text, logos or watermarks in the image unless the topic asks for them.",
    ]
    return "\n".join(lines)


def parse_caption_json(text: str) -> tuple[str, list[str] | None]:
    """Return (caption, hashtags). hashtags is None when the text carried none (plain-text reply)."""
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    data = _loads_object(body)
    if data is None:
        # Not JSON: the whole text is the caption, and the brief's hashtags are used.
        return body, None
    caption = data.get("caption")
    caption = caption.strip() if isinstance(caption, str) else ""
    tags = data.get("hashtags")
    if isinstance(tags, str):
        tags = tags.split()
    if not isinstance(tags, list):
        return caption, None
    return caption, [t for t in tags if isinstance(t, str)]


def _loads_object(body: str) -> dict | None:
    for candidate in (body, body[body.find("{") : body.rfind("}") + 1] if "{" in body else ""):
        if not candidate:
            continue
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def merge_hashtags(required: list[str], generated: list[str]) -> list[str]:
    """The brief's hashtags first, then the model's; '#' and spaces removed, case-insensitive dedupe."""
    out: list[str] = []
    seen: set[str] = set()
    for tag in [*required, *generated]:
        clean = "".join(tag.strip().lstrip("#").split())
        if clean and clean.lower() not in seen:
            seen.add(clean.lower())
            out.append(clean)
    return out[:_MAX_HASHTAGS]


def _enum_name(value: Any) -> str | None:
    if value is None:
        return None
    return getattr(value, "value", None) or str(value)


def _error_details(details: Any) -> list:
    if isinstance(details, dict):
        inner = details.get("error", details)
        found = inner.get("details") if isinstance(inner, dict) else None
        return found if isinstance(found, list) else []
    return []


def _error_reason(details: Any) -> str | None:
    for item in _error_details(details):
        if isinstance(item, dict) and item.get("reason"):
            return str(item["reason"])
    return None


def _retry_after(exc: Any) -> float | None:
    """Seconds from a google.rpc.RetryInfo detail ("37s") or a Retry-After header, if any."""
    for item in _error_details(exc.details):
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("RetryInfo"):
            delay = str(item.get("retryDelay", ""))
            try:
                return float(delay.rstrip("s"))
            except ValueError:
                pass
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is not None:
        value = headers.get("retry-after")
        if value:
            try:
                return float(value)
            except ValueError:
                pass
    return None


def _is_network_error(exc: Exception) -> bool:
    """Transport failures from whichever HTTP client the SDK uses (httpx2 in 3.x, httpx, aiohttp)."""
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return True
    for module_name in ("httpx2", "httpx"):
        module = _optional_module(module_name)
        if module is not None and isinstance(exc, getattr(module, "TransportError", ())):
            return True
    try:
        from google.auth import exceptions as auth_exceptions

        if isinstance(exc, auth_exceptions.TransportError):
            return True
    except ImportError:
        pass
    return False


def _optional_module(name: str):
    module = sys.modules.get(name)
    if module is not None:
        return module
    try:
        return __import__(name)
    except ImportError:
        return None
