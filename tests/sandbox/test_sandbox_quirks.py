"""Quirks that differ between real stands, switched per run or by the admin API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from sandbox.catalog import EMPTY_GUID
from sandbox.testing import RunningSandbox, run_sandbox
from sandbox.ticks import format_ticks, parse_iso_ticks, to_ticks

Get = Callable[..., requests.Response]


def test_decimals_as_strings(odata: Get, sandbox: RunningSandbox) -> None:
    sandbox.admin.set_quirks(decimals="string")

    response = odata("/Order", **{"$select": "Id,Amount,UsrFirstCost,UsrProfit"})

    stored = {r["Id"]: r for r in sandbox.admin.rows("Order")}
    assert "IEEE754Compatible=true" in response.headers["Content-Type"]
    for row in response.json()["value"]:
        for name in ("Amount", "UsrFirstCost", "UsrProfit"):
            expected = stored[row["Id"]][name]
            assert row[name] == (None if expected is None else f"{expected:.2f}")


def test_decimals_as_strings_only_when_asked(
    client: requests.Session, sandbox: RunningSandbox
) -> None:
    sandbox.admin.set_quirks(decimals="ieee754")
    params = {"$select": "Amount", "$filter": "Amount gt 0", "$top": "1"}

    plain = client.get(sandbox.odata_url + "/Order", params=params, timeout=10)
    asked = client.get(
        sandbox.odata_url + "/Order",
        params=params,
        headers={"Accept": "application/json;IEEE754Compatible=true"},
        timeout=10,
    )

    assert isinstance(plain.json()["value"][0]["Amount"], float)
    assert isinstance(asked.json()["value"][0]["Amount"], str)


def test_money_text_keeps_its_scale_as_a_number(odata: Get) -> None:
    raw = odata("/Order", **{"$select": "Amount", "$filter": "Amount eq 0", "$top": "1"}).text

    assert '"Amount":0.00' in raw


@pytest.mark.parametrize(("mode", "expected"), [("zero", EMPTY_GUID), ("null", None)])
def test_empty_lookup_style(odata: Get, sandbox: RunningSandbox, mode: str, expected: str) -> None:
    sandbox.admin.set_quirks(empty_lookup=mode)
    stored = {r["Id"]: r["LeadSourceId"] for r in sandbox.admin.rows("Lead")}

    rows = odata("/Lead", **{"$select": "Id,LeadSourceId"}).json()["value"]

    written = {r["Id"]: r["LeadSourceId"] for r in rows}
    blank = [i for i, v in stored.items() if v is None]
    zero = [i for i, v in stored.items() if v == EMPTY_GUID]
    assert blank and zero
    assert {written[i] for i in blank} == {expected}
    # Rows that store the all-zero GUID keep it: with `null`, both forms appear.
    assert {written[i] for i in zero} == {EMPTY_GUID}


def test_local_time_labelled_z(odata: Get, sandbox: RunningSandbox) -> None:
    stored = sandbox.admin.rows("Lead")[10]
    true_utc = to_ticks(stored["ModifiedOn"])
    sandbox.admin.set_quirks(clock_offset_minutes=180)

    shown = odata(f"/Lead({stored['Id']})", **{"$select": "ModifiedOn"}).json()["ModifiedOn"]
    shown_ticks = parse_iso_ticks(shown)

    assert shown.endswith("Z")
    assert shown_ticks // 10 - true_utc // 10 == 180 * 60 * 1_000_000
    # Filter literals are read in the same shifted clock: the shown value finds the row.
    hits = odata("/Lead", **{"$select": "Id", "$filter": f"ModifiedOn eq {shown}"}).json()["value"]
    assert stored["Id"] in {r["Id"] for r in hits}
    earlier = format_ticks(shown_ticks - 1)
    before = odata("/Lead", **{"$select": "Id", "$filter": f"ModifiedOn le {earlier}"}).json()[
        "value"
    ]
    assert stored["Id"] not in {r["Id"] for r in before}


def test_application_info_reports_the_offset(
    client: requests.Session, sandbox: RunningSandbox
) -> None:
    sandbox.admin.set_quirks(clock_offset_minutes=180)

    info = client.post(
        sandbox.url + "/0/ServiceModel/ApplicationInfoService.svc/GetApplicationInfo",
        json={},
        timeout=10,
    ).json()

    assert info["applicationInfo"]["sysValues"]["userTimezoneOffset"] == 180


def test_reads_without_select_can_fail(odata: Get, sandbox: RunningSandbox) -> None:
    sandbox.admin.set_quirks(select_all_fails=True)

    failing = odata("/Lead", **{"$top": "1"})
    selected = odata("/Lead", **{"$top": "1", "$select": "Id"})

    assert failing.status_code == 500
    assert "is missing the property" in failing.text
    assert selected.status_code == 200
    assert odata("/Lead/$count").status_code == 200


def test_in_operator_can_be_refused(odata: Get, sandbox: RunningSandbox) -> None:
    lead = sandbox.admin.rows("Lead")[0]["Id"]
    sandbox.admin.set_quirks(in_operator=False)

    response = odata("/Lead", **{"$filter": f"Id in ({lead}, {lead})"})

    assert response.status_code == 400


def test_unknown_quirk_is_refused(sandbox: RunningSandbox) -> None:
    with pytest.raises(RuntimeError, match="unknown quirk"):
        sandbox.admin.set_quirks(no_such_quirk=True)


def test_reset_restores_start_up_quirks(sandbox: RunningSandbox) -> None:
    sandbox.admin.set_quirks(decimals="string", clock_offset_minutes=60)

    sandbox.admin.reset()

    quirks = sandbox.admin.quirks()
    assert quirks["decimals"] == "number"
    assert quirks["clock_offset_minutes"] == 0


def test_quirks_given_at_start_up(tmp_path: Path) -> None:
    with run_sandbox(
        leads=30, orders=20, data_dir=tmp_path, decimals="string", clock_offset_minutes=-60
    ) as sb:
        session = sb.login()
        rows = session.get(
            sb.odata_url + "/Order", params={"$select": "Id,Amount,CreatedOn"}, timeout=10
        ).json()["value"]
        stored = {r["Id"]: r for r in sb.admin.rows("Order")}

    assert any(isinstance(r["Amount"], str) for r in rows)
    for row in rows:
        shown = parse_iso_ticks(row["CreatedOn"]) // 10
        assert shown - to_ticks(stored[row["Id"]]["CreatedOn"]) // 10 == -3_600_000_000
