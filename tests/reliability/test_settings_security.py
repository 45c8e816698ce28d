"""Settings that try to smuggle SQL or OData, a regular expression built to hang, and TLS.

Unit tests (tests/roistat/test_settings.py) check each validator; these go
end to end: the settings arrive as the Airflow Variable, the task bodies run,
and the sandbox's request counter shows that a refused setting stops the run
before a single request leaves.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import re
import time

import pytest

from roistat.errors import SettingsError
from roistat.status_task import run_status_import
from roistat.sync_task import run_entity_sync
from tests.reliability.support import (
    connections,
    fast_hook,
    record_exception,
    rows,
    sandbox,
    settings,
    settings_raw,
    sync_all,
    sync_runs,
)

FULL = {"full_refresh": True}
TLS_OFF = "TLS certificate checks are OFF"

INJECTIONS = [
    pytest.param("roistat_column", "UsrRoistat' or 1 eq 1 or '", id="odata-quote"),
    pytest.param("roistat_column", "UsrRoistat;drop table roistat.deal", id="sql-semicolon"),
    pytest.param("roistat_column", "Usr Roistat", id="space"),
    pytest.param("roistat_column", "QualifyStatus/Name", id="odata-path-slash"),
    pytest.param("revenue_field", {"lead": 'Budget"; drop table roistat.deal; --'}, id="sql-quote"),
    pytest.param("first_cost_field", "UsrFirstCost,Contact", id="odata-select-list"),
    pytest.param("profit_field", "UsrProfit&$filter=true", id="odata-query-option"),
    pytest.param("filter", {"field": "UsrBrand eq 'x' or true", "value": "x"}, id="filter-field"),
    pytest.param("filter", {"field": "UsrBrand/../$metadata", "value": "x"}, id="filter-path"),
    pytest.param("entities", ["lead", "order; drop table roistat.deal"], id="entity"),
]


@pytest.fixture(scope="module")
def crm(sandbox_data_dir):
    with sandbox(sandbox_data_dir, seed=16) as sb:
        yield sb


@pytest.mark.parametrize(("key", "value"), INJECTIONS)
def test_settings_carrying_sql_or_odata_are_refused_before_any_request(
    crm, new_warehouse, monkeypatch, key, value
):
    url = new_warehouse()
    variable = json.dumps(settings_raw(**{key: value}))
    with connections(crm, url):
        monkeypatch.setenv("AIRFLOW_VAR_ROISTAT_INTEGRATION", variable)
        crm.admin.reset_counters()
        for task in (
            run_status_import,
            lambda: run_entity_sync(
                "lead", params=FULL, data_interval_start=None, data_interval_end=None
            ),
        ):
            with pytest.raises(SettingsError) as refused:
                task()
            message = record_exception(refused.value)
            assert f"- {key}" in message, message

    assert crm.admin.counters()["counters"].get("requests", 0) == 0
    assert sync_runs(url) == []
    assert rows(url, "select count(*) from roistat.deal") == [(0,)]


def test_a_catastrophic_regular_expression_on_a_100000_character_value_finishes(crm, new_warehouse):
    """`(a+)+$` against "a" * 100,000 + "!" backtracks for ages in Python's `re`;
    the filter runs on RE2, so the sync finishes and excludes the deal."""
    url = new_warehouse()
    pattern = "(a+)+$"
    config = settings(entities=["lead"], filter={"field": "UsrBrand", "value": pattern})
    leads = crm.admin.rows("Lead")
    hostile = leads[7]["Id"]
    crm.admin.touch("Lead", ids=[hostile], UsrBrand="a" * 100_000 + "!")
    served = next(r for r in crm.admin.rows("Lead") if r["Id"] == hostile)
    assert len(served["UsrBrand"]) == 100_001

    # In a child process: a regex engine that backtracks holds the GIL, so a
    # hung filter in a thread would hang this test too instead of failing it.
    results = multiprocessing.get_context("fork").Queue()

    def run() -> None:
        try:
            counts = sync_all(url, config, FULL)
            results.put(("counts", counts["lead"]["filtered_out"]))
        except BaseException as exc:
            results.put(("error", f"{type(exc).__name__}: {exc}"))

    started = time.monotonic()
    with connections(crm, url):
        child = multiprocessing.get_context("fork").Process(target=run, daemon=True)
        child.start()
        child.join(timeout=120)  # a sanity bound, not a benchmark
        if child.is_alive():
            child.kill()
            child.join()
            pytest.fail("the filter hung the sync for 120 s")
    kind, value = results.get(timeout=10)
    if kind == "error":
        record_exception(RuntimeError(value))
    assert kind == "counts", value
    elapsed = time.monotonic() - started

    # Python's `re` is safe on the short values; the long one does not match
    # (nothing but "a" may stand before the end).
    short = {r["Id"]: r["UsrBrand"] for r in leads if r["Id"] != hostile}
    passing = {i for i, brand in short.items() if re.search(pattern, brand or "")}
    excluded = dict(rows(url, "select crm_id::text, excluded_at is not null from roistat.deal"))
    assert excluded[hostile] is True
    assert {i for i, out in excluded.items() if not out} == passing
    assert value == len(leads) - len(passing)
    logging.getLogger(__name__).info("regex filter over 100,001 chars: sync took %.2f s", elapsed)


def test_tls_verification_is_on_by_default(crm):
    with connections(crm):
        hook = fast_hook()
        try:
            assert hook.get_conn().verify is True
        finally:
            hook.close()


def test_a_ca_bundle_in_the_connection_is_what_tls_checks_against(crm):
    with connections(crm, verify="/etc/ssl/certs/our-private-ca.pem"):
        hook = fast_hook()
        try:
            assert hook.get_conn().verify == "/etc/ssl/certs/our-private-ca.pem"
        finally:
            hook.close()


def test_turning_tls_verification_off_warns_on_every_run(crm, new_warehouse, caplog):
    url = new_warehouse()
    config = settings()
    with connections(crm, url, verify=False):
        hook = fast_hook()
        try:
            assert hook.get_conn().verify is False
        finally:
            hook.close()
        for run in (1, 2):
            caplog.clear()
            with caplog.at_level(logging.DEBUG, logger="roistat"):
                run_status_import(config)
                run_entity_sync(
                    "lead",
                    params=FULL,
                    data_interval_start=None,
                    data_interval_end=None,
                    settings=config,
                )
            warnings = [
                r
                for r in caplog.records
                if r.levelno == logging.WARNING and TLS_OFF in r.getMessage()
            ]
            # one per task: the status import and the lead sync each open a session
            assert len(warnings) == 2, f"run {run}: {[r.getMessage() for r in caplog.records]}"
