"""Paging over real HTTP while the sandbox moves rows and bunches them into ties.

The property test reshapes a small Lead table into tie groups (rows sharing one
ModifiedOn with seven fraction digits), then reads it with a random page size
and window while ``touch_served`` faults modify rows between pages: a row
already served, or the next row not yet served, jumps to the end of the
ModifiedOn order. Whatever happens, no row is missed and none is repeated.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest
from bpmonline_fixtures import (
    as_datetime,
    make_hook,
    odata_requests,
    sandbox_with_connection,
    stored_versions,
    version_keys,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roistat.bpmonline_values import ODataTimestamp
from sandbox.testing import RunningSandbox

# Tie groups land on these stamps (each with a 7th fraction digit); windows
# start and end on them too.
TIE_STAMPS = [f"2025-0{month}-1{month}T10:00:00.123456{month}Z" for month in range(1, 6)]
TICKS = [ODataTimestamp.parse(s).ticks for s in TIE_STAMPS]


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with sandbox_with_connection(tmp_path_factory, leads=60, orders=0, seed=7) as running:
        yield running


@st.composite
def scenarios(draw):
    groups = draw(st.lists(st.integers(1, 25), min_size=0, max_size=3))
    bounds = st.one_of(st.none(), st.sampled_from(range(len(TICKS))))
    window = tuple(sorted(draw(st.tuples(bounds, bounds)), key=lambda b: -1 if b is None else b))
    faults = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "after": st.integers(0, 8),
                    "pick": st.sampled_from(["served", "unserved"]),
                    "count": st.integers(1, 3),
                }
            ),
            max_size=3,
        )
    )
    return {
        "groups": groups,
        "window": window,
        "faults": faults,
        "page_size": draw(st.integers(1, 50)),
        "seed": draw(st.integers(0, 2**16)),
    }


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_no_row_is_missed_or_repeated_under_mutation_and_ties(sb, scenario):
    admin = sb.admin
    admin.reset()
    rng = random.Random(scenario["seed"])
    ids = sorted(stored_versions(sb, "Lead"))
    for size, stamp in zip(scenario["groups"], TIE_STAMPS, strict=False):
        admin.touch("Lead", ids=rng.sample(ids, size), modified_on=stamp)

    # Window bounds are datetimes, whole microseconds: start just below a tie
    # stamp, end just above one, so both groups fall inside.
    start_index, end_index = scenario["window"]
    start = None if start_index is None else TICKS[start_index] // 10 * 10
    end = None if end_index is None else (TICKS[end_index] // 10 + 1) * 10

    def in_window(ticks: int) -> bool:
        return (start is None or ticks >= start) and (end is None or ticks < end)

    for fault in scenario["faults"]:
        admin.set_fault("touch_served", entity="Lead", **fault)
    before = stored_versions(sb, "Lead")

    with make_hook() as hook:
        emitted = version_keys(
            hook.iter_rows(
                "Lead",
                ["LeadName"],
                window_start=None if start is None else as_datetime(start),
                window_end=None if end is None else as_datetime(end),
                page_size=scenario["page_size"],
            )
        )

    after = stored_versions(sb, "Lead")
    # The sandbox moves rows just before it answers a page, so every move is
    # seen by a later request of the read: every final version is owed.
    touched = {row_id for f in admin.faults() for row_id in f["touched"]}

    assert len(emitted) == len(set(emitted)), "an (Id, ModifiedOn) pair was emitted twice"
    emitted_set = set(emitted)
    for row_id, ticks in after.items():
        if in_window(ticks):
            assert (row_id, as_datetime(ticks)) in emitted_set, f"row {row_id} final version missed"
        if row_id not in touched:
            assert ticks == before[row_id]
    for row_id, modified in emitted:
        assert start is None or modified >= as_datetime(start)
        assert end is None or modified < as_datetime(end)
        if row_id not in touched:
            assert modified == as_datetime(before[row_id]), (
                "an untouched row came with a strange version"
            )


def test_tie_group_larger_than_the_page_is_read_whole_with_exact_seven_digit_literals(sb):
    sb.admin.reset()
    stamp = "2025-07-07T07:07:07.7654321Z"
    ids = sorted(stored_versions(sb, "Lead"))[:25]
    sb.admin.touch("Lead", ids=ids, modified_on=stamp)

    with make_hook() as hook:
        rows = list(hook.iter_rows("Lead", ["LeadName"], page_size=10))

    tied = [row["Id"] for row in rows if row["Id"] in ids]
    assert sorted(tied) == ids, "every row of the tie group, once"
    assert len(rows) == len({row["Id"] for row in rows}) == 60
    filters = [parse_qs(r["query"]).get("$filter", [""])[0] for r in odata_requests(sb, "Lead")]
    assert f"ModifiedOn eq {stamp}" in filters, filters


def test_reads_are_streamed_page_by_page(sb):
    sb.admin.reset()
    with make_hook() as hook:
        rows = hook.iter_rows("Lead", ["LeadName"], page_size=5)
        next(rows)
        time.sleep(0.5)  # room for a reader that ran ahead too far to show it
        # the page in hand and the one read ahead (test_bpmonline_read_ahead.py), no more
        assert len(odata_requests(sb, "Lead")) <= 2, "the read is not streamed"
        rows.close()


def test_window_bounds_are_half_open(sb):
    sb.admin.reset()
    versions = stored_versions(sb, "Lead")
    ordered = sorted(set(versions.values()))
    start, end = ordered[len(ordered) // 4], ordered[len(ordered) * 3 // 4]
    with make_hook() as hook:
        rows = version_keys(
            hook.iter_rows(
                "Lead",
                [],
                window_start=ODataTimestamp(start).to_datetime(),
                window_end=ODataTimestamp(end).to_datetime(),
                page_size=7,
            )
        )
    # Python datetimes hold microseconds: the bounds were cut to the µs below.
    low, high = start - start % 10, end - end % 10
    expected = {(i, as_datetime(t)) for i, t in versions.items() if low <= t < high}
    assert set(rows) == expected


def test_id_scan_yields_every_id(sb):
    sb.admin.reset()
    with make_hook() as hook:
        ids = list(hook.iter_ids("Lead", page_size=13))
    assert sorted(ids) == sorted(stored_versions(sb, "Lead"))


def test_id_scan_never_loses_a_row_modified_during_the_scan(sb):
    sb.admin.reset()
    sb.admin.set_fault("touch_served", entity="Lead", pick="unserved", after=1, times=3)
    with make_hook() as hook:
        ids = set(hook.iter_ids("Lead", page_size=10))
    assert ids == set(stored_versions(sb, "Lead"))
