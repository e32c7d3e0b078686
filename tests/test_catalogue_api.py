"""The catalogue through the API (/youtube/catalogue/...), on the emulators and the YouTube sandbox: text
search, every filter and sort, skip/limit with the total, a video with its report row, the channels,
refusals naming the field, and the live stream naming the videos a refresh changed."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests import catalogue_support as support
from tests.catalogue_support import ACCESS, CHANNEL, START, counting_reads, later, refresh
from tests.conftest import bearer

catalogue_sandbox, channel = support.catalogue_sandbox, support.channel
DAY = 86400.0


@pytest.fixture
def four(channel):
    """Four videos of known metadata, refreshed, with report rows for two; their ids by letter."""
    from shared import services
    from shared.reports.loader import load_rows
    from shared.runtime.config import get_config

    add = channel.add_catalogue_video
    ids = {
        "a": add(ACCESS, title="Spring launch teaser", tags=["launch", "spring"], description="Café opening day",
                 category_id="22", privacy="public", age_seconds=10 * DAY, duration_seconds=45),
        "b": add(ACCESS, title="Behind the scenes", tags=["studio"], description="How we launched it",
                 category_id="24", privacy="unlisted", age_seconds=20 * DAY),
        "c": add(ACCESS, title="Relaunch recap", category_id="22", privacy="private", age_seconds=30 * DAY),
        "d": add(ACCESS, title="Launches of the year", category_id="10", privacy="public", age_seconds=40 * DAY),
    }
    rows = [{"report_file": "gs://r/incoming/cms.csv", "line": n, "video_id": ids[k], "title": None, "channel": None,
             "privacy": None, "claimed_status": status, "policy": policy, "published_at": None,
             "duration_seconds": 1, "views": 5, "loaded_at": later(-1)}
            for n, (k, status, policy) in enumerate([("a", "Claimed", "Monetize"), ("b", "Unclaimed", "Track")], 2)]
    load_rows(services.bigquery(), get_config().project, "youtube_report_rows", rows, f"catalogue-api-{uuid.uuid4().hex}")
    assert refresh().outcome == "done"
    return ids


def _list(api, env, **params):
    answer = api.get("/youtube/catalogue/videos", query_string=params, headers=bearer(env))
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    return body


def _letters(ids: dict, body: dict) -> list[str]:
    by_id = {v: k for k, v in ids.items()}
    return [by_id[item["video_id"]] for item in body["items"]]


def test_text_search_finds_every_word_at_a_word_start(api, env, four):
    assert sorted(_letters(four, _list(api, env, q="launch"))) == ["a", "b", "d"]  # not "Relaunch"
    assert _letters(four, _list(api, env, q="CAFE")) == ["a"]  # case and accents folded, description searched
    assert _letters(four, _list(api, env, q="teaser spring")) == ["a"]  # every word, tags included
    assert _letters(four, _list(api, env, q="studio")) == ["b"]  # a tag
    assert _list(api, env, q="nothing-like-this")["total"] == 0


def test_each_filter_keeps_only_what_it_names(api, env, four):
    assert sorted(_letters(four, _list(api, env, category_id="22"))) == ["a", "c"]
    assert _letters(four, _list(api, env, privacy="unlisted")) == ["b"]
    assert _letters(four, _list(api, env, claimed_status="claimed")) == ["a"]
    assert _letters(four, _list(api, env, claimed_status="unclaimed")) == ["b"]
    assert sorted(_letters(four, _list(api, env, claimed_status="none"))) == ["c", "d"]
    assert _letters(four, _list(api, env, channel_id=CHANNEL))
    assert _list(api, env, channel_id="UC" + "x" * 22)["total"] == 0
    now = datetime.fromtimestamp(START.timestamp(), UTC)
    window = {"published_from": (now - timedelta(days=35)).isoformat(), "published_to": (now - timedelta(days=15)).isoformat()}
    assert sorted(_letters(four, _list(api, env, **window))) == ["b", "c"]
    assert _letters(four, _list(api, env, q="launch", privacy="public", category_id="10")) == ["d"]


def test_sorts_by_published_updated_and_views_both_ways(api, env, four, channel):
    assert _letters(four, _list(api, env)) == ["a", "b", "c", "d"]  # published, newest first by default
    assert _letters(four, _list(api, env, sort="published", order="asc")) == ["d", "c", "b", "a"]
    views = [item["views"] for item in _list(api, env, sort="views")["items"]]
    assert views == sorted(views, reverse=True) and len(set(views)) == 4
    assert [i["views"] for i in _list(api, env, sort="views", order="asc")["items"]] == sorted(views)
    channel.edit_video(four["c"], snippet={"title": "Relaunch recap, edited", "categoryId": "22"})
    refresh(now=later(5))
    assert _letters(four, _list(api, env, sort="updated"))[0] == "c"
    assert _letters(four, _list(api, env, sort="updated", order="asc"))[-1] == "c"


def test_skip_and_limit_page_with_the_total(api, env, four):
    page = _list(api, env, skip=1, limit=2)
    assert (page["total"], page["skip"], page["limit"]) == (4, 1, 2)
    assert _letters(four, page) == ["b", "c"]
    assert _list(api, env, skip=4)["items"] == [] and _list(api, env, skip=4)["total"] == 4


def test_removed_videos_are_listed_only_when_asked_for(api, env, four, channel):
    channel.delete_video(four["b"])
    refresh(now=later(5))
    assert "b" not in _letters(four, _list(api, env))
    gone = _list(api, env, removed="true")
    assert _letters(four, gone) == ["b"] and gone["items"][0]["removed"] is True


@pytest.mark.parametrize("params, field", [
    ({"privacy": "secret"}, "privacy"),
    ({"claimed_status": "maybe"}, "claimed_status"),
    ({"sort": "likes"}, "sort"),
    ({"order": "up"}, "order"),
    ({"published_from": "last week"}, "published_from"),
    ({"published_from": "2026-11-02T00:00:00Z", "published_to": "2026-11-01T00:00:00Z"}, "published_to"),
    ({"published_to": "1"}, "published_to"),  # a number is no date-time text
    ({"channel_id": "not-a-channel"}, "channel_id"),
    ({"category_id": "music"}, "category_id"),
    ({"limit": "500"}, "limit"),
    ({"skip": "-1"}, "skip"),
    ({"q": "x" * 201}, "q"),
    ({"colour": "red"}, "colour"),
])
def test_a_bad_filter_is_refused_naming_its_field(api, env, params, field):
    answer = api.get("/youtube/catalogue/videos", query_string=params, headers=bearer(env))
    assert answer.status_code == 400, answer.get_json()
    assert answer.get_json()["field"] == field


def test_a_video_with_its_report_row_and_the_channel(api, env, four):
    answer = api.get(f"/youtube/catalogue/videos/{four['a']}", headers=bearer(env))
    assert answer.status_code == 200
    video = answer.get_json()
    assert video["snippet"]["title"] == "Spring launch teaser" and video["snippet"]["tags"] == ["launch", "spring"]
    assert video["contentDetails"]["duration"] == "PT45S" and video["duration_seconds"] == 45
    assert video["status"]["privacyStatus"] == "public" and int(video["statistics"]["viewCount"]) == video["views"]
    assert video["claimed_status"] == "claimed" and video["policy"] == "Monetize"
    assert video["report"]["report_file"] == "gs://r/incoming/cms.csv" and video["report"]["line"] == 2
    assert api.get("/youtube/catalogue/videos/AAAAAAAAAAA", headers=bearer(env)).status_code == 404
    assert api.get("/youtube/catalogue/videos/bad", headers=bearer(env)).get_json()["field"] == "video_id"
    channel_answer = api.get(f"/youtube/catalogue/channels/{CHANNEL}", headers=bearer(env)).get_json()
    assert channel_answer["title"] == "Brand TV" and channel_answer["video_count"] == 4
    assert channel_answer["uploads_playlist_id"] == "UU" + CHANNEL[2:] and channel_answer["refreshing"] is False
    assert channel_answer["last_refresh"]["outcome"] == "done"
    assert channel_answer["channel"]["contentDetails"]["relatedPlaylists"]["uploads"] == "UU" + CHANNEL[2:]
    listed = api.get("/youtube/catalogue/channels", headers=bearer(env)).get_json()["items"]
    assert [c["channel_id"] for c in listed] == [CHANNEL]
    assert api.get(f"/youtube/catalogue/channels/UC{'y' * 22}", headers=bearer(env)).status_code == 404


def test_a_list_reads_the_channel_document_and_nothing_more_once_its_snapshot_is_taken(api, env, four):
    from shared import services
    from shared.catalogue import service
    from shared.catalogue.search import CatalogueFilter

    repo = services.repository()
    service.list_videos(repo, CatalogueFilter(), skip=0, limit=2)  # the instance takes its snapshot
    with counting_reads(repo.db) as meter:
        page = service.list_videos(repo, CatalogueFilter(q="launch", sort="views"), skip=1, limit=2)
    assert page.total == 3 and meter.reads == 1  # the channel document (its version)


def test_the_live_stream_names_the_videos_a_refresh_changes(env, four, channel):
    import shared.api.app as api_app
    from tests.browser import serve_function
    from tests.test_api_events import StreamReader

    api_app._app = None
    with serve_function("functions/api/main.py", "api") as served:
        reader = StreamReader(f"{served.url}/youtube/catalogue/events?channel_id={CHANNEL}", bearer(env))
        reader.start()
        reader.wait_for(lambda m: "comment" in m and "catalogue changes" in m["comment"])
        time.sleep(0.5)  # the listener's first (empty) snapshot
        channel.edit_video(four["d"], snippet={"title": "Launches of the year, edited", "categoryId": "10"})
        refreshed_at = time.monotonic()
        assert refresh(now=datetime.now(UTC) + timedelta(seconds=5)).videos_written == 1
        changed = reader.wait_for(lambda m: m.get("event") == "videos")
    assert changed["t"] > refreshed_at
    assert changed["data"] == {"channel_id": CHANNEL, "count": 1, "video_ids": [four["d"]]}


def test_streams_on_one_channel_share_one_listener_and_a_late_one_sees_only_what_changed_after_it_opened(
        env, four, channel):
    """Fifty pages on one channel are one Firestore listener in the instance, not fifty: both streams see a
    later refresh's change, the one that joined late is told nothing from before it opened (not the
    listener's earlier batch, nor a video of a batch whose change is older than the stream), and the
    listener stays while a stream is open and goes with the last."""
    import json

    from shared import services
    from shared.stores.catalogue_feed import catalogue_events, catalogue_feeds_for
    from tests.test_api_events import listener_threads, wait_until

    def videos_event(stream) -> dict:
        message = next(m for m in stream if m.startswith("event: videos\n"))
        return json.loads(message.split("data: ", 1)[1])

    repo = services.repository()
    baseline = listener_threads()
    first = catalogue_events(repo, CHANNEL, stream_seconds=60)
    assert next(first).startswith(": catalogue changes")
    time.sleep(0.5)  # the listener's first (empty) snapshot
    channel.edit_video(four["d"], snippet={"title": "Launches of the year, edited", "categoryId": "10"})
    assert refresh(now=datetime.now(UTC) + timedelta(seconds=5)).videos_written == 1
    assert videos_event(first)["video_ids"] == [four["d"]]
    before_second = datetime.now(UTC)

    second = catalogue_events(repo, CHANNEL, stream_seconds=60)
    assert next(second).startswith(": catalogue changes")
    assert listener_threads() == baseline + 1  # the old code: one listener per stream
    assert catalogue_feeds_for(repo.db).listeners == 1

    # A change the shared listener reports after the second stream opened but made before it: the first
    # stream's own query would have matched it, the second's not.
    repo.db.collection("catalogue_videos").document(four["c"]).update({"changed_at": before_second})
    assert videos_event(first)["video_ids"] == [four["c"]]
    channel.edit_video(four["a"], snippet={"title": "Spring launch teaser, edited", "categoryId": "22"})
    assert refresh(now=datetime.now(UTC) + timedelta(seconds=10)).videos_written == 1
    assert videos_event(first) == {"channel_id": CHANNEL, "count": 1, "video_ids": [four["a"]]}
    assert videos_event(second) == {"channel_id": CHANNEL, "count": 1, "video_ids": [four["a"]]}

    first.close()
    assert listener_threads() == baseline + 1  # the other stream still listens
    assert catalogue_feeds_for(repo.db).listeners == 1
    second.close()
    assert wait_until(lambda: listener_threads() == baseline)
    assert catalogue_feeds_for(repo.db).listeners == 0


def test_a_stream_opening_on_a_listener_older_than_the_time_limit_starts_a_fresh_one(env, four, channel):
    """A listener gathers every video changed since it started: one older than a stream's time limit takes
    no new stream, and goes with the last of its own."""
    from shared import services
    from shared.stores.catalogue_feed import catalogue_events, catalogue_feeds_for
    from tests.test_api_events import listener_threads, wait_until

    repo = services.repository()
    baseline = listener_threads()
    old = catalogue_events(repo, None, stream_seconds=0.5)
    assert next(old).startswith(": catalogue changes of every channel")
    time.sleep(0.6)  # the stream stays open (and subscribed) until it is read again
    fresh = catalogue_events(repo, None, stream_seconds=0.5)
    assert next(fresh).startswith(": catalogue changes of every channel")
    assert listener_threads() == baseline + 2 and catalogue_feeds_for(repo.db).listeners == 2
    assert list(old)[-1] == 'event: end\ndata: {"channel_id":null,"reason":"time limit"}\n\n'
    assert wait_until(lambda: listener_threads() == baseline + 1)
    assert catalogue_feeds_for(repo.db).listeners == 1
    fresh.close()
    assert wait_until(lambda: listener_threads() == baseline)


def test_an_editor_asks_for_a_refresh_and_the_function_takes_it(api, env, channel):
    from tests.conftest import drain_messages, function_client, pubsub_envelope

    ids = channel.add_catalogue_videos(ACCESS, 12)
    drain_messages("catalogue-refresh")
    answer = api.post(f"/youtube/catalogue/channels/{CHANNEL}/refresh", headers=bearer(env))
    assert answer.status_code == 202, answer.get_json()
    assert answer.get_json() == {"channel_id": CHANNEL, "account_id": "yt-catalogue", "requested_by": "editor@example.com"}
    [tick] = drain_messages("catalogue-refresh")
    assert tick == {"accounts": ["yt-catalogue"], "requested": True}
    delivered = function_client("functions/catalogue/main.py", "refresh_catalogue").post("/", json=pubsub_envelope(tick))
    assert delivered.status_code == 200
    assert _list(api, env, channel_id=CHANNEL)["total"] == len(ids)
    missing = api.post(f"/youtube/catalogue/channels/UC{'z' * 22}/refresh", headers=bearer(env))
    assert missing.status_code == 404 and drain_messages("catalogue-refresh") == []
