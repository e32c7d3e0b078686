"""The console's YouTube metadata changes (/console/youtube) through the Flask test client, on the emulators
and the YouTube sandbox: the list, proposing a change (the API's rules, refusals next to their field), an
approver's decision bound to the change hash the page showed (a stale page refused naming what changed),
an editor who cannot decide, and CSRF on every POST."""

from __future__ import annotations

import html as htmllib
import re
from urllib.parse import urljoin

import pytest

from tests import test_youtube_metadata_sync as youtube_tests
from tests.console_support import APPROVER, EDITOR, api_client, csrf_of, set_up_console, sign_in_locally

# The YouTube sandbox and a video published through the pipeline: the metadata sync tests' fixtures.
yt_sandbox, yt, published = youtube_tests.yt_sandbox, youtube_tests.yt, youtube_tests.published


@pytest.fixture
def console(env, monkeypatch):
    set_up_console(monkeypatch)
    client = api_client()
    yield client
    monkeypatch.undo()


def _text(answer) -> str:
    """The page's text with tags dropped and spaces squeezed, for reading like a person."""
    body = re.sub(r"<[^>]+>", " ", answer.get_data(as_text=True))
    return " ".join(htmllib.unescape(body).split())


def _propose(client, post_id: str, **fields):
    form = client.get(f"/console/youtube/new?post={post_id}")
    assert form.status_code == 200, _text(form)[:2000]
    data = {"csrf_token": csrf_of(form.get_data(as_text=True)), "post_id": post_id, **fields}
    return client.post("/console/youtube/new", data=data)


def _change_id(answer) -> str:
    assert answer.status_code == 303, _text(answer)[:2000]
    target = urljoin(answer.request.path, answer.headers["Location"])
    assert re.fullmatch(r"/console/youtube/ytm-[0-9a-f]{20}", target), target
    return target.rsplit("/", 1)[1]


def _decide(client, change_id: str, action: str, change_hash: str | None = None, **extra):
    page = client.get(f"/console/youtube/{change_id}")
    html = page.get_data(as_text=True)
    shown = re.search(r'name="change_hash" value="([0-9a-f]{64})"', html)
    data = {"csrf_token": csrf_of(html), "action": action,
            "change_hash": change_hash or (shown.group(1) if shown else ""), **extra}
    return client.post(f"/console/youtube/{change_id}/decision", data=data)


def _change(change_id: str):
    from shared import services
    from shared.youtube_sync.service import get_change

    return get_change(services.repository(), change_id)


def _changes_count() -> int:
    from shared import services

    return len(list(services.repository().db.collection("metadata_changes").stream()))


def test_every_change_status_has_its_words():
    import typing

    from shared.console.pages.youtube import STATUS_TEXT
    from shared.youtube_sync.model import ChangeStatus

    assert set(STATUS_TEXT) == set(typing.get_args(ChangeStatus))


@pytest.mark.parametrize("path", ["/console/youtube/new", "/console/youtube/ytm-0123456789abcdef0123"])
def test_the_pages_need_a_session(console, path):
    answer = console.get(path)
    assert answer.status_code == 303 and answer.headers["Location"].startswith("../sign-in?next=")


def test_an_editor_proposes_a_change_that_waits_and_is_listed(console, published, yt):
    post, video_id = published
    sign_in_locally(console, EDITOR)
    form = console.get(f"/console/youtube/new?post={post.id}")
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and f'<option value="{post.id}" selected>Cold all day (yt-main' in html

    change_id = _change_id(_propose(console, post.id, title="Cold all day, hot all night", tags="bottle, thermos",
                                    privacy="unlisted"))
    change = _change(change_id)
    assert change.status == "pending_approval" and change.requested_by == EDITOR
    assert change.proposed.given() == {"title": "Cold all day, hot all night", "tags": ["bottle", "thermos"],
                                       "privacy": "unlisted"}
    assert yt.count("update") == 0

    detail = _text(console.get(f"/console/youtube/{change_id}"))
    assert "Waiting for a decision" in detail and f"by {EDITOR}" in detail
    assert "Title Now Cold all day After approval Cold all day, hot all night" in detail
    assert "Tags Now bottle, cold drinks After approval bottle, thermos" in detail
    assert "Privacy Now private After approval unlisted" in detail
    unchanged = detail.split("Unchanged: ", 1)[1].split(".", 1)[0].split(", ")
    assert unchanged[0] == "description" and not {"title", "tags", "privacy"} & set(unchanged)  # the rest stay
    assert "Approve and apply" not in detail and "Waiting for an approver's decision" in detail  # an editor

    listed = console.get("/console/youtube")
    text = _text(listed)
    assert listed.status_code == 200 and "1–1 of 1, newest first." in text
    assert (f"Cold all day Waiting for a decision video {video_id} requested by {EDITOR} 0 min ago "
            "Changes title, tags, privacy") in text
    assert f'href="youtube/{change_id}"' in listed.get_data(as_text=True)
    waiting = _text(console.get("/console/youtube?status=pending_approval"))
    assert "1–1 of 1" in waiting and _text(console.get("/console/youtube?status=applied")).count("No metadata change") == 1


