"""Changes from the console's catalogue through the Flask test client, on the emulators and the YouTube
sandbox: a catalogue video's "Propose a change" form (prefilled, only the changed fields sent, refusals
next to the field they name), the bulk form under a search (how many videos it selects, the search's
filters a selection cannot take), a bulk change's page with its progress figures from a real bulk change,
an approver's decision in place bound to the bulk hash shown, roles and CSRF on every POST."""

from __future__ import annotations

import html as htmllib
import re
from urllib.parse import urljoin

import pytest

from tests import catalogue_support as support
from tests import test_catalogue_api as api_tests
from tests.catalogue_support import CHANNEL
from tests.conftest import drain_messages
from tests.console_support import APPROVER, EDITOR, api_client, csrf_of, set_up_console, sign_in_locally

catalogue_sandbox, channel, four = support.catalogue_sandbox, support.channel, api_tests.four


@pytest.fixture
def console(env, monkeypatch):
    set_up_console(monkeypatch)
    client = api_client()
    yield client
    monkeypatch.undo()


def _text(answer) -> str:
    body = re.sub(r"<[^>]+>", " ", answer.get_data(as_text=True))
    return " ".join(htmllib.unescape(body).split())


def _target(answer) -> str:
    assert answer.status_code == 303, _text(answer)[:2000]
    return urljoin(answer.request.path, answer.headers["Location"])


def _form_values(html: str) -> dict[str, str]:
    """The proposal form's fields as the browser would send them unchanged."""
    form = html[html.index('action="changes"') if 'action="changes"' in html else html.index("/changes"):]
    values = {m.group(1): htmllib.unescape(m.group(2))
              for m in re.finditer(r'<input id="[^"]+" name="([a-z_]+)" type="text"[^>]*value="([^"]*)"', form)}
    values["description"] = htmllib.unescape(re.search(r'name="description"[^>]*>([^<]*)</textarea>', form).group(1))
    for select in re.finditer(r'<select id="[^"]+" name="([a-z_]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', select.group(2))
        first = re.search(r'<option value="([^"]*)"', select.group(2))
        values[select.group(1)] = (chosen or first).group(1)
    values["csrf_token"] = csrf_of(html)
    return values


def _propose(console, video_id: str, **changed):
    page = console.get(f"/console/catalogue/videos/{video_id}")
    assert page.status_code == 200, _text(page)[:2000]
    return console.post(f"/console/catalogue/videos/{video_id}/changes",
                        data={**_form_values(page.get_data(as_text=True)), **changed})


def _changes(video_id: str):
    from shared import services
    from shared.youtube_sync.service import list_changes

    return list_changes(services.repository(), video_id=video_id)[0]


def _bulks():
    from shared import services
    from shared.youtube_sync.bulk import list_bulks

    return list_bulks(services.repository())[0]


def _ask_bulk(console, search: dict, **form):
    page = console.get("/console/catalogue", query_string=search)
    assert page.status_code == 200, _text(page)[:2000]
    return console.post("/console/catalogue/bulk", data={"csrf_token": csrf_of(page.get_data(as_text=True)),
                                                          **search, **form})


# ---- one video ----------------------------------------------------------------------------------


def test_the_pages_and_posts_need_a_session(console, four):
    for path in (f"/console/catalogue/videos/{four['a']}", "/console/catalogue/bulk/ytmb-0123456789abcdef0123"):
        answer = console.get(path)
        assert answer.status_code == 303 and "sign-in?next=" in answer.headers["Location"]
    assert console.post(f"/console/catalogue/videos/{four['a']}/changes", data={"title": "x"}).status_code in (303, 400)
    assert _changes(four["a"]) == []


