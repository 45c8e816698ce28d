"""The "Sent leads" page: a FastAPI app that Airflow's API server mounts at /roistat.

Routes, relative to the mount point:
- `GET /sent-leads`: the list (HTML), 50 rows a page, filters in the query string;
- `GET /sent-leads/summary`: the header's totals, chart and channel choices (an
  HTML fragment the page loads after the rows, since totals over a million deals
  take longer than a page of them);
- `GET /sent-leads/export.csv`: the filtered list as a streamed CSV download;
- `GET /sent-leads/static/...`: the stylesheet, the script and Chart.js.

Every route but the static files needs a signed-in Airflow user
(sent_leads_auth). The warehouse is read through the `warehouse_conn_id` of the
integration settings, opened per request; nothing connects at import time.
Templates are Jinja2 with autoescaping on, so deal titles and CRM names show as
text; the Content-Security-Policy allows no inline script as a second guard.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import jinja2
import psycopg
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.responses import StreamingResponse

from roistat.errors import SettingsError
from roistat.sent_leads_auth import NotSignedIn, login_url, signed_in_user, user_name
from roistat.sent_leads_csv import csv_chunks
from roistat.sent_leads_query import (
    EXPORT_COLUMNS,
    FilterError,
    PagePosition,
    SentLeadsFilters,
    fetch_channels,
    fetch_daily,
    fetch_notices,
    fetch_page,
    fetch_totals,
    iter_export,
    prepare_connection,
    warehouse_state,
)
from roistat.settings import STATUS_GROUPS, load_settings

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).with_name("web_templates")
STATIC_DIR = Path(__file__).with_name("web_static")
SYNC_DAG_ID = "roistat_bpmonline_sync"
STATUSES_DAG_ID = "roistat_bpmonline_statuses"
PAGE_TIMEOUT_MS = 30_000
EXPORT_TIMEOUT_MS = 120_000  # per fetch of a batch, not for the whole download

# Inline scripts are refused: the page's only scripts are its own static files.
# frame-ancestors 'self' lets the Airflow UI show the page in its frame.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

Connect = Callable[[], AbstractContextManager[psycopg.Connection]]
SignedInUser = Annotated[Any, Depends(signed_in_user)]

router = APIRouter()


class WarehouseUnavailable(Exception):
    """The warehouse could not be read; the message says what to check."""


def create_app(*, connect: Connect | None = None) -> FastAPI:
    """Build the page's app; `connect` opens a warehouse connection (default: the settings')."""
    app = FastAPI(
        title="roistat-bpmonline: Sent leads", docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.connect = connect or warehouse_from_settings
    app.state.templates = _build_templates()

    app.mount("/sent-leads/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(router)
    app.add_exception_handler(NotSignedIn, _not_signed_in)
    app.add_exception_handler(WarehouseUnavailable, _warehouse_unavailable)

    @app.middleware("http")
    async def _security_headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return app


@contextmanager
def warehouse_from_settings() -> Iterator[psycopg.Connection]:
    """Open the warehouse the integration settings name (connection `roistat_warehouse`)."""
    from roistat.warehouse_connection import warehouse_connection

    settings = load_settings()
    with warehouse_connection(settings.warehouse_conn_id) as conn:
        yield conn


# -- routes -------------------------------------------------------------------


@router.get("/sent-leads", response_class=HTMLResponse, name="sent_leads_page")
def sent_leads_page(request: Request, user: SignedInUser) -> Response:
    """Render one page of the list with its filters, notices and pager."""
    try:
        filters = SentLeadsFilters.from_query(request.query_params)
        after = _position(request, "after")
        before = _position(request, "before")
    except FilterError as exc:
        return _problem(request, 400, "This link's filters cannot be used", str(exc))

    with _warehouse(request, PAGE_TIMEOUT_MS) as conn:
        state = warehouse_state(conn)
        if state != "ready":
            return _render(request, "sent_leads_empty.html", user=user, state=state)
        notices = fetch_notices(conn)
        page = fetch_page(conn, filters, after=after, before=before)

    return _render(
        request,
        "sent_leads.html",
        user=user,
        filters=filters,
        notices=notices,
        page=page,
        is_first_page=after is None and before is None,
        older_url=_page_link(request, filters, after=page.older),
        newer_url=_page_link(request, filters, before=page.newer),
        first_url=_page_link(request, filters),
        summary_url=_link(request, "sent_leads_summary", filters.query_items()),
        export_url=_link(request, "sent_leads_export", filters.query_items()),
    )


@router.get("/sent-leads/summary", response_class=HTMLResponse, name="sent_leads_summary")
def sent_leads_summary(request: Request, user: SignedInUser) -> Response:
    """Render the header's totals, chart data and channel choices for the filters."""
    try:
        filters = SentLeadsFilters.from_query(request.query_params)
    except FilterError as exc:
        return HTMLResponse(f"<p>{jinja2.utils.escape(str(exc))}</p>", status_code=400)

    with _warehouse(request, PAGE_TIMEOUT_MS) as conn:
        if warehouse_state(conn) != "ready":
            return HTMLResponse("")
        totals = fetch_totals(conn, filters)
        chart = fetch_daily(conn, filters, totals.newest_created_on)
        channels = fetch_channels(conn, filters, chart.pop("since"))

    return _render(
        request,
        "sent_leads_summary.html",
        filters=filters,
        totals=totals,
        chart=chart,
        channels=channels,
    )


