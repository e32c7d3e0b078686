"""Live status: a Server-Sent Events stream per content item, fed by a Firestore listener, that
reports each post's state changes while they happen and ends once every post is final."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

from tests.browser import serve_function
from tests.conftest import bearer, function_client, pubsub_envelope

APPROVER = "approver@example.com"
# The order a post moves in on its way out (a snapshot may skip a state the post passed quickly).
PUBLISH_ORDER = ["pending_approval", "approved", "queued", "publishing", "processing", "published"]


class StreamReader(threading.Thread):
    """Reads an SSE stream over real HTTP, noting when each message arrived."""

    def __init__(self, url: str, headers: dict):
        super().__init__(daemon=True)
        self.url, self.headers = url, headers
        self.messages: list[dict] = []  # {"event", "id", "data", "comment", "t"}
        self.response_headers: dict = {}
        self.status = None
        self.changed = threading.Condition()

    def run(self) -> None:
        import requests

        with requests.get(self.url, headers=self.headers, stream=True, timeout=(5, 60)) as answer:
            self.status, self.response_headers = answer.status_code, dict(answer.headers)
            message: dict = {}
            for line in answer.iter_lines(chunk_size=None, decode_unicode=True):
                if line == "":
                    if message:
                        self._add(message)
                    message = {}
                elif line.startswith(":"):
                    message["comment"] = line[1:].strip()
                else:
                    name, _, value = line.partition(":")
                    message[name] = json.loads(value) if name == "data" else value.strip()
        with self.changed:
            self.changed.notify_all()

    def _add(self, message: dict) -> None:
        with self.changed:
            self.messages.append({**message, "t": time.monotonic()})
            self.changed.notify_all()

    def wait_for(self, predicate, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                found = next((m for m in self.messages if predicate(m)), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                assert left > 0 and self.is_alive(), f"not seen in {timeout} s; got {self.messages}"
                self.changed.wait(min(left, 0.5))

    def posts(self) -> list[dict]:
        return [m for m in self.messages if m.get("event") == "post"]


def _status(status: str):
    return lambda m: m.get("event") == "post" and m["data"]["status"] == status


def _poll_tick() -> None:
    """One status-poll run with every processing post's next check made due (no sleeping)."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    from shared import entrypoints, services
    from shared.runtime.clock import utcnow

    repo = services.repository()
    for snap in repo.db.collection("posts").where(filter=FieldFilter("status", "==", "processing")).stream():
        repo.update_fields(snap.id, next_check_at=utcnow() - timedelta(seconds=1))
    entrypoints.poll()


def test_stream_reports_each_change_while_it_happens_until_published(env, draft, sandbox):
    import requests

    import shared.api.app as api_app

    api_app._app = None
    with serve_function("functions/api/main.py", "api") as served:
        reader = StreamReader(f"{served.url}/contents/{draft.id}/events", bearer(env))
        reader.start()
        first = reader.wait_for(_status("pending_approval"))
        post_id = first["data"]["post_id"]

        approved_at = time.monotonic()
        decision = requests.post(f"{served.url}/contents/{draft.id}/decision", timeout=30,
                                 json={"action": "approve", "content_hash": draft.content_hash},
                                 headers=bearer(env, user=APPROVER, roles=("approver",)))
        assert decision.status_code == 200, decision.text
        queued = reader.wait_for(_status("queued"))

        published_at = time.monotonic()
        delivered = function_client("functions/publish_tiktok/main.py", "publish_tiktok").post(
            "/", json=pubsub_envelope({"post_id": post_id}))
        assert delivered.status_code == 200
        processing = reader.wait_for(_status("processing"))

        polled_at = time.monotonic()
        _poll_tick()  # the sandbox still says PROCESSING_UPLOAD
        _poll_tick()
        done = reader.wait_for(_status("published"))
        end = reader.wait_for(lambda m: m.get("event") == "end")
        reader.join(10)
        assert not reader.is_alive(), "the server should close the stream after `end`"

    assert reader.status == 200
    assert reader.response_headers["Content-Type"].startswith("text/event-stream")
    assert reader.response_headers["Cache-Control"] == "no-cache"
    assert reader.response_headers["X-Accel-Buffering"] == "no"
    # Each event arrived while the stream was open, right after the step that caused it (not at the end).
    assert first["t"] < approved_at < queued["t"] < published_at < processing["t"] < polled_at < done["t"] <= end["t"]
    statuses = [m["data"]["status"] for m in reader.posts()]
    assert statuses[0] == "pending_approval" and statuses[-1] == "published"
    assert statuses == sorted(statuses, key=PUBLISH_ORDER.index) and len(set(statuses)) == len(statuses)
    assert [m["id"] for m in reader.posts()] == [f"{post_id}:{n}" for n in range(1, len(statuses) + 1)]
    assert set(done["data"]) == {"post_id", "status", "platform", "account_id", "share_url", "fail_reason", "at"}
    assert done["data"]["platform"] == "tiktok" and done["data"]["account_id"] == "tiktok-main"
    assert done["data"]["share_url"] and done["data"]["fail_reason"] is None
    assert end["data"] == {"content_id": draft.id, "reason": "all posts final"}
    assert reader.messages[-1]["event"] == "end"


