"""OData 4 under `/0/odata` (or `/odata` on .NET Core): reads, counts, writes.

Paths served: the service document, `$metadata`, `Set`, `Set/$count`,
`Set(<guid>)`; POST to a set, PATCH and DELETE on a key (reference §3.2, §3.9).
Anything else under the base, a trailing slash included, gets the routing 404.
"""

from __future__ import annotations

import json
import re
import sqlite3
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from sandbox import pages
from sandbox.access import authorize
from sandbox.errors import ODataError, invalid_query, server_error
from sandbox.metadata import EDMX_CONTENT_TYPE, edmx, service_document
from sandbox.querying import Plan, Planner, single_options
from sandbox.rendering import (
    JSON_CONTENT_TYPE,
    JSON_IEEE754_CONTENT_TYPE,
    ODATA_HEADERS,
    RenderSettings,
    render_collection,
    render_entity,
)
from sandbox.schema import Entity
from sandbox.state import SandboxState
from sandbox.store import StoreError
from sandbox.ticks import TICKS_PER_MINUTE

_RESOURCE = re.compile(r"^(?P<set>[^/()]+)(?:\((?P<key>[^)]*)\))?(?P<tail>/.*)?$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
ERROR_CONTENT_TYPE = "application/json; odata.metadata=minimal; charset=utf-8"


def build_odata_router(state: SandboxState) -> APIRouter:
    router = APIRouter()
    base = state.options.odata_path

    @router.api_route(base, methods=["GET"])
    @router.api_route(base + "/{rest:path}", methods=["GET", "POST", "PATCH", "DELETE"])
    async def odata(request: Request, rest: str = "") -> Response:
        refusal = authorize(request, state)
        if refusal is not None:
            return refusal
        body = await request.body() if request.method in ("POST", "PATCH") else b""
        try:
            return await run_in_threadpool(_serve, state, request, rest, body)
        except ODataError as error:
            return Response(error.body(), status_code=error.status, media_type=ERROR_CONTENT_TYPE)
        except sqlite3.Error as error:
            failure = server_error(str(error))
            return Response(failure.body(), status_code=500, media_type=ERROR_CONTENT_TYPE)

    return router


def entity_of(path: str, odata_path: str) -> str | None:
    """The entity set a request path addresses, if any (for fault targeting)."""
    prefix = odata_path + "/"
    if not path.startswith(prefix):
        return None
    match = _RESOURCE.match(path[len(prefix) :])
    return match.group("set") if match else None


def _serve(state: SandboxState, request: Request, rest: str, body: bytes) -> Response:
    base_url = f"{request.url.scheme}://{request.headers.get('host', 'localhost')}"
    odata_url = base_url + state.options.odata_path
    method = request.method
    if rest == "":
        return _json(service_document(odata_url, state.schema))
    if rest == "$metadata":
        return Response(edmx(state.schema), media_type=EDMX_CONTENT_TYPE, headers=ODATA_HEADERS)

    match = _RESOURCE.match(rest)
    entity = state.schema.get(match.group("set")) if match else None
    if match is None or entity is None or match.group("tail") not in (None, "/$count"):
        name = match.group("set") if match else rest
        return pages.routing_not_found(str(request.url), name, state.quirks.not_found == "html")
    key = match.group("key")
    counting = match.group("tail") == "/$count"
    if counting and key is not None:
        return pages.routing_not_found(str(request.url), entity.name, False)

    options = single_options(request.query_params.multi_items())
    settings = _render_settings(state, request)
    context = f"{odata_url}/$metadata#{entity.name}"
    if method == "POST" and key is None and not counting:
        return _create(state, entity, body, context, settings)
    if key is not None:
        row_id = _parse_key(key)
        if method == "PATCH":
            return _update(state, entity, row_id, body)
        if method == "DELETE":
            deleted = state.store.delete(entity.name, [row_id])
            return Response(status_code=204 if deleted else 404)
        if method == "GET":
            return _by_key(state, entity, row_id, options, context, settings)
    if method != "GET":
        return Response(status_code=405)
    if counting:
        return _count(state, entity, options)
    return _collection(state, request, entity, options, context, settings)


def _collection(
    state: SandboxState,
    request: Request,
    entity: Entity,
    options: dict[str, str],
    context: str,
    settings: RenderSettings,
) -> Response:
    planner = Planner(state.schema, state.quirks, state.options.row_cap, state.store.clock())
    plan = planner.plan(entity, options)
    tracking = state.faults.wants_tracking(entity.name)
    if tracking:
        _move_rows(state, request, entity)
        id_index = plan.add_extra('m."Id"')
        modified_index = plan.add_extra('m."ModifiedOn"')

    sql, params = plan.rows_sql(planner.limit(plan), settings)
    rows = state.store.query(sql, params)
    count = state.store.scalar(*plan.count_sql()) if plan.count else None
    objects = [row[0] for row in rows]
    body = render_collection(context + plan.context_projection(), objects, count)

    if tracking:
        served = [(row[id_index], row[modified_index]) for row in rows]
        state.faults.page_served(entity.name, served)
    return _json(body, settings)


def _by_key(
    state: SandboxState,
    entity: Entity,
    row_id: str,
    options: dict[str, str],
    context: str,
    settings: RenderSettings,
) -> Response:
    planner = Planner(state.schema, state.quirks, state.options.row_cap, state.store.clock())
    plan = planner.plan(entity, options, collection=False)
    plan.where, plan.params = 'm."Id" = ?', [row_id]
    rows = state.store.query(*plan.rows_sql(1, settings))
    if not rows:
        # Unknown id: 404 with an empty body (reference §3.2).
        return Response(status_code=404)
    projection = plan.context_projection()
    return _json(render_entity(f"{context}{projection}/$entity", rows[0][0]), settings)


def _count(state: SandboxState, entity: Entity, options: dict[str, str]) -> Response:
    planner = Planner(state.schema, state.quirks, state.options.row_cap, state.store.clock())
    # A count reads no columns, so it needs no $select (and no select-all quirk).
    counting = {"$select": "Id"} | {k: v for k, v in options.items() if k == "$filter"}
    plan = planner.plan(entity, counting)
    total = state.store.scalar(*plan.count_sql())
    # `/$count` is plain text, not JSON (reference §3.2).
    return Response(str(total), media_type="text/plain; charset=utf-8", headers=ODATA_HEADERS)


def _create(
    state: SandboxState, entity: Entity, body: bytes, context: str, settings: RenderSettings
) -> Response:
    values = _write_values(entity, body)
    try:
        row_id = state.store.insert(entity.name, 1, values, generated=False)[0]
    except StoreError as error:
        raise invalid_query(str(error)) from error
    plan = Plan(entity, list(entity.columns), None)
    plan.where, plan.params = 'm."Id" = ?', [row_id]
    row = state.store.query(*plan.rows_sql(1, settings))[0]
    body_out = render_entity(f"{context}/$entity", row[0])
    return _json(body_out, settings, status=201)


def _update(state: SandboxState, entity: Entity, row_id: str, body: bytes) -> Response:
    values = _write_values(entity, body)
    try:
        state.store.touch(entity.name, [row_id], changes=values)
    except StoreError as error:
        if str(error).startswith("no "):
            return Response(status_code=404)
        raise invalid_query(str(error)) from error
    return Response(status_code=204)


def _write_values(entity: Entity, body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}", parse_float=Decimal)
    except ValueError as error:
        raise ODataError(400, "The request body is not valid JSON.") from error
    if not isinstance(data, dict):
        raise ODataError(400, "The request body must be a JSON object.")
    values = {}
    for name, value in data.items():
        if name.startswith("@odata."):
            continue
        if name in entity.by_nav or isinstance(value, dict):
            # A nested lookup object is ignored without a word (reference §3.5).
            continue
        if name not in entity.by_name:
            raise ODataError(
                400,
                f"The property '{name}' does not exist on type '{entity.type_name}'. Make sure "
                "to only use property names that are defined by the type.",
            )
        if name in ("Id", "CreatedOn", "ModifiedOn"):
            continue
        values[name] = value
    return values


def _move_rows(state: SandboxState, request: Request, entity: Entity) -> None:
    """Make the touch_served moves due before this page (records changing mid-walk)."""
    moves = state.faults.before_page(request.method, request.url.path, entity.name)
    for fault, ids, after in moves:
        touched: list[str] = []
        if ids:
            try:
                touched = state.store.touch(entity.name, ids)
            except StoreError:
                touched = []
        elif after is not None:
            moved = state.store.touch_after(entity.name, after)
            touched = [moved] if moved else []
        state.faults.note_touched(fault, touched)


def _parse_key(key: str) -> str:
    if not _GUID.match(key):
        raise invalid_query(
            f"The key value ({key}) from request is not valid. The key value should be "
            "format of type 'Edm.Guid'."
        )
    return key.lower()


def _render_settings(state: SandboxState, request: Request) -> RenderSettings:
    quirks = state.quirks
    strings = quirks.decimals == "string"
    if quirks.decimals == "ieee754":
        # Honour the OData IEEE754Compatible parameter when the client sends it.
        sent = request.headers.get("accept", "") + request.headers.get("content-type", "")
        strings = "ieee754compatible=true" in sent.replace(" ", "").lower()
    return RenderSettings(
        decimals_as_strings=strings,
        empty_lookup_null=quirks.empty_lookup == "null",
        offset_ticks=quirks.clock_offset_minutes * TICKS_PER_MINUTE,
    )


def _json(body: bytes, settings: RenderSettings | None = None, status: int = 200) -> Response:
    content_type = JSON_CONTENT_TYPE
    if settings is not None and settings.decimals_as_strings:
        content_type = JSON_IEEE754_CONTENT_TYPE
    return Response(body, status_code=status, media_type=content_type, headers=ODATA_HEADERS)
