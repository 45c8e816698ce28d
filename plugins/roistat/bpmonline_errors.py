"""Errors of the bpm'online client, and the one place that sorts failures.

`classify_response` and `classify_transport_error` decide, for every answer or
failure of the CRM, whether it is fine, retryable (429, 5xx, timeouts, dropped
connections, broken bodies), a sign that the session ended, or fatal (any other
4xx). Nothing else in the client makes that call.

The tree is shallow and rooted in `roistat.errors.RoistatError`::

    BpmOnlineError
    ├── BpmOnlineConfigError (ValueError)     the connection or an argument is wrong
    ├── BpmOnlineAuthError (PermissionError)  login refused, token refused, session lost
    ├── BpmOnlineRequestError                 one HTTP exchange failed
    │   ├── BpmOnlineRetryableError           worth another try
    │   └── BpmOnlineFatalError               retrying will not help
    ├── BpmOnlineUnavailableError             retryable failures outlasted the budget
    ├── BpmOnlineSchemaError (LookupError)    a column or entity is missing in $metadata
    └── BpmOnlinePagingError                  the server broke the paging contract
"""

from __future__ import annotations

import json
import time
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any

import requests

from roistat.bpmonline_redaction import Redactor
from roistat.errors import RoistatError

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})

_REDIRECTS = frozenset({301, 302, 303, 307, 308})

# A 500 is usually passing ("Collection was modified" while routes rebuild), but
# these causes are the query's own fault and come back every time (§3.5, §3.6).
_DETERMINISTIC_500 = ("not found in schema",)


class BpmOnlineError(RoistatError):
    """Base class of every error the bpm'online client raises."""


class BpmOnlineConfigError(BpmOnlineError, ValueError):
    """The Airflow connection or an argument of the client is invalid."""


class BpmOnlineAuthError(BpmOnlineError, PermissionError):
    """The CRM refused the login, the token request, or ended the session for good."""


class BpmOnlineRequestError(BpmOnlineError):
    """One HTTP exchange with the CRM failed; the message says what and why."""

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class BpmOnlineRetryableError(BpmOnlineRequestError):
    """A failure that another try may cure: 429, 5xx, timeout, dropped or broken answer."""


class BpmOnlineFatalError(BpmOnlineRequestError):
    """A failure retrying will not cure: a 4xx other than 401 and 429, or an odd answer."""


class BpmOnlineUnavailableError(BpmOnlineError):
    """Retryable failures went on past the retry budget (count or time)."""


class BpmOnlineSchemaError(BpmOnlineError, LookupError):
    """An entity or column the integration needs is missing from the CRM's $metadata."""


class BpmOnlinePagingError(BpmOnlineError):
    """The server's answers contradict the paging contract (e.g. rows out of order)."""


class BpmOnlineSessionEnded(BpmOnlineError):
    """The CRM answered as if logged out (401, a redirect to /Login/, an HTML page).

    The client catches this, logs in again once and repeats the read; callers
    only ever see `BpmOnlineAuthError` when that does not help.
    """


def classify_response(
    response: requests.Response,
    *,
    what: str,
    redactor: Redactor,
    expect: str = "json",
) -> BpmOnlineError | None:
    """Return the error a response stands for, or None when it is a usable answer.

    ``what`` names the thing read (an entity set, "$metadata", "login") for the
    message; ``expect`` is "json", "xml" or "text", the body the caller needs.
    """
    status = response.status_code
    content_type = response.headers.get("Content-Type", "").lower()

    if status == 401:
        return BpmOnlineSessionEnded(f"the CRM answered 401 Unauthorized to {what}")

    if status in _REDIRECTS:
        location = response.headers.get("Location", "")
        if "/login" in location.lower():
            return BpmOnlineSessionEnded(f"the CRM redirected {what} to its login page")
        return _fatal(response, what, redactor, hint=_redirect_hint(location, redactor))

    if 200 <= status < 300:
        if "text/html" in content_type and expect != "html":
            return BpmOnlineSessionEnded(f"the CRM answered {what} with an HTML page")
        return None

    if status in RETRYABLE_STATUSES and not _deterministic_failure(response):
        return BpmOnlineRetryableError(
            _describe(response, what, redactor),
            reason=f"HTTP {status} {_phrase(status)}",
            status=status,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )

    return _fatal(response, what, redactor, hint=_status_hint(status, what))