def test_the_form_shows_the_videos_values_and_sends_only_what_changed(console, four, channel):
    sign_in_locally(console, EDITOR)
    page = console.get(f"/console/catalogue/videos/{four['a']}")
    html = page.get_data(as_text=True)
    assert html.count('id="propose-heading"') == 1 and html.index('id="propose"') > html.index("<main")
    shown = _form_values(html)
    assert shown["title"] == "Spring launch teaser" and shown["tags"] == "launch, spring"
    assert shown["privacy"] == "public" and shown["category_id"] == "22" and shown["embeddable"] == "yes"
    assert shown["description"] == "Café opening day" and shown["contains_synthetic_media"] == "no"
    assert "No change was asked for this video so far." in _text(page)
    drain_messages()

    answer = _propose(console, four["a"], title="Spring launch teaser (final)", embeddable="no", tags="launch,spring")
    target = _target(answer)
    assert re.fullmatch(r"/console/youtube/ytm-[0-9a-f]{20}", target), target
    [change] = _changes(four["a"])
    assert change.proposed.given() == {"title": "Spring launch teaser (final)", "embeddable": False}  # tags: same
    assert change.before.title == "Spring launch teaser" and change.before.embeddable is True
    assert change.status == "pending_approval" and change.requested_by == EDITOR and change.post_id is None
    assert [m.get("metadata_change_id") for m in drain_messages()] == [change.id]  # the approvers are asked
    assert channel.count("update") == 0
    shown_change = console.get(target)
    assert "Spring launch teaser (final)" in _text(shown_change) and "catalogue video" in _text(shown_change)
    listed = _text(console.get(f"/console/catalogue/videos/{four['a']}"))
    assert "Title, Embeddable Waiting for a decision" in listed


@pytest.mark.parametrize("changed, field, words", [
    ({"title": ""}, "title", "at least 1 character"),
    ({"tags": "launch, <b>"}, "tags", "no < > or ,"),
    ({"category_id": "18"}, "category_id", "Input should be"),
    ({"embeddable": "maybe"}, "embeddable", "valid boolean"),
    ({"description": "a <script>"}, "description", "must not contain < or >"),
])
def test_a_refused_proposal_names_its_field(console, four, channel, changed, field, words):
    sign_in_locally(console, EDITOR)
    answer = _propose(console, four["b"], **changed)
    assert answer.status_code == 422, _text(answer)[:1500]
    html = answer.get_data(as_text=True)
    assert f'id="{field}-problem"' in html and words in _text(answer), _text(answer)[:1500]
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', html), f"{field} is not marked invalid"
    assert "Nothing was proposed" in _text(answer) and _changes(four["b"]) == []


def test_nothing_changed_and_what_youtube_holds_are_refused(console, four, channel):
    sign_in_locally(console, EDITOR)
    same = _propose(console, four["b"])
    assert same.status_code == 422 and "every field still has the video's current value" in _text(same)
    # the catalogue is behind YouTube: the service compares with what YouTube holds and names the field
    channel.edit_video(four["b"], snippet={"title": "Renamed in Studio"})
    behind = _propose(console, four["b"], title="Renamed in Studio")
    assert behind.status_code == 422 and 'id="title-problem"' in behind.get_data(as_text=True)
    assert "nothing would change" in _text(behind) and _changes(four["b"]) == []


def test_the_proposal_needs_the_csrf_token_and_an_approver_may_propose(console, four, channel):
    sign_in_locally(console, APPROVER)
    refused = console.post(f"/console/catalogue/videos/{four['c']}/changes", data={"title": "No token"})
    assert refused.status_code == 400 and "Form not accepted" in _text(refused) and _changes(four["c"]) == []
    assert _target(_propose(console, four["c"], privacy="unlisted")).startswith("/console/youtube/ytm-")
    assert console.post("/console/catalogue/videos/AAAAAAAAAAA/changes",
                        data={"csrf_token": csrf_of(console.get("/console/catalogue").get_data(as_text=True)),
                              "title": "x"}).status_code == 404


# ---- bulk ---------------------------------------------------------------------------------------


def test_the_bulk_form_says_how_many_videos_its_search_selects(console, four):
    sign_in_locally(console, EDITOR)
    assert "This search selects 4 videos" in _text(console.get("/console/catalogue", query_string={"channel_id": CHANNEL}))
    assert "This search selects 3 videos" in _text(console.get("/console/catalogue", query_string={"q": "launch"}))
    assert "Narrow the search first" in _text(console.get("/console/catalogue"))
    other = _text(console.get("/console/catalogue", query_string={"q": "launch", "claimed_status": "claimed"}))
    assert "Clear the claimed status filter" in other and "This search selects" not in other


