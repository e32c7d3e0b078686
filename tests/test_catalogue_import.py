"""The catalogue import and refresh on the emulators and the YouTube sandbox: every video of the uploads
playlist read at the documented maxima (50 a page, 50 ids a videos.list), each call charged to the
account's quota project, etags sent back so an unchanged channel answers 304 and nothing is written,
a run that dies going on from its checkpoint without duplicates, a deleted video marked removed, and
the CMS report rows joined by video id."""

from __future__ import annotations

import uuid

from tests import catalogue_support as support
from tests.catalogue_support import ACCESS, ACCOUNT, CHANNEL, later, refresh, sandbox_calls, videos

catalogue_sandbox, channel = support.catalogue_sandbox, support.channel


def _usage() -> int:
    from shared import services
    from shared.platforms.youtube.quota import usage

    return usage(services.repository().db, key="brand-project")["general"]


def _channel_doc() -> dict:
    from shared import services
    from shared.stores.catalogue import get_channel

    return get_channel(services.repository(), CHANNEL)


def test_import_reads_every_video_at_the_documented_maxima(channel):
    ids = channel.add_catalogue_videos(ACCESS, 120)
    summary = refresh()
    assert summary.outcome == "done", summary
    stored = videos()
    assert set(stored) == set(ids)
    pages = sandbox_calls(channel, "playlist_items")
    assert [p["max_results"] for p in pages] == ["50", "50", "50"]
    lists = sandbox_calls(channel, "list")
    assert [c["ids"] for c in lists] == [50, 50, 20]  # one videos.list per page, at most 50 ids each
    assert all(c["part"] == "snippet,contentDetails,status,statistics" for c in lists)
    assert dict(summary.calls) == {"channels.list": 1, "playlistItems.list": 3, "videos.list": 3}
    assert summary.units == 7 and _usage() == 7  # counted in the quota model, per quota project
    assert channel.quota_used["general"] == 7  # and the sandbox (YouTube) counted the same
    doc = stored[ids[0]]
    assert set(doc) >= {"snippet", "contentDetails", "status", "statistics", "title", "published_at", "view_count",
                        "privacy", "category_id", "search_text", "etag", "removed", "changed_at"}
    assert doc["snippet"]["title"] == doc["title"] and doc["removed"] is False
    assert doc["contentDetails"]["duration"].startswith("PT")
    assert _channel_doc()["video_count"] == 120 and _channel_doc()["uploads_playlist_id"] == "UU" + CHANNEL[2:]
    assert _channel_doc()["channel"]["statistics"]["videoCount"]


def test_a_refresh_where_nothing_changed_is_answered_304_and_writes_nothing(channel):
    channel.add_catalogue_videos(ACCESS, 75)
    first = refresh()
    version = _channel_doc()["version"]
    before = {vid: doc["changed_at"] for vid, doc in videos().items()}
    mark = len(channel.requests_log)
    second = refresh(now=later(60))
    assert second.outcome == "done"
    assert dict(second.not_modified) == {"channels.list": 1, "playlistItems.list": 2, "videos.list": 2}
    assert second.videos_written == 0 and second.videos_removed == 0
    assert {vid: doc["changed_at"] for vid, doc in videos().items()} == before
    assert _channel_doc()["version"] == version  # searches keep their snapshot
    sent = channel.requests_log[mark:]
    assert len(sent) == 5 and all(e["if_none_match"] and e["status"] == 304 for e in sent)
    # Google documents that every request costs at least one unit and names no exception for a 304:
    # each is charged like any call.
    assert second.units == first.units == 5 and _usage() == 10


def test_a_changed_video_is_written_alone(channel):
    ids = channel.add_catalogue_videos(ACCESS, 60)
    refresh()
    before = videos()
    channel.edit_video(ids[10], snippet={"title": "A new title for this one"}, status={"privacyStatus": "unlisted"})
    summary = refresh(now=later(30))
    assert summary.videos_written == 1
    after = videos()
    assert after[ids[10]]["title"] == "A new title for this one" and after[ids[10]]["privacy"] == "unlisted"
    assert after[ids[10]]["changed_at"] > before[ids[10]]["changed_at"]
    assert all(after[v]["changed_at"] == before[v]["changed_at"] for v in ids if v != ids[10])
    # ids[10] is on the second page (newest first): the first page's videos answered 304
    assert summary.not_modified["playlistItems.list"] == 2 and summary.not_modified["videos.list"] == 1


