"""The admin endpoint under `/_sandbox/`: only tests and demos use it.

Every call needs the header `X-Sandbox-Admin: <admin token>`. Admin requests are
neither counted nor subject to faults.
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from sandbox.faults import FaultError
from sandbox.options import OptionError
from sandbox.schema import Entity
from sandbox.state import SandboxState
from sandbox.store import StoreError
from sandbox.ticks import format_ticks

ADMIN_HEADER = "X-Sandbox-Admin"
PREFIX = "/_sandbox"


def build_admin_router(state: SandboxState) -> APIRouter:
    def guard(request: Request) -> None:
        token = request.headers.get(ADMIN_HEADER, "")
        if not secrets.compare_digest(token, state.options.admin_token):
            raise HTTPException(status_code=403, detail=f"missing or wrong {ADMIN_HEADER}")

    router = APIRouter(prefix=PREFIX, dependencies=[Depends(guard)])

    @router.get("/info")
    def info() -> dict[str, Any]:
        return dataset_info(state)

    @router.get("/faults")
    def list_faults() -> list[dict[str, Any]]:
        return state.faults.describe()

    @router.post("/faults")
    def add_fault(spec: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        try:
            return state.faults.add(spec).describe()
        except (FaultError, TypeError) as error:
            raise HTTPException(status_code=400, detail=str(error)) from error

    @router.delete("/faults")
    def clear_faults() -> dict[str, Any]:
        state.faults.clear()
        return {"faults": []}

    @router.get("/quirks")
    def get_quirks() -> dict[str, Any]:
        return state.quirks.as_dict()

    @router.patch("/quirks")
    def set_quirks(changes: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        try:
            state.quirks = state.quirks.updated(changes)
        except (OptionError, TypeError) as error:
            raise HTTPException(status_code=400, detail=str(error)) from error
        return state.quirks.as_dict()

    @router.post("/reset")
    def reset() -> dict[str, Any]:
        state.faults.clear()
        state.faults.reset_counters()
        state.quirks = state.startup_quirks
        return {"quirks": state.quirks.as_dict()}

    @router.get("/counters")
    def counters() -> dict[str, Any]:
        snapshot = state.faults.snapshot()
        snapshot["active_sessions"] = len(state.auth.sessions)
        snapshot["active_tokens"] = len(state.auth.tokens)
        return snapshot

    @router.delete("/counters")
    def reset_counters() -> dict[str, Any]:
        state.faults.reset_counters()
        return {"counters": {}}

    @router.post("/expire-sessions")
    def expire_sessions() -> dict[str, Any]:
        return {"expired": state.auth.expire_all()}

    @router.post("/touch")
    async def touch(body: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        return {
            "ids": await _call(
                state.store.touch,
                _required(body, "entity"),
                body.get("ids"),
                body.get("count"),
                body.get("changes") or {},
                body.get("modified_on"),
            )
        }

    @router.post("/insert")
    async def insert(body: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        return {
            "ids": await _call(
                state.store.insert,
                _required(body, "entity"),
                int(body.get("n", 1)),
                body.get("values") or {},
                body.get("modified_on"),
            )
        }

    @router.post("/delete")
    async def delete(body: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        ids = _required(body, "ids")
        return {"deleted": await _call(state.store.delete, _required(body, "entity"), ids)}

    @router.post("/statuses")
    async def add_status(body: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        new_id = await _call(
            state.store.add_status, _required(body, "entity"), _required(body, "name")
        )
        return {"id": new_id}

    @router.post("/statuses/rename")
    async def rename_status(body: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        await _call(
            state.store.rename_status,
            _required(body, "entity"),
            _required(body, "status_id"),
            _required(body, "name"),
        )
        return {"id": body["status_id"]}

    @router.post("/statuses/delete")
    async def delete_status(body: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        lookup = await _call(state.store.status_lookup, _required(body, "entity"))
        deleted = await _call(state.store.delete, lookup, [_required(body, "status_id")])
        return {"deleted": deleted}

    @router.get("/rows/{entity}")
    def rows(entity: str) -> list[dict[str, Any]]:
        table = state.schema.get(entity)
        if table is None:
            raise HTTPException(status_code=404, detail=f"unknown entity {entity!r}")
        return [_plain_row(table, row) for row in state.store.rows(entity)]

    return router


def dataset_info(state: SandboxState) -> dict[str, Any]:
    """Facts about the data a test or demo needs to know."""
    meta = state.store.meta
    options = state.options
    return {
        "leads": state.store.count("Lead"),
        "orders": state.store.count("Order"),
        "generated": {"leads": meta["leads"], "orders": meta["orders"]},
        "seed": meta["seed"],
        "start": meta["start"],
        "until": meta["until"],
        "roistat_column": meta["roistat_column"],
        "visits": meta["visits"],
        "visits_path": str(state.dataset.visits_path),
        "db_path": str(state.dataset.db_path),
        "pristine_db_path": str(state.dataset.pristine_path),
        "bursts": meta["bursts"],
        "odata_path": options.odata_path,
        "netcore": options.netcore,
        "row_cap": options.row_cap,
        "token_path": options.token_path,
        "token_lifetime": options.token_lifetime,
        "clock": format_ticks(state.store.clock()),
        "quirks": state.quirks.as_dict(),
    }


async def _call(function: Any, *args: Any) -> Any:
    try:
        return await run_in_threadpool(function, *args)
    except (StoreError, ValueError, TypeError) as error:
        raise HTTPException(status_code=400, detail=str(error)) from error


def _required(body: dict[str, Any], key: str) -> Any:
    if body.get(key) in (None, ""):
        raise HTTPException(status_code=400, detail=f"missing {key!r}")
    return body[key]


def _plain_row(entity: Entity, row: dict[str, Any]) -> dict[str, Any]:
    """Stored values as JSON: datetimes in Creatio's text form (true UTC), money as text."""
    plain = dict(row)
    for column in entity.columns:
        if column.kind == "datetime" and plain[column.name] is not None:
            plain[column.name] = format_ticks(plain[column.name])
        elif column.kind == "bool" and plain[column.name] is not None:
            plain[column.name] = bool(plain[column.name])
    return plain
