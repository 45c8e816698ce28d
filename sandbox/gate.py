"""The ASGI layer in front of the application: faults, latency and counters.

It sits outside FastAPI so it can do what an application cannot: answer before
routing, cut a body after the headers went out, or close the socket with no
answer at all, as a proxy or a dying server does.
"""

from __future__ import annotations

import asyncio
import json
import time
from http.cookies import SimpleCookie
from typing import Any

from sandbox import pages
from sandbox.admin_routes import PREFIX as ADMIN_PREFIX
from sandbox.auth import bearer_of
from sandbox.errors import server_error
from sandbox.faults import Fault
from sandbox.odata_routes import entity_of
from sandbox.state import SandboxState

Scope = dict[str, Any]
Message = dict[str, Any]


class Gate:
    def __init__(self, app: Any, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return

        method, path = scope["method"], scope["path"]
        entity = entity_of(path, self.state.options.odata_path)
        decision = self.state.faults.decide(method, path, entity)
        started = time.monotonic()
        status: dict[str, Any] = {"status": None}

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["status"] = message["status"]
            await send(message)

        if decision.latency:
            await asyncio.sleep(decision.latency)
        if decision.expire_session:
            self._expire_caller(scope)
        fault = decision.terminal
        try:
            if fault is None:
                await self.app(scope, receive, recording_send)
            elif fault.kind == "status":
                await _send_status(fault, recording_send)
            elif fault.kind == "login_page":
                await _send_bytes(recording_send, 200, pages.HTML, pages.LOGIN_PAGE.encode())
            elif fault.kind == "drop":
                status["status"] = "dropped"
                await _drop(send)
            elif fault.kind == "truncate":
                await self._truncate(fault, scope, receive, recording_send, send)
        finally:
            self.state.faults.record(
                {
                    "method": method,
                    "path": path,
                    "query": scope.get("query_string", b"").decode("latin-1"),
                    "entity": entity,
                    "status": status["status"],
                    "fault": fault.kind if fault else None,
                    "ms": round((time.monotonic() - started) * 1000, 1),
                }
            )

    def _expire_caller(self, scope: Scope) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        cookies = SimpleCookie()
        cookies.load(headers.get("cookie", ""))
        aspxauth = cookies[".ASPXAUTH"].value if ".ASPXAUTH" in cookies else None
        self.state.auth.kill_session_of(aspxauth, bearer_of(headers.get("authorization")))

    async def _truncate(
        self, fault: Fault, scope: Scope, receive: Any, send: Any, raw_send: Any
    ) -> None:
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        cut = body[: int(len(body) * fault.fraction)]
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        declared = len(body) if fault.declared == "full" else len(cut)
        headers.append((b"content-length", str(declared).encode()))
        await send({"type": "http.response.start", "status": start["status"], "headers": headers})
        if fault.declared == "cut":
            await send({"type": "http.response.body", "body": cut})
            return
        # Promise the whole body, send part of it, and hang up.
        await send({"type": "http.response.body", "body": cut, "more_body": True})
        await _drop(raw_send)


async def _send_status(fault: Fault, send: Any) -> None:
    status = fault.status or 500
    headers: dict[str, str] = {}
    if fault.retry_after is not None:
        headers["retry-after"] = str(fault.retry_after)
    if status in (502, 503, 504):
        # Gateways in front of the site answer with their own HTML pages.
        await _send_bytes(send, status, pages.HTML, pages.gateway_error(status), headers)
        return
    if status == 500:
        body = server_error(
            fault.message or "Collection was modified; enumeration operation may not execute."
        ).body()
    elif status == 404:
        body = json.dumps(
            {"Message": "No HTTP resource was found that matches the request URI."}
        ).encode()
    else:
        message = fault.message or pages.REASONS.get(status, "Error")
        body = json.dumps(
            {"error": {"code": "", "message": message}}, separators=(",", ":")
        ).encode()
    await _send_bytes(send, status, "application/json; charset=utf-8", body, headers)


async def _send_bytes(
    send: Any, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None
) -> None:
    raw = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _drop(send: Any) -> None:
    """Close the client's socket without (the rest of) an answer.

    ASGI has no message for this; uvicorn's `send` is a method of its request
    cycle, which holds the transport. Without it, fail so the server answers 500
    and closes the connection.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("cannot drop the connection: no transport behind send")
    transport.close()
    # Let the server notice the disconnect before the application returns, so it
    # does not try to answer on the closed socket.
    for _ in range(3):
        await asyncio.sleep(0)
