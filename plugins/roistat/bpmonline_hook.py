"""`BpmOnlineHook`: the only code that speaks HTTP to bpm'online (Creatio).

It logs in lazily (forms or OAuth 2.0), reuses one session, retries what is
retryable, logs in again once when the session ends mid-read, and reads
OData 4 entity sets in keyset pages that neither miss nor repeat a row while
the CRM keeps changing (see `bpmonline_paging`). Values come back as Creatio
wrote them, made usable: datetimes aware UTC, empty lookups None, money raw.

    with BpmOnlineHook("bpmonline_default") as hook:
        hook.check_columns("Lead", {"UsrRoistat": "roistat_column"})
        for lead in hook.iter_rows("Lead", ["LeadName", "UsrRoistat"], window_start=start):
            ...
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import requests
from airflow.sdk import BaseHook

from roistat.bpmonline_auth import FormsAuth, OAuthClientCredentials, build_auth
from roistat.bpmonline_connection import BpmOnlineConnection, parse_timeout
from roistat.bpmonline_errors import (
    BpmOnlineAuthError,
    BpmOnlineError,
    BpmOnlinePagingError,
    BpmOnlineSessionEnded,
)
from roistat.bpmonline_metadata import ODataMetadata
from roistat.bpmonline_paging import ModifiedOnKeyset, validate_page_size
from roistat.bpmonline_redaction import Redactor
from roistat.bpmonline_transport import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_RETRY_BUDGET_SECONDS,
    DEFAULT_RETRY_INITIAL_WAIT,
    DEFAULT_RETRY_MAX_WAIT,
    Reply,
    RetryPolicy,
    Transport,
)
from roistat.bpmonline_values import (
    ODataTimestamp,
    RowConverter,
    check_identifier,
    guid_literal,
)

# A module logger rather than self.log: stdlib records reach the task log all the
# same, and every part of the client then logs (and is tested) one way.
log = logging.getLogger(__name__)

KEY_COLUMNS = ("Id", "ModifiedOn")
# Ids per request when confirming ids one by one. Creatio's $filter parser
# refuses more than 100 nodes, which an "or" chain of about 15 GUIDs already
# passes (reference/creatio-api.md §3.3), and "in" is not on every site: 10.
EXISTING_IDS_BATCH = 10
LOOKUP_PAGE_SIZE = 1000

# A small lookup table that keeps changing while we page it is read again
# from the start at most this many times.
_LOOKUP_RESTARTS = 3


class BpmOnlineHook(BaseHook):
    """Read leads, orders and lookups from bpm'online (Creatio) over OData 4.

    :param bpmonline_conn_id: an Airflow connection of type ``bpmonline`` (or
        ``http``) as DESIGN.md §3 describes.
    :param timeout: seconds per request, a number (read) or a (connect, read)
        pair; overrides the connection's ``extra.timeout``.
    :param max_retries: retries of one request after a retryable failure.
    :param retry_budget_seconds: the most time one request may spend retrying.
    :param retry_initial_wait: the first backoff wait; it doubles each retry.
    :param retry_max_wait: the cap on one wait, also on a server's Retry-After.

    Nothing is fetched or sent until the first call. Use the hook as a context
    manager, or call `close()`, to log out: sessions hold CRM licences.
    """

    conn_name_attr = "bpmonline_conn_id"
    default_conn_name = "bpmonline_default"
    conn_type = "bpmonline"
    hook_name = "bpm'online (Creatio)"

    def __init__(
        self,
        bpmonline_conn_id: str = default_conn_name,
        *,
        timeout: float | tuple[float, float] | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_budget_seconds: float = DEFAULT_RETRY_BUDGET_SECONDS,
        retry_initial_wait: float = DEFAULT_RETRY_INITIAL_WAIT,
        retry_max_wait: float = DEFAULT_RETRY_MAX_WAIT,
    ) -> None:
        super().__init__()
        self.bpmonline_conn_id = bpmonline_conn_id
        self._timeout = None if timeout is None else parse_timeout(timeout)
        self._retry = RetryPolicy(
            max_retries, retry_budget_seconds, retry_initial_wait, retry_max_wait
        )
        self._redactor = Redactor()
        self._settings: BpmOnlineConnection | None = None
        self._transport: Transport | None = None
        self._auth: FormsAuth | OAuthClientCredentials | None = None
        self._metadata: ODataMetadata | None = None
        # `iter_rows` reads the next page on a helper thread; requests on one
        # session take turns, so any call made meanwhile waits for its turn.
        self._request_lock = threading.RLock()

    # -- session -------------------------------------------------------------

    @property
    def settings(self) -> BpmOnlineConnection:
        """The checked connection settings (fetched from Airflow on first use)."""
        if self._settings is None:
            conn = self.get_connection(self.bpmonline_conn_id)
            self._redactor.add(conn.password)
            self._settings = BpmOnlineConnection.from_airflow(conn)
        return self._settings

    def get_conn(self) -> requests.Session:
        """Return the logged-in ``requests.Session`` (built and logged in once)."""
        self._logged_in_auth()
        assert self._transport is not None
        return self._transport.session

    def close(self) -> None:
        """Log out and drop the session; the hook logs in again if used afterwards."""
        with self._request_lock:  # not under a page being read ahead
            self._close_unlocked()

    def _close_unlocked(self) -> None:
        if self._auth is not None:
            self._auth.logout()
        if self._transport is not None:
            self._transport.close()
        self._auth = None
        self._transport = None

    def __enter__(self) -> BpmOnlineHook:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _logged_in_auth(self) -> FormsAuth | OAuthClientCredentials:
        if self._auth is None:
            settings = self.settings
            self._transport = Transport(
                timeout=self._timeout or settings.timeout,
                verify=settings.verify,
                retry=self._retry,
                redactor=self._redactor,
                site=settings.site,
            )
            self._auth = build_auth(settings, self._transport)
            self._transport.before_send = self._auth.before_send
        if not self._auth.logged_in:
            self._auth.login()
        return self._auth

    def _read(
        self,
        path: str,
        *,
        what: str,
        params: Mapping[str, str] | None = None,
        expect: str = "json",
        abandoned: threading.Event | None = None,
    ) -> Reply:
        """GET a path under the OData root; log in again once if the session ended.

        ``abandoned``, once set, ends the request's retries early (a page read
        ahead that nobody will take).
        """
        with self._request_lock:
            url = self.settings.odata_root + path
            for relogin in (False, True):
                auth = self._logged_in_auth()
                assert self._transport is not None
                try:
                    return self._transport.send(
                        "GET",
                        url,
                        what=what,
                        params=dict(params or {}),
                        expect=expect,
                        abandoned=abandoned,
                    )
                except BpmOnlineSessionEnded as exc:
                    if relogin:
                        raise BpmOnlineAuthError(
                            f"bpm'online {what}: the session ended again right after a fresh "
                            f"login ({exc}). The user may lack access to OData, or the site logs "
                            "sessions out at once (licences, SSO); check the user in the CRM"
                        ) from None
                    log.warning("bpm'online session ended (%s); logging in again", exc)
                    auth.login()
        raise AssertionError("unreachable")

    # -- metadata ------------------------------------------------------------

    @property
    def metadata(self) -> ODataMetadata:
        """The CRM's ``$metadata``, read once per hook."""
        if self._metadata is None:
            reply = self._read("/$metadata", what="$metadata", expect="xml")
            self._metadata = ODataMetadata.parse(reply.data)
        return self._metadata

    def get_entity_columns(self, entity_set: str) -> dict[str, str]:
        """Return ``{column: EDM type}`` of an entity set, e.g. ``{"Budget": "Edm.Decimal"}``."""
        return dict(self.metadata.entity(entity_set).columns)

    def check_columns(self, entity_set: str, required: Mapping[str, str]) -> None:
        """Raise `BpmOnlineSchemaError` unless the entity has every column in ``required``.

        ``required`` maps column names to what they are for (shown in the error),
        e.g. ``{"UsrRoistat": "roistat_column"}``. The error names near matches
        and how to add the column in the CRM.
        """
        self.metadata.check_columns(entity_set, required)

    # -- reads ---------------------------------------------------------------

    def iter_rows(
        self,
        entity_set: str,
        columns: Sequence[str],
        *,
        window_start: dt.datetime | None = None,
        window_end: dt.datetime | None = None,
        page_size: int = 1000,
    ) -> Iterator[dict[str, Any]]:
        """Yield the rows whose ``ModifiedOn`` is in [window_start, window_end).

        Rows come ordered by ``ModifiedOn`` then ``Id``, with ``Id`` and
        ``ModifiedOn`` always among the columns. A row modified during the read
        comes again later as its new version; no (Id, ModifiedOn) pair comes
        twice and no row in the window is missed. Memory stays flat: only the
        ids sharing the current ``ModifiedOn`` are remembered.
        """
        check_identifier(entity_set, "entity set")
        select = _select(columns)
        keyset = ModifiedOnKeyset(
            page_size=validate_page_size(page_size),
            window_start=_timestamp(window_start),
            window_end=_timestamp(window_end),
        )
        convert = RowConverter(self._column_types(entity_set), columns=select.split(","))
        # Set when this read ends, however it ends: a page still in flight is
        # then nobody's, and its thread stops retrying and drops it.
        abandoned = threading.Event()

        def fetch(query: dict[str, str]) -> tuple[list[dict[str, Any]], int | None] | None:
            with self._request_lock:
                if abandoned.is_set():
                    return None  # waited for its turn behind a call that ended the read
                reply = self._read(
                    f"/{entity_set}",
                    what=entity_set,
                    params={"$select": select, **query},
                    abandoned=abandoned,
                )
            return _page(reply, entity_set)

        emitted = requests_made = 0
        started = time.monotonic()
        # One page is read ahead while the caller works on the one before: the
        # CRM's answer time and our parsing overlap instead of adding up. The
        # next query depends only on the page already taken, so the keyset's
        # guarantees are those of a plain loop; at most two pages are held.
        query = keyset.next_query()
        ahead = _PageAhead(fetch, query) if query is not None else None
        try:
            while ahead is not None:
                page = ahead.result()
                assert page is not None  # only an abandoned read gets no page
                rows, count = page
                requests_made += 1
                fresh = keyset.take(rows, count)
                query = keyset.next_query()
                ahead = _PageAhead(fetch, query) if query is not None else None
                for row in fresh:
                    emitted += 1
                    yield convert(row)
        finally:
            # Never wait for the page in flight here: the caller may be closing
            # this generator from inside another call that holds the request
            # lock (the garbage collector does that), and waiting would deadlock.
            abandoned.set()

        log.info(
            "Read %d %s rows in %d requests (%.1f s)",
            emitted,
            entity_set,
            requests_made,
            time.monotonic() - started,
        )

    def iter_ids(self, entity_set: str, *, page_size: int = 5000) -> Iterator[str]:
        """Yield the ``Id`` of every row of an entity set, for deletion checks.

        The scan walks the same ``ModifiedOn`` keyset as `iter_rows` with only
        the two key columns, so a row modified during the scan can never be
        skipped (it may come twice, which a set of ids absorbs); a plain
        ``$skip`` over ``Id`` would jump over a row whenever one is deleted.
        """
        for row in self.iter_rows(entity_set, [], page_size=page_size):
            yield row["Id"]

    def existing_ids(self, entity_set: str, ids: Iterable[str]) -> set[str]:
        """Return which of ``ids`` the entity set holds now (lower case), asking by Id.

        For confirming a few ids (deals that look deleted) rather than
        scanning them all: ``Id eq ... or Id eq ...`` in small batches, which
        every Creatio version reads and keeps under its filter size limits.
        """
        check_identifier(entity_set, "entity set")
        wanted = [guid_literal(crm_id) for crm_id in ids]
        found: set[str] = set()
        for start in range(0, len(wanted), EXISTING_IDS_BATCH):
            batch = wanted[start : start + EXISTING_IDS_BATCH]
            params = {
                "$select": "Id",
                "$filter": " or ".join(f"Id eq {crm_id}" for crm_id in batch),
                "$top": str(len(batch)),
            }
            rows, _ = _page(
                self._read(f"/{entity_set}", what=entity_set, params=params), entity_set
            )
            found.update(str(row["Id"]).lower() for row in rows)
        return found

    def read_lookup(self, entity_set: str, columns: Sequence[str]) -> list[dict[str, Any]]:
        """Return all rows of a small lookup table (QualifyStatus, OrderStatus...), by ``Id``.

        Paged with ``$skip`` and ``$count``; when the count changes between pages
        the table is read again from the start, so no status is skipped.
        """
        check_identifier(entity_set, "entity set")
        select = ",".join(dict.fromkeys(["Id", *(check_identifier(c, "column") for c in columns)]))
        convert = RowConverter(self._column_types(entity_set))

        for _ in range(_LOOKUP_RESTARTS + 1):
            rows: dict[str, dict[str, Any]] = {}
            expected: int | None = None
            while True:
                params = {
                    "$select": select,
                    "$orderby": "Id asc",
                    "$top": str(LOOKUP_PAGE_SIZE),
                    "$skip": str(len(rows)),
                    "$count": "true",
                }
                page, count = _page(
                    self._read(f"/{entity_set}", what=entity_set, params=params), entity_set
                )
                if expected is not None and count != expected:
                    break
                expected = count
                for row in page:
                    rows.setdefault(str(row["Id"]), convert(row))
                if len(page) < LOOKUP_PAGE_SIZE:
                    return list(rows.values())
            log.info("%s changed while being read; reading it again", entity_set)
        raise BpmOnlinePagingError(f"{entity_set} kept changing while being read; try again later")

    def count(self, entity_set: str, filter: str | None = None) -> int:
        """Return the number of rows, optionally under an OData ``$filter`` expression.

        Build literals with `roistat.bpmonline_values.odata_literal`.
        """
        check_identifier(entity_set, "entity set")
        params = {"$filter": filter} if filter else {}
        reply = self._read(f"/{entity_set}/$count", what=entity_set, params=params, expect="text")
        try:
            return int(str(reply.data).strip().lstrip("\ufeff"))
        except ValueError:
            raise BpmOnlinePagingError(
                f"{entity_set}/$count answered {self._redactor.body(reply.data, limit=80)!r}, not a number"
            ) from None

    # -- Airflow UI ----------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """Log in, read ``$metadata`` and say whether Lead and Order have the roistat column."""
        try:
            settings = self.settings
            column = settings.roistat_column
            metadata = self.metadata
            findings, ok = [], True
            for entity in ("Lead", "Order"):
                if entity not in metadata:
                    findings.append(
                        f"{entity}: not on this site"
                        + (" (team edition?)" if entity == "Order" else "")
                    )
                    ok = ok and entity == "Order"
                    continue
                columns = metadata.entity(entity)
                if column in columns.columns:
                    findings.append(f"{entity}.{column}: found")
                    continue
                ok = False
                near = columns.near_matches(column)
                findings.append(
                    f"{entity}.{column}: MISSING"
                    + (f" (did you mean {', '.join(near)}?)" if near else "")
                )
            return ok, f"Logged in to {settings.site} ({settings.auth}); " + "; ".join(findings)
        except Exception as exc:  # the UI shows the text; it must never see a traceback
            return False, self._redactor.redact(
                exc if isinstance(exc, BpmOnlineError) else f"{type(exc).__name__}: {exc}"
            )
        finally:
            self.close()

    # -- helpers -------------------------------------------------------------

    def _column_types(self, entity_set: str) -> Mapping[str, str]:
        # Types drive value parsing (which strings are datetimes). An entity the
        # metadata lacks is left for the OData call to report with its message.
        metadata = self.metadata
        return metadata.entity(entity_set).columns if entity_set in metadata else {}


