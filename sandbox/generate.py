"""Generate the sandbox database and visits file, deterministically by seed.

Two years of leads and orders end at `until`. A burst of rows shares one
`ModifiedOn` (a bulk status change), larger than a usual page, so paging clients
meet ties across a page boundary. The visits file covers most, not all, of the
visit numbers the deals carry, so "unknown visit" happens.

The database is written to a temporary file and renamed into place at the end,
so an interrupted run never leaves a half-made cache behind.
"""

from __future__ import annotations

import bisect
import csv
import json
import operator
import os
import random
import secrets
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any

from sandbox import vocabulary as words
from sandbox.catalog import CONTACTS, LEAD_MEDIUMS, LEAD_SOURCES, ORDER_STATUSES, QUALIFY_STATUSES
from sandbox.catalog import SUPERVISOR_ID as SUPERVISOR
from sandbox.deals import DealFactory, DrawRandom, VisitBook
from sandbox.options import SandboxOptions
from sandbox.schema import Entity, build_schema, create_index_sql, create_table_sql
from sandbox.ticks import TICKS_PER_DAY, TICKS_PER_MINUTE, TICKS_PER_SECOND, format_ticks, to_ticks

SPAN_DAYS = 730
BATCH = 20_000
VISITS_HEADER = (
    "visit_id",
    "visit_date",
    "marker",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "landing_page",
)


@dataclass(frozen=True)
class Burst:
    modified_on: int
    rows: int


def visits_path_for(db_path: Path) -> Path:
    return db_path.with_name(db_path.stem + ".visits.csv")


def generate(options: SandboxOptions, db_path: Path) -> None:
    """Write the database at `db_path` and the visits file beside it."""
    schema = build_schema(options.roistat_column)
    until = to_ticks(options.until)
    start = until - SPAN_DAYS * TICKS_PER_DAY
    visits = VisitBook(origin=start - 30 * TICKS_PER_DAY)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    # A name of its own, so two runs generating the same cache cannot collide.
    temp = db_path.with_name(f"{db_path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")

    conn = sqlite3.connect(temp)
    try:
        # Nothing to protect while building a throwaway file: write fast.
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")
        for entity in schema.values():
            conn.execute(create_table_sql(entity))
        _write_lookups(conn, schema, start)

        lead_rng = DrawRandom(f"{options.seed}:leads")
        leads = DealFactory(lead_rng, options.roistat_column, visits)
        lead_times, lead_burst = _timeline(lead_rng, options.leads, start, until, 0.58)
        lead_roistat: list[str] = []
        _insert(
            conn,
            schema["Lead"],
            _leads(leads, lead_times, lead_roistat),
        )

        order_rng = DrawRandom(f"{options.seed}:orders")
        orders = DealFactory(order_rng, options.roistat_column, visits)
        order_times, order_burst = _timeline(order_rng, options.orders, start, until, 0.71)
        lead_created = [created for created, _ in lead_times]
        _insert(
            conn,
            schema["Order"],
            _orders(orders, order_times, lead_created, lead_roistat),
        )

        for entity in schema.values():
            for statement in create_index_sql(entity):
                conn.execute(statement)
        visits_path = visits_path_for(db_path)
        visit_count = _write_visits(visits, DrawRandom(f"{options.seed}:visits"), visits_path)
        meta = {
            "generator": options.dataset_key(),
            "seed": options.seed,
            "leads": options.leads,
            "orders": options.orders,
            "until": format_ticks(until),
            "start": format_ticks(start),
            "roistat_column": options.roistat_column,
            "visits_file": visits_path.name,
            "visits": visit_count,
            "bursts": {
                "Lead": _burst_facts(lead_burst),
                "Order": _burst_facts(order_burst),
            },
        }
        conn.execute("CREATE TABLE sandbox_meta (key TEXT PRIMARY KEY, value TEXT)")
        conn.executemany(
            "INSERT INTO sandbox_meta VALUES (?, ?)",
            [(key, json.dumps(value)) for key, value in meta.items()],
        )
        conn.commit()
    except BaseException:
        conn.close()
        temp.unlink(missing_ok=True)
        raise
    conn.close()
    os.replace(temp, db_path)


def read_meta(conn: sqlite3.Connection) -> dict[str, Any]:
    return {key: json.loads(value) for key, value in conn.execute("SELECT * FROM sandbox_meta")}


