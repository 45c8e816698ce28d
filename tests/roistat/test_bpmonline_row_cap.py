"""A site that answers at most N rows whatever $top asks (silently) is still read whole.

The sandbox's `row_cap` is that server setting. Without care a keyset read
takes the first short page for the end and stops there, and the deletion
check would then take every deal it did not reach for deleted.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bpmonline_fixtures import make_hook, sandbox_with_connection

from sandbox.testing import RunningSandbox

CAP = 7


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with sandbox_with_connection(
        tmp_path_factory, conn_id="bpmonline_capped", leads=90, orders=0, seed=4, row_cap=CAP
    ) as running:
        yield running


def _read(page_size: int) -> list[tuple[str, object]]:
    with make_hook("bpmonline_capped") as hook:
        return [
            (row["Id"].lower(), row["ModifiedOn"])
            for row in hook.iter_rows("Lead", ["LeadName"], page_size=page_size)
        ]


def test_a_capped_site_is_read_whole_with_any_page_size(capped):
    truth = {row["Id"].lower() for row in capped.admin.rows("Lead")}
    for page_size in (CAP - 1, CAP, CAP + 1, 1000):
        read = _read(page_size)
        assert len(read) == len(set(read)) == len(truth), page_size
        assert {crm_id for crm_id, _ in read} == truth


def test_a_tie_group_longer_than_the_cap_is_read_whole(capped):
    ids = [row["Id"] for row in capped.admin.rows("Lead")][: 3 * CAP]
    capped.admin.touch("Lead", ids=ids, modified_on="2026-11-30T12:00:00.1234567Z")
    read = _read(1000)
    assert {crm_id for crm_id, _ in read} >= {i.lower() for i in ids}
    assert len(read) == len(set(read)) == len(capped.admin.rows("Lead"))
