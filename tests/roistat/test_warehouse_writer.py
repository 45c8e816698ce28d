"""The writer that overlaps a sync's merges with its reading: order, failures, a way out.

Jobs here are plain Python (a list to append to, an event to wait on) except
where the connection matters; there PostgreSQL is real.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from datetime import timedelta

import psycopg
import pytest
from test_deal_loader import SYNC_1, T0, _deal

from roistat.deal_loader import DealLoader
from roistat.warehouse_schema import deploy_schema
from roistat.warehouse_writer import WarehouseWriter


def test_jobs_run_one_at_a_time_in_the_order_given():
    writer, done, running, overlaps = WarehouseWriter(), [], [0], []

    def job(n):
        def run():
            running[0] += 1
            overlaps.append(running[0])
            time.sleep(random.random() / 100)
            done.append(n)
            running[0] -= 1

        return run

    for n in range(30):
        writer.submit(job(n))
    writer.drain()
    assert done == list(range(30))
    assert set(overlaps) == {1}


def test_submit_waits_while_a_job_runs_and_try_submit_does_not():
    writer, release = WarehouseWriter(), threading.Event()
    writer.submit(release.wait)
    assert writer.try_submit(lambda: None) is False
    started = []
    waiter = threading.Thread(target=lambda: writer.submit(lambda: started.append(1)))
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive() and not started  # held back: one batch in flight at most
    release.set()
    waiter.join(5)
    writer.drain()
    assert started == [1]


def test_the_first_failure_reaches_the_caller_and_later_jobs_do_not_run():
    writer, ran = WarehouseWriter(), []

    def fail():
        raise ValueError("duplicate key in batch 3")

    writer.submit(fail)
    with pytest.raises(ValueError, match="batch 3"):
        writer.submit(lambda: ran.append("after"))
    with pytest.raises(ValueError, match="batch 3"):
        writer.drain()
    assert writer.try_submit(lambda: ran.append("tried")) is False
    writer.wait()  # the way out of a failed transaction does not raise
    assert ran == []


def test_waiting_before_a_rollback_keeps_a_running_write_inside_the_transaction(warehouse_url):
    """Were the transaction rolled back while a job still wrote, the job's next
    statement would run outside it (the connection is in autocommit) and stay."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("create table written (n int)")
        writer = WarehouseWriter()

        def slow_writes():
            conn.execute("insert into written values (1)")
            time.sleep(0.5)
            conn.execute("insert into written values (2)")

        with pytest.raises(RuntimeError), conn.transaction():
            try:
                writer.submit(slow_writes)
                raise RuntimeError("the CRM read failed")
            finally:
                writer.wait()
        assert conn.execute("select count(*) from written").fetchone()[0] == 0


def _dump(url):
    with psycopg.connect(url) as conn:
        return {
            table: sorted(conn.execute(f"select * from roistat.{table}").fetchall(), key=repr)  # noqa: S608
            for table in ("deal", "deal_status_history", "rejected_record")
        }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_load_through_the_writer_leaves_what_an_inline_load_leaves(
    empty_database_url, warehouse_server, seed
):
    """Deals and rejections interleaved over many batches, versions of one deal
    in different batches, a deal rejected then loaded and loaded then rejected:
    the same tables either way."""
    rng = random.Random(seed)
    events = []
    for _ in range(400):
        n = rng.randrange(60)
        if rng.random() < 0.15:
            events.append(("reject", n, rng.randrange(100)))
        else:
            events.append(("add", n, rng.randrange(100)))

    def load(url, writer):
        with psycopg.connect(url) as conn:
            deploy_schema(conn)
            conn.commit()
            with conn.transaction():
                loader = DealLoader(
                    conn, sync_run_id=1, synced_at=SYNC_1, batch_size=7, writer=writer
                )
                for kind, n, minute in events:
                    if kind == "add":
                        loader.add(_deal(n, modified_on=T0 + timedelta(minutes=minute)))
                    else:
                        loader.reject(
                            entity="lead",
                            crm_id=str(uuid.UUID(int=n)),
                            modified_on=str(minute),
                            reason=f"bad value {minute}",
                            raw_payload={"n": n},
                        )
                loader.flush()
            return loader.counts

    inline_url = empty_database_url
    threaded_url = warehouse_server.url_for(warehouse_server.create_scratch_database("writer_"))
    try:
        inline, threaded = load(inline_url, None), load(threaded_url, WarehouseWriter())
        assert threaded == inline
        assert _dump(threaded_url) == _dump(inline_url)
        assert inline.rejected > 0 and inline.staged > 0
    finally:
        warehouse_server.drop_database(threaded_url.rsplit("/", 1)[-1])