def _timeline(
    rng: random.Random, n: int, start: int, until: int, burst_at: float
) -> tuple[list[tuple[int, int]], Burst]:
    """Return (CreatedOn, ModifiedOn) pairs in creation order, and the burst."""
    created = sorted(_moment(rng, start, until) for _ in range(n))
    pairs = []
    for moment in created:
        if rng.random() < 0.35:
            pairs.append((moment, moment))
        else:
            later = moment + rng.randrange(1, 90 * TICKS_PER_DAY)
            ceiling = until - rng.randrange(1, TICKS_PER_SECOND)
            pairs.append((moment, max(moment, min(later, ceiling))))

    # A bulk update at a whole second touched a few thousand older rows at once.
    burst_size = min(3_000, n // 5) if n >= 10 else 0
    burst_moment = start + int((until - start) * burst_at)
    burst_moment -= burst_moment % TICKS_PER_SECOND
    older = bisect.bisect_left(created, burst_moment)
    burst_size = min(burst_size, older)
    for index in rng.sample(range(older), burst_size):
        pairs[index] = (pairs[index][0], burst_moment)
    return pairs, Burst(burst_moment, burst_size)


def _moment(rng: random.Random, start: int, until: int) -> int:
    moment = rng.randrange(start, until)
    # One in five stamps comes from a millisecond clock: trailing zeros.
    if rng.random() < 0.2:
        moment -= moment % 10_000
    return moment


def _leads(
    factory: DealFactory, times: list[tuple[int, int]], roistat_out: list[str]
) -> Iterable[dict[str, Any]]:
    for created, modified in times:
        row = factory.lead(created, modified)
        roistat_out.append(row[factory.roistat_column])
        yield row


def _orders(
    factory: DealFactory,
    times: list[tuple[int, int]],
    lead_created: list[int],
    lead_roistat: list[str],
) -> Iterable[dict[str, Any]]:
    rng = factory.rng
    for created, modified in times:
        inherited = None
        earlier = bisect.bisect_left(lead_created, created)
        # About a third of orders come from a lead and carry its roistat value.
        if earlier and rng.random() < 0.35:
            inherited = lead_roistat[rng.randrange(earlier)]
        yield factory.order(created, modified, inherited)


def _insert(conn: sqlite3.Connection, entity: Entity, rows: Iterable[dict[str, Any]]) -> None:
    names = [c.name for c in entity.columns]
    values_of = operator.itemgetter(*names)
    marks = ", ".join("?" for _ in names)
    statement = f"INSERT INTO {entity.table} VALUES ({marks})"  # noqa: S608 - schema names
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(values_of(row))
        if len(batch) >= BATCH:
            conn.executemany(statement, batch)
            batch.clear()
    if batch:
        conn.executemany(statement, batch)


def _write_lookups(conn: sqlite3.Connection, schema: dict[str, Entity], start: int) -> None:
    installed = start - 365 * TICKS_PER_DAY

    def base(row_id: str, offset: int) -> dict[str, Any]:
        moment = installed + offset * TICKS_PER_MINUTE
        return {
            "Id": row_id,
            "CreatedOn": moment,
            "CreatedById": SUPERVISOR,
            "ModifiedOn": moment,
            "ModifiedById": SUPERVISOR,
            "ProcessListeners": 0,
            "Description": "",
        }

    contacts = [
        base(cid, i) | {"Name": name, "Email": email}
        for i, (cid, name, email) in enumerate(CONTACTS)
    ]
    stages = [
        base(s.id, i)
        | {
            "Name": s.name,
            "StageNumber": s.stage_number,
            "IsDisplayed": 1,
            "IsFinal": int(s.is_final),
            "Successful": int(s.successful),
        }
        for i, s in enumerate(QUALIFY_STATUSES)
    ]
    statuses = [
        base(s.id, i) | {"Name": s.name, "Position": s.position, "FinalStatus": int(s.final_status)}
        for i, s in enumerate(ORDER_STATUSES)
    ]
    mediums = [base(mid, i) | {"Name": name} for i, (mid, name) in enumerate(LEAD_MEDIUMS)]
    sources = [
        base(sid, i) | {"Name": name, "LeadMediumId": medium}
        for i, (sid, name, medium) in enumerate(LEAD_SOURCES)
    ]
    for name, rows in (
        ("Contact", contacts),
        ("QualifyStatus", stages),
        ("OrderStatus", statuses),
        ("LeadMedium", mediums),
        ("LeadSource", sources),
    ):
        _insert(conn, schema[name], rows)


def _write_visits(visits: VisitBook, rng: DrawRandom, path: Path) -> int:
    """Write the visits file: most referenced visits, plus some never converted."""
    markers = words.VISIT_MARKERS
    cum = tuple(accumulate(m[-1] for m in markers))
    written = 0
    temp = path.with_name(f"{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    with open(temp, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(VISITS_HEADER)
        for visit_id in sorted(visits.referenced):
            ids = [visit_id]
            if rng.random() < 0.1 and visit_id + 1 not in visits.referenced:
                ids.append(visit_id + 1)
            # About one referenced visit in fourteen is missing: "unknown visit".
            if rng.random() < 0.07:
                ids.pop(0)
            for written_id in ids:
                marker, source, medium, campaign, _ = rng.weighted(markers, cum)
                writer.writerow(
                    (
                        written_id,
                        format_ticks(visits.date_of(written_id)),
                        marker,
                        source,
                        medium,
                        campaign,
                        rng.choice(words.LANDING_PAGES),
                    )
                )
                written += 1
    os.replace(temp, path)
    return written


def _burst_facts(burst: Burst) -> dict[str, Any]:
    return {"modified_on": format_ticks(burst.modified_on), "rows": burst.rows}
