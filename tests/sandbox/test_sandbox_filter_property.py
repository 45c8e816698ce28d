"""Property: `$filter` over HTTP selects exactly the rows Python selects."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.testing import RunningSandbox
from sandbox.ticks import format_ticks, to_ticks

START = datetime(2024, 12, 1, tzinfo=UTC)
BRANDS = ["Acme", "ромашка", "GLOBEX", "", "Nobody"]

moments = st.integers(min_value=0, max_value=730 * 86_400 * 10**7).map(
    lambda ticks: to_ticks(START) + ticks
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    low=moments,
    span_days=st.integers(min_value=0, max_value=400),
    budget=st.integers(min_value=0, max_value=500_000),
    brand=st.sampled_from(BRANDS),
    negate=st.booleans(),
)
def test_filter_matches_python(
    shared_sandbox: RunningSandbox,
    low: int,
    span_days: int,
    budget: int,
    brand: str,
    negate: bool,
) -> None:
    high = low + span_days * 86_400 * 10**7
    inner = f"Budget ge {budget} or UsrBrand eq '{brand}'"
    expression = (
        f"ModifiedOn ge {format_ticks(low)} and ModifiedOn lt {format_ticks(high)} "
        f"and {'not ' if negate else ''}({inner})"
    )
    session = shared_sandbox.login()

    response = session.get(
        shared_sandbox.odata_url + "/Lead",
        params={"$select": "Id", "$filter": expression},
        timeout=10,
    )
    session.close()

    def inner_holds(row: dict) -> bool | None:
        # SQL three-valued logic: a NULL Budget makes `ge` unknown, not false.
        by_budget = None if row["Budget"] is None else Decimal(row["Budget"]) >= budget
        by_brand = row["UsrBrand"].casefold() == brand.casefold()
        if by_brand or by_budget:
            return True
        return None if by_budget is None else False

    expected = set()
    for row in shared_sandbox.admin.rows("Lead", raw=True):
        if not low <= row["ModifiedOn"] < high:
            continue
        holds = inner_holds(row)
        if holds is None:
            continue
        if holds != negate:
            expected.add(row["Id"])
    assert {r["Id"] for r in response.json()["value"]} == expected