def test_a_bulk_change_asked_approved_in_place_and_applied_shows_its_progress(console, four, channel):
    sign_in_locally(console, EDITOR)
    drain_messages()
    target = _target(_ask_bulk(console, {"q": "launch"}, op="add_tag", tag="summer sale"))
    assert re.fullmatch(r"/console/catalogue/bulk/ytmb-[0-9a-f]{20}", target), target
    [bulk] = _bulks()
    assert bulk.count == 3 and bulk.operation == {"add_tag": "summer sale"} and bulk.selection == {"q": "launch"}
    assert [m.get("metadata_bulk_id") for m in drain_messages()] == [bulk.id]
    page = console.get(target)
    text = _text(page)
    assert "Bulk change of 3 videos" in text and "Waiting for a decision" in text
    assert "Applied 0 Conflict 0 Failed 0 Rejected 0 Remaining 3" in text
    assert "launch, spring → launch, spring, summer sale" in text and "Approve and apply" not in text  # an editor
    editor_try = console.post(f"{target}/decision", data={"csrf_token": csrf_of(page.get_data(as_text=True)),
                                                          "action": "approve", "bulk_hash": bulk.bulk_hash})
    assert editor_try.status_code == 403 and _bulks()[0].status == "pending_approval"

    approver = api_client()
    sign_in_locally(approver, APPROVER)
    shown = approver.get(target).get_data(as_text=True)
    shown_hash = re.search(r'name="bulk_hash" value="([0-9a-f]{64})"', shown).group(1)
    assert shown_hash == bulk.bulk_hash
    no_token = approver.post(f"{target}/decision", data={"action": "approve", "bulk_hash": shown_hash})
    assert no_token.status_code == 400 and _bulks()[0].status == "pending_approval"
    wrong = approver.post(f"{target}/decision", data={"csrf_token": csrf_of(shown), "action": "approve",
                                                     "bulk_hash": "0" * 64})
    assert wrong.status_code == 409 and "different version of the bulk change" in _text(wrong)
    assert "Nothing was recorded" in _text(wrong) and _bulks()[0].decided_by is None
    decided = approver.post(f"{target}/decision", data={"csrf_token": csrf_of(shown), "action": "approve",
                                                       "bulk_hash": shown_hash})
    assert _target(decided) == f"{target}?decided=approve"
    done = _text(approver.get(_target(decided)))
    assert "Your decision is recorded: approved" in done and "Done" in done
    assert "Applied 3 Conflict 0 Failed 0 Rejected 0 Remaining 0" in done
    assert sorted(len(channel.posts[v]["updates"]) for v in (four["a"], four["b"], four["d"])) == [1, 1, 1]
    progress = approver.get(f"{target}/progress").get_json()
    assert progress["status"] == "done" and progress["final"] is True
    assert progress["progress"] == {"applied": 3, "conflict": 0, "failed": 0, "rejected": 0, "remaining": 0}
    again = approver.post(f"{target}/decision", data={"csrf_token": csrf_of(shown), "action": "reject",
                                                     "bulk_hash": shown_hash})
    assert again.status_code == 409 and f"already done by {APPROVER}" in _text(again)


@pytest.mark.parametrize("form, field, words, status", [
    ({"op": "add_tag", "tag": "a<b"}, "tag", "no < > or ,", 422),
    ({"op": "flag", "flag": "embeddable", "flag_value": "perhaps"}, "flag_value", "valid boolean", 422),
    ({"op": "remove_tag", "tag": "not-there"}, "op", "nothing would change", 422),
    ({"op": ""}, "op", "exactly one of", 422),
])
def test_a_refused_bulk_request_names_its_field(console, four, form, field, words, status):
    sign_in_locally(console, EDITOR)
    answer = _ask_bulk(console, {"channel_id": CHANNEL}, **form)
    assert answer.status_code == status, _text(answer)[:1500]
    html = answer.get_data(as_text=True)
    assert f'id="bulk-{field}-problem"' in html and words in _text(answer), _text(answer)[:1500]
    assert "This search selects 4 videos" in _text(answer) and _bulks() == []


def test_a_bulk_request_needs_the_csrf_token_and_a_search(console, four):
    sign_in_locally(console, EDITOR)
    refused = console.post("/console/catalogue/bulk", data={"channel_id": CHANNEL, "op": "add_tag", "tag": "x"})
    assert refused.status_code == 400 and _bulks() == []
    nothing = _ask_bulk(console, {}, op="add_tag", tag="x")
    assert nothing.status_code == 422 and 'id="bulk-videos-problem"' in nothing.get_data(as_text=True)
    assert console.get("/console/catalogue/bulk/ytmb-0123456789abcdef0123").status_code == 404
    assert console.get("/console/catalogue/bulk/nope/progress").status_code == 404
