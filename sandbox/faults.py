"""Scripted faults: what goes wrong, on which requests, how often.

A fault is a dict (the admin endpoint's JSON body):

    {"kind": "status", "status": 503, "entity": "Lead", "after": 2, "times": 1}

Common keys:
- `kind`: `latency` | `status` | `drop` | `truncate` | `login_page` |
  `expire_session` | `touch_served`;
- `path`: a path prefix the request must start with (e.g. "/0/odata/Order");
- `entity`: an OData entity set the request must address (exact name);
- `method`: an HTTP method the request must use;
- `after`: matching requests to let through before the first firing (default 0);
- `times`: how many firings (default 1; null: every matching request from then on;
  `latency` defaults to null).
Kind-specific keys:
- `latency`: `seconds` (default 0.5) before the request is handled;
- `status`: `status` (429, 500, 502, 503, 504 or any other), `retry_after` seconds
  (sent as `Retry-After`; default 1 for 429/503), `message` for the error body;
- `drop`: close the connection without a response;
- `truncate`: status 200 and valid headers, the body cut at `fraction` (default
  0.5); `declared`: "cut" (Content-Length of the cut body) or "full" (of the whole
  body, then the connection closes early);
- `login_page`: status 200 with the HTML login page instead of the answer;
- `expire_session`: the caller's session or token dies before the request is
  checked, so it gets the unauthorized answer;
- `touch_served`: records modified while a client pages. Before the matching
  OData page request is answered (so with `after=K`: between page K and page
  K+1), a row moves to the end of the ModifiedOn order (ModifiedOn = sandbox
  clock): `id` names the row, else `pick` = "served" (a random row already served
  to clients since the fault was set; the default; waits until one was) or
  "unserved" (the row right after the last one served, which a client paging by
  $skip then misses); `count` rows per firing (default 1). The moved ids are
  listed in the fault's `touched`.
"""

from __future__ import annotations

import random
import threading
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("latency", "status", "drop", "truncate", "login_page", "expire_session", "touch_served")
# Kinds that answer in place of the application; the first one that fires wins.
TERMINAL = ("status", "drop", "truncate", "login_page")


class FaultError(ValueError):
    """A fault spec the sandbox cannot follow."""


@dataclass
class Fault:
    id: int
    kind: str
    path: str | None = None
    entity: str | None = None
    method: str | None = None
    after: int = 0
    times: int | None = 1
    seconds: float = 0.5
    status: int | None = None
    retry_after: int | None = None
    message: str | None = None
    fraction: float = 0.5
    declared: str = "cut"
    row_id: str | None = None
    pick: str = "served"
    count: int = 1
    seen: int = 0
    fired: int = 0
    touched: list[str] = field(default_factory=list)

    def matches(self, method: str, path: str, entity: str | None) -> bool:
        if self.path is not None and not path.startswith(self.path):
            return False
        if self.entity is not None and self.entity != entity:
            return False
        return self.method is None or self.method.upper() == method.upper()

    def take(self, ready: bool = True) -> bool:
        """Count one matching request; return True when the fault fires on it.

        `ready` false holds a due firing back to a later request.
        """
        self.seen += 1
        if self.seen <= self.after or not ready:
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        self.fired += 1
        return True

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def build_fault(fault_id: int, spec: dict[str, Any]) -> Fault:
    """Validate a spec dict and build the fault."""
    spec = dict(spec)
    kind = spec.pop("kind", None)
    if kind not in KINDS:
        raise FaultError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    if "id" in spec:
        spec["row_id"] = spec.pop("id")
    if kind == "latency":
        spec.setdefault("times", None)
    allowed = {
        "path",
        "entity",
        "method",
        "after",
        "times",
        "seconds",
        "status",
        "retry_after",
        "message",
        "fraction",
        "declared",
        "row_id",
        "pick",
        "count",
    }
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise FaultError(f"unknown fault key(s): {', '.join(unknown)}")
    fault = Fault(fault_id, kind, **spec)
    if kind == "status":
        if not isinstance(fault.status, int) or not 400 <= fault.status <= 599:
            raise FaultError("a status fault needs `status` between 400 and 599")
        if fault.retry_after is None and fault.status in (429, 503):
            fault.retry_after = 1
    if not 0 <= fault.fraction < 1:
        raise FaultError("fraction must be in [0, 1)")
    if fault.declared not in ("cut", "full"):
        raise FaultError("declared must be 'cut' or 'full'")
    if fault.pick not in ("served", "unserved"):
        raise FaultError("pick must be 'served' or 'unserved'")
    if kind == "touch_served" and not fault.entity:
        raise FaultError("a touch_served fault needs `entity`")
    if fault.after < 0 or (fault.times is not None and fault.times < 1) or fault.count < 1:
        raise FaultError("after must be >= 0, times and count >= 1")
    return fault


