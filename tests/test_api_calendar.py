"""GET /calendar: posts between two dates grouped by local day in the requested time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from tests.conftest import ACCOUNT, bearer, register_account, upload_video


def _copy(video: str, **overrides) -> dict:
    body = {"campaign": "launch", "caption": "Cold for 24 hours.", "video": video,
            "targets": [{"account_id": ACCOUNT, "privacy_level": "PUBLIC_TO_EVERYONE"}]}
    body.update(overrides)
    return body


def _future_day(days: int = 10) -> date:
    return (datetime.now(UTC) + timedelta(days=days)).date()


def _calendar(api, env, **query):
    answer = api.get("/calendar", query_string=query, headers=bearer(env))
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def _by_day(calendar: dict) -> dict[str, list[str]]:
    return {day["date"]: [p["content_id"] for p in day["posts"]] for day in calendar["days"]}


def test_a_post_at_2330_utc_is_on_the_next_day_in_berlin(api, env):
    day = _future_day()
    late = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=23, minutes=30)
    made = api.post("/posts", json=_copy(upload_video(), publish_at=late.isoformat()), headers=bearer(env)).get_json()
    nxt = day + timedelta(days=1)

    berlin = _calendar(api, env, **{"from": day.isoformat(), "to": nxt.isoformat(), "tz": "Europe/Berlin"})
    assert berlin["tz"] == "Europe/Berlin" and berlin["from"] == day.isoformat() and berlin["to"] == nxt.isoformat()
    assert _by_day(berlin) == {day.isoformat(): [], nxt.isoformat(): [made["id"]]}
    [post] = berlin["days"][1]["posts"]
    assert post["caption"] == "Cold for 24 hours." and post["status"] == "pending_approval"

    utc = _calendar(api, env, **{"from": day.isoformat(), "to": nxt.isoformat(), "tz": "UTC"})
    assert _by_day(utc) == {day.isoformat(): [made["id"]], nxt.isoformat(): []}
    # New York is behind UTC: still the same day there.
    ny = _calendar(api, env, **{"from": nxt.isoformat(), "to": nxt.isoformat(), "tz": "America/New_York"})
    assert _by_day(ny) == {nxt.isoformat(): []}


def test_posts_within_a_day_are_in_time_order_and_filters_apply(api, env):
    register_account("tiktok-second", "tiktok", {"access_token": "act.second"}, handle="second")
    video = upload_video()
    day = _future_day(20)
    at = lambda h: (datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=h)).isoformat()  # noqa: E731
    late = api.post("/posts", json=_copy(video, publish_at=at(15), campaign="summer"), headers=bearer(env)).get_json()
    early = api.post("/posts", json=_copy(video, publish_at=at(9), targets=[
        {"account_id": "tiktok-second", "privacy_level": "SELF_ONLY"}]), headers=bearer(env)).get_json()
    unscheduled = api.post("/posts", json=_copy(video), headers=bearer(env)).get_json()

    whole = _calendar(api, env, **{"from": day.isoformat(), "to": day.isoformat()})
    assert _by_day(whole) == {day.isoformat(): [early["id"], late["id"]]}
    assert _by_day(_calendar(api, env, **{"from": day.isoformat(), "to": day.isoformat(), "campaign": "summer"})) == {
        day.isoformat(): [late["id"]]}
    assert _by_day(_calendar(api, env, **{"from": day.isoformat(), "to": day.isoformat(),
                                          "account_id": "tiktok-second"})) == {day.isoformat(): [early["id"]]}
    assert _by_day(_calendar(api, env, **{"from": day.isoformat(), "to": day.isoformat(), "platform": "x"})) == {
        day.isoformat(): []}
    # A post without a planned time is on the day it was created.
    today = datetime.now(UTC).date()
    assert unscheduled["id"] in _by_day(_calendar(api, env, **{"from": today.isoformat(), "to": today.isoformat()}))[
        today.isoformat()]


def test_unknown_time_zone_is_400_naming_tz(api, env):
    for tz in ("Mars/Olympus_Mons", "../../etc/passwd", "/etc/localtime", "Europe/"):
        answer = api.get("/calendar", query_string={"from": "2030-01-01", "to": "2030-01-02", "tz": tz},
                         headers=bearer(env))
        assert answer.status_code == 400 and answer.get_json()["field"] == "tz", (tz, answer.get_json())


def test_range_is_at_most_92_days_and_in_order(api, env):
    too_long = api.get("/calendar", query_string={"from": "2030-01-01", "to": "2030-04-03"}, headers=bearer(env))
    assert too_long.status_code == 400 and too_long.get_json()["field"] == "to"
    fits = api.get("/calendar", query_string={"from": "2030-01-01", "to": "2030-04-02"}, headers=bearer(env))
    assert fits.status_code == 200 and len(fits.get_json()["days"]) == 92
    backwards = api.get("/calendar", query_string={"from": "2030-01-02", "to": "2030-01-01"}, headers=bearer(env))
    assert backwards.status_code == 400 and backwards.get_json()["field"] == "to"
    missing = api.get("/calendar", query_string={"to": "2030-01-01"}, headers=bearer(env))
    assert missing.status_code == 400 and missing.get_json()["field"] == "from"
