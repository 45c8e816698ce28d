"""Airflow provider metadata: registers the `bpmonline` connection type.

Airflow 3.3 discovers connection types only through the `apache_airflow_provider`
entry point of an installed distribution (pyproject.toml; reference/airflow3.md
§2). Since 3.2 the form fields are declared here rather than by hook methods.
Keep this module free of heavy imports: every Airflow process loads it.
"""

from __future__ import annotations

from typing import Any

_TEXT = {"type": ["string", "null"]}


def get_provider_info() -> dict[str, Any]:
    """Return the provider dict Airflow's providers manager reads."""
    return {
        "package-name": "roistat-bpmonline",
        "name": "roistat-bpmonline",
        "description": (
            "bpm'online (Creatio) leads and orders, attributed to website visits and "
            "marketing channels, synced into PostgreSQL."
        ),
        "versions": ["0.1.0"],
        "connection-types": [
            {
                "connection-type": "bpmonline",
                "hook-class-name": "roistat.bpmonline_hook.BpmOnlineHook",
                "hook-name": "bpm'online (Creatio)",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {
                        "host": "Site URL",
                        "login": "User (forms login)",
                        "password": "Password (forms login)",
                    },
                    "placeholders": {
                        "host": "https://mysite.creatio.com",
                        "login": "Supervisor",
                        "extra": '{"auth": "forms", "odata_path": "/0/odata"}',
                    },
                },
                "conn-fields": {
                    "auth": {
                        "label": "Auth mode",
                        "description": "forms (user and password) or oauth2 (client credentials)",
                        "schema": {"type": ["string", "null"], "enum": ["forms", "oauth2", None]},
                    },
                    "odata_path": {
                        "label": "OData path",
                        "description": "/0/odata on .NET Framework sites (default), /odata on .NET Core / .NET 8",
                        "schema": _TEXT,
                    },
                    "client_id": {
                        "label": "OAuth client id",
                        "description": "From System Designer > OAuth 2.0 integrated applications",
                        "schema": _TEXT,
                    },
                    "client_secret": {
                        "label": "OAuth client secret",
                        "schema": {"type": ["string", "null"], "format": "password"},
                    },
                    "token_url": {
                        "label": "OAuth token URL",
                        "description": "e.g. https://mysite-is.creatio.com/connect/token",
                        "schema": _TEXT,
                    },
                    "verify": {
                        "label": "Verify TLS certificate",
                        "schema": {"type": ["boolean", "null"]},
                    },
                    "timeout": {
                        "label": "Request timeout, seconds",
                        "schema": {"type": ["number", "null"]},
                    },
                },
            }
        ],
    }
