"""generate: briefs over HTTP and Pub/Sub become drafts awaiting approval; bad briefs are refused
before anyone is asked to approve them."""

from __future__ import annotations

from tests.conftest import ACCOUNT, brief, function_client, pubsub_envelope, upload_video


def _http():
    return function_client("functions/generate/main.py", "generate_http", "http")


def test_brief_over_http_creates_pending_draft_with_one_post_per_target(env):
    from shared import services

    response = _http().post("/", json=brief(upload_video()))
    assert response.status_code == 201, response.get_json()
    content = services.repository().get_content(response.get_json()["content_id"])
    assert content.status == "pending_approval" and content.content_hash == content.current_hash()
    [post] = services.repository().posts_for_content(content.id)
    assert (post.status, post.account_id, post.platform) == ("pending_approval", ACCOUNT, "tiktok")


def test_brief_over_pubsub_redelivered_creates_one_item(env):
    from shared import services

    client = function_client("functions/generate/main.py", "generate_from_message")
    body = brief(upload_video())
    for _ in range(2):
        assert client.post("/", json=pubsub_envelope(body, message_id="m-1")).status_code == 200
    assert len(list(services.repository().db.collection("content").stream())) == 1
    assert len(list(services.repository().db.collection("posts").stream())) == 1


def test_tiktok_target_without_privacy_level_is_refused_naming_the_field(env):
    body = brief(upload_video(), targets=[{"account_id": ACCOUNT}])
    response = _http().post("/", json=body)
    assert response.status_code == 400
    assert response.get_json()["field"] == "targets.privacy_level"


def test_unknown_account_and_missing_video_are_refused(env):
    unknown = _http().post("/", json=brief(upload_video(), targets=[{"account_id": "nope", "privacy_level": "SELF_ONLY"}]))
    assert unknown.status_code == 400 and "nope" in unknown.get_json()["error"]
    missing = _http().post("/", json=brief("gs://test-media/does/not/exist.mp4"))
    assert missing.status_code == 400 and missing.get_json()["field"] == "video"


def test_malformed_brief_names_the_bad_fields(env):
    response = _http().post("/", json={"campaign": "x", "targets": []})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert "topic" in error and "targets" in error and "requested_by" in error


def test_gemini_generator_is_chosen_by_config(env, monkeypatch):
    from shared.content.generation import generator_from_config
    from shared.runtime.config import load_config

    config = load_config({**env, "POSTGATE_GENERATOR": "gemini", "POSTGATE_GEMINI_MODEL": "gemini-test-model",
                          "POSTGATE_GEMINI_API_KEY_SECRET": "approval-signing-key"})
    generator = generator_from_config(config)
    assert generator.name == "gemini:gemini-test-model"


def test_slack_notifier_posts_both_links_to_the_webhook():
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from shared.approval.notifiers import ApprovalRequest, SlackNotifier

    received = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        SlackNotifier(f"http://127.0.0.1:{server.server_port}/hook").send(ApprovalRequest(
            "c-1", "Launch", "lead@example.com", "Preview text", ["tiktok:main"], "http://a/?token=A", "http://a/?token=R"))
    finally:
        server.shutdown()
    [body] = received
    urls = [e["url"] for block in body["blocks"] if block["type"] == "actions" for e in block["elements"]]
    assert urls == ["http://a/?token=A", "http://a/?token=R"]
