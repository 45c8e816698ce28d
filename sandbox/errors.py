"""OData error answers, worded and shaped as Creatio's ASP.NET OData writes them.

Shapes and texts follow reference/creatio-api.md §3.4–§3.6: the `error` object with
an empty `code`, a message, and an `innererror`; the 500 for a lookup scalar in a
filter nests the real cause under `internalexception`.
"""

from __future__ import annotations

import json
from typing import Any

from sandbox.schema import NAMESPACE

INVALID_QUERY = "The query specified in the URI is not valid. "

OPERATOR_KINDS = {
    "Eq": "Equal",
    "NotEq": "NotEqual",
    "Gt": "GreaterThan",
    "GtE": "GreaterThanOrEqual",
    "Lt": "LessThan",
    "LtE": "LessThanOrEqual",
    "In": "In",
}


class ODataError(Exception):
    """An answer with an OData `error` body."""

    def __init__(self, status: int, message: str, inner: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.inner = inner or {"message": message, "type": "", "stacktrace": ""}

    def body(self) -> bytes:
        payload = {"error": {"code": "", "message": self.message, "innererror": self.inner}}
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def invalid_query(detail: str) -> ODataError:
    """A 400 for a query ODataLib refuses while parsing the URI."""
    return ODataError(
        400, INVALID_QUERY + detail, {"message": detail, "type": "", "stacktrace": ""}
    )


def unknown_property(name: str, type_name: str) -> ODataError:
    return invalid_query(f"Could not find a property named '{name}' on type '{type_name}'.")


def incompatible_types(left: str, right: str, operator: str) -> ODataError:
    kind = OPERATOR_KINDS.get(operator, operator)
    return invalid_query(
        "A binary operator with incompatible types was detected. "
        f"Found operand types '{left}' and '{right}' for operator kind '{kind}'."
    )


def lookup_scalar_in_filter(column: str, entity: str) -> ODataError:
    """The 500 Creatio answers for `XxxId eq <guid>` (reference §3.5)."""
    return server_error(f"Column by path {column} not found in schema {entity}.")


def server_error(cause: str) -> ODataError:
    inner = {
        "message": "The 'ObjectContent`1' type failed to serialize the response body for "
        "content type 'application/json; odata.metadata=minimal'.",
        "type": "",
        "stacktrace": "",
        "internalexception": {"message": cause, "type": "", "stacktrace": ""},
    }
    return ODataError(500, "An error has occurred.", inner)


def type_name(entity: str) -> str:
    return f"{NAMESPACE}.{entity}"
