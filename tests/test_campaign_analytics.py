"""Campaign numbers from BigQuery post_metrics: per UTC day and platform each post counts once, with
its last snapshot of the day; totals take each post's last snapshot in the range; the engagement rate
is shared/model/analytics.py's formula; the API, its view links and the CLI serve the same numbers."""

from __future__ import annotations

import contextlib
import io
import re
import time
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser

import pytest

from shared.model.analytics import PlatformMetrics, engagement_rate
from tests.conftest import PROJECT, bearer

CAMPAIGN = "spring-launch"
DAYS = [date(2030, 3, 1), date(2030, 3, 2), date(2030, 3, 3)]
# Snapshot times within a day; the last one is what the day counts. Listed out of order on purpose.
SNAPSHOT_TIMES = [(12, 0, 0), (23, 59, 59), (0, 0, 1)]
POSTS = {"tt-1": "tiktok", "tt-2": "tiktok", "ig-1": "instagram", "ig-2": "instagram"}


def _metrics(post: str, platform: str, day_index: int, snap: int) -> dict:
    """Deterministic, growing numbers; TikTok has no saves or reach (None), Instagram has both."""
    base = {"tt-1": 1000, "tt-2": 2000, "ig-1": 300, "ig-2": 700}[post] + 100 * day_index + 10 * snap
    numbers = {"views": base, "likes": base // 10, "comments": base // 50, "shares": base // 100}
    if platform == "instagram":
        numbers.update(saves=base // 20, reach=base - 50, impressions=None)
    else:
        numbers.update(saves=None, reach=None, impressions=None)
    return numbers


def _rows(campaign: str = CAMPAIGN) -> list[dict]:
    rows = []
    for post, platform in POSTS.items():
        for day_index, day in enumerate(DAYS):
            for snap, (h, m, s) in enumerate(SNAPSHOT_TIMES):
                at = datetime(day.year, day.month, day.day, h, m, s, tzinfo=UTC)
                rows.append({"snapshot_id": f"{campaign}-{post}-{day}-{snap}", "post_id": f"{campaign}-{post}",
                             "content_id": f"c-{post}", "campaign": campaign, "platform": platform,
                             "account_id": f"{platform}-main", "platform_post_id": f"pp-{post}",
                             "fetched_at": at.isoformat(), **_metrics(post, platform, day_index, snap)})
    return rows


def _insert(rows: list[dict]) -> None:
    from google.cloud import bigquery

    from shared import services
    from shared.topology import get_topology

    table = f"{PROJECT}.{get_topology().bigquery.dataset}.post_metrics"
    errors = services.bigquery().insert_rows_json(table, rows, retry=bigquery.DEFAULT_RETRY.with_deadline(5))
    assert errors == []


def _last_snapshots(rows: list[dict], start: date, end: date, *, per_day: bool) -> dict:
    """Reference answer, by hand: (post, day) -> or post -> the row with the latest fetched_at."""
    chosen: dict = {}
    for row in rows:
        at = datetime.fromisoformat(row["fetched_at"])
        if row["campaign"] != CAMPAIGN or not start <= at.date() <= end:
            continue
        key = (row["post_id"], at.date()) if per_day else row["post_id"]
        if key not in chosen or datetime.fromisoformat(chosen[key]["fetched_at"]) < at:
            chosen[key] = row
    return chosen


METRIC_NAMES = ("views", "likes", "comments", "shares", "saves", "impressions", "reach")


def _sum(rows: list[dict]) -> dict:
    out = {"posts": len(rows)}
    for name in METRIC_NAMES:
        values = [r[name] for r in rows if r[name] is not None]
        out[name] = sum(values) if values else None
    return out


def _expected_days(rows, start, end) -> list[dict]:
    chosen = _last_snapshots(rows, start, end, per_day=True)
    groups: dict = {}
    for (_, day), row in chosen.items():
        groups.setdefault((day.isoformat(), row["platform"]), []).append(row)
    return [{"date": day, "platform": platform, **_sum(group)} for (day, platform), group in sorted(groups.items())]


def _expected_totals(rows, start, end) -> list[dict]:
    chosen = _last_snapshots(rows, start, end, per_day=False)
    groups: dict = {}
    for row in chosen.values():
        groups.setdefault(row["platform"], []).append(row)
    return [{"platform": platform, **_sum(group)} for platform, group in sorted(groups.items())]


def _model_rate(numbers: dict) -> float | None:
    return engagement_rate(PlatformMetrics(platform_post_id="sum", **{k: numbers[k] for k in METRIC_NAMES}))


@pytest.fixture
def analytics_api(api, monkeypatch):
    """The api function with the analytics routes."""
    import shared.api.app as api_app

    api_app._app = None
    return api


@pytest.fixture
def metrics(env):
    rows = _rows() + _rows("other-campaign")
    _insert(rows)
    return rows


def _get(api, env, url, **kw):
    return api.get(url, headers=bearer(env, **kw))


# -- numbers --------------------------------------------------------------------------------

def test_each_day_sums_every_posts_last_snapshot_of_that_day(analytics_api, env, metrics):
    r = _get(analytics_api, env, f"/campaigns/{CAMPAIGN}/analytics?from=2030-03-01&to=2030-03-03")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["campaign"], body["from"], body["to"], body["tz"]) == (CAMPAIGN, "2030-03-01", "2030-03-03", "UTC")
    got = [{k: d[k] for k in ("date", "platform", "posts", *METRIC_NAMES)} for d in body["days"]]
    assert got == _expected_days(metrics, DAYS[0], DAYS[-1])
    # Written out for one row: 2 March, TikTok: tt-1 1000+100+10, tt-2 2000+100+10 (the 23:59:59 snapshot, index 1).
    march_2_tiktok = next(d for d in body["days"] if d["date"] == "2030-03-02" and d["platform"] == "tiktok")
    assert march_2_tiktok["views"] == 1110 + 2110
    assert march_2_tiktok["likes"] == 111 + 211
    assert march_2_tiktok["saves"] is None and march_2_tiktok["reach"] is None
    assert len(body["days"]) == 6  # 3 days x 2 platforms; other-campaign's rows are not counted


def test_engagement_rate_is_the_model_formula_on_the_sums(analytics_api, env, metrics):
    body = _get(analytics_api, env, f"/campaigns/{CAMPAIGN}/analytics?from=2030-03-01&to=2030-03-03").get_json()
    for row in body["days"] + body["totals"]:
        assert row["engagement_rate"] == pytest.approx(_model_rate(row), abs=1e-6), row
    ig = next(d for d in body["days"] if d["date"] == "2030-03-01" and d["platform"] == "instagram")
    views = 310 + 710
    interactions = (31 + 71) + (6 + 14) + (3 + 7) + (15 + 35)  # likes, comments, shares, saves
    assert ig["views"] == views and ig["engagement_rate"] == pytest.approx(round(interactions / views, 6))


def test_totals_take_each_posts_last_snapshot_in_the_range(analytics_api, env, metrics):
    body = _get(analytics_api, env, f"/campaigns/{CAMPAIGN}/analytics?from=2030-03-01&to=2030-03-03").get_json()
    got = [{k: t[k] for k in ("platform", "posts", *METRIC_NAMES)} for t in body["totals"]]
    assert got == _expected_totals(metrics, DAYS[0], DAYS[-1])
    tiktok = next(t for t in body["totals"] if t["platform"] == "tiktok")
    assert tiktok["views"] == 1210 + 2210  # not the sum over days
    assert tiktok["as_of"].startswith("2030-03-03T23:59:59")


def test_a_narrower_range_counts_only_its_days(analytics_api, env, metrics):
    body = _get(analytics_api, env, f"/campaigns/{CAMPAIGN}/analytics?from=2030-03-02&to=2030-03-02").get_json()
    assert {d["date"] for d in body["days"]} == {"2030-03-02"}
    assert [{k: d[k] for k in ("date", "platform", "posts", *METRIC_NAMES)} for d in body["days"]] == \
        _expected_days(metrics, DAYS[1], DAYS[1])
    assert [{k: t[k] for k in ("platform", "posts", *METRIC_NAMES)} for t in body["totals"]] == \
        _expected_totals(metrics, DAYS[1], DAYS[1])
    # Numbers stop on 3 March: a later range is empty (the campaign has a record, so it is not a 404).
    assert analytics_api.post("/campaigns", json={"id": CAMPAIGN, "name": "Spring launch"},
                              headers=bearer(env)).status_code == 201
    later = _get(analytics_api, env, f"/campaigns/{CAMPAIGN}/analytics?from=2030-03-04&to=2030-03-31")
    assert later.status_code == 200 and later.get_json()["days"] == [] and later.get_json()["totals"] == []


def test_a_retried_snapshot_is_counted_once(analytics_api, env, metrics):
    last_of_day = [r for r in metrics if r["campaign"] == CAMPAIGN and r["fetched_at"].endswith("23:59:59+00:00")]
    _insert(last_of_day)  # the same snapshot_ids again, as a redelivered work message might write them
    body = _get(analytics_api, env, f"/campaigns/{CAMPAIGN}/analytics?from=2030-03-01&to=2030-03-03").get_json()
    assert [{k: d[k] for k in ("date", "platform", "posts", *METRIC_NAMES)} for d in body["days"]] == \
        _expected_days(metrics, DAYS[0], DAYS[-1])


def test_the_view_is_in_bigquery_as_declared(env, metrics):
    """Provisioning created the view from infra/topology.yaml; BI tools read the same rows."""
    from shared import services
    from shared.analytics.campaign import DAILY_VIEW
    from shared.topology import get_topology

    rows = list(services.bigquery().query(
        f"SELECT * FROM `{PROJECT}.{get_topology().bigquery.dataset}.{DAILY_VIEW}` WHERE campaign = '{CAMPAIGN}' "
        "ORDER BY day, platform").result())
    assert [{"date": r["day"].isoformat(), "platform": r["platform"], "posts": r["posts"],
             **{k: r[k] for k in METRIC_NAMES}} for r in rows] == _expected_days(metrics, DAYS[0], DAYS[-1])


# -- refusals -------------------------------------------------------------------------------

def test_unknown_campaign_without_numbers_is_404(analytics_api, env):
    r = _get(analytics_api, env, "/campaigns/no-such-campaign/analytics?from=2030-03-01&to=2030-03-03")
    assert r.status_code == 404 and "no-such-campaign" in r.get_json()["detail"]


def test_known_campaign_without_numbers_is_200_and_empty(analytics_api, env):
    created = analytics_api.post("/campaigns", json={"id": "quiet", "name": "Quiet"}, headers=bearer(env))
    assert created.status_code == 201
    r = _get(analytics_api, env, "/campaigns/quiet/analytics?from=2030-03-01&to=2030-03-03")
    assert r.status_code == 200
    assert r.get_json()["days"] == [] and r.get_json()["totals"] == []


@pytest.mark.parametrize("query, field", [
    ("from=2030-02-30&to=2030-03-03", "from"),
    ("from=2030-03-01&to=yesterday", "to"),
    ("to=2030-03-03", "from"),
    ("from=2030-03-01", "to"),
    ("from=2030-03-03&to=2030-03-01", "to"),        # to before from
    ("from=2030-01-01&to=2031-06-01", "to"),        # over MAX_RANGE_DAYS
])
def test_bad_dates_are_400_naming_the_field(analytics_api, env, query, field):
    r = _get(analytics_api, env, f"/campaigns/{CAMPAIGN}/analytics?{query}")
    assert r.status_code == 400, r.get_json()
    assert r.get_json()["field"] == field


def test_to_before_from_says_so(analytics_api, env):
    r = _get(analytics_api, env, f"/campaigns/{CAMPAIGN}/analytics?from=2030-03-03&to=2030-03-01")
    assert r.status_code == 400 and "before" in r.get_json()["detail"]


def test_numbers_need_a_bearer(analytics_api, env, metrics):
    r = analytics_api.get(f"/campaigns/{CAMPAIGN}/analytics?from=2030-03-01&to=2030-03-03")
    assert r.status_code == 401


# -- the page and its view links ------------------------------------------------------------

class _Cells(HTMLParser):
    """The text of each <tr> of the table with this id."""

    def __init__(self, table_id: str):
        super().__init__()
        self.table_id, self.inside, self.rows, self.row, self.cell = table_id, False, [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and dict(attrs).get("id") == self.table_id:
            self.inside = True
        elif self.inside and tag == "tr":
            self.row = []
        elif self.inside and tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif self.inside and tag in ("td", "th") and self.row is not None:
            self.row.append(self.cell.strip())
            self.cell = None
        elif self.inside and tag == "tr" and self.row is not None:
            self.rows.append(self.row)
            self.row = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def table_rows(html: str, table_id: str) -> list[list[str]]:
    parser = _Cells(table_id)
    parser.feed(html)
    return parser.rows[1:]  # without the header row


def expected_day_cells(day: dict) -> list[str]:
    from shared.analytics.charts import count_text, rate_text
    from shared.model.platform import display_name

    return [day["date"], display_name(day["platform"]), count_text(day["posts"]),
            *[count_text(day[k]) for k in METRIC_NAMES], rate_text(day["engagement_rate"])]


def test_page_with_a_bearer_shows_the_apis_numbers_under_a_strict_csp(analytics_api, env, metrics):
    numbers = _get(analytics_api, env, f"/campaigns/{CAMPAIGN}/analytics?from=2030-03-01&to=2030-03-03").get_json()
    r = _get(analytics_api, env, f"/campaigns/{CAMPAIGN}/analytics/page?from=2030-03-01&to=2030-03-03")
    assert r.status_code == 200 and r.content_type.startswith("text/html")
    csp = r.headers["Content-Security-Policy"]
    assert csp.startswith("default-src 'none'; style-src 'sha256-") and "script-src" not in csp
    assert "unsafe-inline" not in csp and r.headers["Referrer-Policy"] == "no-referrer"
    html = r.get_data(as_text=True)
    assert "<script" not in html and " style=" not in html  # the CSP would block both
    assert table_rows(html, "days") == [expected_day_cells(d) for d in numbers["days"]]
    assert len(re.findall(r'<g class="series" data-platform="(\w+)"', html)) == 4  # 2 platforms x 2 charts


def test_view_link_opens_the_page_without_a_bearer(analytics_api, env, metrics):
    r = _get(analytics_api, env, f"/campaigns/{CAMPAIGN}/analytics/link?from=2030-03-01&to=2030-03-03")
    assert r.status_code == 200, r.get_json()
    link = r.get_json()
    assert link["url"].startswith(f"http://api.test/campaigns/{CAMPAIGN}/analytics/page?from=2030-03-01&to=2030-03-03&view=")
    expires = datetime.fromisoformat(link["expires_at"])
    assert timedelta(minutes=14) < expires - datetime.now(UTC) <= timedelta(minutes=15)
    page = analytics_api.get(link["url"].removeprefix("http://api.test"))
    assert page.status_code == 200 and "Campaign spring-launch" in page.get_data(as_text=True)
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'; style-src")


def _view_token(env, campaign: str = CAMPAIGN, **kw) -> str:
    from shared.api.routes.analytics import mint_view_token

    return mint_view_token(env["api_jwt_key"], "postgate-api", user="editor@example.com", roles=["editor"],
                           campaign=campaign, **kw)[0]


def test_view_token_is_refused_as_a_bearer_and_on_other_routes(analytics_api, env, metrics):
    token = _view_token(env)
    r = analytics_api.get(f"/campaigns/{CAMPAIGN}/analytics?from=2030-03-01&to=2030-03-03",
                          headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert analytics_api.get(f"/campaigns/{CAMPAIGN}/analytics?from=2030-03-01&to=2030-03-03&view={token}").status_code == 401
    assert analytics_api.get(f"/campaigns/{CAMPAIGN}/posts?view={token}").status_code == 401


def test_view_token_of_another_campaign_expired_or_forged_is_refused(analytics_api, env, metrics):
    page = f"/campaigns/{CAMPAIGN}/analytics/page?from=2030-03-01&to=2030-03-03"
    other = analytics_api.get(f"{page}&view={_view_token(env, 'other-campaign')}")
    assert other.status_code == 403 and other.get_json()["field"] == "view"
    expired = _view_token(env, ttl_seconds=1)
    time.sleep(2)
    r = analytics_api.get(f"{page}&view={expired}")
    assert r.status_code == 401 and "expired" in r.get_json()["detail"]
    token = _view_token(env)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert analytics_api.get(f"{page}&view={forged}").status_code == 401
    assert analytics_api.get(page).status_code == 401  # neither a bearer nor a view token


# -- the CLI --------------------------------------------------------------------------------

@pytest.fixture
def served_api(env, monkeypatch):
    import shared.api.app as api_app
    from tests.browser import serve_function

    api_app._app = None
    with serve_function("functions/api/main.py", "api") as served:
        yield served
    api_app._app = None


def _cli(capsys, served, env, *argv):
    """The CLI's own stdout, apart from the in-process api's JSON log lines (its log handler keeps
    the stream it was given, whichever test configured logging first)."""
    from shared.cli.main import main

    token = bearer(env)["Authorization"].removeprefix("Bearer ")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["--api", served.url, "--token", token, *argv])
    return code, printed.getvalue(), capsys.readouterr().err


def test_cli_stats_prints_a_table_per_platform_with_totals(capsys, served_api, env, metrics):
    code, out, err = _cli(capsys, served_api, env, "campaigns", "stats", CAMPAIGN, "--from", "2030-03-01",
                          "--to", "2030-03-03", "--tz", "Europe/Berlin")
    assert code == 0, err
    assert "== instagram ==" in out and "== tiktok ==" in out
    tiktok = out.split("== tiktok ==")[1]
    assert re.search(r"2030-03-02\s+2\s+" + re.escape(f"{1110 + 2110:,}"), tiktok)
    assert re.search(r"total\s+2\s+" + re.escape(f"{1210 + 2210:,}"), tiktok)
    assert "2030-03-04 00:59 CET" in tiktok  # the totals' as-of time, in --tz
    code, out, _ = _cli(capsys, served_api, env, "--json", "campaigns", "stats", CAMPAIGN, "--from", "2030-03-01",
                        "--to", "2030-03-03")
    import json

    assert code == 0 and [d["views"] for d in json.loads(out)["days"]] == [d["views"] for d in
                                                                          _expected_days(metrics, DAYS[0], DAYS[-1])]


def test_cli_stats_refusals_and_link(capsys, served_api, env, metrics):
    code, _, err = _cli(capsys, served_api, env, "campaigns", "stats", CAMPAIGN, "--from", "2030-03-03", "--to",
                        "2030-03-01")
    assert code == 2 and "before --from" in err
    code, _, err = _cli(capsys, served_api, env, "campaigns", "stats", "nobody", "--from", "2030-03-01", "--to",
                        "2030-03-03")
    assert code == 1 and "404" in err and "nobody" in err
    code, out, err = _cli(capsys, served_api, env, "campaigns", "stats", CAMPAIGN, "--from", "2030-03-01", "--to",
                          "2030-03-03", "--link")
    assert code == 0, err
    assert "/campaigns/spring-launch/analytics/page?from=2030-03-01&to=2030-03-03&view=" in out


# -- Terraform reads the same SQL ------------------------------------------------------------

def test_terraform_creates_each_declared_view_with_the_sql_provisioning_uses(tmp_path):
    import shutil

    if shutil.which("terraform") is None:
        pytest.skip("terraform binary not on PATH: cannot evaluate module.topology")
    from infra.local.provision import view_query
    from shared.topology import get_topology
    from tests.test_terraform import PROJECT as TF_PROJECT
    from tests.test_terraform import _evaluate_module, _parse_root_module

    views = _evaluate_module(tmp_path)["views"]
    topology = get_topology()
    assert set(views) == set(topology.bigquery.views) == {"campaign_daily_metrics"}
    for name, view in views.items():
        assert view["query"] == view_query(topology, TF_PROJECT, name)
        assert f"`{TF_PROJECT}.{topology.bigquery.dataset}.post_metrics`" in view["query"]
    block = _parse_root_module()[0]["google_bigquery_table.view"]
    assert block["for_each"] == "${module.topology.views}"
    assert block["view"][0] == {"query": "${each.value.query}", "use_legacy_sql": False}
