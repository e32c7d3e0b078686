"""The seed's integer numbers (shared/stores/seed_numbers.py): from 1 on a fresh database, stable,
one per record however many requests see it first, never reused."""

from __future__ import annotations

import threading


def _repo():
    from shared import services

    return services.repository()


def test_a_fresh_database_numbers_each_kind_from_one_in_the_order_seen(env):
    from shared.stores.seed_numbers import id_of, number_of, numbers_of

    repo = _repo()
    assert numbers_of(repo, "post", ["p-b", "p-a"]) == {"p-b": 1, "p-a": 2}
    assert number_of(repo, "social_account", "x-brand") == 1  # each kind counts on its own
    assert number_of(repo, "post", "p-a") == 2  # stable
    assert numbers_of(repo, "post", ["p-a", "p-c", "p-b"]) == {"p-a": 2, "p-c": 3, "p-b": 1}
    assert id_of(repo, "post", 3) == "p-c" and id_of(repo, "post", 4) is None and id_of(repo, "post", 0) is None


def test_requests_seeing_a_new_record_at_once_agree_on_its_number(env):
    from shared.stores.seed_numbers import id_of, number_of

    repo = _repo()
    seen: list[int] = []
    threads = [threading.Thread(target=lambda: seen.append(number_of(repo, "campaign", "summer"))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(seen) == {1} and id_of(repo, "campaign", 1) == "summer"
    assert number_of(repo, "campaign", "winter") == 2  # the counter moved once


def test_pages_numbered_at_once_give_every_record_one_number_and_leave_no_gap(env):
    from shared.stores.seed_numbers import id_of, numbers_of

    repo = _repo()
    pages = [[f"p-{i}" for i in range(start, start + 60)] for start in (0, 30, 20)]  # overlapping pages
    answers: list[dict[str, int]] = []
    threads = [threading.Thread(target=lambda page=page: answers.append(numbers_of(repo, "post", page)))
               for page in pages]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged: dict[str, int] = {}
    for answer in answers:
        for record_id, number in answer.items():
            assert merged.setdefault(record_id, number) == number  # every page agrees on each record's number
    assert sorted(merged.values()) == list(range(1, 91))  # 90 records, numbers 1..90, none twice, no gap
    assert all(id_of(repo, "post", number) == record_id for record_id, number in merged.items())
