"""Every fault the sandbox can inject: retried reads end with the same rows.

A fault-free read of Lead is the baseline. Each transient fault (429, 5xx,
timeouts, dropped connections, cut bodies, the HTML login page) must leave the
read with exactly the baseline rows; a fault that outlasts the retry budget
stops with a clear error; a fatal 4xx is not retried.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from bpmonline_fixtures import LEAD_COLUMNS, make_hook, odata_requests, sandbox_with_connection

from roistat.bpmonline_errors import (
    BpmOnlineFatalError,
    BpmOnlineUnavailableError,
    parse_retry_after,
)
from sandbox.testing import RunningSandbox


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with sandbox_with_connection(tmp_path_factory) as sb:
        yield sb


@pytest.fixture
def sb(shared: RunningSandbox) -> Iterator[RunningSandbox]:
    shared.admin.reset()
    yield shared
    shared.admin.reset()


@pytest.fixture(scope="module")
def baseline(shared: RunningSandbox) -> list[dict]:
    shared.admin.reset()
    with make_hook() as hook:
        return list(hook.iter_rows("Lead", LEAD_COLUMNS, page_size=40))


def read(**hook_kwargs) -> list[dict]:
    with make_hook(**hook_kwargs) as hook:
        return list(hook.iter_rows("Lead", LEAD_COLUMNS, page_size=40))


TRANSIENT_FAULTS = [
    pytest.param({"kind": "status", "status": 429}, "HTTP 429", id="429"),
    pytest.param({"kind": "status", "status": 500}, "HTTP 500", id="500"),
    pytest.param({"kind": "status", "status": 502}, "HTTP 502", id="502"),
    pytest.param({"kind": "status", "status": 503}, "HTTP 503", id="503"),
    pytest.param({"kind": "status", "status": 504}, "HTTP 504", id="504"),
    pytest.param({"kind": "latency", "seconds": 1.0}, "timed out", id="timeout"),
    pytest.param({"kind": "drop"}, "connection failed or dropped", id="dropped-connection"),
    pytest.param({"kind": "truncate"}, "invalid or truncated JSON", id="truncated-body"),
    pytest.param(
        {"kind": "truncate", "declared": "full"}, "cut short", id="connection-closed-mid-body"
    ),
]


@pytest.mark.parametrize(("fault", "reason"), TRANSIENT_FAULTS)
def test_transient_fault_is_retried_and_the_read_matches_a_clean_one(
    sb, baseline, caplog, fault, reason
):
    sb.admin.set_fault(entity="Lead", after=2, times=2, **fault)

    with caplog.at_level(logging.WARNING):
        rows = read(timeout=0.4)

    assert rows == baseline
    retries = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(retries) == 2, retries
    assert reason in retries[0] and "retry 1/4" in retries[0] and "retry 2/4" in retries[1]
    assert all(r.levelno == logging.WARNING for r in caplog.records if "retry" in r.getMessage())


def test_html_login_page_instead_of_json_means_log_in_again(sb, baseline, caplog):
    sb.admin.set_fault("login_page", entity="Lead", after=3)
    with caplog.at_level(logging.WARNING):
        rows = read()
    assert rows == baseline
    assert "HTML page" in caplog.text
    assert sb.admin.counters()["counters"]["logins"] == 2


def test_retry_after_is_honoured(sb, baseline, caplog):
    sb.admin.set_fault("status", status=429, retry_after=1, entity="Lead", after=1)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        rows = read(retry_max_wait=5.0)
    assert rows == baseline
    assert time.monotonic() - started >= 1.0
    assert "retry 1/4 in 1.0 s" in caplog.text


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        pytest.param("7", 7.0, id="delta-seconds"),
        pytest.param("Wed, 21 Oct 2015 07:28:00 GMT", 0.0, id="date-in-the-past"),
        pytest.param("soon", None, id="garbage"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_retry_after_header_forms(value, seconds):
    assert parse_retry_after(value) == seconds


def test_retry_after_as_a_future_http_date_is_honoured():
    from email.utils import formatdate

    wait = parse_retry_after(formatdate(time.time() + 30, usegmt=True))
    assert 28 <= wait <= 30


def test_fault_outlasting_the_retry_count_stops_with_a_clear_error(sb):
    sb.admin.set_fault("status", status=503, entity="Lead", times=None)
    with pytest.raises(BpmOnlineUnavailableError) as caught:
        read()
    text = str(caught.value)
    assert "gave up after 5 attempt(s)" in text and "max_retries=4" in text
    assert "HTTP 503" in text and "Lead" in text
    assert len(odata_requests(sb, "Lead")) == 5


def test_fault_outlasting_the_retry_time_budget_stops_early(sb):
    # The server asks for 3 s; only 1 s of budget is left, so waiting is pointless.
    sb.admin.set_fault("status", status=429, retry_after=3, entity="Lead", times=None)
    started = time.monotonic()
    with pytest.raises(BpmOnlineUnavailableError, match="retry_budget_seconds=1"):
        read(retry_budget_seconds=1.0, retry_max_wait=10.0)
    # Waiting out the 3 s Retry-After would take over 3 s; a loaded CI machine
    # may need a second for the requests themselves.
    assert time.monotonic() - started < 3.0


def test_unknown_column_is_fatal_names_the_entity_and_the_odata_message_and_is_not_retried(sb):
    with pytest.raises(BpmOnlineFatalError) as caught, make_hook() as hook:
        list(hook.iter_rows("Lead", ["LeadName", "NoSuchColumn"]))
    text = str(caught.value)
    assert "Lead" in text and "HTTP 400" in text
    assert "Could not find a property named 'NoSuchColumn'" in text
    assert "/0/odata/Lead?" in text, "the sanitized URL is part of the message"
    assert len(odata_requests(sb, "Lead")) == 1


def test_lookup_scalar_in_a_filter_is_fatal_with_the_internal_message(sb):
    with pytest.raises(BpmOnlineFatalError) as caught, make_hook() as hook:
        hook.count("Lead", "QualifyStatusId eq d790a45d-03ff-4ddb-9dea-8087722c582c")
    assert "Column by path QualifyStatusId not found in schema Lead" in str(caught.value)
    assert len(odata_requests(sb, "Lead")) == 1


@pytest.mark.parametrize("not_found", ["json", "html"])
def test_unknown_entity_set_is_fatal_with_a_hint(sb, not_found):
    sb.admin.set_quirks(not_found=not_found)
    with pytest.raises(BpmOnlineFatalError, match=r"HTTP 404.*odata_path"), make_hook() as hook:
        hook.count("Leads")


def test_forbidden_is_fatal_and_says_what_to_do(sb):
    sb.admin.set_fault("status", status=403, entity="Lead")
    with pytest.raises(BpmOnlineFatalError, match="read access to Lead"):
        read()
    assert len(odata_requests(sb, "Lead")) == 1
