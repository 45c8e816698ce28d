"""Every fault the CRM or the network can throw, injected at a random page of a full sync.

A fault the client can ride out must leave the warehouse identical to a
fault-free run of the same data (compared by the columns that describe the
data, not the run). A fault it cannot (a refused login, a failure that
outlasts the retry budget) must fail the run with an error that says what
happened, and leave the warehouse exactly as it was, the run's own
`roistat.sync_run` row aside, which must say `failed` and why.

The page a fault lands on is drawn from a seeded generator, as a share of the
requests the fault-free run made to that entity set, so it moves with the data
but is the same on every run of the suite.
"""

from __future__ import annotations

import logging
import random
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from roistat.errors import RoistatError
from tests.reliability.support import (
    business_dump,
    connections,
    diff,
    fast_hook,
    full_dump,
    import_statuses,
    record_exception,
    requests_to,
    sandbox,
    settings,
    sync,
    sync_all,
    sync_runs,
    wipe,
)

SEED = 20261203
FULL = {"full_refresh": True}
ENTITY_SETS = {"lead": "Lead", "order": "Order"}
CONFIG = settings()


@dataclass(frozen=True)
class Fault:
    kind: str
    spec: dict[str, Any] = field(default_factory=dict)
    hook: dict[str, Any] = field(default_factory=dict)
    auth: str = "forms"
    # survivable: a regular expression some WARNING must match (None: any or none)
    warning: str | None = None
    # unsurvivable: a regular expression the error must match
    error: str | None = None
    # unsurvivable: log the hook in, then switch on these sandbox quirks
    quirks_after_login: dict[str, Any] = field(default_factory=dict)
    # unsurvivable: a second fault that makes the first one's recovery fail
    then: tuple[str, dict[str, Any]] | None = None


def _draw(cases: dict[str, Fault]) -> list[Any]:
    """Give each case its entity and page share, from one seeded generator."""
    rng = random.Random(SEED)
    params = []
    for name, fault in cases.items():
        entity = rng.choice(("lead", "order"))
        share = rng.random()
        params.append(pytest.param(fault, entity, share, id=f"{name}-{entity}"))
    return params


SURVIVABLE = {
    # Retry-After: 1 must be waited for exactly (capped by retry_max_wait, 5 s here).
    "429-retry-after": Fault(
        "status",
        {"status": 429, "retry_after": 1},
        hook={"retry_max_wait": 5.0},
        warning=r"HTTP 429 Too Many Requests; retry 1/\d+ in 1\.0 s",
    ),
    "500": Fault("status", {"status": 500}, warning=r"HTTP 500"),
    "502": Fault("status", {"status": 502}, warning=r"HTTP 502"),
    "503": Fault("status", {"status": 503, "retry_after": 0}, warning=r"HTTP 503"),
    "504": Fault("status", {"status": 504}, warning=r"HTTP 504"),
    "timeout": Fault("latency", {"seconds": 2.0}, hook={"timeout": 0.5}, warning=r"timed out"),
    "dropped-connection": Fault("drop", warning=r"connection failed or dropped"),
    "truncated-json": Fault("truncate", {"fraction": 0.5}, warning=r"truncated JSON"),
    "truncated-mid-body": Fault(
        "truncate", {"fraction": 0.3, "declared": "full"}, warning=r"cut short|dropped"
    ),
    "html-login-page-200": Fault("login_page", warning=r"session ended .*HTML page"),
    "session-expiry": Fault("expire_session", warning=r"session ended .*401"),
    "token-expiry-oauth": Fault("expire_session", auth="oauth2", warning=r"session ended"),
    "429-oauth": Fault("status", {"status": 429, "retry_after": 0}, auth="oauth2"),
}