def classify_transport_error(exc: requests.RequestException, *, what: str) -> BpmOnlineError:
    """Return the error a failure below HTTP (socket, TLS, body decoding) stands for."""
    name = type(exc).__name__
    if isinstance(exc, requests.exceptions.SSLError):
        return BpmOnlineFatalError(
            f"TLS failed while reading {what} ({name}); if the site uses a private "
            "certificate authority set extra.verify to its CA bundle path",
            reason=f"TLS error ({name})",
        )
    if isinstance(exc, requests.Timeout):
        reason = f"timed out ({name})"
    elif isinstance(
        exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError
    ):
        reason = f"the answer was cut short ({name})"
    elif isinstance(exc, requests.ConnectionError):
        reason = f"the connection failed or dropped ({name})"
    else:
        return BpmOnlineFatalError(f"reading {what} failed before any answer ({name})", reason=name)
    return BpmOnlineRetryableError(f"reading {what}: {reason}", reason=reason)


def broken_body_error(
    response: requests.Response, *, what: str, redactor: Redactor
) -> BpmOnlineError:
    """Return the error for a 2xx answer whose body does not parse."""
    text = response.text.lstrip()[:200].lower()
    if text.startswith("<!doctype html") or text.startswith("<html"):
        return BpmOnlineSessionEnded(f"the CRM answered {what} with an HTML page")
    return BpmOnlineRetryableError(
        f"the CRM's answer to {what} is not valid JSON (truncated?): "
        f"{redactor.body(response.text, limit=120)}",
        reason="invalid or truncated JSON body",
        status=response.status_code,
    )


def is_retryable(exc: BaseException) -> bool:
    """Tell whether a failure is worth another try; the only such test in the client."""
    return isinstance(exc, BpmOnlineRetryableError)


def odata_message(body: Any) -> str:
    """Return the human part of an OData or Web API error body, or ''."""
    if not isinstance(body, dict):
        return ""
    error = body.get("error")
    if isinstance(error, dict):
        parts = [str(error.get("message") or "").strip()]
        inner = error.get("innererror")
        if isinstance(inner, dict):
            internal = inner.get("internalexception")
            if isinstance(internal, dict) and internal.get("message"):
                parts.append(str(internal["message"]).strip())
        return " / ".join(part for part in parts if part)
    if isinstance(error, str):
        return " ".join(filter(None, [error, str(body.get("error_description") or "")]))
    # ASP.NET Web API routing errors: {"Message": ..., "MessageDetail": ...}
    return " ".join(str(body.get(key) or "") for key in ("Message", "MessageDetail")).strip()


def parse_retry_after(value: str | None) -> float | None:
    """Return the wait a Retry-After header asks for, in seconds (delta or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _deterministic_failure(response: requests.Response) -> bool:
    if response.status_code != 500:
        return False
    try:
        message = odata_message(json.loads(response.text)).lower()
    except ValueError:
        return False
    return any(cause in message for cause in _DETERMINISTIC_500)


def _fatal(
    response: requests.Response, what: str, redactor: Redactor, *, hint: str
) -> BpmOnlineFatalError:
    status = response.status_code
    message = _describe(response, what, redactor)
    if hint:
        message = f"{message}. {hint}"
    return BpmOnlineFatalError(message, reason=f"HTTP {status} {_phrase(status)}", status=status)


def _describe(response: requests.Response, what: str, redactor: Redactor) -> str:
    status = response.status_code
    method = response.request.method if response.request is not None else "GET"
    text = response.text
    try:
        found = odata_message(json.loads(text))
    except ValueError:
        found = ""
    parts = [f"bpm'online {method} {what} failed: HTTP {status} {_phrase(status)}"]
    if found:
        parts.append(f": {redactor.redact(found)}")
    elif text.strip():
        parts.append(f"; body: {redactor.body(text)}")
    parts.append(f" (url: {redactor.url(response.url)})")
    return "".join(parts)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _status_hint(status: int, what: str) -> str:
    if status == 400:
        return "Check the column names and filter values: OData names are case-sensitive"
    if status == 500:
        return "Filter lookups through their navigation path (QualifyStatus/Id), not the Id column"
    if status == 403:
        return f"Give the integration user read access to {what} in the CRM"
    if status == 404:
        return (
            f"Check that {what} exists on this site (names are case-sensitive; a newly "
            "published object needs a minute) and that odata_path fits the site "
            "(/0/odata on .NET Framework, /odata on .NET Core)"
        )
    return ""


def _redirect_hint(location: str, redactor: Redactor) -> str:
    return (
        f"The CRM redirected to {redactor.url(location) or 'nowhere'}; check the site URL "
        "in the connection (scheme, host, no path)"
    )
