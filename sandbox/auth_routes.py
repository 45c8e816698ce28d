"""Login, logout, the OAuth token endpoint, and the site's small service pages."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from starlette.responses import Response

from sandbox import pages
from sandbox.access import authorize
from sandbox.auth import user_name_cookie
from sandbox.state import SandboxState

LOGIN_PATH = "/ServiceModel/AuthService.svc/Login"
LOGOUT_PATH = "/ServiceModel/AuthService.svc/Logout"
JSON_UTF8 = "application/json; charset=utf-8"

_REFUSALS = {
    "bad_credentials": ("Invalid username or password.", None),
    "password_expired": (
        "The password has expired. Change the password.",
        "/0/Nui/ViewModule.aspx#PasswordChangeModule",
    ),
    "sso_only": ("Password login is not allowed. Use single sign-on.", None),
    "max_sessions": ("The maximum number of active sessions for this user has been reached.", None),
}


def build_auth_router(state: SandboxState) -> APIRouter:
    router = APIRouter()
    options = state.options
    site = "" if options.netcore else "/0"

    @router.post(LOGIN_PATH)
    async def login(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return Response("Bad Request", status_code=400, media_type="text/plain")
        if not isinstance(body, dict):
            body = {}
        user = str(body.get("UserName") or "")
        password = str(body.get("UserPassword") or "")

        # Clients must test the body, not the status: refusals are HTTP 200 (§1.3).
        if user.casefold() != options.user.casefold() or password != options.password:
            state.faults.count("logins.refused")
            return _refusal("bad_credentials")
        if state.quirks.login_refusal:
            state.faults.count("logins.refused")
            return _refusal(state.quirks.login_refusal)
        session = state.auth.open_session(options.user, state.quirks.max_sessions)
        if session is None:
            state.faults.count("logins.refused")
            return _refusal("max_sessions")

        state.faults.count("logins")
        answer = {
            "Code": 0,
            "Message": "",
            "Exception": None,
            "PasswordChangeUrl": None,
            "RedirectUrl": "/0/Shell",
            "UserType": "General",
        }
        response = Response(json.dumps(answer, separators=(",", ":")), media_type=JSON_UTF8)
        for cookie in (
            f".ASPXAUTH={session.aspxauth}; path=/; HttpOnly; SameSite=Lax",
            f"BPMCSRF={session.csrf}; path=/; SameSite=Lax",
            f"BPMLOADER={session.loader}; path=/; HttpOnly; SameSite=Lax",
            f"UserName={user_name_cookie(options.user)}; path=/; SameSite=Lax",
            "UserType=General; path=/; SameSite=Lax",
        ):
            response.headers.append("set-cookie", cookie)
        return response

    @router.post("/0" + LOGIN_PATH)
    async def login_under_zero() -> Response:
        # The login lives at the site root; under /0 it answers 401 (§1.1).
        return pages.authentication_failed(401)

    @router.post(LOGOUT_PATH)
    @router.post(f"{site}/rest/MainMenuService/Logout")
    async def logout(request: Request) -> Response:
        if not state.auth.close_session(request.cookies.get(".ASPXAUTH")):
            return pages.authentication_failed(401)
        state.faults.count("logouts")
        response = Response(b"", media_type=JSON_UTF8)
        for name in (".ASPXAUTH", "BPMCSRF", "BPMLOADER", "UserName"):
            response.headers.append(
                "set-cookie", f"{name}=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/"
            )
        return response

    @router.post(options.token_path)
    async def token(request: Request) -> Response:
        form = {
            k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()
        }
        client_id, secret = _basic_credentials(request.headers.get("authorization"))
        client_id = form.get("client_id", client_id)
        secret = form.get("client_secret", secret)
        if form.get("grant_type") != "client_credentials":
            return _oauth_error("unsupported_grant_type")
        if client_id != options.client_id or secret != options.client_secret:
            state.faults.count("tokens.refused")
            return _oauth_error("invalid_client")
        issued = state.auth.issue_token(client_id)
        state.faults.count("tokens")
        answer = {
            "access_token": issued.value,
            "expires_in": options.token_lifetime,
            "token_type": "Bearer",
            "scope": "ApplicationAccess_sandbox",
        }
        return Response(
            json.dumps(answer, separators=(",", ":")),
            media_type=JSON_UTF8,
            headers={"Cache-Control": "no-store"},
        )

    @router.get("/Login/NuiLogin.aspx")
    @router.get("/Login/Login.html")
    async def login_page() -> Response:
        return pages.login_page()

    if not options.netcore:
        # The ping exists on .NET Framework stands only (§1.6).
        @router.get("/0/ping")
        async def ping() -> Response:
            return Response(b"", status_code=200)

    @router.post(f"{site}/ServiceModel/ApplicationInfoService.svc/GetApplicationInfo")
    async def application_info(request: Request) -> Response:
        refusal = authorize(request, state)
        if refusal is not None:
            return refusal
        info: dict[str, Any] = {
            "applicationInfo": {
                "sysValues": {
                    "userTimezoneOffset": state.quirks.clock_offset_minutes,
                    "userName": options.user,
                },
                "productEdition": "Sales Enterprise",
            }
        }
        return Response(json.dumps(info, separators=(",", ":")), media_type=JSON_UTF8)

    return router


def _refusal(reason: str) -> Response:
    message, change_url = _REFUSALS[reason]
    answer = {
        "Code": 1,
        "Message": message,
        "Exception": None,
        "PasswordChangeUrl": change_url,
        "RedirectUrl": None,
    }
    return Response(json.dumps(answer, separators=(",", ":")), media_type=JSON_UTF8)


def _oauth_error(code: str) -> Response:
    return Response(
        json.dumps({"error": code}, separators=(",", ":")), status_code=400, media_type=JSON_UTF8
    )


def _basic_credentials(header: str | None) -> tuple[str | None, str | None]:
    if not header or header[:6].lower() != "basic ":
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, _, secret = decoded.partition(":")
    return client_id, secret
