"""`iter_rows` reads the next page while the caller works on the current one.

The overlap is where a sync's speed comes from (the CRM answers while we map
and load), so these tests pin down what it must not change: the caller sees
the same rows in the same order, errors still reach the caller, a caller that
stops early leaves no thread or request behind, and other calls on the same
hook made mid-read still work.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from bpmonline_fixtures import make_hook, odata_requests, sandbox_with_connection

from roistat.bpmonline_errors import BpmOnlineError
from sandbox.testing import RunningSandbox

LEADS = 60
PAGE = 10


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with sandbox_with_connection(tmp_path_factory, leads=LEADS, orders=0, seed=11) as running:
        yield running


@pytest.fixture
def sb(shared: RunningSandbox) -> Iterator[RunningSandbox]:
    shared.admin.reset()
    yield shared
    shared.admin.reset()


def _lead_pages(sb: RunningSandbox) -> int:
    return len([r for r in odata_requests(sb, "Lead") if "orderby" in r.get("query", "")])


def _reader_threads(settle: float = 5.0) -> list[threading.Thread]:
    """The read-ahead threads still alive once those ending have had `settle` s to end."""
    deadline = time.monotonic() + settle
    while True:
        alive = [t for t in threading.enumerate() if t.name.startswith("bpmonline-read")]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.02)


def test_the_next_page_is_requested_before_the_caller_asks_for_it(sb):
    with make_hook() as hook:
        rows = hook.iter_rows("Lead", ["LeadName"], page_size=PAGE)
        next(rows)  # the caller holds the first row of the first page, no more
        deadline = time.monotonic() + 10
        while _lead_pages(sb) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _lead_pages(sb) == 2, odata_requests(sb, "Lead")
        rows.close()


def test_rows_come_in_the_same_order_as_page_by_page(sb):
    with make_hook() as hook:
        ahead = [row["Id"] for row in hook.iter_rows("Lead", ["LeadName"], page_size=PAGE)]
        whole = [row["Id"] for row in hook.iter_rows("Lead", ["LeadName"], page_size=LEADS + 1)]
    assert ahead == whole and len(set(ahead)) == LEADS


def test_a_caller_that_stops_early_leaves_no_reader_behind(sb):
    with make_hook() as hook:
        rows = hook.iter_rows("Lead", ["LeadName"], page_size=PAGE)
        next(rows)
        rows.close()
        assert not _reader_threads()
        assert hook.count("Lead") == LEADS


def test_other_calls_mid_read_take_their_turn(sb):
    with make_hook() as hook:
        seen, counts = [], []
        for row in hook.iter_rows("Lead", ["LeadName"], page_size=PAGE):
            seen.append(row["Id"])
            if len(seen) % 7 == 0:
                counts.append(hook.count("Lead"))
    assert len(seen) == len(set(seen)) == LEADS
    assert counts and set(counts) == {LEADS}


def test_an_error_on_the_page_read_ahead_reaches_the_caller_after_the_rows_before_it(sb):
    with make_hook() as hook:
        whole = [row["Id"] for row in hook.iter_rows("Lead", ["LeadName"], page_size=PAGE)]
    sb.admin.set_fault("status", entity="Lead", status=400, message="bad filter", after=2)
    got = []
    with make_hook() as hook, pytest.raises(BpmOnlineError, match="Lead"):
        for row in hook.iter_rows("Lead", ["LeadName"], page_size=PAGE):
            got.append(row["Id"])
    # The two pages before the failing one, whole: the second starts with the
    # first's last row again (the keyset reads "ge" its ModifiedOn) and drops it.
    assert got == whole[: 2 * PAGE - 1]
    assert not _reader_threads()
