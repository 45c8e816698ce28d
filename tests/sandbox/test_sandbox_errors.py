"""Error answers, worded as reference §3.4–§3.6 quotes them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from sandbox.testing import RunningSandbox

Get = Callable[..., requests.Response]
INVALID = "The query specified in the URI is not valid. "
LEAD_TYPE = "Terrasoft.Configuration.OData.Lead"
STAGE = "d790a45d-03ff-4ddb-9dea-8087722c582c"


def _error(response: requests.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == ""
    assert "innererror" in body["error"]
    return body["error"]


@pytest.mark.parametrize(
    ("expression", "left", "right", "kind"),
    [
        pytest.param(
            "ModifiedOn gt '2024-01-01T00:00:00Z'",
            "Edm.DateTimeOffset",
            "Edm.String",
            "GreaterThan",
            id="quoted-datetime",
        ),
        pytest.param(f"Id eq '{STAGE}'", "Edm.Guid", "Edm.String", "Equal", id="quoted-guid"),
        pytest.param(
            f"QualifyStatus/Id ne '{STAGE}'",
            "Edm.Guid",
            "Edm.String",
            "NotEqual",
            id="quoted-guid-on-nav",
        ),
        pytest.param(
            "CreatedOn le 2024-01-01",
            "Edm.DateTimeOffset",
            "Edm.Date",
            "LessThanOrEqual",
            id="date-literal",
        ),
        pytest.param("LeadName eq 5", "Edm.String", "Edm.Int32", "Equal", id="number-for-text"),
    ],
)
def test_incompatible_literal_types_are_400(
    odata: Get, expression: str, left: str, right: str, kind: str
) -> None:
    error = _error(odata("/Lead", **{"$filter": expression}), 400)

    detail = (
        "A binary operator with incompatible types was detected. "
        f"Found operand types '{left}' and '{right}' for operator kind '{kind}'."
    )
    assert error["message"] == INVALID + detail
    assert error["innererror"]["message"] == detail


def test_lookup_scalar_in_filter_is_500(odata: Get) -> None:
    error = _error(odata("/Lead", **{"$filter": f"QualifyStatusId eq {STAGE}"}), 500)

    assert error["message"] == "An error has occurred."
    assert (
        error["innererror"]["internalexception"]["message"]
        == "Column by path QualifyStatusId not found in schema Lead."
    )


def test_lookup_scalar_in_order_filter_names_the_order_schema(odata: Get) -> None:
    error = _error(odata("/Order", **{"$filter": f"StatusId ne {STAGE}"}), 500)

    assert (
        error["innererror"]["internalexception"]["message"]
        == "Column by path StatusId not found in schema Order."
    )


def test_lookup_scalar_select_still_works(odata: Get) -> None:
    assert odata("/Lead", **{"$select": "QualifyStatusId", "$top": "1"}).status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"$select": "Id,Foo"}, id="select"),
        pytest.param({"$filter": "Foo eq 'x'"}, id="filter"),
        pytest.param({"$orderby": "Foo desc"}, id="orderby"),
        pytest.param({"$filter": "contains(Foo,'x')"}, id="filter-function"),
    ],
)
def test_unknown_property_is_400(odata: Get, params: dict[str, str]) -> None:
    error = _error(odata("/Lead", **params), 400)

    assert error["message"] == (
        INVALID + f"Could not find a property named 'Foo' on type '{LEAD_TYPE}'."
    )


def test_unknown_property_behind_a_navigation(odata: Get) -> None:
    error = _error(odata("/Lead", **{"$filter": "QualifyStatus/Foo eq 'x'"}), 400)

    assert "'Terrasoft.Configuration.OData.QualifyStatus'" in error["message"]


def test_property_names_are_case_sensitive(odata: Get) -> None:
    error = _error(odata("/Lead", **{"$select": "leadname"}), 400)

    assert "'leadname'" in error["message"]


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param("ModifiedOn gt", id="dangling-operator"),
        pytest.param("(Budget gt 5", id="open-parenthesis"),
        pytest.param(f"Id eq guid'{STAGE}'", id="odata3-guid"),
        pytest.param("ModifiedOn gt datetime'2024-01-01T00:00:00'", id="odata3-datetime"),
        pytest.param("LeadName eq 'abc", id="unterminated-string"),
        pytest.param("Budget gt @x", id="bad-character"),
        pytest.param("nosuchfunction(LeadName)", id="unknown-function"),
    ],
)
def test_syntax_errors_are_400(odata: Get, expression: str) -> None:
    error = _error(odata("/Lead", **{"$filter": expression}), 400)

    assert error["message"].startswith(INVALID)


def test_filter_node_limit_is_100(odata: Get) -> None:
    fourteen = " or ".join(f"QualifyStatus/Id eq {STAGE}" for _ in range(14))
    fifteen = " or ".join(f"QualifyStatus/Id eq {STAGE}" for _ in range(15))

    assert odata("/Lead", **{"$filter": fourteen}).status_code == 200
    error = _error(odata("/Lead", **{"$filter": fifteen}), 400)
    assert "The node count limit of '100' has been exceeded." in error["message"]


@pytest.mark.parametrize(
    ("params", "text"),
    [
        pytest.param({"$top": "-1"}, "Invalid value '-1' for $top", id="negative-top"),
        pytest.param({"$skip": "x"}, "Invalid value 'x' for $skip", id="bad-skip"),
        pytest.param({"$count": "yes"}, "'yes' is not a valid count option.", id="bad-count"),
        pytest.param(
            {"$search": "x"}, "The query parameter '$search' is not supported.", id="search"
        ),
    ],
)
def test_bad_query_options_are_400(odata: Get, params: dict[str, str], text: str) -> None:
    error = _error(odata("/Lead", **params), 400)

    assert text in error["message"]


def test_repeated_query_option_is_400(client: requests.Session, sandbox: RunningSandbox) -> None:
    response = client.get(sandbox.odata_url + "/Lead?$top=1&$top=2", timeout=10)

    assert "specified more than once" in _error(response, 400)["message"]


@pytest.mark.parametrize("name", ["UsrX", "lead", "LeadCollection"])
def test_unknown_entity_set_is_routing_404(odata: Get, name: str) -> None:
    response = odata(f"/{name}")

    assert response.status_code == 404
    body = response.json()
    assert body["Message"].startswith("No HTTP resource was found that matches the request URI")
    assert body["MessageDetail"] == f"No type was found that matches the controller named '{name}'."


def test_unknown_entity_set_can_be_the_iis_page(odata: Get, sandbox: RunningSandbox) -> None:
    sandbox.admin.set_quirks(not_found="html")

    response = odata("/UsrNotPublished")

    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    assert "404 - File or directory not found." in response.text


def test_trailing_slash_after_a_set_is_not_served(odata: Get) -> None:
    assert odata("/Lead/").status_code == 404


def test_malformed_key_is_400(odata: Get) -> None:
    _error(odata(f"/Lead('{STAGE}')"), 400)
