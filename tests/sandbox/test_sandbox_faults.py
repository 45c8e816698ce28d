"""Scripted faults: each kind, and how they are targeted and counted."""

from __future__ import annotations

import time

import pytest
import requests

from sandbox.testing import RunningSandbox


def _lead_page(client: requests.Session, sb: RunningSandbox, **params: str) -> requests.Response:
    query = {"$select": "Id,ModifiedOn", "$orderby": "ModifiedOn asc,Id asc", "$top": "50"}
    return client.get(sb.odata_url + "/Lead", params=query | params, timeout=10)


def test_latency(client: requests.Session, sandbox: RunningSandbox) -> None:
    sandbox.admin.set_fault("latency", entity="Lead", seconds=0.3)

    started = time.monotonic()
    slow = _lead_page(client, sandbox)
    slow_elapsed = time.monotonic() - started
    started = time.monotonic()
    fast = client.get(sandbox.odata_url + "/Order?$top=1", timeout=10)
    fast_elapsed = time.monotonic() - started

    assert slow.status_code == fast.status_code == 200
    assert slow_elapsed >= 0.3 > fast_elapsed


def test_429_with_retry_after(client: requests.Session, sandbox: RunningSandbox) -> None:
    sandbox.admin.set_fault("status", status=429, retry_after=7, entity="Lead")

    limited = _lead_page(client, sandbox)
    after = _lead_page(client, sandbox)

    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "7"
    assert after.status_code == 200


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors(client: requests.Session, sandbox: RunningSandbox, status: int) -> None:
    sandbox.admin.set_fault("status", status=status, entity="Lead")

    response = _lead_page(client, sandbox)

    assert response.status_code == status
    if status == 500:
        assert response.json()["error"]["message"] == "An error has occurred."
    else:
        assert response.headers["Content-Type"].startswith("text/html")


def test_dropped_connection(client: requests.Session, sandbox: RunningSandbox) -> None:
    sandbox.admin.set_fault("drop", entity="Lead")

    with pytest.raises(requests.ConnectionError):
        _lead_page(client, sandbox)
    assert _lead_page(client, sandbox).status_code == 200


