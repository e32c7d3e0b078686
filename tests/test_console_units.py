"""The console's rules that need no emulator: where `next` may send a browser, relative links, the
CSP, the role check, when local sign-in may be on, fingerprints and ages."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urljoin

import pytest

from shared.console.urls import relative, safe_next

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("value", ["/console/queue", "/console/queue?campaign=launch&account=x", "/console/",
                                   "/console/posts/abc-123"])
def test_next_may_be_any_console_path(value):
    assert safe_next(value, "/console") == value


@pytest.mark.parametrize("value", [None, "", 42, "queue", "/campaigns", "/consoleX/queue", "/console", "//evil.example/",
                                   "https://evil.example/console/queue", "/console//evil.example",
                                   "/console/../campaigns", "/console/./queue", "/console/queue#frag",
                                   "/console/queue\\x", "/console/\nqueue", "javascript:alert(1)",
                                   "/console/%2e%2e/campaigns", "/console/.%2E/campaigns", "/console/%2F%2Fevil.example",
                                   "/console/%5c%5cevil.example",
                                   "/console/" + "a" * 2000])
def test_next_refuses_anything_else(value):
    assert safe_next(value, "/console") is None


@pytest.mark.parametrize("here, target", [
    ("/console/queue", "/console/calendar"), ("/console/queue", "/console/"), ("/console/", "/console/queue"),
    ("/console", "/console/queue"), ("/console/posts/abc", "/console/queue?campaign=a"),
    ("/console/sign-in/local", "/console/static/0123/console.css"), ("/console/queue", "/console/a:b"),
    ("/console/posts/abc/cancel", "/console/posts/abc?done=cancelled"), ("/console/posts/abc", "/console/calendar"),
    ("/console/contents/c1/events", "/console/contents/c1"), ("/console/posts/abc/", "/console/posts/abc"),
    ("/console/campaigns/spring", "/console/campaigns"), ("/console/campaigns/spring", "/console/campaigns?skip=50"),
    ("/console/accounts/x/test", "/console/accounts"), ("/console/campaigns/spring", "/console"),
    ("/console/campaigns/spring", "/console/"),
    ("/console/youtube/ytm-1/decision", "/console/youtube/ytm-1?decided=approve"),
    ("/console/youtube/ytm-1/decision", "/console/youtube/ytm-1"), ("/console/youtube/new", "/console/youtube"),
])
def test_relative_links_resolve_to_the_target_under_any_prefix(here, target):
    link = relative(target, here)
    assert not link.startswith("/") and "://" not in link
    for prefix in ("", "/api", "/some/deeper/prefix"):
        assert urljoin("https://host" + prefix + here, link) == "https://host" + prefix + target


def test_the_csp_has_no_inline_allowance_and_googles_origins_only_when_asked():
    from shared.console.security import content_security_policy

    plain = content_security_policy(media_origin="http://127.0.0.1:4443")
    assert plain == ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: "
                     "http://127.0.0.1:4443; media-src 'self' http://127.0.0.1:4443; connect-src 'self'; form-action 'self'; "
                     "frame-ancestors 'none'; base-uri 'none'")
    google = content_security_policy(media_origin="https://storage.googleapis.com", google_sign_in=True)
    assert "script-src 'self' https://accounts.google.com/gsi/client;" in google
    assert "frame-src https://accounts.google.com/gsi/;" in google
    assert "unsafe" not in plain + google
    consent = content_security_policy(media_origin="http://127.0.0.1:4443",
                                      form_targets=("https://www.tiktok.com", "https://x.com", "https://x.com"))
    assert "form-action 'self' https://www.tiktok.com https://x.com;" in consent


def test_an_editor_may_not_do_what_needs_an_approver_and_an_approver_may_do_both():
    import flask

    from shared.api.auth import Principal
    from shared.api.errors import ApiError
    from shared.console.session import require_role

    @require_role("approver")
    def decide():
        return "decided"

    @require_role("editor")
    def compose():
        return "composed"

    app = flask.Flask(__name__)
    with app.test_request_context():
        flask.g.console_principal = Principal("editor@example.com", frozenset({"editor"}))
        assert compose() == "composed"
        with pytest.raises(ApiError) as refused:
            decide()
        assert refused.value.status == 403 and "approver role" in refused.value.detail
        flask.g.console_principal = Principal("lead@example.com", frozenset({"approver"}))
        assert decide() == "decided" and compose() == "composed"


@pytest.mark.parametrize("backend, setting, enabled", [
    ("file", True, True), ("env", True, True), ("file", False, False), ("secret-manager", True, False)])
def test_local_sign_in_needs_the_setting_and_a_local_secret_backend(backend, setting, enabled):
    from shared.console.signin import local_sign_in_enabled
    from shared.runtime.config import load_config

    config = load_config({"GOOGLE_CLOUD_PROJECT": "p", "POSTGATE_MEDIA_BUCKET": "media",
                          "POSTGATE_APPROVAL_BASE_URL": "https://approval.example", "POSTGATE_SECRET_BACKEND": backend,
                          "POSTGATE_SECRETS_FILE": "/tmp/none.json",
                          "POSTGATE_CONSOLE_LOCAL_SIGN_IN": "true" if setting else "false"})
    assert local_sign_in_enabled(config) is enabled


def test_every_static_file_has_a_fingerprint_of_its_content():
    import hashlib

    from shared.console.assets import BORROWED, STATIC_DIR, assets

    found = assets()
    assert {"console.css", "console.js", "sign-in.js", "campaign-charts.css"} <= set(found)
    for name, asset in found.items():
        assert asset.digest == hashlib.sha256(BORROWED.get(name, STATIC_DIR / name).read_bytes()).hexdigest()[:16]


@pytest.mark.parametrize("seconds, text", [(0, "0 min"), (59 * 60, "59 min"), (3600, "1 h"), (47 * 3600, "47 h"),
                                           (48 * 3600, "2 d"), (-5, "0 min")])
def test_waiting_age_is_said_in_the_largest_unit_that_fits(seconds, text):
    from shared.console.pages.queue import age_text

    assert age_text(seconds) == text


def test_the_topology_declares_the_console_where_the_api_function_mounts_it():
    from shared.console.mount import CONSOLE_PATH
    from shared.topology import load_topology

    topology = load_topology()
    assert topology.route("console") == ("api", CONSOLE_PATH)
    assert "shared.console.mount" in (REPO / topology.functions["api"].source / "main.py").read_text()
    assert "console-session-key" in topology.functions["api"].access.secrets
