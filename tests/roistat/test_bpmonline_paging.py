"""The ModifiedOn keyset on its own, against an in-memory model of Creatio's paging.

The model answers the keyset's queries the way OData does ($filter on
ModifiedOn, $orderby, $skip, $top, $count) and can change rows between two
requests, which is where a real CRM changes them. The property test over HTTP
against the sandbox lives in test_bpmonline_hook_paging.py; this one runs many
more examples because it needs no server.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roistat.bpmonline_errors import BpmOnlineConfigError, BpmOnlinePagingError
from roistat.bpmonline_paging import ModifiedOnKeyset
from roistat.bpmonline_values import ODataTimestamp

BASE = 17_000_000_000_000_000  # ticks: a date in 2023


@dataclass
class ModelTable:
    """Rows as Id -> ModifiedOn ticks; `mutations[n]` runs before request n.

    A mutation is a list of ids modified together: with ``shared`` they get one
    new ModifiedOn (a bulk update), otherwise one each.
    """

    rows: dict[str, int]
    mutations: dict[int, list[tuple[list[str], bool]]] = field(default_factory=dict)
    requests: int = 0
    clock: int = BASE + 10_000
    # A site setting some servers have: at most this many rows per answer,
    # whatever $top asks, silently (no error, no next link).
    row_cap: int | None = None

    def answer(self, query: dict[str, str]) -> tuple[list[dict[str, str]], int | None]:
        for row_ids, shared in self.mutations.get(self.requests, []):
            stamp = self._now()
            for row_id in row_ids:
                self.rows[row_id] = stamp if shared else self._now()
        self.requests += 1

        matching = [(t, i) for i, t in self.rows.items() if _matches(t, query.get("$filter", ""))]
        if query["$orderby"] == "Id asc":
            matching.sort(key=lambda pair: pair[1])
        else:
            assert query["$orderby"] == "ModifiedOn asc,Id asc"
            matching.sort()
        skip = int(query.get("$skip", 0))
        top = int(query["$top"])
        page = matching[skip : skip + min(top, self.row_cap or top)]
        count = len(matching) if query.get("$count") == "true" else None
        return [{"Id": i, "ModifiedOn": ODataTimestamp(t).literal()} for t, i in page], count

    def _now(self) -> int:
        self.clock += 1
        return self.clock


def _matches(ticks: int, odata_filter: str) -> bool:
    if not odata_filter:
        return True
    for condition in odata_filter.split(" and "):
        column, op, literal = condition.split(" ")
        assert column == "ModifiedOn"
        bound = ODataTimestamp.parse(literal).ticks
        ok = {
            "ge": ticks >= bound,
            "gt": ticks > bound,
            "lt": ticks < bound,
            "eq": ticks == bound,
        }[op]
        if not ok:
            return False
    return True


def read_all(table: ModelTable, keyset: ModifiedOnKeyset) -> list[tuple[str, int]]:
    emitted = []
    for _ in range(100_000):
        query = keyset.next_query()
        if query is None:
            return emitted
        rows, count = table.answer(query)
        emitted += [
            (r["Id"], ODataTimestamp.parse(r["ModifiedOn"]).ticks) for r in keyset.take(rows, count)
        ]
    raise AssertionError("the keyset did not finish")


def _table_with_ties(sizes: list[int]) -> dict[str, int]:
    ids = (f"{n:08x}-0000-0000-0000-000000000000" for n in itertools.count())
    return {next(ids): BASE + group * 100 for group, size in enumerate(sizes) for _ in range(size)}


@st.composite
def scenarios(draw):
    sizes = draw(st.lists(st.integers(1, 12), min_size=1, max_size=8))
    rows = _table_with_ties(sizes)
    page_size = draw(st.integers(1, 10))
    ids = sorted(rows)
    # Before request n some rows are modified, one by one or in a bulk update
    # that gives them all one new ModifiedOn (a new tie group at the end).
    mutation = st.tuples(st.lists(st.sampled_from(ids), min_size=1, max_size=12), st.booleans())
    mutations = draw(
        st.dictionaries(st.integers(1, 40), st.lists(mutation, max_size=3), max_size=6)
    )
    return rows, page_size, mutations


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_keyset_neither_misses_nor_repeats_under_mutation(scenario):
    rows, page_size, mutations = scenario
    table = ModelTable(dict(rows), mutations)
    emitted = read_all(table, ModifiedOnKeyset(page_size=page_size))

    assert len(emitted) == len(set(emitted)), "an (Id, ModifiedOn) pair came twice"
    assert set(table.rows.items()) - set(emitted) == set(), "a row's final version was missed"


@settings(max_examples=150, deadline=None)
@given(scenarios(), st.integers(1, 9))
def test_a_site_that_caps_its_answers_below_top_is_read_whole(scenario, cap):
    """A short page is not taken for the end until a count says so: a site
    capping answers below $top is read whole, tie groups included."""
    rows, page_size, mutations = scenario
    table = ModelTable(dict(rows), mutations, row_cap=cap)
    emitted = read_all(table, ModifiedOnKeyset(page_size=page_size + cap))

    assert len(emitted) == len(set(emitted)), "an (Id, ModifiedOn) pair came twice"
    assert set(table.rows.items()) - set(emitted) == set(), "a row's final version was missed"


@settings(max_examples=100, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 30), min_size=1, max_size=6),
    page_size=st.integers(1, 12),
    window=st.tuples(st.integers(0, 7), st.integers(0, 7)),
)
def test_keyset_reads_exactly_the_window(sizes, page_size, window):
    rows = _table_with_ties(sizes)
    start, end = BASE + min(window) * 100, BASE + max(window) * 100 + 1
    keyset = ModifiedOnKeyset(
        page_size=page_size, window_start=ODataTimestamp(start), window_end=ODataTimestamp(end)
    )
    emitted = read_all(ModelTable(dict(rows)), keyset)
    assert sorted(emitted) == sorted((i, t) for i, t in rows.items() if start <= t < end)


def test_tie_group_larger_than_a_page_is_walked_by_id_with_count():
    table = ModelTable(_table_with_ties([1, 7, 1]))
    keyset = ModifiedOnKeyset(page_size=3)
    queries = []
    emitted = []
    while (query := keyset.next_query()) is not None:
        queries.append(query)
        rows, count = table.answer(query)
        emitted += keyset.take(rows, count)

    assert len(emitted) == 9
    tie_queries = [q for q in queries if q.get("$filter", "").startswith("ModifiedOn eq")]
    assert tie_queries and all(
        q["$orderby"] == "Id asc" and q["$count"] == "true" for q in tie_queries
    )
    assert [q["$skip"] for q in tie_queries] == ["0", "3", "6"]
    after_group = queries[len(queries) - queries[::-1].index(tie_queries[-1])]
    assert after_group["$filter"].startswith("ModifiedOn gt")
    # a short last page is confirmed as the end by a count (a capped site sends short pages)
    assert queries[-1].get("$count") == "true" and "$skip" not in queries[-1]


def test_tie_scan_restarts_when_the_group_shrinks():
    rows = _table_with_ties([8])
    first = sorted(rows)[0]
    # Before the 4th request (the second tie page) the first row leaves the
    # group: without a restart, $skip=3 would jump over one unread row.
    table = ModelTable(dict(rows), {3: [([first], False)]})
    keyset = ModifiedOnKeyset(page_size=3)
    emitted = read_all(table, keyset)
    assert set(table.rows.items()) <= set(emitted)
    assert len(emitted) == len(set(emitted)) == 9


def test_first_query_filters_on_the_window_and_orders_by_modifiedon_then_id():
    keyset = ModifiedOnKeyset(
        page_size=500,
        window_start=ODataTimestamp.parse("2024-01-01T00:00:00Z"),
        window_end=ODataTimestamp.parse("2024-01-02T00:00:00.1234567Z"),
    )
    assert keyset.next_query() == {
        "$filter": "ModifiedOn ge 2024-01-01T00:00:00.0000000Z and ModifiedOn lt 2024-01-02T00:00:00.1234567Z",
        "$orderby": "ModifiedOn asc,Id asc",
        "$top": "500",
    }


def test_rows_out_of_order_stop_the_read():
    keyset = ModifiedOnKeyset(page_size=2)
    rows = [
        {"Id": "b", "ModifiedOn": "2024-01-02T00:00:00.0000000Z"},
        {"Id": "a", "ModifiedOn": "2024-01-01T00:00:00.0000000Z"},
    ]
    with pytest.raises(BpmOnlinePagingError, match="does not order by ModifiedOn"):
        keyset.take(rows)


@pytest.mark.parametrize("page_size", [0, 20_001, -1, 2.5, True], ids=str)
def test_page_size_outside_creatio_cap_is_refused(page_size):
    with pytest.raises(BpmOnlineConfigError, match="1 to 20000"):
        ModifiedOnKeyset(page_size=page_size)