def test_truncated_body_with_consistent_length(
    client: requests.Session, sandbox: RunningSandbox
) -> None:
    whole = _lead_page(client, sandbox)
    sandbox.admin.set_fault("truncate", entity="Lead", fraction=0.5)

    cut = _lead_page(client, sandbox)

    assert cut.status_code == 200
    assert cut.headers["Content-Type"] == whole.headers["Content-Type"]
    assert cut.content == whole.content[: len(whole.content) // 2]
    with pytest.raises(ValueError):
        cut.json()


def test_truncated_body_promising_the_full_length(
    client: requests.Session, sandbox: RunningSandbox
) -> None:
    sandbox.admin.set_fault("truncate", entity="Lead", fraction=0.3, declared="full")

    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        _lead_page(client, sandbox)


def test_login_page_instead_of_json(client: requests.Session, sandbox: RunningSandbox) -> None:
    sandbox.admin.set_fault("login_page", entity="Lead")

    response = _lead_page(client, sandbox)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")


def test_expire_session_fault_gives_401_until_relogin(sandbox: RunningSandbox) -> None:
    client = sandbox.login()
    sandbox.admin.set_fault("expire_session", entity="Lead", after=1)

    first = _lead_page(client, sandbox)
    expired = _lead_page(client, sandbox)
    still = client.get(sandbox.odata_url + "/Order?$top=1", timeout=10)
    fresh = _lead_page(sandbox.login(), sandbox)

    assert (first.status_code, expired.status_code, still.status_code) == (200, 401, 401)
    assert fresh.status_code == 200


def test_targeting_by_path_after_and_times(
    client: requests.Session, sandbox: RunningSandbox
) -> None:
    sandbox.admin.set_fault(
        "status", status=503, path=sandbox.odata_path + "/Order", after=1, times=2
    )

    orders = [
        client.get(sandbox.odata_url + "/Order?$top=1", timeout=10).status_code for _ in range(5)
    ]
    leads = [_lead_page(client, sandbox).status_code for _ in range(2)]

    assert orders == [200, 503, 503, 200, 200]
    assert leads == [200, 200]
    fault = sandbox.admin.faults()[0]
    assert (fault["seen"], fault["fired"]) == (5, 2)


def test_entity_targeting_is_exact(client: requests.Session, sandbox: RunningSandbox) -> None:
    sandbox.admin.set_fault("status", status=500, entity="Lead", times=None)

    assert client.get(sandbox.odata_url + "/LeadSource", timeout=10).status_code == 200
    assert client.get(sandbox.odata_url + "/Lead/$count", timeout=10).status_code == 500


def test_times_null_fires_on_every_request(
    client: requests.Session, sandbox: RunningSandbox
) -> None:
    sandbox.admin.set_fault("status", status=502, entity="Lead", times=None)

    statuses = {_lead_page(client, sandbox).status_code for _ in range(4)}
    sandbox.admin.clear_faults()

    assert statuses == {502}
    assert _lead_page(client, sandbox).status_code == 200


def test_bad_fault_spec_is_refused(sandbox: RunningSandbox) -> None:
    with pytest.raises(RuntimeError, match="400"):
        sandbox.admin.set_fault("explode")
    with pytest.raises(RuntimeError, match="400"):
        sandbox.admin.set_fault("status", status=200)


def test_touch_served_moves_a_served_row_to_the_end(
    client: requests.Session, sandbox: RunningSandbox
) -> None:
    sandbox.admin.set_fault("touch_served", entity="Lead", after=1)

    first = _lead_page(client, sandbox, **{"$skip": "0"}).json()["value"]
    _lead_page(client, sandbox, **{"$skip": "50"})

    moved = sandbox.admin.faults()[0]["touched"]
    assert len(moved) == 1
    assert moved[0] in {r["Id"] for r in first}
    newest = client.get(
        sandbox.odata_url + "/Lead",
        params={"$select": "Id,ModifiedOn", "$orderby": "ModifiedOn desc,Id desc", "$top": "1"},
        timeout=10,
    ).json()["value"][0]
    assert newest["Id"] == moved[0]


def test_touch_served_unserved_shifts_the_next_page(
    client: requests.Session, sandbox: RunningSandbox
) -> None:
    before = [r["Id"] for r in _lead_page(client, sandbox, **{"$top": "200"}).json()["value"]]
    sandbox.admin.set_fault("touch_served", entity="Lead", pick="unserved", after=1)

    _lead_page(client, sandbox)
    second = [r["Id"] for r in _lead_page(client, sandbox, **{"$skip": "50"}).json()["value"]]

    moved = sandbox.admin.faults()[0]["touched"]
    assert moved == [before[50]]
    # A client paging by $skip now misses the moved row: the next page starts one later.
    assert second == before[51:101]


def test_touch_served_a_given_row(client: requests.Session, sandbox: RunningSandbox) -> None:
    target = sandbox.admin.rows("Lead")[3]["Id"]
    sandbox.admin.set_fault("touch_served", entity="Lead", id=target)

    _lead_page(client, sandbox)

    assert sandbox.admin.faults()[0]["touched"] == [target]


def test_counters_and_request_log(client: requests.Session, sandbox: RunningSandbox) -> None:
    sandbox.admin.set_fault("status", status=503, entity="Lead")
    _lead_page(client, sandbox)
    _lead_page(client, sandbox)
    client.get(sandbox.odata_url + "/Order?$top=1", timeout=10)

    counters = sandbox.admin.counters()

    assert counters["counters"]["entity.Lead"] == 2
    assert counters["counters"]["entity.Order"] == 1
    assert counters["counters"]["status.503"] == 1
    log = [r for r in counters["requests"] if r["entity"] == "Lead"]
    assert [r["status"] for r in log] == [503, 200]
    assert [r["fault"] for r in log] == ["status", None]
    assert "%24select" in log[0]["query"] or "$select" in log[0]["query"]
    assert counters["active_sessions"] >= 1
