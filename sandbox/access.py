"""Decide whether a request may read data, and how a refusal looks (§1.4, §2)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from sandbox import pages
from sandbox.auth import AuthResult, bearer_of
from sandbox.state import SandboxState


def authorize(request: Request, state: SandboxState) -> Response | None:
    """Return None when the caller may proceed, else the refusal to send."""
    quirks = state.quirks
    bearer = bearer_of(request.headers.get("authorization"))
    if bearer is not None:
        if state.auth.check_token(bearer) is AuthResult.OK:
            return None
        state.faults.count("auth.bad_token")
        response = pages.authentication_failed(401)
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response

    result = state.auth.check_session(
        request.cookies.get(".ASPXAUTH"),
        request.headers.get("bpmcsrf"),
        quirks.session_max_requests,
    )
    if result is AuthResult.OK:
        return None
    if result is AuthResult.BAD_CSRF:
        state.faults.count("auth.bad_csrf")
        return pages.authentication_failed(quirks.csrf_status)
    state.faults.count("auth.no_session")
    return unauthorized(request, state)


def unauthorized(request: Request, state: SandboxState) -> Response:
    """The answer to a missing or expired session, in the configured style."""
    mode = state.quirks.unauthorized
    if mode == "redirect":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return pages.login_redirect(target, state.options.netcore)
    if mode == "html":
        return pages.login_page()
    return pages.authentication_failed(401)
