"""Configuration from the environment: every variable is named by pydantic-settings from its field,
a missing or bad one fails naming the variable, and docs/configuration.md lists each variable with
the model's default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import TypeAdapter
from pydantic_core import PydanticUndefined

from shared.errors import ConfigError
from shared.runtime.config import load_config
from shared.runtime.config_model import Config

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
REQUIRED = {"GOOGLE_CLOUD_PROJECT": "p", "POSTGATE_MEDIA_BUCKET": "media", "POSTGATE_APPROVAL_BASE_URL": "https://a.example"}


def test_missing_required_variables_are_each_named():
    with pytest.raises(ConfigError) as info:
        load_config({"POSTGATE_MEDIA_BUCKET": "media"})
    assert str(info.value) == ("invalid configuration: GOOGLE_CLOUD_PROJECT: missing; "
                               "POSTGATE_APPROVAL_BASE_URL: missing")


def test_bad_values_are_refused_naming_the_variable_and_the_rule():
    with pytest.raises(ConfigError) as info:
        load_config({**REQUIRED, "POSTGATE_SMTP_PORT": "twenty-five", "POSTGATE_NOTIFIER": "pigeon",
                     "POSTGATE_YOUTUBE_CHUNK_BYTES": "1000", "POSTGATE_LINKEDIN_VERSION": "2026-07"})
    message = str(info.value)
    assert message.startswith("invalid configuration: ")
    assert "POSTGATE_NOTIFIER: Input should be 'log', 'slack' or 'smtp'" in message
    assert "POSTGATE_SMTP_PORT: Input should be a valid integer" in message
    assert "POSTGATE_YOUTUBE_CHUNK_BYTES: Input should be a multiple of 262144" in message
    assert "POSTGATE_LINKEDIN_VERSION: String should match pattern" in message


def test_the_replaced_instagram_host_variable_is_refused_not_ignored():
    with pytest.raises(ConfigError, match="POSTGATE_INSTAGRAM_BASE_URL was replaced by POSTGATE_INSTAGRAM_FB_LOGIN_BASE_URL"):
        load_config({**REQUIRED, "POSTGATE_INSTAGRAM_BASE_URL": "https://graph.facebook.com/v25.0"})


def test_values_are_parsed_and_an_empty_variable_counts_as_unset():
    config = load_config({**REQUIRED, "POSTGATE_SMTP_PORT": "25", "POSTGATE_GEMINI_USE_VERTEX": "true",
                          "POSTGATE_HTTP_TIMEOUT_SECONDS": "2.5", "POSTGATE_API_STREAMS_PER_INSTANCE": "3",
                          "POSTGATE_NOTIFIER": "", "POSTGATE_APPROVERS": "a@example.com, b@example.com"})
    assert (config.smtp_port, config.gemini_use_vertex, config.http_timeout_seconds) == (25, True, 2.5)
    assert config.api_streams_per_instance == 3 and config.notifier == "log"
    assert config.approver_list == ["a@example.com", "b@example.com"]


def test_the_project_falls_back_to_postgate_project():
    assert load_config({**REQUIRED, "GOOGLE_CLOUD_PROJECT": "", "POSTGATE_PROJECT": "other"}).project == "other"
    assert load_config({**REQUIRED, "POSTGATE_PROJECT": "other"}).project == "p"


def test_names_match_exactly_and_a_given_mapping_is_not_mixed_with_the_process_environment(monkeypatch):
    monkeypatch.setenv("POSTGATE_NOTIFIER", "slack")
    config = load_config({**REQUIRED, "postgate_smtp_port": "25", "smtp_host": "mail.example", "SMTP_FROM": "a@b.c"})
    assert config.notifier == "log" and config.smtp_port == 587
    assert config.smtp_host is None and config.smtp_from is None


def test_code_builds_a_config_by_field_name_without_reading_the_environment(monkeypatch):
    monkeypatch.setenv("POSTGATE_NOTIFIER", "slack")
    config = Config(project="p", media_bucket="media", approval_base_url="https://a.example", smtp_port=25)
    assert config.smtp_port == 25 and config.notifier == "log"


def test_the_process_environment_is_read_when_no_mapping_is_given(monkeypatch):
    for var, value in REQUIRED.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("POSTGATE_NOTIFIER", "slack")
    assert load_config().notifier == "slack"


def test_the_config_is_frozen():
    config = load_config(REQUIRED)
    with pytest.raises(ValueError):
        config.notifier = "slack"


def _documented() -> dict[str, str]:
    """variable -> default cell of the table under docs/configuration.md#variables."""
    section = DOC.read_text().split("\n## Variables\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        match = re.match(r"^\| `([A-Z][A-Z0-9_]*)` \|.*\| ([^|]+) \|$", line)
        if match:
            assert match.group(1) not in rows, f"{match.group(1)} is documented twice"
            rows[match.group(1)] = match.group(2).strip()
    return rows


def test_the_documentation_lists_every_variable_and_no_other():
    documented, variables = set(_documented()), set(Config.variables())
    assert sorted(variables - documented) == [], "add these to docs/configuration.md#variables"
    assert sorted(documented - variables) == [], "docs/configuration.md#variables names variables Config does not read"


def test_the_documented_defaults_are_the_models():
    wrong = []
    for var, cell in _documented().items():
        field = Config.model_fields[Config.variables()[var]]
        if field.default is PydanticUndefined:
            ok = cell == "required"
        elif field.default in (None, ""):
            ok = cell == "unset"
        else:
            value = re.fullmatch(r"`([^`]*)`", cell)
            ok = value is not None and TypeAdapter(field.annotation).validate_python(value.group(1)) == field.default
        if not ok:
            wrong.append(f"{var}: documented {cell}, model {'required' if field.default is PydanticUndefined else field.default!r}")
    assert wrong == [], "docs/configuration.md#variables disagrees with Config:\n" + "\n".join(wrong)