UNSURVIVABLE = {
    "refused-relogin": Fault(
        "expire_session",
        quirks_after_login={"login_refusal": "password_expired"},
        error=r"BpmOnlineAuthError: bpm'online refused the login of user 'Supervisor'",
    ),
    "refused-token-renewal-oauth": Fault(
        "expire_session",
        auth="oauth2",
        then=("status", {"path": "/connect/token", "status": 400, "after": 1, "times": None}),
        error=r"BpmOnlineAuthError: the token endpoint refused the client credentials",
    ),
    "login-page-every-time": Fault(
        "login_page",
        {"times": None},
        error=r"BpmOnlineAuthError: .*the session ended again right after a fresh login",
    ),
    "503-outlasts-retries": Fault(
        "status",
        {"status": 503, "retry_after": 0, "times": None},
        hook={"max_retries": 3},
        error=r"BpmOnlineUnavailableError: bpm'online \w+: gave up after 4 attempt\(s\).*HTTP 503",
    ),
    "drop-outlasts-retries": Fault(
        "drop",
        {"times": None},
        hook={"max_retries": 3},
        error=r"gave up after 4 attempt\(s\).*connection failed or dropped",
    ),
    "timeout-outlasts-retries": Fault(
        "latency",
        {"seconds": 1.5, "times": None},
        hook={"max_retries": 2, "timeout": 0.3},
        error=r"gave up after 3 attempt\(s\).*timed out",
    ),
    "502-outlasts-time-budget": Fault(
        "status",
        {"status": 502, "times": None},
        # 200 retries would take about 20 s; the 0.5 s budget must stop it first.
        hook={"max_retries": 200, "retry_budget_seconds": 0.5},
        error=r"gave up after \d+ attempt\(s\) in 0\.\d s .*retry_budget_seconds=0\.5.*HTTP 502",
    ),
}


@dataclass
class Crm:
    sb: Any
    url: str
    reference: dict[str, list]
    requests: dict[str, int]


@pytest.fixture(scope="module")
def crm(sandbox_data_dir, module_warehouse):
    """One sandbox, the fault-free reference run of its data, and a warehouse for the cases."""
    with sandbox(sandbox_data_dir) as sb, connections(sb):
        reference_url = module_warehouse()
        import_statuses(reference_url, CONFIG)
        requests = {}
        for entity, entity_set in ENTITY_SETS.items():
            sb.admin.reset_counters()
            sync(reference_url, CONFIG, entity, FULL)
            requests[entity] = requests_to(sb, entity_set)
        reference = business_dump(reference_url)
        assert len(reference["deal"]) == 500
        yield Crm(sb, reference_url, reference, requests)


def _page(crm: Crm, entity: str, share: float) -> int:
    """The number of requests to let through before the fault: a random page, mid-read."""
    return int(share * crm.requests[entity])


def _fired(sb: Any, fault: dict[str, Any]) -> int:
    return next(f["fired"] for f in sb.admin.faults() if f["id"] == fault["id"])


@pytest.mark.parametrize(("fault", "entity", "share"), _draw(SURVIVABLE))
def test_a_fault_the_client_rides_out_leaves_the_same_warehouse(crm, fault, entity, share, caplog):
    sb, url = crm.sb, crm.url
    wipe(url)
    sb.admin.reset()
    after = _page(crm, entity, share)

    # DEBUG, not WARNING: caplog's level is the logger's, and the secrets scan
    # wants every record.
    with connections(sb, auth=fault.auth), caplog.at_level(logging.DEBUG, logger="roistat"):
        import_statuses(url, CONFIG)
        injected = sb.admin.set_fault(
            fault.kind, entity=ENTITY_SETS[entity], after=after, **{"times": 1, **fault.spec}
        )
        for name in ENTITY_SETS:
            sync(url, CONFIG, name, FULL, hook=fast_hook(**fault.hook))

    assert _fired(sb, injected) == 1, f"the fault never fired (after={after})"
    actual = business_dump(url)
    assert actual == crm.reference, f"fault at request {after + 1}: {diff(crm.reference, actual)}"
    assert [run["status"] for run in sync_runs(url)] == ["success", "success"]
    if fault.warning:
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any(re.search(fault.warning, w) for w in warnings), warnings