def _page_records() -> list[dict]:
    from shared import services

    docs = [s.to_dict() for s in services.repository().db.collection("catalogue_pages").stream()]
    return sorted(docs, key=lambda d: d["index"])


def test_a_refresh_that_stops_midway_goes_on_from_its_checkpoint_without_duplicates(channel):
    ids = channel.add_catalogue_videos(ACCESS, 160)
    channel.inject("list", "server_error", count=1, skip=1)  # the second page's videos.list: 503
    stopped = refresh()
    assert stopped.outcome == "waiting" and stopped.pages == 1
    assert len(videos()) == 50
    checkpoint = _channel_doc()["refresh"]
    assert checkpoint["page_index"] == 1 and checkpoint["page_token"]
    mark = len(channel.requests_log)
    resumed = refresh(now=later(1))
    assert resumed.outcome == "done" and resumed.run_id == stopped.run_id
    tokens = [e["page_token"] for e in channel.requests_log[mark:] if e["endpoint"] == "playlist_items"]
    assert tokens[0] == checkpoint["page_token"] and len(tokens) == 3  # page 0 is not read again
    assert dict(resumed.calls) == {"playlistItems.list": 3, "videos.list": 3}
    assert set(videos()) == set(ids)
    listed = [vid for page in _page_records() for vid in page["video_ids"]]
    assert len(listed) == len(set(listed)) == 160
    assert _channel_doc()["refresh"] is None and _channel_doc()["video_count"] == 160


def test_a_checkpoint_youtube_refuses_is_dropped_and_the_next_run_starts_over(channel):
    ids = channel.add_catalogue_videos(ACCESS, 120)
    channel.inject("list", "server_error", count=1, skip=1)
    assert refresh().outcome == "waiting"  # checkpoint at page 1
    channel.inject("playlist_items", "error", http_status=400, reason="invalidPageToken",
                   message="The request specifies an invalid page token.")
    refused = refresh(now=later(1))
    assert refused.outcome == "failed" and "invalidPageToken" in refused.error
    assert _channel_doc()["refresh"] is None
    again = refresh(now=later(2))
    assert again.outcome == "done" and again.run_id != refused.run_id and set(videos()) == set(ids)


def test_a_run_whose_process_died_is_taken_over_when_its_lease_runs_out(channel):
    from shared import services
    from shared.catalogue.refresh import LEASE_SECONDS
    from shared.stores.catalogue import claim_refresh

    ids = channel.add_catalogue_videos(ACCESS, 70)
    dead = claim_refresh(services.repository(), CHANNEL, account_id=ACCOUNT, now=later(0), lease_seconds=LEASE_SECONDS)
    assert dead is not None
    assert refresh().outcome == "busy" and videos() == {}  # its lease still runs: nobody else reads the channel
    taken = refresh(now=later(LEASE_SECONDS / 60 + 1))
    assert taken.outcome == "done" and taken.run_id == dead.run_id and set(videos()) == set(ids)


def test_a_deleted_video_is_marked_removed_not_kept(channel):
    ids = channel.add_catalogue_videos(ACCESS, 55)
    refresh()
    channel.delete_video(ids[3])
    summary = refresh(now=later(10))
    assert summary.videos_removed == 1
    stored = videos()
    assert stored[ids[3]]["removed"] is True and stored[ids[3]]["removed_at"] is not None
    assert sum(d["removed"] for d in stored.values()) == 1
    assert _channel_doc()["video_count"] == 54