class _PageAhead:
    """One page read on a thread of its own while the caller works on the last one.

    A daemon thread, never joined by the reader: a page nobody takes any more
    ends with its request (see `iter_rows`), and cannot hold up the task's exit.
    """

    def __init__(self, fetch: Any, query: dict[str, str]) -> None:
        self._done = threading.Event()
        self._page: Any = None
        self._error: BaseException | None = None
        threading.Thread(
            target=self._run, args=(fetch, query), name="bpmonline-read", daemon=True
        ).start()

    def _run(self, fetch: Any, query: dict[str, str]) -> None:
        try:
            self._page = fetch(query)
        except BaseException as exc:  # handed to the caller in result()
            self._error = exc
        finally:
            self._done.set()

    def result(self) -> Any:
        self._done.wait()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return self._page


def _select(columns: Sequence[str]) -> str:
    if isinstance(columns, str):
        raise TypeError("columns must be a list of column names, not one string")
    names = [check_identifier(name, "column") for name in columns]
    return ",".join(dict.fromkeys([*KEY_COLUMNS, *names]))


def _timestamp(value: dt.datetime | None) -> ODataTimestamp | None:
    return None if value is None else ODataTimestamp.from_datetime(value)


def _page(reply: Reply, entity_set: str) -> tuple[list[dict[str, Any]], int | None]:
    data = reply.data
    if not isinstance(data, dict) or not isinstance(data.get("value"), list):
        raise BpmOnlinePagingError(f"the CRM's answer for {entity_set} has no 'value' list of rows")
    count = data.get("@odata.count")
    return data["value"], None if count is None else int(count)
