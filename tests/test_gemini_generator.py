"""GeminiGenerator against a local server speaking the generateContent wire format.

The real google-genai SDK makes real HTTP requests; only its base URL points at the fake.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from shared.content import gemini
from shared.content.gemini import GeminiGenerator
from shared.errors import ConfigError, PermanentError, TransientError
from shared.model.content import Brief
from shared.runtime.config import Config
from tests.fakes.gemini_server import FakeGeminiServer, tiny_png

MODEL = "gemini-nano-banana-2.1"
OTHER_MODEL = "gemini-3-pro-image"
KEY = "test-key-123"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def _server():
    server = FakeGeminiServer(api_key=KEY, models={MODEL, OTHER_MODEL}).start()
    yield server
    server.stop()


@pytest.fixture
def server(_server):
    _server.reset()
    return _server


def make_gen(server, **overrides) -> GeminiGenerator:
    kwargs = dict(model=MODEL, api_key=KEY, base_url=server.url, timeout_seconds=5.0)
    kwargs.update(overrides)
    return GeminiGenerator(**kwargs)


def make_brief(**overrides) -> Brief:
    fields = dict(
        campaign="Summer 2026",
        topic="Mango season opens at our stores this week",
        audience="fruit lovers in Lisbon",
        tone="playful",
        call_to_action="Visit us this Saturday!",
        hashtags=["#Fruit", "Lisbon"],
        language="pt",
        targets=[{"account_id": "acct-1"}],
        requested_by="marketing@example.com",
    )
    fields.update(overrides)
    return Brief(**fields)


# -- happy path --------------------------------------------------------------------------


def test_parses_caption_hashtags_and_image_bytes(server):
    png = tiny_png(3, 2, (10, 120, 250))
    server.reply_normal(json.dumps({"caption": "Mangas chegaram!", "hashtags": ["MangoSeason", "#fruit"]}), image=png)

    draft = make_gen(server).generate(make_brief())

    assert draft.caption == "Mangas chegaram!"
    # The brief's hashtags come first; the model's are added, '#' stripped, case-insensitive dedupe.
    assert draft.hashtags == ["Fruit", "Lisbon", "MangoSeason"]
    assert draft.image is not None
    assert draft.image.mime_type == "image/png"
    assert draft.image.data == png  # base64 on the wire, the exact bytes after the SDK decodes
    assert draft.image.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert draft.generator == f"gemini:{MODEL}"


def test_request_carries_model_modalities_aspect_ratio_key_and_brief(server):
    gen = make_gen(server, model=OTHER_MODEL, aspect_ratio="4:5")
    assert gen.name == f"gemini:{OTHER_MODEL}"

    gen.generate(make_brief())

    assert len(server.requests) == 1
    req = server.requests[0]
    assert req.method == "POST"
    assert req.path == f"/v1beta/models/{OTHER_MODEL}:generateContent"
    assert req.model == OTHER_MODEL
    assert req.api_key == KEY
    assert req.problems == []
    config = req.generation_config
    assert "IMAGE" in config["responseModalities"] and "TEXT" in config["responseModalities"]
    assert config["imageConfig"]["aspectRatio"] == "4:5"
    prompt = req.prompt_text
    for expected in ("Mango season opens", "fruit lovers in Lisbon", "playful", "Visit us this Saturday!",
                     "#Fruit", "#Lisbon", "pt", "Summer 2026", '"caption"', '"hashtags"'):
        assert expected in prompt, expected


def test_default_aspect_ratio_is_vertical(server):
    make_gen(server).generate(make_brief())
    assert server.requests[-1].generation_config["imageConfig"]["aspectRatio"] == "9:16"


def test_fenced_json_is_tolerated(server):
    server.reply_normal('```json\n{"caption": "Fenced caption", "hashtags": ["Fenced"]}\n```')
    draft = make_gen(server).generate(make_brief(hashtags=[]))
    assert draft.caption == "Fenced caption"
    assert draft.hashtags == ["Fenced"]


def test_plain_text_reply_becomes_caption_with_brief_hashtags(server):
    server.reply_normal("Mangoes are back. Come taste one!")
    draft = make_gen(server).generate(make_brief())
    assert draft.caption == "Mangoes are back. Come taste one!"
    assert draft.hashtags == ["Fruit", "Lisbon"]
    assert draft.image is not None


def test_thought_parts_are_skipped(server):
    draft_png = tiny_png(1, 1, (0, 0, 0))
    final_png = tiny_png(2, 2, (255, 0, 0))
    server.reply_normal(
        json.dumps({"caption": "Final caption", "hashtags": []}),
        image=final_png,
        extra_parts=[
            {"text": "Thinking about composition...", "thought": True},
            {"inlineData": {"mimeType": "image/png", "data": __import__("base64").b64encode(draft_png).decode()},
             "thought": True},
        ],
    )
    draft = make_gen(server).generate(make_brief())
    assert draft.caption == "Final caption"
    assert draft.image.data == final_png


# -- replies that must not become a post -------------------------------------------------


@pytest.mark.parametrize("finish_reason", ["STOP", "IMAGE_SAFETY", "NO_IMAGE"])
def test_text_only_reply_is_permanent_error(server, finish_reason):
    server.reply_text_only("I can't make an image of that.", finish_reason=finish_reason)
    with pytest.raises(PermanentError) as info:
        make_gen(server).generate(make_brief())
    message = str(info.value)
    assert "I can't make an image of that." in message
    if finish_reason != "STOP":
        assert finish_reason in message
        assert info.value.platform_code == finish_reason


def test_blocked_prompt_without_candidates_is_permanent_error(server):
    server.reply_blocked("PROHIBITED_CONTENT")
    with pytest.raises(PermanentError) as info:
        make_gen(server).generate(make_brief())
    assert "PROHIBITED_CONTENT" in str(info.value)
    assert info.value.platform_code == "PROHIBITED_CONTENT"


def test_empty_caption_is_permanent_error(server):
    server.reply_normal(json.dumps({"caption": "   ", "hashtags": ["x"]}))
    with pytest.raises(PermanentError, match="empty caption"):
        make_gen(server).generate(make_brief())


# -- HTTP errors -------------------------------------------------------------------------


def test_429_is_transient_with_retry_delay_and_sdk_does_not_retry(server):
    server.reply_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for generate_content_requests_per_minute",
                       details=[{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}])
    with pytest.raises(TransientError) as info:
        make_gen(server).generate(make_brief())
    assert info.value.platform_code == "RESOURCE_EXHAUSTED"
    assert info.value.retry_after == 37.0
    assert len(server.requests) == 1  # no hidden SDK retries: our caller owns backoff


@pytest.mark.parametrize("status,status_text", [(500, "INTERNAL"), (503, "UNAVAILABLE")])
def test_5xx_is_transient(server, status, status_text):
    server.reply_error(status, status_text, "The model is overloaded. Please try again later.")
    with pytest.raises(TransientError) as info:
        make_gen(server).generate(make_brief())
    assert info.value.platform_code == status_text
    assert len(server.requests) == 1


def test_unknown_or_shut_down_model_is_config_error_naming_it(server):
    gone = "gemini-2.5-flash-image"  # past its shutdown date; the fake does not know it
    with pytest.raises(ConfigError) as info:
        make_gen(server, model=gone).generate(make_brief())
    assert gone in str(info.value)
    assert server.requests[-1].model == gone


def test_400_invalid_argument_is_permanent(server):
    server.reply_error(400, "INVALID_ARGUMENT", "Unsupported aspect ratio 7:3")
    with pytest.raises(PermanentError) as info:
        make_gen(server).generate(make_brief())
    assert "Unsupported aspect ratio" in str(info.value)
    assert info.value.platform_code == "INVALID_ARGUMENT"


def test_bad_api_key_is_permanent(server):
    with pytest.raises(PermanentError) as info:
        make_gen(server, api_key="wrong-key").generate(make_brief())
    assert info.value.platform_code == "API_KEY_INVALID"
    assert "API key" in str(info.value)
    assert server.requests[-1].api_key == "wrong-key"


def test_403_permission_denied_is_permanent(server):
    server.reply_error(403, "PERMISSION_DENIED", "Generative Language API has not been used in project 123")
    with pytest.raises(PermanentError) as info:
        make_gen(server).generate(make_brief())
    assert info.value.platform_code == "PERMISSION_DENIED"


# -- network -----------------------------------------------------------------------------


def test_timeout_is_transient(server):
    server.delay_seconds = 1.5
    with pytest.raises(TransientError) as info:
        make_gen(server, timeout_seconds=0.3).generate(make_brief())
    assert info.value.platform_code == "NETWORK"


def test_connection_refused_is_transient():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    gen = GeminiGenerator(model=MODEL, api_key=KEY, base_url=f"http://127.0.0.1:{port}", timeout_seconds=2)
    with pytest.raises(TransientError):
        gen.generate(make_brief())


# -- construction and config -------------------------------------------------------------


def test_missing_api_key_is_config_error():
    with pytest.raises(ConfigError):
        GeminiGenerator(model=MODEL, api_key=None)
    with pytest.raises(ConfigError):
        GeminiGenerator(model=MODEL, api_key="  ")


def test_vertex_without_project_is_config_error():
    with pytest.raises(ConfigError):
        GeminiGenerator(model=MODEL, vertexai=True)


def _config(**overrides) -> Config:
    fields = dict(project="proj-1", media_bucket="bucket-1", approval_base_url="http://localhost:8080",
                  generator="gemini")
    fields.update(overrides)
    return Config(**fields)


def _fake_secrets(monkeypatch, values: dict[str, str]) -> list[str]:
    accessed: list[str] = []

    class Store:
        def access(self, name: str) -> str:
            accessed.append(name)
            return values[name]

    monkeypatch.setattr(gemini, "secret_store_from_config", lambda config: Store())
    return accessed


def test_from_config_uses_model_secret_and_base_url(server, monkeypatch):
    accessed = _fake_secrets(monkeypatch, {"my-gemini-key": KEY + "\n"})
    config = _config(gemini_model=OTHER_MODEL, gemini_base_url=server.url, gemini_api_key_secret="my-gemini-key")

    gen = GeminiGenerator.from_config(config)
    draft = gen.generate(make_brief())

    assert accessed == ["my-gemini-key"]
    assert gen.name == f"gemini:{OTHER_MODEL}"
    assert draft.generator == f"gemini:{OTHER_MODEL}"
    assert server.requests[-1].model == OTHER_MODEL
    assert server.requests[-1].api_key == KEY


def test_from_config_vertex_reads_no_secret(monkeypatch):
    accessed = _fake_secrets(monkeypatch, {})
    gen = GeminiGenerator.from_config(_config(gemini_use_vertex=True, gemini_location="europe-west4"))
    assert accessed == []
    assert gen.name == f"gemini:{MODEL}"  # the config default, not a constant in the adapter


def test_constructing_does_not_import_the_sdk():
    code = (
        "import sys\n"
        "from shared.content.gemini import GeminiGenerator\n"
        "GeminiGenerator(model='m', api_key='k')\n"
        "assert 'google.genai' not in sys.modules, 'google.genai imported eagerly'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
