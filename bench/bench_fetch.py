"""Extraction figures: a bare `requests` loop (the limit) and the hook over the same rows.

The bare loop sends exactly the queries the hook sends for a full read
(`$select` of the mapper's columns, `$orderby=ModifiedOn asc,Id asc`, `$top`,
a `ModifiedOn ge <last>` keyset, and the tie-group walk by `$skip` when more
rows share one `ModifiedOn` than fit in a page), parses each page with
`json.loads` and drops it. What it costs is what the sandbox and HTTP cost;
whatever the hook adds on top is ours.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

from roistat.crm_entities import ENTITIES, CrmEntity
from roistat.deal_loader import DealRecord
from roistat.deal_mapping import DealMapper, Rejection
from roistat.settings import IntegrationSettings

LOGIN_PATH = "/ServiceModel/AuthService.svc/Login"


@dataclass(frozen=True)
class Site:
    """Where the sandbox serves and how to log in."""

    url: str
    odata_path: str
    user: str
    password: str

    @property
    def odata_url(self) -> str:
        return self.url + self.odata_path


@dataclass
class RawFetch:
    rows: int = 0
    requests: int = 0
    request_seconds: float = 0.0
    page_ms: list[float] = field(default_factory=list)


def select_for(entity: CrmEntity, settings: IntegrationSettings) -> str:
    """The `$select` the hook sends for `entity` under `settings`."""
    columns = _mapper(entity, settings, {}).columns()
    return ",".join(dict.fromkeys(["Id", "ModifiedOn", *columns]))


def raw_fetch(site: Site, entities: Sequence[str], settings: IntegrationSettings) -> RawFetch:
    """Read every row of `entities` with a bare loop; return rows and request timings."""
    session = _login(site)
    result = RawFetch()
    for name in entities:
        entity = ENTITIES[name]
        url = f"{site.odata_url}/{entity.entity_set}"
        select = select_for(entity, settings)
        for page in _keyset_pages(session, url, select, settings.page_size, result):
            result.rows += page
    session.close()
    return result


def _keyset_pages(
    session: requests.Session, url: str, select: str, page_size: int, result: RawFetch
) -> Iterator[int]:
    """Yield the number of new rows in each page of a keyset read."""
    mark: str | None = None
    seen: set[str] = set()
    mark_done = False
    while True:
        params = {"$select": select, "$orderby": "ModifiedOn asc,Id asc", "$top": str(page_size)}
        if mark is not None:
            params["$filter"] = f"ModifiedOn {'gt' if mark_done else 'ge'} {mark}"
        rows = _get(session, url, params, result)

        fresh = 0
        for row in rows:
            stamp, row_id = row["ModifiedOn"], row["Id"]
            if stamp == mark:
                if row_id in seen:
                    continue
                seen.add(row_id)
            else:
                mark, seen, mark_done = stamp, {row_id}, False
            fresh += 1
        yield fresh

        if len(rows) < page_size:
            return
        if not fresh:
            # More rows share `mark` than fit in a page: walk them by Id.
            yield from _tie_pages(session, url, select, page_size, mark, seen, result)
            mark_done = True


def _tie_pages(
    session: requests.Session,
    url: str,
    select: str,
    page_size: int,
    mark: str | None,
    seen: set[str],
    result: RawFetch,
) -> Iterator[int]:
    skip = 0
    while True:
        params = {
            "$select": select,
            "$filter": f"ModifiedOn eq {mark}",
            "$orderby": "Id asc",
            "$top": str(page_size),
            "$skip": str(skip),
            "$count": "true",
        }
        rows = _get(session, url, params, result)
        fresh = [row["Id"] for row in rows if row["Id"] not in seen]
        seen.update(fresh)
        yield len(fresh)
        skip += len(rows)
        if len(rows) < page_size:
            return


def _get(
    session: requests.Session, url: str, params: dict[str, str], result: RawFetch
) -> list[dict[str, Any]]:
    began = time.perf_counter()
    response = session.get(url, params=params, timeout=120)
    body = response.content
    elapsed = time.perf_counter() - began
    response.raise_for_status()
    result.requests += 1
    result.request_seconds += elapsed
    result.page_ms.append(elapsed * 1000)
    return json.loads(body)["value"]


def _login(site: Site) -> requests.Session:
    session = requests.Session()
    response = session.post(
        site.url + LOGIN_PATH,
        json={"UserName": site.user, "UserPassword": site.password},
        timeout=30,
    )
    response.raise_for_status()
    if response.json().get("Code") != 0:
        raise RuntimeError(f"sandbox login refused: {response.text[:200]}")
    session.headers.update(
        {
            "BPMCSRF": session.cookies["BPMCSRF"],
            "ForceUseSession": "true",
            "Accept": "application/json",
        }
    )
    return session


def hook_extract(entities: Sequence[str], settings: IntegrationSettings) -> int:
    """Read every row of `entities` through `BpmOnlineHook.iter_rows`; return the count."""
    from roistat.bpmonline_hook import BpmOnlineHook

    rows = 0
    with BpmOnlineHook(settings.bpmonline_conn_id) as hook:
        for name in entities:
            entity = ENTITIES[name]
            columns = _mapper(entity, settings, {}).columns()
            for _ in hook.iter_rows(entity.entity_set, columns, page_size=settings.page_size):
                rows += 1
    return rows


def extract_and_map(
    entities: Sequence[str],
    settings: IntegrationSettings,
    status_groups: dict[str, dict[str, str]],
) -> tuple[list[DealRecord], int]:
    """Read and map every row as a sync does; return the records and the rejected count."""
    from roistat.bpmonline_hook import BpmOnlineHook

    records: list[DealRecord] = []
    rejected = 0
    with BpmOnlineHook(settings.bpmonline_conn_id) as hook:
        for name in entities:
            entity = ENTITIES[name]
            mapper = _mapper(entity, settings, status_groups.get(name, {}))
            for row in hook.iter_rows(
                entity.entity_set, mapper.columns(), page_size=settings.page_size
            ):
                outcome = mapper.map(row)
                if isinstance(outcome, Rejection):
                    rejected += 1
                else:
                    records.append(outcome)
    return records, rejected


def _mapper(
    entity: CrmEntity, settings: IntegrationSettings, status_groups: dict[str, str]
) -> DealMapper:
    # The benchmark runs with the filter off (the example settings), so no
    # lookup names are needed.
    return DealMapper.for_entity(entity, settings, status_groups=status_groups)