@dataclass
class Decision:
    """What the gate does with one request."""

    latency: float = 0.0
    terminal: Fault | None = None
    expire_session: bool = False


@dataclass
class PageTracker:
    """Rows served per entity since a touch_served fault was set."""

    ids: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    last: tuple[int, str] | None = None

    def add(self, rows: list[tuple[str, int]]) -> None:
        for row_id, modified in rows:
            if row_id not in self.seen:
                self.seen.add(row_id)
                self.ids.append(row_id)
            if self.last is None or (modified, row_id) > self.last:
                self.last = (modified, row_id)


class FaultBook:
    """The active faults and the request counters of one sandbox."""

    def __init__(self, seed: int) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._next_id = 1
        self._rng = random.Random(f"{seed}:faults")
        self.trackers: dict[str, PageTracker] = {}
        self.counters: Counter[str] = Counter()
        self.log: deque[dict[str, Any]] = deque(maxlen=5_000)

    def add(self, spec: dict[str, Any]) -> Fault:
        with self._lock:
            fault = build_fault(self._next_id, spec)
            self._next_id += 1
            self._faults.append(fault)
            if fault.kind == "touch_served" and fault.entity:
                self.trackers.setdefault(fault.entity, PageTracker())
            return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.trackers.clear()

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.describe() for fault in self._faults]

    def decide(self, method: str, path: str, entity: str | None) -> Decision:
        decision = Decision()
        with self._lock:
            for fault in self._faults:
                if fault.kind == "touch_served" or not fault.matches(method, path, entity):
                    continue
                if fault.kind in TERMINAL and decision.terminal is not None:
                    # Only one fault answers; the others still count the request.
                    fault.seen += 1
                    continue
                if not fault.take():
                    continue
                self.counters[f"faults.{fault.kind}"] += 1
                if fault.kind == "latency":
                    decision.latency += fault.seconds
                elif fault.kind == "expire_session":
                    decision.expire_session = True
                else:
                    decision.terminal = fault
        return decision

    def wants_tracking(self, entity: str) -> bool:
        return entity in self.trackers

    def before_page(
        self, method: str, path: str, entity: str
    ) -> list[tuple[Fault, list[str] | None, tuple[int, str] | None]]:
        """Return the touch_served moves to make before this page is answered.

        Each is (fault, ids to touch, or None with the keyset after which the next
        unserved row is to be moved).
        """
        moves = []
        with self._lock:
            tracker = self.trackers.get(entity)
            for fault in self._faults:
                if fault.kind != "touch_served" or not fault.matches(method, path, entity):
                    continue
                served = tracker.ids if tracker is not None else []
                # With nothing served yet there is nothing to move: wait a page.
                ready = bool(fault.row_id or fault.pick == "unserved" or served)
                if not fault.take(ready):
                    continue
                self.counters["faults.touch_served"] += 1
                if fault.row_id:
                    moves.append((fault, [fault.row_id], None))
                elif fault.pick == "served":
                    moves.append(
                        (fault, self._rng.sample(served, min(fault.count, len(served))), None)
                    )
                else:
                    last = tracker.last if tracker is not None else None
                    moves.append((fault, None, last or (-1, "")))
        return moves

    def page_served(self, entity: str, rows: list[tuple[str, int]]) -> None:
        """Remember which rows a page handed out."""
        with self._lock:
            tracker = self.trackers.get(entity)
            if tracker is not None:
                tracker.add(rows)

    def note_touched(self, fault: Fault, ids: list[str]) -> None:
        with self._lock:
            fault.touched.extend(ids)

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.log.append(entry)
            self.counters["requests"] += 1
            self.counters[f"status.{entry['status']}"] += 1
            if entry.get("entity"):
                self.counters[f"entity.{entry['entity']}"] += 1

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counters[name] += n

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"counters": dict(self.counters), "requests": list(self.log)}

    def reset_counters(self) -> None:
        with self._lock:
            self.counters.clear()
            self.log.clear()