@router.get("/sent-leads/export.csv", name="sent_leads_export")
def sent_leads_export(request: Request, user: SignedInUser) -> Response:
    """Stream the filtered list as CSV, newest first, every row."""
    try:
        filters = SentLeadsFilters.from_query(request.query_params)
    except FilterError as exc:
        return Response(str(exc) + "\n", status_code=400, media_type="text/plain")

    # Connect before answering, so a broken warehouse is a 503, not a cut download.
    opened = _warehouse(request, EXPORT_TIMEOUT_MS)
    conn = opened.__enter__()

    def body() -> Iterator[bytes]:
        try:
            yield from csv_chunks(EXPORT_COLUMNS, iter_export(conn, filters))
        finally:
            opened.__exit__(None, None, None)

    log.info("Sent leads CSV download by %s, filters %s", user_name(user), filters.query_items())
    filename = f"sent-leads-{datetime.now(timezone.utc):%Y%m%d-%H%M}.csv"
    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# -- responses ----------------------------------------------------------------


def _render(request: Request, template: str, *, status_code: int = 200, **context: Any) -> Response:
    env: jinja2.Environment = request.app.state.templates
    html = env.get_template(template).render(
        request=request,
        page_path=_path(request, "sent_leads_page"),
        static=lambda name: _path(request, "static") + name,
        status_groups=STATUS_GROUPS,
        sync_dag_id=SYNC_DAG_ID,
        statuses_dag_id=STATUSES_DAG_ID,
        **context,
    )
    return HTMLResponse(html, status_code=status_code)


def _problem(request: Request, status_code: int, title: str, detail: str) -> Response:
    return _render(
        request, "sent_leads_problem.html", status_code=status_code, title=title, detail=detail
    )


async def _not_signed_in(request: Request, exc: Exception) -> Response:
    # A person's browser goes to the login page and comes back; a script gets 401.
    if "text/html" in request.headers.get("accept", ""):
        return RedirectResponse(login_url(request), status_code=303)
    assert isinstance(exc, NotSignedIn)
    return JSONResponse({"detail": exc.detail}, status_code=401)


async def _warehouse_unavailable(request: Request, exc: Exception) -> Response:
    return _problem(request, 503, "The warehouse cannot be read right now", str(exc))


@contextmanager
def _warehouse(request: Request, statement_timeout_ms: int) -> Iterator[psycopg.Connection]:
    """Open the warehouse for one request; a failure becomes WarehouseUnavailable."""
    connect: Connect = request.app.state.connect
    try:
        with connect() as conn:
            prepare_connection(conn, statement_timeout_ms=statement_timeout_ms)
            yield conn
    except psycopg.errors.QueryCanceled:
        log.warning("Sent leads: a warehouse query ran past %d ms", statement_timeout_ms)
        raise WarehouseUnavailable(
            f"The warehouse did not answer within {statement_timeout_ms // 1000} s. "
            "Narrow the filters (a date range helps), or try again later."
        ) from None
    except (psycopg.OperationalError, SettingsError) as exc:
        log.warning("Sent leads: the warehouse cannot be read: %s", exc)
        raise WarehouseUnavailable(_unavailable_message(exc)) from None
    except Exception as exc:
        if type(exc).__name__ != "AirflowNotFoundException":
            raise
        raise WarehouseUnavailable(
            f"{exc}. Define the warehouse connection (settings key warehouse_conn_id) "
            "in Admin > Connections or as AIRFLOW_CONN_<ID>."
        ) from None


def _unavailable_message(exc: Exception) -> str:
    if isinstance(exc, SettingsError):
        return str(exc)
    # psycopg's connection errors name the host and port, never the password.
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return (
        f"{first_line}. Check the warehouse connection (settings key warehouse_conn_id) "
        "and that PostgreSQL is up."
    )


# -- links --------------------------------------------------------------------


# Paths are built from the mount point by hand: inside the API server the
# scope's router is Airflow's, which knows none of this app's route names.
_PATHS = {
    "sent_leads_page": "/sent-leads",
    "sent_leads_summary": "/sent-leads/summary",
    "sent_leads_export": "/sent-leads/export.csv",
    "static": "/sent-leads/static/",
}


def _path(request: Request, name: str) -> str:
    return request.scope.get("root_path", "").rstrip("/") + _PATHS[name]


def _link(request: Request, name: str, items: list[tuple[str, str]]) -> str:
    path = _path(request, name)
    return f"{path}?{urlencode(items)}" if items else path


def _page_link(
    request: Request,
    filters: SentLeadsFilters,
    *,
    after: PagePosition | None = None,
    before: PagePosition | None = None,
) -> str | None:
    items = filters.query_items()
    if after is not None:
        items.append(("after", after.encode()))
    if before is not None:
        items.append(("before", before.encode()))
    return _link(request, "sent_leads_page", items)


def _position(request: Request, name: str) -> PagePosition | None:
    text = request.query_params.get(name)
    return PagePosition.decode(name, text) if text else None


def airflow_run_url(dag_id: str, run_id: str) -> str:
    """Return the Airflow UI's page of one DAG run."""
    return f"/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


# -- templates ----------------------------------------------------------------


def _build_templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = _money
    env.filters["when"] = _when
    env.filters["count"] = _count
    env.globals["airflow_run_url"] = airflow_run_url
    env.globals["user_name"] = user_name
    return env


def _money(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.2f}".replace(",", "\u202f")  # a narrow no-break space per thousand


def _count(value: int) -> str:
    return f"{value:,}".replace(",", "\u202f")


def _when(value: datetime | date | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M")
    return value.isoformat()