def test_an_approver_approves_on_the_page_and_youtube_gets_the_new_values(console, published, yt):
    post, video_id = published
    sign_in_locally(console, APPROVER)
    change_id = _change_id(_propose(console, post.id, title="Cold all day, hot all night"))
    page = console.get(f"/console/youtube/{change_id}")
    assert "Approve and apply" in page.get_data(as_text=True)

    answer = _decide(console, change_id, "approve")
    assert answer.status_code == 303 and answer.headers["Location"] == f"../{change_id}?decided=approve"
    assert yt.posts[video_id]["snippet"]["title"] == "Cold all day, hot all night"
    change = _change(change_id)
    assert change.status == "applied" and change.decided_by == APPROVER and change.decided_via == "api"
    text = _text(console.get(f"/console/youtube/{change_id}?decided=approve"))
    assert "Your decision is recorded: approved." in text and "Applied YouTube holds the new values" in text
    assert f"Approved by {APPROVER}" in text and "Approve and apply" not in text
    assert "Title Before Cold all day Proposed Cold all day, hot all night" in text
    assert "Changes title · YouTube holds the new values" in _text(console.get("/console/youtube"))


def test_a_rejection_keeps_its_reason_and_changes_nothing(console, published, yt):
    post, video_id = published
    sign_in_locally(console, APPROVER)
    change_id = _change_id(_propose(console, post.id, description="A new description"))
    before = dict(yt.posts[video_id]["snippet"])
    assert _decide(console, change_id, "reject", reason="Keep the launch copy").status_code == 303
    change = _change(change_id)
    assert change.status == "rejected" and change.reason == "Keep the launch copy"
    assert yt.count("update") == 0 and yt.posts[video_id]["snippet"] == before
    text = _text(console.get(f"/console/youtube/{change_id}"))
    assert "Rejected nothing was changed on YouTube" in text and "Reason Keep the launch copy" in text


def test_an_editor_cannot_decide(console, published, yt):
    post, _ = published
    sign_in_locally(console, EDITOR)
    change_id = _change_id(_propose(console, post.id, title="Editor's own idea"))
    change = _change(change_id)
    answer = _decide(console, change_id, "approve", change_hash=change.change_hash)
    assert answer.status_code == 403 and "does not have the approver role" in _text(answer)
    assert _change(change_id).status == "pending_approval" and yt.count("update") == 0


def test_a_stale_page_is_refused_naming_the_newer_change_and_nothing_is_recorded(console, published, yt):
    post, video_id = published
    sign_in_locally(console, APPROVER)
    first = _change_id(_propose(console, post.id, title="First idea"))
    shown = console.get(f"/console/youtube/{first}").get_data(as_text=True)  # the approver's open page
    shown_hash = re.search(r'name="change_hash" value="([0-9a-f]{64})"', shown).group(1)
    second = _change_id(_propose(console, post.id, title="Better idea", privacy="public"))

    answer = console.post(f"/console/youtube/{first}/decision",
                          data={"csrf_token": csrf_of(shown), "action": "approve", "change_hash": shown_hash})
    text = _text(answer)
    assert answer.status_code == 409
    assert f"Not decided: A newer change for this video ({second}) replaced this one" in text
    assert "Nothing was recorded." in text
    assert (f"What changed: {APPROVER} asked for change {second} since this page was shown: "
            "Title: Cold all day → Better idea Privacy: private → public") in text
    assert f'href="../{second}"' in answer.get_data(as_text=True)  # the answer is at .../{first}/decision
    assert "Approve and apply" not in answer.get_data(as_text=True)  # the page now shows it replaced
    stale = _change(first)
    assert stale.status == "superseded" and stale.decision is None and yt.count("update") == 0

    assert _decide(console, second, "approve").status_code == 303
    again = console.post(f"/console/youtube/{second}/decision",
                         data={"csrf_token": csrf_of(shown), "action": "reject", "change_hash": _change(second).change_hash})
    assert again.status_code == 409
    assert f"This change was already applied by {APPROVER}" in _text(again)
    assert f"What changed: {APPROVER} approved it" in _text(again)
    assert yt.posts[video_id]["snippet"]["title"] == "Better idea" and _change(second).status == "applied"