@pytest.mark.parametrize(("fault", "entity", "share"), _draw(UNSURVIVABLE))
def test_a_fault_the_client_cannot_survive_fails_the_run_and_changes_nothing(
    sandbox_data_dir, crm, fault, entity, share
):
    # A sandbox of its own: rows are changed in the CRM so that a run that got
    # through would change the warehouse.
    url = crm.url
    wipe(url)
    with sandbox(sandbox_data_dir) as sb, connections(sb, auth=fault.auth):
        sync_all(url, CONFIG, FULL)
        sb.admin.touch(ENTITY_SETS[entity], count=5, title="changed after the first load")
        before = full_dump(url)
        runs_before = sync_runs(url)

        hook = fast_hook(**fault.hook)
        if fault.quirks_after_login:
            hook.get_conn()
            sb.admin.set_quirks(**fault.quirks_after_login)
        if fault.then:
            kind, spec = fault.then
            sb.admin.set_fault(kind, **spec)
        after = _page(crm, entity, share)
        injected = sb.admin.set_fault(
            fault.kind, entity=ENTITY_SETS[entity], after=after, **{"times": 1, **fault.spec}
        )
        with pytest.raises(RoistatError) as failure:
            sync(url, CONFIG, entity, FULL, hook=hook)
        assert _fired(sb, injected) >= 1

    message = record_exception(failure.value)
    assert re.search(fault.error, message, re.S), message
    now = full_dump(url)
    now.pop("sync_run")
    before.pop("sync_run")
    assert now == before, diff(before, now)

    runs = sync_runs(url)
    assert runs[: len(runs_before)] == runs_before
    (failed,) = runs[len(runs_before) :]
    assert failed["entity"] == entity and failed["status"] == "failed"
    assert failed["error"] and re.search(fault.error, failed["error"], re.S), failed["error"]
    assert failed["finished_at"] is not None


def test_a_crm_clock_labelled_z_in_local_time_loads_true_utc(crm):
    """A site whose clock runs at UTC+3 but writes `Z` (creatio-api.md §3.7).

    With `crm_time_offset_minutes: 180` the warehouse must equal the fault-free
    run: every datetime back in true UTC, and a window read by its true bounds.
    Without the setting the same run is three hours off, which shows the quirk
    is really on.
    """
    sb, url = crm.sb, crm.url
    shifted = settings(crm_time_offset_minutes=180)
    wipe(url)
    sb.admin.reset()
    sb.admin.set_quirks(clock_offset_minutes=180)
    with connections(sb):
        sync_all(url, shifted, FULL)
    actual = business_dump(url)
    assert actual == crm.reference, diff(crm.reference, actual)

    truth = {row["Id"].lower(): row for row in sb.admin.rows("Lead")}
    loaded = [(str(r[1]), r[3], r[4]) for r in actual["deal"] if r[0] == "lead"]
    assert len(loaded) == len(truth)
    for crm_id, created, modified in loaded:
        assert (created, modified) == (truth[crm_id]["CreatedOn"], truth[crm_id]["ModifiedOn"])

    # A window whose edges each sit one hour from a row: three hours of clock
    # error move one row in and another out.
    stamps = sorted({row["ModifiedOn"] for row in truth.values()})
    outside, inside = stamps[len(stamps) // 3], stamps[2 * len(stamps) // 3]
    lookback = timedelta(hours=CONFIG.lookback_hours)
    window = {
        "start": (outside + timedelta(hours=1) + lookback).isoformat(),
        "end": (inside + timedelta(hours=1)).isoformat(),
    }

    def lead_window(config, offset: int) -> dict[str, list]:
        wipe(url)
        sb.admin.reset()
        sb.admin.set_quirks(clock_offset_minutes=offset)
        with connections(sb):
            import_statuses(url, config)
            sync(url, config, "lead", window)
        return business_dump(url)

    expected = lead_window(CONFIG, 0)
    assert lead_window(shifted, 180) == expected
    off = lead_window(CONFIG, 180)
    assert off != expected, "the sandbox's clock quirk made no difference"
    sb.admin.reset()
