"""Which published posts are due a metrics pull: a decaying schedule, and the queries that find them.

Every published post carries `metrics_next_at`, the earliest run that pulls it again: young posts
(under `analytics_young_age_hours`) on every run, then daily until `analytics_daily_until_days`,
then weekly until `analytics_max_age_days`, then never (the field is cleared). So the posts due in
one run are the young ones plus a 24th of the month and a 168th of the year: the cost of a run
follows the publishing rate, not the size of the history.

A post without the field yet (published before the publisher wrote it) is due at its publish
time. The queries that find due posts, and the backfill that gives such a post its first due time,
are shared/stores/metrics_due.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.runtime.config_model import Config

# A schedule computed from one run's start must not miss the same slot a day (or a week) later
# because that run started a few seconds earlier: slots open this much early.
EARLY = timedelta(minutes=5)


def next_pull_at(published_at: datetime | None, run_at: datetime, config: Config) -> datetime | None:
    """When a post pulled by the run that started at `run_at` is due again; None: never again."""
    published_at = published_at or run_at
    age = run_at - published_at
    max_age = timedelta(days=config.analytics_max_age_days)
    if age >= max_age:
        return None
    if age < timedelta(hours=config.analytics_young_age_hours):
        nxt = run_at + EARLY  # the next run, whenever it comes
    elif age < timedelta(days=config.analytics_daily_until_days):
        nxt = run_at + timedelta(days=1) - EARLY
    else:
        nxt = run_at + timedelta(days=7) - EARLY
    return nxt if nxt - published_at < max_age else None
