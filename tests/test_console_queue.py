"""The console's approval queue (Flask test client on the api function, the emulators behind it): what
waits, oldest first with its age, by campaign and account, shown as the review page shows it; approving
and rejecting in place through the same decision transaction as a link, bound to the version shown;
who may decide, the CSRF token, a stale page, a rejection without a reason."""

from __future__ import annotations

import html as htmlib
import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import ACCOUNT, brief, register_account, snapshot_state, upload_video
from tests.console_support import APPROVER, EDITOR, api_client, csrf_of, set_up_console, sign_in_locally

PUBLISH_AT = datetime(2031, 6, 2, 14, 30, tzinfo=UTC)


@pytest.fixture
def console(env, monkeypatch):
    set_up_console(monkeypatch)
    yield api_client()
    monkeypatch.undo()


def _html(answer) -> str:
    return answer.get_data(as_text=True)


def _generate(**overrides):
    from shared import entrypoints

    return entrypoints.generate(brief(upload_video(), **overrides))


def _created(content, ago: timedelta) -> None:
    """Make an item (and its posts) look created `ago` before now."""
    from shared import services

    repo = services.repository()
    at = datetime.now(UTC) - ago
    repo.content_ref(content.id).update({"created_at": at})
    for post in repo.posts_for_content(content.id):
        repo.post_ref(post.id).update({"created_at": at})


def _text(fragment: str) -> str:
    """What a person reads: tags dropped, entities decoded, whitespace collapsed."""
    return " ".join(htmlib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _status(page: str) -> str:
    """The text of the page's status messages (what a decision answered)."""
    region = page.split('id="queue-status"', 1)[1].split(">", 1)[1]
    return _text(region.split('<p class="summary"', 1)[0])


def _listed(page: str) -> list[str]:
    return re.findall(r'<li class="queue-item[^"]*" id="item-([^"]+)"', page)


def _item(page: str, content_id: str) -> str:
    return htmlib.unescape(re.search(rf'<li class="queue-item[^"]*" id="item-{content_id}">.*?</li>\n', page, re.S).group(0))


def _form(page: str, content_id: str, action: str) -> dict:
    """The hidden fields of an item's approve or reject form, as the browser would send them."""
    item = re.search(rf'id="item-{content_id}">.*?</li>', page, re.S).group(0)
    for form in re.findall(r"<form class=\"decision[^\"]*\".*?</form>", item, re.S):
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form))
        if fields.get("action") == action:
            return {k: htmlib.unescape(v) for k, v in fields.items()}
    raise AssertionError(f"no {action} form for {content_id}")


def _signed_in(console, user: str = APPROVER, path: str = "/console/queue") -> str:
    sign_in_locally(console, user)
    answer = console.get(path)
    assert answer.status_code == 200, _html(answer)[:2000]
    return _html(answer)


# --- what the queue shows ----------------------------------------------------------------------------

def test_waiting_items_are_listed_oldest_first_with_their_age(console, env):
    from tests.conftest import approve

    newest, oldest, middle = (_generate(topic=f"Launch post number {n} for the bottle") for n in (1, 2, 3))
    _created(oldest, timedelta(days=2, hours=1))
    _created(middle, timedelta(hours=3, minutes=5))
    _created(newest, timedelta(minutes=5))
    approve(env, _generate(topic="Already decided post for the bottle"))  # not waiting any more
    page = _signed_in(console)
    assert _listed(page) == [oldest.id, middle.id, newest.id]
    assert "waiting 2 d" in _item(page, oldest.id) and "waiting 3 h" in _item(page, middle.id)
    assert "waiting 5 min" in _item(page, newest.id)
    assert "3 items waiting for approval, oldest first." in page


