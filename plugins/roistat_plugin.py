"""Airflow plugin: the "Sent leads" page in the API server and the UI's navigation.

Every Airflow process (scheduler, dag-processor, workers, API server) imports
this file, so it stays cheap: it imports nothing but AirflowPlugin. The page's
FastAPI app, its templates and its database code load on the first request,
and only in the API server, which mounts the app at /roistat.

- page: /roistat/sent-leads (the list), /roistat/sent-leads/export.csv;
- navigation: "Sent leads" under Browse, shown inside the Airflow UI at
  /plugin/sent-leads (the UI keeps the page's filters in its own address bar).
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/roistat"
PAGE_PATH = f"{URL_PREFIX}/sent-leads"


class _SentLeadsApp:
    """An ASGI app that builds the page's FastAPI app on its first request."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            from roistat.sent_leads_app import create_app

            self._app = create_app()
        await self._app(scope, receive, send)

    def __repr__(self) -> str:
        return "roistat.sent_leads_app:create_app()"


class RoistatPlugin(AirflowPlugin):
    name = "roistat"
    fastapi_apps = [
        {
            "app": _SentLeadsApp(),
            "url_prefix": URL_PREFIX,
            "name": "Sent leads",
        }
    ]
    external_views = [
        {
            "name": "Sent leads",
            "href": PAGE_PATH,
            "destination": "nav",
            "category": "browse",
            "url_route": "sent-leads",
        }
    ]