def test_stream_of_a_decided_item_shows_its_final_state_and_ends(api, env, draft):
    answer = api.post(f"/contents/{draft.id}/decision", json={"action": "reject", "content_hash": draft.content_hash,
                                                             "reason": "Not this week"},
                      headers=bearer(env, user=APPROVER, roles=("approver",)))
    assert answer.status_code == 200
    stream = api.get(f"/contents/{draft.id}/events", headers=bearer(env))
    assert stream.status_code == 200 and stream.is_streamed
    text = stream.get_data(as_text=True)
    blocks = [b for b in text.split("\n\n") if b and not b.startswith(":")]
    assert len(blocks) == 2
    post, end = blocks
    assert post.startswith("event: post\nid: ") and json.loads(post.split("data: ", 1)[1])["status"] == "rejected"
    assert json.loads(post.split("data: ", 1)[1])["fail_reason"] == "Not this week"
    assert end.startswith("event: end\n") and '"reason":"all posts final"' in end


def test_unknown_content_is_a_json_404_before_any_streaming(api, env):
    answer = api.get("/contents/c-nothing/events", headers=bearer(env))
    assert answer.status_code == 404 and answer.get_json()["detail"] == "no content 'c-nothing'"
    assert api.get("/contents/__x__/events", headers=bearer(env)).status_code in (400, 404)


# Firestore listeners running in this process (one gRPC stream thread each); the catalogue stream tests count them too.
def listener_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "Thread-ConsumeBidirectionalStream" and t.is_alive())


def wait_until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_heartbeats_then_end_at_the_time_limit_and_the_listener_is_released(env, draft):
    from shared import services
    from shared.stores.live_status import content_events

    baseline = listener_threads()
    started = time.monotonic()
    messages = list(content_events(services.repository(), draft.id, stream_seconds=1.2, heartbeat_seconds=0.3))
    took = time.monotonic() - started
    assert 1.2 <= took < 5
    assert messages[0].startswith(": ") and messages[1].startswith("event: post\n")
    assert messages.count(": heartbeat\n\n") >= 2
    assert messages[-1] == f'event: end\ndata: {{"content_id":"{draft.id}","reason":"time limit"}}\n\n'
    assert wait_until(lambda: listener_threads() == baseline)


def test_client_leaving_unsubscribes_the_listener(env, draft):
    from shared import services
    from shared.stores.live_status import content_events

    baseline = listener_threads()
    stream = content_events(services.repository(), draft.id, stream_seconds=60)
    assert next(stream).startswith(": ")
    assert "pending_approval" in next(stream)
    assert listener_threads() == baseline + 1
    stream.close()  # what the server does when the client disconnects (GeneratorExit at the yield)
    assert wait_until(lambda: listener_threads() == baseline)


def test_openapi_declares_the_stream_as_text_event_stream(api):
    doc = api.get("/openapi.json").get_json()
    operation = doc["paths"]["/contents/{content_id}/events"]["get"]
    assert operation["responses"]["200"]["content"] == {"text/event-stream": {"schema": {"type": "string"}}}


def test_streams_on_one_item_share_one_listener_and_each_sees_every_change(env, draft):
    """Fifty dashboards on one launch are one Firestore listener in the instance, not fifty: the
    second stream starts from the latest snapshot, both see a later change, and the listener stays
    while any stream is open and goes with the last."""
    from shared import services
    from shared.stores.live_status import content_events, feeds_for

    repo = services.repository()
    baseline = listener_threads()
    first = content_events(repo, draft.id, stream_seconds=60)
    second = content_events(repo, draft.id, stream_seconds=60)
    assert next(first).startswith(": ") and "pending_approval" in next(first)
    assert next(second).startswith(": ") and "pending_approval" in next(second)
    assert listener_threads() == baseline + 1
    assert feeds_for(repo.db).listeners == 1

    post = repo.posts_for_content(draft.id)[0]
    repo.db.collection("posts").document(post.id).update({"status": "rejected"})
    assert '"status":"rejected"' in next(first)
    assert '"status":"rejected"' in next(second)

    first.close()
    assert listener_threads() == baseline + 1  # the other stream still listens
    second.close()
    assert wait_until(lambda: listener_threads() == baseline)
    assert feeds_for(repo.db).listeners == 0