def test_each_item_shows_the_review_pages_cards_media_and_schedule_in_the_users_zone(console):
    content = _generate(publish_at=PUBLISH_AT.isoformat())
    page = _signed_in(console, path="/console/queue?tz=America/New_York")
    item = _item(page, content.id)
    [card] = re.findall(r'<section class="target" data-platform="(\w+)" data-account="([^"]+)">', item)
    assert card == ("tiktok", ACCOUNT) and "TikTok · @brand_main" in item
    assert re.search(r"Who can watch</dt><dd>Everyone", item) and "AI-generated media" in item
    assert content.caption.splitlines()[0] in item
    assert "Mon 02 Jun 2031, 10:30 America/New_York (Mon 02 Jun 14:30 UTC)" in item
    assert "Campaign Launch · requested by marketing@example.com · version 1" in _text(item)
    # The media: the exact generation under review, signed only when the browser asks for it.
    [source] = re.findall(r'<video class="media-preview" controls preload="none" playsinline src="([^"]+)"', item)
    assert source == f"queue/media/{content.id}/0"
    redirect = console.get("/console/" + source)
    assert redirect.status_code == 302 and redirect.headers["Cache-Control"].startswith("private")
    target = redirect.headers["Location"]
    assert "X-Goog-Signature=" in target and f"generation={content.media[0].generation}" in target
    import requests

    assert len(requests.get(target, timeout=10).content) == content.media[0].size
    assert console.get(f"/console/queue/media/{content.id}/5").status_code == 404


def test_the_queue_filters_by_campaign_and_by_account(console):
    register_account("x-main", "x", {"access_token": "a"}, handle="brand_x")
    launch = _generate()
    summer = _generate(campaign="Summer")
    on_x = _generate(campaign="Summer", targets=[{"account_id": "x-main"}])
    both = _generate(targets=[{"account_id": ACCOUNT, "privacy_level": "PUBLIC_TO_EVERYONE"}, {"account_id": "x-main"}])
    sign_in_locally(console)

    def listed(query: str) -> tuple[list[str], str]:
        page = _html(console.get("/console/queue" + query))
        return _listed(page), page

    assert listed("")[0] == [launch.id, summer.id, on_x.id, both.id]
    ids, page = listed("?campaign=Summer")
    assert ids == [summer.id, on_x.id] and "2 items waiting for approval in this selection" in page
    assert '<option value="Summer" selected>' in page
    ids, page = listed("?account=x-main")
    assert ids == [on_x.id, both.id] and '<option value="x-main" selected>X · @brand_x</option>' in page
    assert listed("?campaign=Summer&account=x-main")[0] == [on_x.id]
    assert listed(f"?campaign=Launch&account={ACCOUNT}")[0] == [launch.id, both.id]
    ids, page = listed("?campaign=Nothing")
    assert ids == [] and "Nothing is waiting for approval in this selection." in page


def test_at_most_the_cap_is_shown_and_the_rest_are_counted(console, monkeypatch):
    from shared.console.pages import queue

    monkeypatch.setattr(queue, "SHOWN", 2)
    items = [_generate(topic=f"Capped post number {n} for the bottle") for n in range(3)]
    page = _signed_in(console)
    assert _listed(page) == [items[0].id, items[1].id]
    assert "3 items waiting for approval, oldest first. Showing the oldest 2; 1 more wait after them." in page


# --- who may decide ----------------------------------------------------------------------------------

def test_an_editor_reads_the_queue_without_decision_controls_and_cannot_decide(console):
    content = _generate()
    approver_page = _signed_in(console)
    form = {**_form(approver_page, content.id, "approve"), "csrf_token": csrf_of(approver_page)}
    editor = api_client()
    page = _signed_in(editor, EDITOR)
    assert _listed(page) == [content.id]
    assert 'name="content_hash"' not in page and "Approve and publish" not in page
    assert "You can read the queue; approvers decide." in page
    before = snapshot_state()
    refused = editor.post("/console/queue", data={**form, "csrf_token": csrf_of(page)})
    assert refused.status_code == 403 and "approver" in _html(refused)
    assert snapshot_state() == before


