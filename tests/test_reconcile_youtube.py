"""YouTube: an upload whose final chunk got no clear answer is settled through its saved session URI
(`Content-Range: bytes */N`: 200/201 gives the video, 308 what was stored), never by a new session
(issue 9). An incomplete upload goes back to the queue keeping its session, and the next attempt
sends only the missing bytes.
"""

from __future__ import annotations

from infra.local.sandboxes.youtube import GRANULE
from tests.conftest import reconcile
from tests.test_publish_youtube import (  # noqa: F401
    VIDEO_SIZE,
    approve_env,
    deliver,
    generate,
    object_sha,
    poll,
    post_of,
    yt,
    yt_sandbox,
)

FINAL_CHUNK = 4  # VIDEO_SIZE goes in five chunks of 256 KiB, the last short: four pass before the final one


def _lose_the_final_answer(yt, *, stored: bool) -> None:
    """The final chunk is stored (or not), its answer is lost, and every status query after it fails
    until the publisher gives up (POSTGATE_RETRY_ATTEMPTS defaults to 4)."""
    if stored:
        yt.inject("upload", "lost_response", skip=FINAL_CHUNK)
    else:
        yt.inject("upload", "interrupt", store_bytes=0, respond="drop", skip=FINAL_CHUNK)
    yt.inject("upload", "server_error", count=4)


def _publish_unconfirmed(yt, *, stored: bool):
    content = generate()
    [due] = approve_env(content)
    _lose_the_final_answer(yt, stored=stored)
    assert deliver(due.id).status_code == 200
    post = post_of(content.id)
    assert post.status == "processing" and post.unconfirmed
    assert set(post.platform_ids) == {"upload_session", "upload_size"}
    return post


def _reconcile(post):
    """The adapter's reconcile, with the context the status poll hands it."""
    return reconcile(post)


# ---- end to end: publish function, then the status poll ------------------------------------------
def test_video_stored_behind_a_lost_final_answer_ends_published_with_exactly_one_video(yt):
    post = _publish_unconfirmed(yt, stored=True)
    [video_id] = yt.posts
    for _ in range(3):  # found (YouTube still processing), processed + privacy set
        poll()
    done = post_of(post.content_id)
    assert done.status == "published" and not done.unconfirmed
    assert done.platform_ids == {**post.platform_ids, "video_id": video_id}
    assert done.share_url == f"https://www.youtube.com/watch?v={video_id}"
    assert yt.posts[video_id]["status"]["privacyStatus"] == "public"
    assert len(yt.posts) == 1 and yt.count("insert") == 1


def test_incomplete_upload_goes_back_to_the_queue_and_resumes_its_session(yt):
    post = _publish_unconfirmed(yt, stored=False)
    assert yt.posts == {}
    poll()  # the session answers 308: no video; back to the queue with the session kept
    queued = post_of(post.content_id)
    assert queued.status == "queued" and queued.platform_ids == post.platform_ids
    assert deliver(post.id, "again").status_code == 200
    resumed = post_of(post.content_id)
    assert resumed.status == "processing" and not resumed.unconfirmed
    assert resumed.platform_ids["upload_session"] == post.platform_ids["upload_session"]
    [video] = yt.posts.values()
    assert yt.count("insert") == 1 and video["sha256"] == object_sha()
    assert [first for first, _ in video["chunks"]] == [i * GRANULE for i in range(5)]  # no byte sent twice
    poll(), poll()
    assert post_of(post.content_id).status == "published" and len(yt.posts) == 1


# ---- reconcile itself ------------------------------------------------------------------------------
def test_reconcile_finds_the_video_through_the_session_without_creating(yt):
    post = _publish_unconfirmed(yt, stored=True)
    [video_id] = yt.posts
    inserts, uploads = yt.count("insert"), yt.count("upload")
    result = _reconcile(post)
    assert result.state == "pending" and result.platform_ids == {"video_id": video_id}  # processing
    result = _reconcile(post.model_copy(update={"platform_ids": {**post.platform_ids, **result.platform_ids}}))
    assert result.state == "published" and result.share_url.endswith(video_id)
    assert yt.count("insert") == inserts and yt.count("upload") == uploads + 1  # the one bytes */N query


def test_reconcile_of_an_incomplete_upload_is_absent_and_keeps_the_session(yt):
    post = _publish_unconfirmed(yt, stored=False)
    inserts = yt.count("insert")
    result = _reconcile(post)
    assert result.state == "absent" and result.detail == "upload_incomplete"
    assert result.platform_ids == {"upload_session": post.platform_ids["upload_session"],
                                   "upload_size": str(VIDEO_SIZE)}
    assert yt.count("insert") == inserts and yt.posts == {}


def test_reconcile_without_a_session_is_absent_and_asks_youtube_nothing(yt):
    """The attempt stopped before YouTube named a session: no byte went anywhere."""
    from shared import services

    content = generate()
    [due] = approve_env(content)
    post = services.repository().get_post(due.id).model_copy(update={"unconfirmed": True, "platform_ids": {}})
    assert _reconcile(post).state == "absent" and yt.requests_log == []


def test_reconcile_keeps_waiting_when_the_session_is_gone(yt):
    """A session that answers 404 cannot say whether its final chunk made a video: wait (the poll
    gives up at its deadline for a person to check), never start again."""
    post = _publish_unconfirmed(yt, stored=True)
    yt.expire_session(completed_too=True)
    result = _reconcile(post)
    assert result.state == "pending" and result.detail == "upload_session_expired"
    assert yt.count("insert") == 1 and len(yt.posts) == 1
