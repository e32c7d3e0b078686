"""The catalogue's search rules on rows (no emulator): word-start matching with case, accents and
punctuation folded, each filter, sorts with missing values last and ties by id, and what the CMS reports'
claimed status becomes."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.catalogue.search import CatalogueFilter, select
from shared.model.catalogue import CatalogueRow, claimed_status_of, derived_fields, duration_seconds, search_words


def _row(video_id: str, *, title: str = "", tags=(), description: str = "", published: int | None = 1,
         views: int | None = 0, changed: int | None = 1, **fields) -> CatalogueRow:
    snippet = {"title": title, "tags": list(tags), "description": description}
    doc = {"video_id": video_id, "channel_id": "UC1", "removed": False, "claimed_status": "none",
           **derived_fields({"snippet": snippet}), "view_count": views,
           "published_at": datetime(2026, 1, published, tzinfo=UTC) if published else None,
           "changed_at": datetime(2026, 2, changed, tzinfo=UTC) if changed else None, **fields}
    return CatalogueRow.of(doc)


def _ids(rows) -> list[str]:
    return [r.video_id for r in rows]


def test_words_must_each_start_a_word_case_accents_and_punctuation_folded():
    rows = [_row("a", title="Crème brûlée, LIVE!"), _row("b", title="Relive it", tags=["brulee-recipe"]),
            _row("c", description="Live from the café")]
    assert _ids(select(rows, CatalogueFilter(q="creme"))) == ["a"]
    assert sorted(_ids(select(rows, CatalogueFilter(q="live")))) == ["a", "c"]  # not "Relive"
    assert _ids(select(rows, CatalogueFilter(q="BRULEE recipe"))) == ["b"]  # a tag's parts, every word
    assert _ids(select(rows, CatalogueFilter(q="cafe live"))) == ["c"]
    assert search_words("  Hello,   WORLD  ") == ["hello", "world"]


def test_each_filter_and_the_removed_switch():
    rows = [_row("a", category_id="10", privacy="public", claimed_status="claimed"),
            _row("b", category_id="22", privacy="private"), _row("c", removed=True, privacy="public")]
    assert _ids(select(rows, CatalogueFilter(category_id="10"))) == ["a"]
    assert _ids(select(rows, CatalogueFilter(privacy="public"))) == ["a"]  # c is removed
    assert _ids(select(rows, CatalogueFilter(removed=True))) == ["c"]
    assert _ids(select(rows, CatalogueFilter(claimed_status="none"))) == ["b"]
    assert _ids(select(rows, CatalogueFilter(channel_id="UC2"))) == []


def test_published_range_includes_its_start_and_excludes_its_end():
    rows = [_row("a", published=1), _row("b", published=2), _row("c", published=3), _row("d", published=None)]
    wanted = CatalogueFilter(published_from=datetime(2026, 1, 2, tzinfo=UTC), published_to=datetime(2026, 1, 3, tzinfo=UTC))
    assert _ids(select(rows, wanted)) == ["b"]


def test_sorts_put_missing_values_last_both_ways_and_break_ties_by_id():
    rows = [_row("c", views=5), _row("a", views=5), _row("b", views=None), _row("d", views=9)]
    assert _ids(select(rows, CatalogueFilter(sort="views", order="desc"))) == ["d", "a", "c", "b"]
    assert _ids(select(rows, CatalogueFilter(sort="views", order="asc"))) == ["a", "c", "d", "b"]
    dated = [_row("x", changed=3), _row("y", changed=1), _row("z", changed=None)]
    assert _ids(select(dated, CatalogueFilter(sort="updated"))) == ["x", "y", "z"]


def test_claimed_status_from_the_report_text():
    assert claimed_status_of("Claimed") == "claimed"
    assert claimed_status_of(" UNCLAIMED ") == "unclaimed" and claimed_status_of("Not claimed") == "unclaimed"
    assert claimed_status_of("Partially claimed") == "other"
    assert claimed_status_of(None) == claimed_status_of("") == "none"


def test_iso_durations():
    assert duration_seconds("PT1H2M3S") == 3723 and duration_seconds("PT45S") == 45 and duration_seconds("P1DT1S") == 86401
    assert duration_seconds("1:00") is None and duration_seconds(None) is None