def test_a_decision_without_the_csrf_token_is_refused_and_records_nothing(console):
    content = _generate()
    page = _signed_in(console)
    form = _form(page, content.id, "approve")
    before = snapshot_state()
    answer = console.post("/console/queue", data={k: v for k, v in form.items() if k != "csrf_token"})
    assert answer.status_code == 400 and "CSRF" in _html(answer)
    json_answer = console.post("/console/queue", json=form)  # a script without the X-CSRFToken header
    assert json_answer.status_code == 400
    assert snapshot_state() == before


# --- deciding ----------------------------------------------------------------------------------------

def test_approving_with_the_form_records_it_as_the_api_does_and_comes_back_to_the_queue(console):
    from shared import services

    content = _generate(publish_at=PUBLISH_AT.isoformat())
    page = _signed_in(console)
    answer = console.post("/console/queue", data=_form(page, content.id, "approve"))
    assert answer.status_code == 303 and answer.headers["Location"] == "queue"
    stored = services.repository().get_content(content.id)
    assert stored.status == "approved" and stored.approval.decided_by == APPROVER
    assert stored.approval.content_hash == content.content_hash and stored.approval.token_id.startswith("api:")
    assert [p.status for p in services.repository().posts_for_content(content.id)] == ["scheduled"]
    after = _html(console.get("/console/queue"))
    status = _status(after)
    assert "Approved" in status and "0 post(s) are on their way now, 1 scheduled" in status
    assert "TikTok · @brand_main: scheduled for Mon 02 Jun 2031, 14:30 UTC" in status
    assert _listed(after) == [] and 'data-count="0"' in after
    assert _status(_html(console.get("/console/queue"))) == ""  # said once


def test_approving_from_a_script_answers_json_with_the_items_new_html(console):
    from shared import services

    content = _generate()
    page = _signed_in(console)
    form = _form(page, content.id, "approve")
    answer = console.post("/console/queue", json={k: v for k, v in form.items() if k != "csrf_token"},
                          headers={"X-CSRFToken": form["csrf_token"]})
    body = answer.get_json()
    assert answer.status_code == 200, body
    assert body["outcome"] == "approved" and body["waiting"] == 0 and body["summary"] == "Nothing is waiting for approval."
    assert "1 post(s) are on their way now" in body["message"]
    assert f'id="item-{content.id}"' in body["item_html"] and "Approved" in body["item_html"]
    assert 'name="content_hash"' not in body["item_html"]
    [post] = services.repository().posts_for_content(content.id)
    assert post.status == "queued" and post.approved_by == APPROVER


def test_rejecting_needs_a_reason_and_then_records_it(console):
    from shared import services

    content = _generate()
    page = _signed_in(console)
    form = _form(page, content.id, "reject")
    before = snapshot_state()
    as_form = console.post("/console/queue", data={**form, "reason": "   "})
    assert as_form.status_code == 422
    item = _item(_html(as_form), content.id)
    assert 'aria-invalid="true"' in item and "A rejection needs a reason" in item
    as_json = console.post("/console/queue", json={k: v for k, v in form.items() if k != "csrf_token"},
                           headers={"X-CSRFToken": form["csrf_token"]})
    assert as_json.status_code == 422 and as_json.get_json()["field"] == "reason"
    assert snapshot_state() == before
    done = console.post("/console/queue", data={**form, "reason": "Wrong bottle colour; use the blue one."})
    assert done.status_code == 303
    stored = services.repository().get_content(content.id)
    assert stored.status == "rejected" and stored.approval.reason == "Wrong bottle colour; use the blue one."
    assert [p.status for p in services.repository().posts_for_content(content.id)] == ["rejected"]
    assert "Reason recorded for marketing@example.com: Wrong bottle colour" in _status(_html(console.get("/console/queue")))


