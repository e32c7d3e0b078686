"""The soak's settle-time table: per platform p50/p95/max in production minutes, and which of the
posts over the budget waited out a platform's own cap (their time is the platform's rule)."""

from __future__ import annotations

from infra.local.soak_report import PlatformVerdict, percentile, settle_table


def test_posts_over_the_budget_that_waited_out_a_platform_cap_are_counted_apart():
    x = PlatformVerdict("x", settle_minutes=[1.0, 2.0, 3.0, 61.9, 25.0], cap_wait_minutes=[61.9])
    tiktok = PlatformVerdict("tiktok", settle_minutes=[2.0, 2.2, 3.1])
    head, _, x_row, tiktok_row = settle_table([x, tiktok], 20).splitlines()
    assert head.split()[:6] == ["platform", "settled", "p50", "min", "p95", "min"]
    assert x_row.split() == ["x", "5", "3.0", "61.9", "61.9", "2", "1", "25.0"]
    assert tiktok_row.split() == ["tiktok", "3", "2.2", "3.1", "3.1", "0", "0", "3.1"]


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 100)) == (50.0, 95.0, 100.0)
