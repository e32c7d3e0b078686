"""The soak's verdict: our Firestore posts against each sandbox's own records, and BigQuery publish_log.

Per platform:
- posts: our posts for the platform; published / failed: how many ended so.
- on platform: records the sandbox shows as posts (see soak_platforms *_live), matched to our
  posts by the marker in their text; `stray` counts records that match none of ours.
- doubles: our posts with more than one record on the platform.
- lost: ours `published` with no record on the platform, or a record on the platform while ours
  ended neither published nor failed (rejected / cancelled).
- failed-but-live: ours `failed` while the platform shows it.
- unsettled: ours not in a final state (published / failed / rejected / cancelled) when the
  soak stopped waiting.
- publish_log: rows in BigQuery for the platform; extra rows = rows - published (a missing row
  counts too, as a negative number), plus rows repeating a post_id.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

FINAL = {"published", "failed", "rejected", "cancelled"}
CAP_WAIT = "platform cap reached"  # the publisher's reason when it releases a post until a platform's cap resets
FAILING = ("doubles", "lost", "failed_but_live", "unsettled", "extra_rows")


@dataclass
class PlatformVerdict:
    platform: str
    posts: int = 0
    published: int = 0
    failed: int = 0
    on_platform: int = 0
    stray: int = 0
    doubles: int = 0
    lost: int = 0
    failed_but_live: int = 0
    unsettled: int = 0
    log_rows: int = 0
    log_repeats: int = 0
    wall_seconds: float = 0.0
    # Approval to final state per settled post, in production minutes (the soak's virtual clock: the
    # post's own timestamps), and the post that took longest.
    settle_minutes: list[float] = field(default_factory=list)
    # Of those, the minutes of posts that waited out a platform's own cap or quota (X's usage cap,
    # YouTube's daily quota, ...): the platform, not Postgate, sets when they may go out.
    cap_wait_minutes: list[float] = field(default_factory=list)
    slowest: dict | None = None
    examples: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))

    @property
    def extra_rows(self) -> int:
        return self.log_rows - self.published + self.log_repeats

    @property
    def posts_per_second(self) -> float:
        return self.posts / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def bad(self) -> bool:
        return any(getattr(self, name) != 0 for name in FAILING)


def _example(post, live_ids: list[str]) -> dict:
    return {
        "post_id": post.id, "status": post.status, "attempts": post.attempt_count, "unconfirmed": post.unconfirmed,
        "fail_class": post.fail_class, "fail_reason": (post.fail_reason or "")[:300],
        "platform_ids": {k: v for k, v in post.platform_ids.items() if not k.startswith("upload_")},
        "live_on_platform": live_ids, "publish_log_written": post.publish_log_written,
        "history": [f"{t.at.isoformat(timespec='milliseconds')} {t.from_status}->{t.to_status}: {(t.reason or '')[:160]}"
                    for t in post.history[-6:]],
    }


def judge(platform: str, posts: list, live: list[tuple[str, str]], index_to_post: dict[int, str],
          marker_re, log_rows: int, log_distinct: int, started: float, to_real: Callable[[datetime], float],
          keep_examples: int = 8) -> PlatformVerdict:
    """`posts`: our Post models for the platform; `live`: (platform id, text) from the sandbox;
    `started`: real epoch seconds when delivery began; `to_real`: a Postgate timestamp as real time
    (the wall time is real; the post's own times follow the soak's clock)."""
    v = PlatformVerdict(platform, posts=len(posts), log_rows=log_rows, log_repeats=log_rows - log_distinct)
    by_id = {p.id: p for p in posts}
    live_by_post: dict[str, list[str]] = defaultdict(list)
    for platform_id, text in live:
        match = marker_re.search(text or "")
        post_id = index_to_post.get(int(match.group(1))) if match else None
        if post_id not in by_id:
            v.stray += 1
            continue
        live_by_post[post_id].append(platform_id)
    v.on_platform = sum(len(ids) for ids in live_by_post.values())
    last_final = started
    for post in posts:
        ids = live_by_post.get(post.id, [])
        v.published += post.status == "published"
        v.failed += post.status == "failed"
        problems = []
        if len(ids) > 1:
            problems.append("doubles")
        if post.status == "published" and not ids:
            problems.append("lost")
        if ids and post.status in FINAL - {"published", "failed"}:
            problems.append("lost")
        if post.status == "failed" and ids:
            problems.append("failed_but_live")
        if post.status not in FINAL:
            problems.append("unsettled")
        for name in problems:
            setattr(v, name, getattr(v, name) + 1)
            if len(v.examples[name]) < keep_examples:
                v.examples[name].append(_example(post, ids))
        if post.status in FINAL and post.history:
            last_final = max(last_final, to_real(post.history[-1].at))
            if post.approved_at is not None:
                minutes = (post.history[-1].at - post.approved_at).total_seconds() / 60
                v.settle_minutes.append(minutes)
                if any(CAP_WAIT in (step.reason or "") for step in post.history):
                    v.cap_wait_minutes.append(minutes)
                if v.slowest is None or minutes > v.slowest["minutes"]:
                    v.slowest = {"minutes": round(minutes, 1), **_example(post, ids)}
    v.wall_seconds = max(last_final - started, 0.0)
    return v


def table(verdicts: list[PlatformVerdict]) -> str:
    head = ["platform", "posts", "published", "failed", "on platform", "doubles", "lost", "failed-but-live",
            "unsettled", "publish_log", "extra rows", "wall s", "posts/s"]
    rows = []
    for v in verdicts:
        rows.append([v.platform, v.posts, v.published, v.failed, f"{v.on_platform}" + (f" (+{v.stray} stray)" if v.stray else ""),
                     v.doubles, v.lost, v.failed_but_live, v.unsettled, v.log_rows,
                     f"{v.extra_rows:+d}" if v.extra_rows else "0", f"{v.wall_seconds:.1f}", f"{v.posts_per_second:.2f}"])
    total = PlatformVerdict("total")
    for v in verdicts:
        for name in ("posts", "published", "failed", "on_platform", "stray", "doubles", "lost", "failed_but_live",
                     "unsettled", "log_rows", "log_repeats"):
            setattr(total, name, getattr(total, name) + getattr(v, name))
        total.wall_seconds = max(total.wall_seconds, v.wall_seconds)
    rows.append([total.platform, total.posts, total.published, total.failed,
                 f"{total.on_platform}" + (f" (+{total.stray} stray)" if total.stray else ""), total.doubles, total.lost,
                 total.failed_but_live, total.unsettled, total.log_rows,
                 f"{total.extra_rows:+d}" if total.extra_rows else "0", f"{total.wall_seconds:.1f}",
                 f"{total.posts_per_second:.2f}"])
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    def line(r):
        return "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
    rule = "-" * len(line(head))
    return "\n".join([line(head), rule, *(line(r) for r in rows[:-1]), rule, line(rows[-1])])


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def settle_table(verdicts: list[PlatformVerdict], budget_minutes: float) -> str:
    """Approval to final state (published / failed / ...) in production minutes, per platform."""
    head = ["platform", "settled", "p50 min", "p95 min", "max min", f"over {budget_minutes:g} min",
            "of which platform cap waits", "max without cap waits"]
    rows = []
    for v in verdicts:
        m = v.settle_minutes
        if not m:
            rows.append([v.platform, 0, "-", "-", "-", "-", "-", "-"])
            continue
        rest = list(m)
        for minutes in v.cap_wait_minutes:
            rest.remove(minutes)
        rows.append([v.platform, len(m), f"{percentile(m, 50):.1f}", f"{percentile(m, 95):.1f}", f"{max(m):.1f}",
                     sum(x > budget_minutes for x in m), sum(x > budget_minutes for x in v.cap_wait_minutes),
                     f"{max(rest):.1f}" if rest else "-"])
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    def line(r):
        return "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([line(head), "-" * len(line(head)), *(line(r) for r in rows)])


def fail_classes(posts: list) -> Counter:
    return Counter(f"{p.fail_class}: {_reason_shape(p.fail_reason)}" for p in posts if p.status == "failed")


def _reason_shape(reason: str | None) -> str:
    """A failure reason without its ids and numbers, so alike failures count together."""
    import re

    text = re.sub(r"[0-9a-f]{8,}|\d+", "#", (reason or "")[:120])
    return re.sub(r"urn:li:\w+:[\w-]+|\b(?=[A-Za-z_-]*[#0-9])[A-Za-z0-9#_-]{16,}", "…", text)