def test_a_malformed_hidden_field_is_refused_naming_it(console):
    content = _generate()
    page = _signed_in(console)
    form = _form(page, content.id, "approve")
    before = snapshot_state()
    answer = console.post("/console/queue", data={**form, "content_hash": "not-a-hash"})
    assert answer.status_code == 422 and "content_hash" in _html(answer)
    answer = console.post("/console/queue", data={**form, "action": "publish"})
    assert answer.status_code == 422 and "action" in _html(answer)
    assert snapshot_state() == before


def test_a_stale_page_is_refused_naming_what_changed_and_nothing_is_recorded(console):
    from shared import services
    from shared.content.versions import edit_content

    content = _generate()
    page = _signed_in(console)
    form = _form(page, content.id, "approve")
    edited = edit_content(services.repository(), content.id, caption="A new caption: the blue bottle, now cold for 24 h.")
    before = snapshot_state()

    answer = console.post("/console/queue", json={k: v for k, v in form.items() if k != "csrf_token"},
                          headers={"X-CSRFToken": form["csrf_token"]})
    body = answer.get_json()
    assert answer.status_code == 409 and body["outcome"] == "refused", body
    assert "now version 2" in body["message"] and "Nothing was recorded" in body["message"]
    [change] = body["lines"]
    assert re.fullmatch(r"Version 1 → 2 on \d{4}-\d\d-\d\d \d\d:\d\d UTC: caption changed \(content edited\)\.", change)
    fresh = htmlib.unescape(body["item_html"])  # the item as it is now, to decide again
    assert "version 2" in fresh and "the blue bottle" in fresh and edited.content_hash in fresh
    assert snapshot_state() == before

    as_form = console.post("/console/queue", data=form)
    assert as_form.status_code == 303
    assert snapshot_state() == before
    after = _html(console.get("/console/queue"))
    assert "Not recorded: the post changed" in _status(after) and change in _status(after)
    assert _form(after, content.id, "approve")["content_hash"] == edited.content_hash


def test_an_item_decided_meanwhile_is_refused_saying_by_whom(console, env):
    from tests.conftest import approve

    content = _generate()
    page = _signed_in(console)
    form = _form(page, content.id, "reject")
    approve(env, content)  # through the signed link
    before = snapshot_state()
    answer = console.post("/console/queue", json={**{k: v for k, v in form.items() if k != "csrf_token"},
                                                   "reason": "Too late"}, headers={"X-CSRFToken": form["csrf_token"]})
    body = answer.get_json()
    assert answer.status_code == 409 and "already approved by lead@example.com" in body["message"]
    assert 'name="content_hash"' not in body["item_html"]
    assert snapshot_state() == before


# --- reads per request (docs/console.md#reads-per-request-by-design) ------------------------------------

def test_the_queue_reads_what_its_design_says(console):
    """Documents read per page, counted at the Firestore client's RPC layer (as `make bench` counts them;
    count aggregations are not documents and are listed in the docs beside these)."""
    from infra.local.bench import FirestoreMeter
    from shared import services

    register_account("x-main", "x", {"access_token": "a"}, handle="brand_x")
    items = [_generate(topic=f"Counted post number {n} for the bottle") for n in range(3)]
    on_x = _generate(targets=[{"account_id": "x-main"}])
    sign_in_locally(console)
    meter = FirestoreMeter(services.repository().db)
    meter.take()
    assert len(_listed(_html(console.get("/console/queue")))) == 4
    roles, contents, accounts, campaigns = 1, 4, 2, 1  # no campaign document: an empty query bills one read
    assert meter.take()[0] == roles + contents + accounts + campaigns
    assert _listed(_html(console.get("/console/queue?account=x-main"))) == [on_x.id]
    assert meter.take()[0] == roles + 1 + 1 + accounts + campaigns  # the account's posts, then get_all of their items
    assert _listed(_html(console.get("/console/queue?campaign=Launch"))) == [i.id for i in [*items, on_x]]
    assert meter.take()[0] == roles + contents + accounts + campaigns
    assert console.get(f"/console/queue/media/{on_x.id}/0").status_code == 302
    assert meter.take()[0] == roles + 1
