"""Runs at the same time, and windows in any order, leave the tables one run leaves.

Two protections stand behind this (entity_sync.py): an advisory lock per
entity makes two runs take turns, and the merge lets only a newer
`ModifiedOn` (ties by content) replace a row. The slow-reader test below fails
only when both are gone, so it checks that at least one of them holds.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from tests.reliability.support import (
    business_dump,
    connections,
    diff,
    import_statuses,
    rows,
    sandbox,
    settings,
    sync,
    sync_runs,
)

FULL = {"full_refresh": True}
CONFIG = settings()
ENTITIES = ("lead", "order")


@pytest.fixture(scope="module")
def crm(sandbox_data_dir):
    with sandbox(sandbox_data_dir, seed=13) as sb, connections(sb):
        yield sb


def _in_threads(*jobs) -> list[Any]:
    """Run callables at once (released together by a barrier); re-raise the first failure."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def run(index: int, job) -> None:
        barrier.wait()
        try:
            results[index] = job()
        except BaseException as exc:  # handed to the test thread below
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
        assert not thread.is_alive(), "a concurrent run hung"
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def _windows(sb) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Two overlapping windows over the data, and the one window that covers both."""
    stamps = sorted(row["ModifiedOn"] for row in sb.admin.rows("Lead"))
    t0, t1, t2, t3 = (stamps[len(stamps) * k // 5].isoformat() for k in (1, 2, 3, 4))
    return {"start": t0, "end": t2}, {"start": t1, "end": t3}, {"start": t0, "end": t3}


def test_two_runs_of_the_same_window_at_once_leave_the_tables_of_one_run(crm, new_warehouse):
    reference, url = new_warehouse(), new_warehouse()
    import_statuses(reference, CONFIG)
    for entity in ENTITIES:
        sync(reference, CONFIG, entity, FULL)
    expected = business_dump(reference)

    import_statuses(url, CONFIG)
    for entity in ENTITIES:
        _in_threads(
            lambda e=entity: sync(url, CONFIG, e, FULL), lambda e=entity: sync(url, CONFIG, e, FULL)
        )
    actual = business_dump(url)
    assert actual == expected, diff(expected, actual)
    assert [run["status"] for run in sync_runs(url)] == ["success"] * 4


@pytest.mark.parametrize("order", ["a-then-b", "b-then-a", "at-once"])
def test_overlapping_windows_in_any_order_leave_the_tables_of_one_run(crm, new_warehouse, order):
    a, b, both = _windows(crm)
    reference, url = new_warehouse(), new_warehouse()
    import_statuses(reference, CONFIG)
    for entity in ENTITIES:
        sync(reference, CONFIG, entity, both)
    expected = business_dump(reference)
    assert len(expected["deal"]) > 100

    import_statuses(url, CONFIG)
    for entity in ENTITIES:
        if order == "at-once":
            _in_threads(
                lambda e=entity: sync(url, CONFIG, e, a), lambda e=entity: sync(url, CONFIG, e, b)
            )
        else:
            for window in (a, b) if order == "a-then-b" else (b, a):
                sync(url, CONFIG, entity, window)
    actual = business_dump(url)
    assert actual == expected, diff(expected, actual)


def test_a_slow_run_that_read_an_old_version_does_not_overwrite_a_newer_one(crm, new_warehouse):
    """Run 1 reads a past window and stalls mid-read (the sandbox holds its second
    page) after it has read a deal; meanwhile the deal changes in the CRM, its new
    version now outside run 1's window, and run 2 reads it. Whatever order they
    commit in, the new version must stay."""
    url = new_warehouse()
    import_statuses(url, CONFIG)
    leads = sorted(crm.admin.rows("Lead"), key=lambda r: r["ModifiedOn"])
    deal = leads[len(leads) // 3]
    lookback = timedelta(hours=CONFIG.lookback_hours)
    # The deal is the first row of the window, which spans several pages.
    window = {
        "start": (deal["ModifiedOn"] - timedelta(microseconds=1) + lookback).isoformat(),
        "end": (deal["ModifiedOn"] + timedelta(days=300)).isoformat(),
    }
    in_window = [
        r
        for r in leads
        if deal["ModifiedOn"] <= r["ModifiedOn"] < deal["ModifiedOn"] + timedelta(days=300)
    ]
    assert in_window[0]["Id"] == deal["Id"] and len(in_window) > 2 * CONFIG.page_size

    crm.admin.reset_counters()
    stall = crm.admin.set_fault("latency", entity="Lead", after=1, seconds=3, times=1)
    results: dict[str, Any] = {}

    def slow_run() -> None:
        results["slow"] = sync(url, CONFIG, "lead", window)

    slow = threading.Thread(target=slow_run)
    slow.start()
    for _ in range(600):
        if next(f for f in crm.admin.faults() if f["id"] == stall["id"])["fired"]:
            break
        threading.Event().wait(0.02)
    else:
        pytest.fail("the slow run never asked for its second page")

    crm.admin.touch("Lead", ids=[deal["Id"]], title="the newer version")
    results["fast"] = sync(url, CONFIG, "lead", FULL)
    slow.join(timeout=120)
    assert not slow.is_alive()
    assert results["slow"]["rows_read"] == len(in_window) - 1 or results["slow"][
        "rows_read"
    ] == len(in_window)

    stored = rows(
        url, "select title, modified_on from roistat.deal where crm_id = %s", (deal["Id"],)
    )
    newest = next(r for r in crm.admin.rows("Lead") if r["Id"] == deal["Id"])
    assert stored == [("the newer version", newest["ModifiedOn"])]
    assert [run["status"] for run in sync_runs(url)] == ["success", "success"]