def test_a_hash_that_is_not_the_changes_is_refused(console, published, yt):
    post, _ = published
    sign_in_locally(console, APPROVER)
    change_id = _change_id(_propose(console, post.id, title="Bound to its hash"))
    answer = _decide(console, change_id, "approve", change_hash="0" * 64)
    assert answer.status_code == 409 and "for a different version of the change" in _text(answer)
    assert _change(change_id).status == "pending_approval" and yt.count("update") == 0
    malformed = _decide(console, change_id, "approve", change_hash="not-a-hash")
    assert malformed.status_code == 400 and "change_hash:" in _text(malformed)


@pytest.mark.parametrize("fields, field, words", [
    ({"title": "<b>Bold</b>"}, "title", "title must not contain < or >"),
    ({"title": "x" * 101}, "title", "at most 100 characters"),
    ({"tags": "ok, bad<tag"}, "tags", "tags must be non-empty and contain no < > or ,"),
    ({"tags": "new", "clear_tags": "yes"}, "tags", "Either type new tags or remove them all"),
    ({"description": "d", "clear_description": "yes"}, "description", "Either type a new description or clear it"),
    ({"privacy": "secret"}, "privacy", "Input should be 'private', 'unlisted' or 'public'"),
    ({"title": "Cold all day"}, "title", "nothing would change: the video already has these values"),
])
def test_a_refused_proposal_names_its_field_and_keeps_what_was_typed(console, published, yt, fields, field, words):
    post, _ = published
    sign_in_locally(console, EDITOR)
    answer = _propose(console, post.id, **fields)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422, _text(answer)[:1500]
    problem = re.search(rf'<p class="field-problem" id="{field}-problem">([^<]*)</p>', html)
    assert problem and words in htmllib.unescape(problem.group(1)), html[-3000:]
    assert 'aria-invalid="true"' in html and f'href="#{field}"' in html
    typed = fields.get(field)
    if field in ("title", "tags") and typed:
        assert f'value="{htmllib.escape(typed)}"' in html  # kept for correcting
    assert _changes_count() == 0


def test_an_empty_proposal_and_an_unknown_post_are_refused(console, published, yt):
    post, _ = published
    sign_in_locally(console, EDITOR)
    empty = _propose(console, post.id)
    assert empty.status_code == 422 and "give at least one of title, description, tags, privacy" in _text(empty)
    unknown = _propose(console, "no-such-post", title="Anything")
    assert unknown.status_code == 404 and "Nothing was proposed: Video : no post 'no-such-post'" in _text(unknown)
    assert re.search(r'<p class="field-problem" id="post_id-problem">no post &#39;no-such-post&#39;</p>',
                     unknown.get_data(as_text=True))
    assert _changes_count() == 0


def test_every_post_needs_the_csrf_token(console, published, yt):
    post, _ = published
    sign_in_locally(console, APPROVER)
    answer = console.post("/console/youtube/new", data={"post_id": post.id, "title": "No token"})
    assert answer.status_code == 400 and "Form not accepted" in _text(answer)
    assert _changes_count() == 0
    change_id = _change_id(_propose(console, post.id, title="With a token"))
    refused = console.post(f"/console/youtube/{change_id}/decision",
                           data={"action": "approve", "change_hash": _change(change_id).change_hash})
    assert refused.status_code == 400 and "Form not accepted" in _text(refused)
    assert _change(change_id).status == "pending_approval" and yt.count("update") == 0


def test_unknown_changes_and_filters_are_refused_by_name(console, env):
    sign_in_locally(console, EDITOR)
    missing = console.get("/console/youtube/ytm-0123456789abcdef0123")
    assert missing.status_code == 404 and "There is no metadata change 'ytm-0123456789abcdef0123'" in _text(missing)
    assert console.get("/console/youtube/..%2e").status_code == 404
    bad = console.get("/console/youtube?status=lost")
    assert bad.status_code == 400 and "status: Input should be" in _text(bad)
