"""One HTTP session to the CRM, with timeouts, retries and one DEBUG line per request.

`Transport.send` sends a request, sorts the answer with
`bpmonline_errors.classify_response` and retries what is retryable with
exponential backoff and jitter, honouring ``Retry-After``, bounded both in
attempts and in total time. It knows nothing of OData or of logging in; a
``before_send`` callback lets the auth add its header.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import requests
import tenacity

from roistat.bpmonline_errors import (
    BpmOnlineConfigError,
    BpmOnlineUnavailableError,
    broken_body_error,
    classify_response,
    classify_transport_error,
    is_retryable,
)
from roistat.bpmonline_redaction import Redactor

log = logging.getLogger(__name__)

DEFAULT_MAX_RETRIES = 5
DEFAULT_RETRY_BUDGET_SECONDS = 300.0
DEFAULT_RETRY_INITIAL_WAIT = 1.0
DEFAULT_RETRY_MAX_WAIT = 60.0

USER_AGENT = "roistat-bpmonline"


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying a retryable failure."""

    max_retries: int = DEFAULT_MAX_RETRIES
    budget_seconds: float = DEFAULT_RETRY_BUDGET_SECONDS
    initial_wait: float = DEFAULT_RETRY_INITIAL_WAIT
    max_wait: float = DEFAULT_RETRY_MAX_WAIT

    def __post_init__(self) -> None:
        if (
            self.max_retries < 0
            or self.budget_seconds < 0
            or self.initial_wait < 0
            or self.max_wait < 0
        ):
            raise BpmOnlineConfigError(f"retry settings must not be negative: {self}")


@dataclass(frozen=True)
class Reply:
    """A usable answer: the response and its parsed body (JSON, text or bytes)."""

    response: requests.Response
    data: Any


class Transport:
    """A lazily built ``requests.Session`` and the retry loop around it."""

    def __init__(
        self,
        *,
        timeout: tuple[float, float],
        verify: bool | str,
        retry: RetryPolicy,
        redactor: Redactor,
        site: str,
    ) -> None:
        self.timeout = timeout
        self.verify = verify
        self.retry = retry
        self.redactor = redactor
        self.site = site
        self.before_send: Callable[[requests.Session], None] | None = None
        self._session: requests.Session | None = None

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = self._build_session()
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def send(
        self,
        method: str,
        url: str,
        *,
        what: str,
        expect: str = "json",
        params: dict[str, str] | None = None,
        json_body: Any = None,
        form: dict[str, str] | None = None,
        retry: bool = True,
        authorize: bool = True,
        abandoned: threading.Event | None = None,
    ) -> Reply:
        """Send one request (retrying transient failures) and return the usable answer.

        ``expect`` is the body wanted: "json" (parsed with Decimal floats),
        "xml" (bytes) or "text". Redirects are never followed, so a redirect to
        the login page is seen for what it is. Once ``abandoned`` is set, no
        further retry is made and a backoff wait ends at once.
        """

        def attempt() -> Reply:
            return self._send_once(
                method, url, what=what, expect=expect, params=params,
                json_body=json_body, form=form, authorize=authorize,
            )  # fmt: skip

        if not retry:
            return attempt()

        policy = self.retry
        stop = tenacity.stop_after_attempt(policy.max_retries + 1) | tenacity.stop_before_delay(
            policy.budget_seconds
        )
        sleep = tenacity.nap.sleep
        if abandoned is not None:
            stop = stop | (lambda state: abandoned.is_set())
            sleep = abandoned.wait
        retrying = tenacity.Retrying(
            stop=stop,
            sleep=sleep,
            wait=self._wait,
            retry=tenacity.retry_if_exception(is_retryable),
            before_sleep=lambda state: self._log_retry(state, what),
            reraise=False,
        )
        started = time.monotonic()
        try:
            return retrying(attempt)
        except tenacity.RetryError as exc:
            last = exc.last_attempt.exception()
            raise BpmOnlineUnavailableError(
                f"bpm'online {what}: gave up after {exc.last_attempt.attempt_number} attempt(s) "
                f"in {time.monotonic() - started:.1f} s (max_retries={policy.max_retries}, "
                f"retry_budget_seconds={policy.budget_seconds:g}); last failure: {last}. "
                "The CRM is overloaded or unreachable: try again later, or raise the retry budget"
            ) from last

    def _send_once(
        self,
        method: str,
        url: str,
        *,
        what: str,
        expect: str,
        params: dict[str, str] | None,
        json_body: Any,
        form: dict[str, str] | None,
        authorize: bool,
    ) -> Reply:
        session = self.session
        if authorize and self.before_send is not None:
            self.before_send(session)

        started = time.monotonic()
        try:
            response = session.request(
                method, url, params=params, json=json_body, data=form,
                timeout=self.timeout, allow_redirects=False,
                headers=None if authorize else {"Authorization": None, "BPMCSRF": None},
            )  # fmt: skip
            response.content  # noqa: B018 - read the body here so a cut-off one fails here
        except requests.RequestException as exc:
            log.debug(
                "%s %s failed after %.2f s: %s",
                method,
                self.redactor.url(url),
                time.monotonic() - started,
                type(exc).__name__,
            )
            raise classify_transport_error(exc, what=what) from None

        log.debug(
            "%s %s -> %s (%d bytes, %.2f s)",
            method, self.redactor.url(response.url), response.status_code,
            len(response.content), time.monotonic() - started,
        )  # fmt: skip

        error = classify_response(response, what=what, redactor=self.redactor, expect=expect)
        if error is not None:
            raise error
        return Reply(response, self._parse(response, what=what, expect=expect))

    def _parse(self, response: requests.Response, *, what: str, expect: str) -> Any:
        if expect == "xml":
            return response.content
        if expect == "text":
            return response.text
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError:
            raise broken_body_error(response, what=what, redactor=self.redactor) from None

    def _wait(self, state: tenacity.RetryCallState) -> float:
        policy = self.retry
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(retry_after, policy.max_wait)
        backoff = tenacity.wait_exponential_jitter(
            initial=policy.initial_wait, max=policy.max_wait, jitter=policy.initial_wait
        )
        return min(backoff(state), policy.max_wait)

    def _log_retry(self, state: tenacity.RetryCallState, what: str) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "bpm'online %s: %s; retry %d/%d in %.1f s",
            what, getattr(exc, "reason", type(exc).__name__), state.attempt_number,
            self.retry.max_retries, state.upcoming_sleep,
        )  # fmt: skip

    def _build_session(self) -> requests.Session:
        session = requests.Session()
        session.headers.update(
            {
                "Accept": "application/json",
                "ForceUseSession": "true",
                "User-Agent": USER_AGENT,
            }
        )
        session.verify = self.verify
        if self.verify is False:
            log.warning("TLS certificate checks are OFF for %s (extra.verify=false)", self.site)
        return session
