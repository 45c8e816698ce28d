"""OData 4 reads: paths, query options and response shape (reference §3.1–§3.5)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from sandbox.catalog import EMPTY_GUID, ORDER_STATUSES, QUALIFY_STATUSES
from sandbox.testing import RunningSandbox, run_sandbox

Get = Callable[..., requests.Response]
CREATIO_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$")
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


def test_service_document_lists_the_entity_sets(odata: Get) -> None:
    body = odata("/").json()

    names = {item["name"] for item in body["value"]}
    assert {"Lead", "Order", "QualifyStatus", "OrderStatus", "LeadSource", "LeadMedium"} <= names
    assert body["@odata.context"].endswith("/0/odata/$metadata")


def test_metadata_lists_every_column_with_its_type(odata: Get) -> None:
    response = odata("/$metadata")

    assert response.headers["Content-Type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    schema = root.find(f".//{EDM}Schema")
    assert schema is not None and schema.get("Namespace") == "Terrasoft.Configuration.OData"
    types = {
        entity.get("Name"): {p.get("Name"): p.attrib for p in entity.findall(f"{EDM}Property")}
        for entity in schema.findall(f"{EDM}EntityType")
    }
    lead, order = types["Lead"], types["Order"]
    assert lead["UsrRoistat"]["Type"] == "Edm.String"
    assert lead["UsrRoistat"]["MaxLength"] == "50"
    assert lead["UsrBrand"]["Type"] == "Edm.String"
    assert lead["Budget"]["Type"] == "Edm.Decimal"
    assert lead["QualifyStatusId"]["Type"] == "Edm.Guid"
    assert lead["ModifiedOn"]["Type"] == "Edm.DateTimeOffset"
    for name in ("UsrRoistat", "UsrFirstCost", "UsrProfit", "UsrBrand", "Amount", "Date"):
        assert name in order
    assert order["UsrFirstCost"]["Type"] == order["UsrProfit"]["Type"] == "Edm.Decimal"
    navs = {
        entity.get("Name"): {n.get("Name") for n in entity.findall(f"{EDM}NavigationProperty")}
        for entity in schema.findall(f"{EDM}EntityType")
    }
    assert {"QualifyStatus", "LeadSource"} <= navs["Lead"]
    assert "Status" in navs["Order"]


def test_page_has_context_with_projection_and_no_next_link(odata: Get) -> None:
    response = odata(
        "/Lead",
        **{
            "$select": "Id,LeadName,QualifyStatusId,Budget,CreatedOn,ModifiedOn",
            "$orderby": "ModifiedOn asc,Id asc",
            "$top": "5",
        },
    )

    body = response.json()
    assert response.headers["Content-Type"].startswith("application/json; odata.metadata=minimal")
    assert body["@odata.context"].endswith(
        "/0/odata/$metadata#Lead(Id,LeadName,QualifyStatusId,Budget,CreatedOn,ModifiedOn)"
    )
    assert "@odata.nextLink" not in body
    assert "@odata.count" not in body
    assert [list(row) for row in body["value"]] == [
        ["Id", "LeadName", "QualifyStatusId", "Budget", "CreatedOn", "ModifiedOn"]
    ] * 5


def test_context_without_select_names_the_set_only(odata: Get) -> None:
    body = odata("/QualifyStatus").json()

    assert body["@odata.context"].endswith("/0/odata/$metadata#QualifyStatus")
    assert {row["Id"] for row in body["value"]} == {s.id for s in QUALIFY_STATUSES}


def test_order_statuses_are_the_standard_ones(odata: Get) -> None:
    rows = odata("/OrderStatus", **{"$select": "Id,Name,FinalStatus"}).json()["value"]

    assert {(r["Id"], r["Name"], r["FinalStatus"]) for r in rows} == {
        (s.id, s.name, s.final_status) for s in ORDER_STATUSES
    }


def test_datetimes_have_seven_fractional_digits_and_z(odata: Get) -> None:
    rows = odata("/Order", **{"$select": "CreatedOn,ModifiedOn,Date", "$top": "200"}).json()
    values = [v for row in rows["value"] for v in row.values()]

    assert values and all(CREATIO_DATETIME.match(v) for v in values)


def test_money_is_written_as_exact_json_numbers(odata: Get, sandbox: RunningSandbox) -> None:
    raw = odata("/Lead", **{"$select": "Id,Budget", "$orderby": "Id"}).content.decode()
    stored = {r["Id"]: r["Budget"] for r in sandbox.admin.rows("Lead")}

    written = dict(re.findall(r'"Id":"([0-9a-f-]{36})","Budget":(null|[0-9.]+)', raw))
    assert len(written) == len(stored)
    for row_id, text in written.items():
        expected = stored[row_id]
        assert (text == "null") == (expected is None)
        if expected is not None:
            assert text == f"{expected:.2f}"


def test_count_option_and_count_path(odata: Get) -> None:
    window = "ModifiedOn ge 2025-06-01T00:00:00Z and ModifiedOn lt 2026-01-01T00:00:00Z"

    page = odata("/Lead", **{"$filter": window, "$count": "true", "$top": "3"}).json()
    plain = odata("/Lead/$count", **{"$filter": window})
    total = odata("/Lead/$count")

    assert len(page["value"]) == 3
    assert plain.headers["Content-Type"].startswith("text/plain")
    assert int(plain.text) == page["@odata.count"]
    assert 0 < page["@odata.count"] < int(total.text) == 300


def test_top_and_skip_page_through_a_stable_order(odata: Get) -> None:
    order = {"$select": "Id", "$orderby": "ModifiedOn asc,Id asc"}
    everything = [r["Id"] for r in odata("/Lead", **order).json()["value"]]

    paged = []
    for skip in range(0, 300, 70):
        page = odata("/Lead", **order, **{"$top": "70", "$skip": str(skip)}).json()
        paged.extend(r["Id"] for r in page["value"])

    assert paged == everything
    assert len(set(everything)) == 300


def test_orderby_desc_and_nav_path(odata: Get) -> None:
    desc = odata("/Lead", **{"$select": "ModifiedOn", "$orderby": "ModifiedOn desc"}).json()
    by_stage = odata(
        "/Lead", **{"$select": "QualifyStatusId", "$orderby": "QualifyStatus/Name asc,Id"}
    ).json()

    stamps = [r["ModifiedOn"] for r in desc["value"]]
    assert stamps == sorted(stamps, reverse=True)
    names = {s.id: s.name.casefold() for s in QUALIFY_STATUSES}
    ordered = [names[r["QualifyStatusId"]] for r in by_stage["value"]]
    assert ordered == sorted(ordered)


def test_entity_by_key(odata: Get, sandbox: RunningSandbox) -> None:
    lead = sandbox.admin.rows("Lead")[7]

    response = odata(f"/Lead({lead['Id']})", **{"$select": "Id,LeadName"})

    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"].endswith("/0/odata/$metadata#Lead(Id,LeadName)/$entity")
    assert body["Id"] == lead["Id"]
    assert body["LeadName"] == lead["LeadName"]


def test_unknown_key_is_404_with_empty_body(odata: Get) -> None:
    response = odata("/Lead(3fa85f64-5717-4562-b3fc-2c963f66afa6)")

    assert response.status_code == 404
    assert response.content == b""


def test_filter_on_datetime_window_matches_the_rows(odata: Get, sandbox: RunningSandbox) -> None:
    low, high = "2025-03-01T00:00:00Z", "2025-09-01T12:30:00.5Z"
    rows = odata(
        "/Lead",
        **{"$select": "Id", "$filter": f"ModifiedOn ge {low} and ModifiedOn lt {high}"},
    ).json()["value"]

    start = datetime(2025, 3, 1, tzinfo=UTC)
    end = datetime(2025, 9, 1, 12, 30, 0, 500000, tzinfo=UTC)
    expected = {r["Id"] for r in sandbox.admin.rows("Lead") if start <= r["ModifiedOn"] < end}
    assert {r["Id"] for r in rows} == expected
    assert expected


def test_filter_on_lookup_navigation_path(odata: Get, sandbox: RunningSandbox) -> None:
    stage = QUALIFY_STATUSES[0].id

    by_id = odata("/Lead", **{"$select": "Id", "$filter": f"QualifyStatus/Id eq {stage}"})
    by_name = odata(
        "/Lead", **{"$select": "Id", "$filter": "QualifyStatus/Name eq 'qualification'"}
    )

    expected = {r["Id"] for r in sandbox.admin.rows("Lead") if r["QualifyStatusId"] == stage}
    assert {r["Id"] for r in by_id.json()["value"]} == expected
    assert {r["Id"] for r in by_name.json()["value"]} == expected


def test_empty_lookup_filters(odata: Get, sandbox: RunningSandbox) -> None:
    rows = sandbox.admin.rows("Lead")
    empty = {r["Id"] for r in rows if r["LeadSourceId"] in (None, EMPTY_GUID)}

    nav_null = odata("/Lead", **{"$select": "Id", "$filter": "LeadSource eq null"}).json()
    nav_not_null = odata("/Lead", **{"$select": "Id", "$filter": "LeadSource ne null"}).json()
    id_null = odata("/Lead", **{"$select": "Id", "$filter": "LeadSource/Id eq null"}).json()

    assert {r["Id"] for r in nav_null["value"]} == empty
    assert len(nav_not_null["value"]) == len(rows) - len(empty)
    # `Nav/Id eq null` is an inner join: it silently finds nothing.
    assert id_null["value"] == []


def test_string_filters_are_case_insensitive_and_unicode(
    odata: Get, sandbox: RunningSandbox
) -> None:
    rows = sandbox.admin.rows("Lead")

    def ids(expression: str) -> set[str]:
        body = odata("/Lead", **{"$select": "Id", "$filter": expression}).json()
        return {r["Id"] for r in body["value"]}

    cases = {
        "UsrBrand eq 'ромашка'": lambda r: r["UsrBrand"] == "Ромашка",
        "contains(LeadName,'ооо')": lambda r: "ООО" in r["LeadName"],
        "startswith(LeadName,'ACME')": lambda r: r["LeadName"].startswith("ACME"),
        "endswith(LeadName,'/ o''neil')": lambda r: r["LeadName"].endswith("/ O'Neil"),
        "UsrRoistat eq ''": lambda r: r["UsrRoistat"] == "",
    }
    for expression, wanted in cases.items():
        expected = {r["Id"] for r in rows if wanted(r)}
        assert expected, expression
        assert ids(expression) == expected, expression


def test_filter_boolean_logic_null_and_numbers(odata: Get, sandbox: RunningSandbox) -> None:
    rows = sandbox.admin.rows("Lead")

    def ids(expression: str) -> set[str]:
        body = odata("/Lead", **{"$select": "Id", "$filter": expression}).json()
        return {r["Id"] for r in body["value"]}

    big = {r["Id"] for r in rows if r["Budget"] is not None and r["Budget"] > Decimal("100000")}
    blank = {r["Id"] for r in rows if r["Budget"] is None}
    zero = {r["Id"] for r in rows if r["Budget"] == 0}
    assert ids("Budget gt 100000") == big
    assert ids("Budget gt 100000.0M") == big
    assert ids("Budget eq null") == blank
    assert ids("not (Budget eq null)") == {r["Id"] for r in rows} - blank
    assert ids("Budget eq 0 or Budget eq null") == zero | blank
    assert ids("(Budget eq 0) and UsrBrand ne 'Acme'") == {
        r["Id"] for r in rows if r["Budget"] == 0 and r["UsrBrand"] != "Acme"
    }


def test_filter_in_operator_and_guid_key(odata: Get, sandbox: RunningSandbox) -> None:
    rows = sandbox.admin.rows("Order")[:3]
    ids = ", ".join(r["Id"] for r in rows)

    body = odata("/Order", **{"$select": "Id", "$filter": f"Id in ({ids})"}).json()
    single = odata("/Order", **{"$select": "Id", "$filter": f"Id eq {rows[0]['Id'].upper()}"})

    assert {r["Id"] for r in body["value"]} == {r["Id"] for r in rows}
    assert [r["Id"] for r in single.json()["value"]] == [rows[0]["Id"]]


def test_expand_a_lookup_with_nested_select(odata: Get, sandbox: RunningSandbox) -> None:
    body = odata(
        "/Order",
        **{"$select": "Id,StatusId", "$expand": "Status($select=Name)", "$top": "20"},
    ).json()

    names = {s.id: s.name for s in ORDER_STATUSES}
    assert body["@odata.context"].endswith("#Order(Id,StatusId,Status(Name))")
    for row in body["value"]:
        assert row["Status"] == {"Name": names[row["StatusId"]]}


def test_empty_lookups_are_written_as_the_zero_guid_by_default(odata: Get) -> None:
    values = odata("/Lead", **{"$select": "LeadSourceId"}).json()["value"]

    assert EMPTY_GUID in {r["LeadSourceId"] for r in values}
    assert None not in {r["LeadSourceId"] for r in values}


def test_text_columns_are_empty_strings_not_null(odata: Get) -> None:
    values = odata("/Lead", **{"$select": "UsrRoistat,Email"}).json()["value"]

    assert all(isinstance(r["UsrRoistat"], str) for r in values)
    assert "" in {r["UsrRoistat"] for r in values}


def test_cyrillic_is_utf8_not_escaped(odata: Get) -> None:
    response = odata("/Lead", **{"$select": "LeadName"})

    assert "ООО".encode() in response.content
    assert b"\\u04" not in response.content


def test_row_cap_truncates_silently(tmp_path: Path) -> None:
    with run_sandbox(leads=120, orders=10, data_dir=tmp_path, row_cap=50) as sb:
        session = sb.login()
        everything = session.get(sb.odata_url + "/Lead?$count=true", timeout=10).json()
        big_top = session.get(sb.odata_url + "/Lead?$top=100&$skip=60", timeout=10).json()

    assert len(everything["value"]) == 50
    assert everything["@odata.count"] == 120
    assert "@odata.nextLink" not in everything
    assert len(big_top["value"]) == 50


def test_default_row_cap_is_20000(sandbox: RunningSandbox) -> None:
    assert sandbox.options.row_cap == 20_000
    assert sandbox.admin.info()["row_cap"] == 20_000


def test_netcore_serves_odata_without_slash_zero(tmp_path: Path) -> None:
    with run_sandbox(leads=10, orders=10, data_dir=tmp_path, netcore=True) as sb:
        session = sb.login()
        core = session.get(sb.url + "/odata/Lead?$top=1", timeout=10)
        framework = session.get(sb.url + "/0/odata/Lead?$top=1", timeout=10)
        ping = session.get(sb.url + "/0/ping", timeout=10)

    assert sb.odata_path == "/odata"
    assert core.status_code == 200
    assert "/odata/$metadata#Lead" in core.json()["@odata.context"]
    assert framework.status_code == 404
    assert ping.status_code == 404


@pytest.mark.parametrize("column", ["Usrroistat", "UsrVisit"])
def test_roistat_column_name_is_configurable(tmp_path: Path, column: str) -> None:
    with run_sandbox(leads=30, orders=10, data_dir=tmp_path, roistat_column=column) as sb:
        session = sb.login()
        page = session.get(sb.odata_url + f"/Order?$select=Id,{column}&$top=3", timeout=10)
        metadata = session.get(sb.odata_url + "/$metadata", timeout=10).text
        default = session.get(sb.odata_url + "/Order?$select=UsrRoistat", timeout=10)

    assert page.status_code == 200
    assert f'Name="{column}" Type="Edm.String" MaxLength="50"' in metadata
    assert default.status_code == 400
