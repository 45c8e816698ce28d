"""`existing_ids`: asking the CRM by Id which deals it still holds."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from bpmonline_fixtures import make_hook, odata_requests, sandbox_with_connection

from roistat.bpmonline_errors import BpmOnlineConfigError
from roistat.bpmonline_hook import EXISTING_IDS_BATCH
from sandbox.testing import RunningSandbox


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with sandbox_with_connection(tmp_path_factory, leads=120, orders=0, seed=5) as running:
        yield running


def test_existing_ids_finds_exactly_the_ids_still_there_over_several_requests(sb):
    ids = [row["Id"] for row in sb.admin.rows("Lead")][:100]
    gone = ids[::7]
    sb.admin.delete("Lead", gone)
    strangers = [str(uuid.uuid4()) for _ in range(5)]
    asked = [i.upper() for i in ids] + strangers  # case must not matter
    sb.admin.reset_counters()
    with make_hook() as hook:
        found = hook.existing_ids("Lead", asked)
    assert found == {i.lower() for i in ids} - {g.lower() for g in gone}
    # in batches small enough for the site's filter limit (the sandbox's is 100 nodes)
    requests = odata_requests(sb, "Lead")
    assert len(requests) == -(-len(asked) // EXISTING_IDS_BATCH)


def test_existing_ids_of_nothing_asks_nothing(sb):
    sb.admin.reset_counters()
    with make_hook() as hook:
        assert hook.existing_ids("Lead", []) == set()
    assert odata_requests(sb, "Lead") == []


def test_existing_ids_refuses_what_is_not_a_guid_before_it_reaches_a_filter(sb):
    with make_hook() as hook, pytest.raises(BpmOnlineConfigError, match="not a GUID"):
        hook.existing_ids("Lead", ["1f3ad326-effd-4ac3-a3e2-957e7def3684' or 1 eq 1"])
