"""The Airflow plugin: cheap to import, valid for Airflow's models, mounted at /roistat."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg
from fastapi import FastAPI
from starlette.testclient import TestClient

import roistat.sent_leads_app
from roistat.sent_leads_auth import signed_in_user
from tests.web.sent_leads_support import TEST_USER, insert_deal, pager_link, row_keys

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_plugin_loads_nothing_of_the_page():
    # Every Airflow process imports plugins/: the page's modules must wait for a request.
    code = (
        "import json, sys; import roistat_plugin; "
        "print(json.dumps([m for m in ('roistat.sent_leads_app', 'roistat.sent_leads_query', "
        "'psycopg', 'fastapi') if m in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={"PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'plugins'}", "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.splitlines()[-1]) == []


def test_plugin_entries_are_what_airflow_expects():
    from airflow.api_fastapi.core_api.datamodels.plugins import (
        ExternalViewResponse,
        FastAPIAppResponse,
    )
    from roistat_plugin import RoistatPlugin

    [app] = RoistatPlugin.fastapi_apps
    [view] = RoistatPlugin.external_views
    assert FastAPIAppResponse(**{**app, "app": repr(app["app"])}).url_prefix == "/roistat"
    parsed = ExternalViewResponse(**view)
    assert parsed.destination == "nav" and parsed.href == "/roistat/sent-leads"
    assert parsed.category == "browse" and parsed.url_route == "sent-leads"


def test_mounted_at_roistat_the_page_links_and_pages_under_the_prefix(
    warehouse, warehouse_url, monkeypatch
):
    from roistat_plugin import RoistatPlugin

    for n in range(60):
        insert_deal(warehouse, title=f"lead {n}")
    built = []
    real_create_app = roistat.sent_leads_app.create_app

    def create_app():
        app = real_create_app(connect=lambda: psycopg.connect(warehouse_url, autocommit=True))
        app.dependency_overrides[signed_in_user] = lambda: TEST_USER
        built.append(app)
        return app

    monkeypatch.setattr(roistat.sent_leads_app, "create_app", create_app)
    lazy = type(RoistatPlugin.fastapi_apps[0]["app"])()
    api_server = FastAPI()
    api_server.mount("/roistat", lazy)  # as airflow.api_fastapi.app.init_plugins does

    with TestClient(api_server) as client:
        first = client.get("/roistat/sent-leads?entity=lead")
        older = pager_link(first.text, "next")
        second = client.get(older)
        css = client.get("/roistat/sent-leads/static/sent_leads.css")

    assert len(built) == 1
    assert first.status_code == 200 and second.status_code == 200
    assert older.startswith("/roistat/sent-leads?entity=lead&after=")
    assert len(row_keys(first.text)) == 50 and len(row_keys(second.text)) == 10
    assert 'href="/roistat/sent-leads/static/sent_leads.css"' in first.text
    assert 'data-src="/roistat/sent-leads/summary?entity=lead"' in first.text
    assert 'href="/roistat/sent-leads/export.csv?entity=lead"' in first.text
    assert css.status_code == 200
