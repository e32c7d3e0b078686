"""Manually recorded analytics through the content API: a snapshot marked manual with who recorded
it, counted in campaign numbers and charts beside the pulled ones (and marked there), changed and
deleted with an audit trail that outlives it, and a BigQuery copy that catches up when BigQuery
failed. Real emulators throughout; BigQuery fails for real (a project nobody may write to)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import ACCOUNT, PROJECT, bearer

CAMPAIGN = "launch"
APPROVER = ("approver",)


def _published(post_id: str, *, campaign: str = CAMPAIGN, published_at: datetime | None = None,
               status: str = "published") -> dict:
    from infra.local.bench import published_post_doc, write_posts
    from shared import services

    doc = published_post_doc(post_id=post_id, account_id=ACCOUNT, platform="tiktok",
                             platform_ids={"publish_id": f"pub-{post_id}", "video_id": f"v-{post_id}"},
                             published_at=published_at or datetime.now(UTC) - timedelta(days=2), campaign=campaign)
    doc["status"] = status
    write_posts(services.repository().db, [doc])
    return doc


def _pulled(post_id: str, views: int, at: datetime, run_id: str = "run-1") -> None:
    """A pulled snapshot of the post, written the way analytics-fetch writes it."""
    from shared import services
    from shared.analytics.writer import metrics_row, write_rows
    from shared.model.analytics import PlatformMetrics
    from shared.model.post import Post

    post = services.repository().get_post(post_id)
    assert isinstance(post, Post)
    metrics = PlatformMetrics(platform_post_id=f"v-{post_id}", views=views, likes=views // 10)
    write_rows(services.bigquery(), PROJECT, [metrics_row(post, metrics.platform_post_id, metrics, run_id=run_id,
                                                          fetched_at=at)], at - timedelta(days=1))


def _rows(post_id: str | None = None) -> list[dict]:
    from google.cloud import bigquery

    from shared import services

    where = "WHERE post_id = @post_id" if post_id else ""
    config = bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("post_id", "STRING", post_id)])
    sql = f"SELECT * FROM `{PROJECT}.postgate.post_metrics` {where} ORDER BY fetched_at"
    return [dict(r) for r in services.bigquery().query(sql, job_config=config).result()]


def _range() -> dict:
    today = datetime.now(UTC).date()
    return {"from": (today - timedelta(days=7)).isoformat(), "to": today.isoformat()}


def _totals(api, env) -> dict:
    answer = api.get(f"/campaigns/{CAMPAIGN}/analytics", query_string=_range(), headers=bearer(env))
    assert answer.status_code == 200, answer.get_json()
    [tiktok] = answer.get_json()["totals"]
    return tiktok


def _record(api, env, roles=("editor",), user="editor@example.com", **body):
    return api.post("/analytics/manual", json=body, headers=bearer(env, user=user, roles=roles))


def test_recorded_numbers_are_a_manual_snapshot_with_who_recorded_them(api, env):
    _published("p-event")
    answer = _record(api, env, post_id="p-event", views=1000, likes=50, shares=10, comments=5, engagement_rate=0.065,
                     note="counted at the stand")
    assert answer.status_code == 201, answer.get_json()
    made = answer.get_json()
    assert made["source"] == "manual" and made["recorded_by"] == made["updated_by"] == "editor@example.com"
    assert made["engagement_rate"] == 0.065 and made["revision"] == 1 and made["mirrored"] is True
    assert (made["campaign"], made["platform"], made["account_id"]) == (CAMPAIGN, "tiktok", ACCOUNT)
    assert api.get(f"/analytics/manual/{made['id']}", headers=bearer(env)).get_json() == made
    [row] = _rows("p-event")
    assert (row["source"], row["revision"], row["recorded_by"], row["views"]) == ("manual", 1, "editor@example.com", 1000)
    assert row["snapshot_id"] == f"p-event@manual-{made['id']}" and row["engagement_rate"] == 0.065
    listed = api.get("/analytics/manual", query_string={"post_id": "p-event"}, headers=bearer(env)).get_json()
    assert listed["total"] == 1 and listed["items"] == [made]
    assert api.get("/analytics/manual", query_string={"post_id": "other"}, headers=bearer(env)).get_json()["total"] == 0


def test_left_out_the_rate_is_computed_and_a_pulled_row_says_it_is_the_platforms(api, env):
    _published("p-pulled")
    _pulled("p-pulled", 200, datetime.now(UTC) - timedelta(hours=3))
    made = _record(api, env, post_id="p-pulled", views=2000, likes=100, comments=20).get_json()
    assert made["engagement_rate"] == 0.06
    assert [(r["source"], r["views"]) for r in _rows("p-pulled")] == [("platform", 200), ("manual", 2000)]


def test_a_manual_snapshot_changes_the_campaigns_numbers_and_shows_in_its_chart_marked_manual(api, env):
    _published("p-api")
    _published("p-no-api")
    _pulled("p-api", 100, datetime.now(UTC) - timedelta(days=1))
    before = _totals(api, env)
    assert (before["posts"], before["views"], before["manual_posts"]) == (1, 100, 0)
    made = _record(api, env, post_id="p-no-api", views=1000, likes=50).get_json()

    after = _totals(api, env)
    assert (after["posts"], after["views"], after["likes"], after["manual_posts"]) == (2, 1100, 60, 1)
    assert after["engagement_rate"] == round(60 / 1100, 6)
    days = api.get(f"/campaigns/{CAMPAIGN}/analytics", query_string=_range(), headers=bearer(env)).get_json()["days"]
    today = [d for d in days if d["date"] == datetime.now(UTC).date().isoformat()]
    assert today and today[0]["manual_posts"] == 1

    page = api.get(f"/campaigns/{CAMPAIGN}/analytics/page", query_string=_range(), headers=bearer(env))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="manual-note"' in html
    assert html.count('data-manual="true"') == 2  # the views chart and the engagement chart, today's point
    assert "(includes 1 manually recorded snapshot)" in html and "2 (1 manual)" in html

    assert api.delete(f"/analytics/manual/{made['id']}", headers=bearer(env)).status_code == 204
    gone = _totals(api, env)
    assert (gone["posts"], gone["views"], gone["manual_posts"]) == (1, 100, 0)


def test_changes_and_the_delete_keep_an_audit_trail_of_who_did_what(api, env):
    _published("p-audit")
    made = _record(api, env, post_id="p-audit", views=500, likes=10).get_json()
    changed = api.patch(f"/analytics/manual/{made['id']}", json={"views": 800, "note": "recounted"},
                        headers=bearer(env, user="lead@example.com", roles=APPROVER))
    assert changed.status_code == 200, changed.get_json()
    changed = changed.get_json()
    assert (changed["views"], changed["likes"], changed["revision"]) == (800, 10, 2)
    assert changed["recorded_by"] == "editor@example.com" and changed["updated_by"] == "lead@example.com"
    assert changed["engagement_rate"] == round(10 / 800, 6)
    [row] = _rows("p-audit")
    assert (row["views"], row["revision"], row["recorded_by"]) == (800, 2, "lead@example.com")

    assert api.delete(f"/analytics/manual/{made['id']}",
                      headers=bearer(env, user="other@example.com")).status_code == 204
    assert _rows("p-audit") == []
    read = api.get(f"/analytics/manual/{made['id']}", headers=bearer(env))
    assert read.status_code == 404 and "deleted by other@example.com" in read.get_json()["detail"]
    assert api.get("/analytics/manual", headers=bearer(env)).get_json()["total"] == 0
    assert api.patch(f"/analytics/manual/{made['id']}", json={"views": 1}, headers=bearer(env)).status_code == 404
    assert api.delete(f"/analytics/manual/{made['id']}", headers=bearer(env)).status_code == 404

    trail = api.get(f"/analytics/manual/{made['id']}/audit", headers=bearer(env)).get_json()["entries"]
    assert [(e["action"], e["by"], e["revision"]) for e in trail] == [
        ("recorded", "editor@example.com", 1), ("changed", "lead@example.com", 2), ("deleted", "other@example.com", 3)]
    assert trail[0]["before"] is None and trail[0]["after"]["views"] == 500
    assert (trail[1]["before"]["views"], trail[1]["after"]["views"], trail[1]["after"]["note"]) == (500, 800, "recounted")
    assert trail[2]["before"]["views"] == 800 and trail[2]["after"] is None


def test_refusals_name_the_field_and_store_nothing(api, env):
    _published("p-ok")
    _published("p-draft", status="approved")
    cases = [
        ({"post_id": "nope", "views": 1}, 404, "post_id"),
        ({"post_id": "p-draft", "views": 1}, 409, "post_id"),
        ({"post_id": "p-ok", "views": -1}, 400, "views"),
        # Rules across fields or against the clock: 422, as our API answers every rule (400 in /api/v1).
        ({"post_id": "p-ok", "views": 1000, "likes": 50, "shares": 10, "comments": 5, "engagement_rate": 0.07}, 422,
         "engagement_rate"),
        ({"post_id": "p-ok", "likes": 5, "engagement_rate": 0.05}, 422, "engagement_rate"),  # nothing to check it by
        ({"post_id": "p-ok", "views": 1, "measured_at": "2999-01-01T00:00:00Z"}, 422, "measured_at"),
        ({"post_id": "p-ok", "views": 1, "measured_at": "2001-01-01T00:00:00Z"}, 422, "measured_at"),  # before publication
        ({"post_id": "p-ok", "views": 1, "clicks": 3}, 400, "clicks"),
    ]
    for body, status, field in cases:
        answer = _record(api, env, **body)
        assert (answer.status_code, answer.get_json().get("field")) == (status, field), (body, answer.get_json())
    assert api.get("/analytics/manual", headers=bearer(env)).get_json()["total"] == 0 and _rows() == []
    made = _record(api, env, post_id="p-ok", views=100, likes=10).get_json()
    answer = api.patch(f"/analytics/manual/{made['id']}", json={"likes": 20, "engagement_rate": 0.1}, headers=bearer(env))
    assert answer.status_code == 422 and answer.get_json()["field"] == "engagement_rate"
    answer = api.patch(f"/analytics/manual/{made['id']}", json={"measured_at": None}, headers=bearer(env))
    assert answer.status_code == 400 and answer.get_json()["field"] == "measured_at"
    assert api.get(f"/analytics/manual/{made['id']}", headers=bearer(env)).get_json()["likes"] == 10


def test_a_caller_without_a_role_may_not_record(api, env):
    _published("p-roles")
    answer = _record(api, env, roles=(), user="nobody@example.com", post_id="p-roles", views=1)
    assert answer.status_code == 403
    assert api.get("/analytics/manual", headers=bearer(env)).get_json()["total"] == 0


def test_the_same_idempotency_key_records_once(api, env):
    _published("p-key")
    headers = {**bearer(env), "Idempotency-Key": "count-1"}
    first = api.post("/analytics/manual", json={"post_id": "p-key", "views": 10}, headers=headers)
    again = api.post("/analytics/manual", json={"post_id": "p-key", "views": 10}, headers=headers)
    assert first.status_code == again.status_code == 201 and first.get_json()["id"] == again.get_json()["id"]
    assert len(_rows("p-key")) == 1


def test_a_failed_bigquery_write_leaves_the_record_pending_and_the_next_run_copies_it(env, logs):
    from shared import services
    from shared.analytics import manual
    from shared.model.manual_metrics import ManualNumbers
    from shared.runtime.config import get_config

    _published("p-down")
    repo = services.repository()
    now = datetime.now(UTC)
    # A project this caller may not write to: BigQuery refuses the MERGE for real.
    broken = manual.Target(services.get_services().bigquery, "no-such-project")
    working = manual.Target(services.get_services().bigquery, get_config().project)
    written = manual.record(repo, broken, post_id="p-down", numbers=ManualNumbers(measured_at=now, views=70),
                            given_rate=None, by="editor@example.com", now=now)
    assert written.mirrored is False and written.snapshot.mirror_pending
    assert manual.get(repo, written.snapshot.id).mirror_pending and _rows("p-down") == []
    assert "manual analytics copy to BigQuery failed" in logs.text
    changed = manual.update(repo, broken, written.snapshot.id, {"views": 90}, given_rate=None, by="lead@example.com",
                            now=now)
    assert changed.mirrored is False and changed.snapshot.revision == 2

    assert manual.mirror_pending(repo, working) == 1
    [row] = _rows("p-down")
    assert (row["views"], row["revision"]) == (90, 2)
    stored = manual.get(repo, written.snapshot.id)
    assert (stored.mirrored_revision, stored.mirror_pending) == (2, False)
    assert manual.mirror_pending(repo, working) == 0  # nothing pending any more


def test_the_pull_function_copies_pending_snapshots_before_its_run(env):
    from shared import services
    from shared.analytics import manual
    from shared.handlers.analytics import pull_metrics
    from shared.model.manual_metrics import ManualNumbers

    _published("p-later")
    now = datetime.now(UTC)
    broken = manual.Target(services.get_services().bigquery, "no-such-project")
    written = manual.record(services.repository(), broken, post_id="p-later",
                            numbers=ManualNumbers(measured_at=now, views=5), given_rate=None, by="e@example.com",
                            now=now)
    assert _rows("p-later") == []
    pull_metrics({"tick": "analytics"}, message_id="tick-manual")
    assert [r["views"] for r in _rows("p-later")] == [5]
    assert not manual.get(services.repository(), written.snapshot.id).mirror_pending


def test_an_older_revision_never_replaces_a_newer_one_in_bigquery(env):
    from shared import services
    from shared.analytics import manual
    from shared.model.manual_metrics import ManualNumbers
    from shared.runtime.config import get_config

    _published("p-order")
    repo = services.repository()
    target = manual.Target(services.get_services().bigquery, get_config().project)
    now = datetime.now(UTC)
    first = manual.record(repo, target, post_id="p-order", numbers=ManualNumbers(measured_at=now, views=1),
                          given_rate=None, by="e@example.com", now=now).snapshot
    manual.update(repo, target, first.id, {"views": 2}, given_rate=None, by="e@example.com", now=now)
    manual.copy_row(target, first)  # revision 1 arriving late, as a copy delayed past its lease would
    assert [(r["views"], r["revision"]) for r in _rows("p-order")] == [(2, 2)]


# -- without the emulators: the charts' marks ---------------------------------------------------------------

def test_a_day_with_a_manual_snapshot_is_a_hollow_point_that_says_so():
    from datetime import date

    from shared.analytics.campaign import CampaignNumbers, DayNumbers
    from shared.analytics.charts import numbers_html

    days = [DayNumbers(date=date(2030, 3, 1), platform="x", posts=2, views=100, likes=5, engagement_rate=0.05),
            DayNumbers(date=date(2030, 3, 2), platform="x", posts=3, manual_posts=1, views=300, likes=9,
                       engagement_rate=0.03)]
    html = str(numbers_html(CampaignNumbers(campaign="c", from_=date(2030, 3, 1), to=date(2030, 3, 2), days=days,
                                            totals=[])))
    assert html.count('data-manual="true"') == 2 and "<td>3 (1 manual)</td>" in html and "<td>2</td>" in html
    assert "X, 2030-03-02: 300 views (includes 1 manually recorded snapshot)" in html
    assert "1 with manually recorded numbers" in html


def test_a_post_trend_marks_its_manual_snapshots():
    from shared.analytics.post_trend import Snapshot, trend_chart

    at = datetime(2030, 3, 1, tzinfo=UTC)
    chart = trend_chart([Snapshot(at, {"views": 10}), Snapshot(at + timedelta(days=1), {"views": 30}, manual=True)],
                        lambda moment: moment.date().isoformat())
    assert chart is not None
    assert [p[3] for p in chart.points] == [False, True] and chart.points[1][2].endswith("(recorded manually)")
    assert chart.description.endswith("1 of them recorded manually.")


@pytest.mark.parametrize(("given", "computed", "refused"), [(None, 0.065, False), (0.065, 0.065, False),
                                                          (0.0654, 0.065, False), (0.07, 0.065, True),
                                                          (0.05, None, True)])
def test_a_given_rate_must_agree_with_the_numbers(given, computed, refused):
    from shared.model.manual_metrics import rate_refusal

    assert (rate_refusal(given, computed) is not None) is refused