def test_a_video_shifted_across_pages_during_a_run_is_not_taken_for_removed(channel):
    ids = channel.add_catalogue_videos(ACCESS, 120)  # newest first: page 0 is ids[119]..ids[70]
    refresh()
    channel.edit_video(ids[0], snippet={"title": "Edited"})  # the next run has a page to write
    channel.inject("list", "server_error", count=1, skip=1)
    assert refresh(now=later(1)).outcome == "waiting"  # page 0 read, then stopped
    channel.delete_video(ids[119])  # every later video moves one place up: ids[69] onto page 0, already read
    summary = refresh(now=later(2))
    assert summary.outcome == "done" and summary.videos_removed == 0
    assert summary.calls["videos.list"] == 3  # pages 1 and 2, and once more for the one video no page listed
    stored = videos()
    assert stored[ids[69]]["removed"] is False  # YouTube still lists it: only its place moved
    assert stored[ids[0]]["title"] == "Edited"
    # ids[119] was on page 0 when this run read it; the next run finds it gone
    after = refresh(now=later(3))
    assert after.videos_removed == 1 and videos()[ids[119]]["removed"] is True
    assert not videos()[ids[69]]["removed"]


def test_report_rows_are_joined_by_video_id_latest_report_first(channel):
    from shared import services
    from shared.reports.loader import load_rows
    from shared.runtime.config import get_config

    ids = channel.add_catalogue_videos(ACCESS, 3)
    refresh()

    def row(video_id, status, policy, loaded_minutes, file):
        return {"report_file": file, "line": 2, "video_id": video_id, "title": None, "channel": "Brand TV",
                "privacy": "public", "claimed_status": status, "policy": policy, "published_at": None,
                "duration_seconds": 60, "views": 10, "loaded_at": later(loaded_minutes)}

    load_rows(services.bigquery(), get_config().project, "youtube_report_rows",
              [row(ids[0], "Unclaimed", "Track", -60, "gs://r/incoming/old.csv"),
               row(ids[0], "Claimed", "Monetize", -5, "gs://r/incoming/new.csv"),
               row(ids[1], "Partially claimed", "Block", -5, "gs://r/incoming/new.csv")], f"catalogue-test-{uuid.uuid4().hex}")
    version = _channel_doc()["version"]
    summary = refresh(now=later(5))
    assert summary.reports_joined == 2 and summary.videos_written == 0
    stored = videos()
    assert (stored[ids[0]]["claimed_status"], stored[ids[0]]["policy"]) == ("claimed", "Monetize")
    assert stored[ids[0]]["report"]["report_file"] == "gs://r/incoming/new.csv"
    assert (stored[ids[1]]["claimed_status"], stored[ids[1]]["policy"]) == ("other", "Block")
    assert stored[ids[1]]["report"]["claimed_status"] == "Partially claimed"
    assert stored[ids[2]].get("claimed_status") is None and stored[ids[2]].get("report") is None  # no row: "none"
    assert _channel_doc()["version"] != version
    assert refresh(now=later(10)).reports_joined == 0  # joined once: nothing to write the next time


def test_the_scheduled_function_imports_every_connected_channel(channel):
    from tests.conftest import function_client, pubsub_envelope

    ids = channel.add_catalogue_videos(ACCESS, 30)
    client = function_client("functions/catalogue/main.py", "refresh_catalogue")
    assert client.post("/", json=pubsub_envelope({"tick": "catalogue"})).status_code == 200
    assert set(videos()) == set(ids) and _channel_doc()["last_refresh"]["outcome"] == "done"


def test_a_long_run_goes_on_in_the_tick_it_publishes(channel):
    from shared import services
    from shared.catalogue.refresh import refresh_channels
    from shared.runtime.config import get_config

    ids = channel.add_catalogue_videos(ACCESS, 120)
    readings = iter(range(1000))
    sent: list[dict] = []

    def run(account_ids=None):
        return refresh_channels(services.repository(), get_config(), services.secrets(), account_ids=account_ids,
                                bq_factory=None, deadline=2, send_tick=sent.append, clock=lambda: next(readings))

    [first] = run()  # time for one page only
    assert first.outcome == "continues" and first.pages == 1 and len(videos()) == 50
    assert sent == [{"accounts": [ACCOUNT], "continues": True}]
    readings = iter(range(-1000, 0))
    [rest] = run(sent[0]["accounts"])
    assert rest.outcome == "done" and rest.run_id == first.run_id and set(videos()) == set(ids)
    assert len(sent) == 1
