"""Helpers for the "Sent leads" tests: a signed-in client, rows made by hand."""

from __future__ import annotations

import html
import re
import uuid
from datetime import datetime, timezone
from typing import Any

import psycopg
from starlette.testclient import TestClient

from roistat.sent_leads_app import create_app
from roistat.sent_leads_auth import signed_in_user

TEST_USER = "page-tester"


def page_client(url: str) -> TestClient:
    """A client of the page's app on `url`, signed in by a stand-in for the auth check.

    Only the auth tests (test_sent_leads_auth.py) use the real check.
    """
    app = create_app(connect=lambda: psycopg.connect(url, autocommit=True))
    app.dependency_overrides[signed_in_user] = lambda: TEST_USER
    return TestClient(app)


# -- rows made by hand ----------------------------------------------------------


def insert_deal(conn: psycopg.Connection, **columns: Any) -> uuid.UUID:
    """Insert one roistat.deal row; unspecified columns get plain defaults."""
    row = {
        "entity": "lead",
        "crm_id": uuid.uuid4(),
        "title": "A lead",
        "created_on": datetime(2025, 5, 1, 12, 0, tzinfo=timezone.utc),
        "modified_on": datetime(2025, 5, 2, 12, 0, tzinfo=timezone.utc),
        "status_group": "processing",
        "roistat_kind": "empty",
        "content_hash": "x",
        **columns,
    }
    names = ", ".join(row)
    marks = ", ".join(["%s"] * len(row))
    conn.execute(
        f"insert into roistat.deal ({names}) values ({marks})",  # noqa: S608 - names are ours
        list(row.values()),
    )
    return row["crm_id"]


def insert_sync_run(conn: psycopg.Connection, **columns: Any) -> None:
    row = {
        "dag_id": "roistat_bpmonline_sync",
        "run_id": "manual__2025-05-01T00:00:00+00:00",
        "entity": "lead",
        "mode": "window",
        "status": "success",
        "finished_at": datetime(2025, 5, 1, 0, 5, tzinfo=timezone.utc),
        **columns,
    }
    names = ", ".join(row)
    marks = ", ".join(["%s"] * len(row))
    conn.execute(
        f"insert into roistat.sync_run ({names}) values ({marks})",  # noqa: S608 - names are ours
        list(row.values()),
    )


# -- reading the page -------------------------------------------------------------

_ROW = re.compile(
    r'data-testid="deal-row" data-entity="(\w+)" data-group="(\w+)" data-crm-id="([0-9a-f-]+)"'
)


def row_keys(html_text: str) -> list[tuple[str, str]]:
    """Return (entity, crm_id) of each row of a rendered page, top to bottom."""
    return [(entity, crm_id) for entity, _, crm_id in _ROW.findall(html_text)]


def pager_link(html_text: str, rel: str) -> str | None:
    """Return the href of the "next" (older) or "prev" (newer) link, unescaped."""
    found = re.search(rf'<a href="([^"]+)" rel="{rel}"', html_text)
    return html.unescape(found.group(1)) if found else None


def walk(client: TestClient, url: str, *, rel: str = "next", limit: int = 500) -> list[list[tuple]]:
    """Follow the pager from `url`; return the rows of every page."""
    pages = []
    while url and len(pages) < limit:
        response = client.get(url)
        assert response.status_code == 200, response.text[:500]
        pages.append(row_keys(response.text))
        url = pager_link(response.text, rel)
    return pages


def expected_keys(url: str, where: str = "true", params: tuple = ()) -> list[tuple[str, str]]:
    """The list as SQL orders it straight from the view: the oracle for the page."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            f"select entity, crm_id::text from roistat.sent_leads as l where {where} "  # noqa: S608 - test SQL
            "order by coalesce(created_on, '-infinity'::timestamptz) desc, entity desc, crm_id desc",
            params or None,
        ).fetchall()
    return [(entity, crm_id) for entity, crm_id in rows]
