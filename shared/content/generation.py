"""The generator interface, the offline default, and the factory that picks one from config."""

from __future__ import annotations

from typing import Protocol

from shared.content.gemini import GeminiGenerator  # light: it loads google-genai on first use
from shared.model.content import Brief, GeneratedDraft
from shared.runtime.config_model import Config


class ContentGenerator(Protocol):
    """Turns a brief into a draft. Implementations raise TransientError / PermanentError."""

    name: str

    def generate(self, brief: Brief) -> GeneratedDraft: ...


class OfflineTemplateGenerator:
    """Deterministic, template-based drafts with no network: the local and test default."""

    name = "offline-template-v1"

    _OPENERS = {
        "friendly": "Here's something we think you'll love:",
        "bold": "Stop scrolling.",
        "professional": "An update worth your time:",
        "playful": "Guess what?",
    }

    def generate(self, brief: Brief) -> GeneratedDraft:
        opener = self._OPENERS.get(brief.tone.lower(), self._OPENERS["friendly"])
        parts = [opener, brief.topic.rstrip(".") + "."]
        if brief.audience:
            parts.append(f"Made for {brief.audience}.")
        if brief.call_to_action:
            parts.append(brief.call_to_action)
        hashtags = list(dict.fromkeys(brief.hashtags or [_slug(brief.campaign)]))
        return GeneratedDraft(caption=" ".join(parts), hashtags=hashtags, generator=self.name)


def _slug(text: str) -> str:
    return "".join(ch for ch in text.title() if ch.isalnum()) or "Postgate"


def generator_from_config(config: Config) -> ContentGenerator:
    """Pick the generator named by POSTGATE_GENERATOR (offline by default)."""
    if config.generator == "gemini":
        return GeminiGenerator.from_config(config)
    return OfflineTemplateGenerator()
