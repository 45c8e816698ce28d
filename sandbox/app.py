"""Assemble the sandbox's ASGI application from its routers and the fault gate."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from sandbox import pages
from sandbox.admin_routes import build_admin_router
from sandbox.auth_routes import build_auth_router
from sandbox.gate import Gate
from sandbox.odata_routes import build_odata_router
from sandbox.state import SandboxState


def create_app(state: SandboxState) -> Any:
    """Return the ASGI app: the gate in front of the FastAPI routes."""
    app = FastAPI(
        title="bpm'online sandbox",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.include_router(build_auth_router(state))
    app.include_router(build_odata_router(state))
    app.include_router(build_admin_router(state))

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def not_found(request: Request, path: str) -> Response:
        # Unrouted WCF services answer 404 with an empty body; the rest is IIS (§1.6).
        if ".svc" in path:
            return Response(status_code=404)
        return pages.routing_not_found(str(request.url), path, as_html=True)

    return Gate(app, state)
