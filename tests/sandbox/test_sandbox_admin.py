"""Admin operations: changing, adding and deleting rows and statuses, reading facts."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from sandbox.catalog import ORDER_STATUSES, QUALIFY_STATUSES
from sandbox.testing import RunningSandbox, run_sandbox
from sandbox.ticks import parse_iso_ticks, to_ticks


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    # Its own sandbox: these tests change the data others count on.
    with run_sandbox(leads=80, orders=60, seed=5, data_dir=tmp_path_factory.mktemp("admin")) as sb:
        yield sb


@pytest.fixture
def client(sb: RunningSandbox) -> Iterator[requests.Session]:
    session = sb.login()
    yield session
    session.close()


def _get(client: requests.Session, sb: RunningSandbox, path: str, **params: str) -> dict:
    response = client.get(sb.odata_url + path, params=params, timeout=10)
    response.raise_for_status()
    return response.json()


def test_admin_needs_the_token(sb: RunningSandbox) -> None:
    missing = requests.get(sb.url + "/_sandbox/info", timeout=10)
    wrong = requests.get(sb.url + "/_sandbox/info", headers={"X-Sandbox-Admin": "nope"}, timeout=10)

    assert missing.status_code == wrong.status_code == 403


def test_info_reports_the_dataset(sb: RunningSandbox) -> None:
    info = sb.admin.info()

    assert info["generated"] == {"leads": 80, "orders": 60}
    assert info["roistat_column"] == "UsrRoistat"
    assert info["until"] == "2026-12-01T00:00:00.0000000Z"
    assert Path(info["visits_path"]) == sb.visits_path and sb.visits_path.exists()
    assert Path(info["db_path"]) == sb.db_path
    assert info["bursts"]["Lead"]["rows"] == 16
    assert info["odata_path"] == "/0/odata"


def test_touch_changes_values_and_moves_the_row_to_the_end(
    client: requests.Session, sb: RunningSandbox
) -> None:
    newest_before = max(to_ticks(r["ModifiedOn"]) for r in sb.admin.rows("Lead"))
    target = sb.admin.rows("Lead")[0]["Id"]
    disqualified = QUALIFY_STATUSES[5].id

    ids = sb.admin.touch(
        "Lead", [target], status=disqualified, roistat="nocookie", amount="1234.50"
    )

    row = _get(
        client,
        sb,
        f"/Lead({target})",
        **{"$select": "QualifyStatusId,UsrRoistat,Budget,ModifiedOn"},
    )
    assert ids == [target]
    assert row["QualifyStatusId"] == disqualified
    assert row["UsrRoistat"] == "nocookie"
    assert row["Budget"] == 1234.5
    assert parse_iso_ticks(row["ModifiedOn"]) > newest_before
    last = _get(
        client, sb, "/Lead", **{"$select": "Id", "$orderby": "ModifiedOn desc", "$top": "1"}
    )
    assert last["value"][0]["Id"] == target


def test_touch_random_rows_on_orders(sb: RunningSandbox) -> None:
    completed = ORDER_STATUSES[3].id

    ids = sb.admin.touch("Order", count=3, status=completed, first_cost="10", profit=None)

    rows = {r["Id"]: r for r in sb.admin.rows("Order")}
    assert len(set(ids)) == 3
    for row_id in ids:
        assert rows[row_id]["StatusId"] == completed
        assert rows[row_id]["UsrFirstCost"] == Decimal("10.00")
        assert rows[row_id]["UsrProfit"] is None


def test_touch_with_an_explicit_late_modified_on(sb: RunningSandbox) -> None:
    target = sb.admin.rows("Order")[1]["Id"]

    sb.admin.touch("Order", [target], modified_on="2025-01-02T03:04:05.1234567Z")

    row = {r["Id"]: r for r in sb.admin.rows("Order")}[target]
    assert row["ModifiedOn"].isoformat() == "2025-01-02T03:04:05.123456+00:00"


def test_touch_unknown_row_or_column_is_refused(sb: RunningSandbox) -> None:
    with pytest.raises(RuntimeError, match="no Lead row"):
        sb.admin.touch("Lead", ["3fa85f64-5717-4562-b3fc-2c963f66afa6"])
    with pytest.raises(RuntimeError, match="no writable column"):
        sb.admin.touch("Lead", count=1, Nonsense=1)


def test_insert_and_delete(client: requests.Session, sb: RunningSandbox) -> None:
    before = int(client.get(sb.odata_url + "/Order/$count", timeout=10).text)

    ids = sb.admin.insert("Order", 2, roistat="offline_expo")
    after_insert = int(client.get(sb.odata_url + "/Order/$count", timeout=10).text)
    row = _get(client, sb, f"/Order({ids[0]})", **{"$select": "Number,UsrRoistat"})
    deleted = sb.admin.delete("Order", ids)
    gone = client.get(sb.odata_url + f"/Order({ids[0]})", timeout=10)

    assert after_insert == before + 2
    assert row["UsrRoistat"] == "offline_expo"
    assert row["Number"].startswith("ORD-")
    assert deleted == 2
    assert gone.status_code == 404


def test_statuses_rename_add_and_delete(client: requests.Session, sb: RunningSandbox) -> None:
    draft = ORDER_STATUSES[0].id

    sb.admin.rename_status("Order", draft, "1. Черновик")
    new_id = sb.admin.add_status("Lead", "Waiting for payment")
    statuses = _get(client, sb, "/OrderStatus", **{"$select": "Id,Name"})["value"]
    stages = _get(client, sb, "/QualifyStatus", **{"$select": "Id,Name"})["value"]
    removed = sb.admin.delete_status("Lead", new_id)

    assert {"Id": draft, "Name": "1. Черновик"} in statuses
    assert {"Id": new_id, "Name": "Waiting for payment"} in stages
    assert removed == 1


def test_rows_endpoint_matches_direct_reads(sb: RunningSandbox) -> None:
    over_http = sb.admin._call("GET", "/rows/Lead")
    direct = sb.admin.rows("Lead")

    assert [r["Id"] for r in over_http] == [r["Id"] for r in direct]


def test_odata_writes(client: requests.Session, sb: RunningSandbox) -> None:
    created = client.post(
        sb.odata_url + "/Lead",
        json={
            "LeadName": "Test / Тест",
            "Budget": 100.10,
            "QualifyStatus": {"Id": QUALIFY_STATUSES[1].id},
        },
        timeout=10,
    )
    lead_id = created.json()["Id"]
    patched = client.patch(sb.odata_url + f"/Lead({lead_id})", json={"Budget": 200}, timeout=10)
    row = _get(client, sb, f"/Lead({lead_id})", **{"$select": "Budget,QualifyStatusId"})
    deleted = client.delete(sb.odata_url + f"/Lead({lead_id})", timeout=10)

    assert created.status_code == 201
    assert created.json()["@odata.context"].endswith("#Lead/$entity")
    assert created.json()["Budget"] == 100.1
    assert patched.status_code == 204
    assert row["Budget"] == 200
    # The nested lookup object was ignored, as Creatio ignores it: the default stage.
    assert row["QualifyStatusId"] == QUALIFY_STATUSES[0].id
    assert deleted.status_code == 204
