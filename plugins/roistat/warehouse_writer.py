"""Run a sync's warehouse writes in order on a thread of their own.

A batch's merge keeps PostgreSQL busy for a second or two; done inline it
stops the read and the mapping of the next batch for as long. Handed to this
writer, it runs on the warehouse connection while the task's main thread goes
on reading the CRM, so the two overlap on a machine's two cores.

Every write of the transaction goes through the same writer (the loader's
batches, rejections, the id list), so they reach PostgreSQL in the order they
were made, exactly as inline writes would. At most one job runs at a time and
a new one waits for it: memory holds the batch being written and the one being
filled, no more. The first failure stops the writer: later jobs are skipped,
and the error is raised in the caller at its next `submit` or at `drain`, so
the caller's transaction block rolls back as it would have inline.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class WarehouseWriter:
    """A single ordered queue of writes on one connection, run by one thread."""

    def __init__(self, name: str = "warehouse-writer") -> None:
        self._name = name
        self._idle = threading.Semaphore(1)  # released when no job is running
        self._error: BaseException | None = None

    def submit(self, job: Callable[[], None]) -> None:
        """Run `job` after every job submitted before it; wait while one is running."""
        self._idle.acquire()
        if self._error is not None:
            self._idle.release()
            self._raise()
        self._start(job)

    def _start(self, job: Callable[[], None]) -> None:
        # A thread per job: jobs are batches of thousands of rows, so the
        # thread costs nothing beside them, and none outlives its job.
        threading.Thread(target=self._run, args=(job,), name=self._name, daemon=True).start()

    def try_submit(self, job: Callable[[], None]) -> bool:
        """Start `job` if no job is running and none has failed; say whether it started."""
        if not self._idle.acquire(blocking=False):
            return False
        if self._error is not None:
            self._idle.release()
            return False
        self._start(job)
        return True

    def drain(self) -> None:
        """Wait until every submitted job has run; raise the first failure."""
        self.wait()
        if self._error is not None:
            self._raise()

    def wait(self) -> None:
        """Wait until no job is running, whatever became of it.

        For the way out of a failed transaction: it must not roll back while a
        job is still writing on its connection, or the job's next statement
        would run outside any transaction.
        """
        self._idle.acquire()
        self._idle.release()

    def _run(self, job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as exc:  # handed to the caller by submit or drain
            self._error = exc
        finally:
            self._idle.release()

    def _raise(self) -> None:
        error = self._error
        assert error is not None
        raise error
