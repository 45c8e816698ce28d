"""The non-JSON answers a client meets on a real site: HTML pages and bare bodies.

Clients must recognise these as failures, not data (reference §1.4, §3.6, §7.1):
the login page served with status 200, a 302 "Object moved" to it, the IIS
404 page, and gateway error pages.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from starlette.responses import Response

HTML = "text/html; charset=utf-8"

LOGIN_PAGE = """<!DOCTYPE html>
<html>
<head>
  <meta charset="utf-8">
  <title>Creatio</title>
  <link rel="stylesheet" href="/Login/Resources/login.css">
</head>
<body class="login-page">
  <div id="login-container"></div>
  <script src="/Login/Resources/bootstrap.js"></script>
  <script>
    Terrasoft.bootstrap.login({ containerId: "login-container", passwordRecoveryEnabled: true });
  </script>
</body>
</html>
"""

_MOVED = """<html><head><title>Object moved</title></head><body>
<h2>Object moved to <a href="{location}">here</a>.</h2>
</body></html>
"""

_IIS_404 = """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN">
<html xmlns="http://www.w3.org/1999/xhtml">
<head><title>404 - File or directory not found.</title></head>
<body><div id="header"><h1>Server Error</h1></div>
<div id="content"><fieldset><h2>404 - File or directory not found.</h2>
<h3>The resource you are looking for might have been removed, had its name changed,
or is temporarily unavailable.</h3></fieldset></div></body></html>
"""

_GATEWAY = """<html>
<head><title>{status} {reason}</title></head>
<body>
<center><h1>{status} {reason}</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""

REASONS = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}


def login_page() -> Response:
    return Response(LOGIN_PAGE, status_code=200, media_type=HTML)


def login_redirect(path_and_query: str, netcore: bool) -> Response:
    """The 302 a stand without ForceUseSession sends an anonymous caller."""
    page = "/Login/Login.html" if netcore else "/Login/NuiLogin.aspx"
    location = f"{page}?ReturnUrl={quote(path_and_query, safe='')}"
    return Response(
        _MOVED.format(location=location),
        status_code=302,
        media_type=HTML,
        headers={"Location": location},
    )


def authentication_failed(status: int = 401) -> Response:
    # The WCF-style body Creatio answers an anonymous .svc / OData call with.
    body = {
        "Message": "Authentication failed.",
        "StackTrace": None,
        "ExceptionType": "System.Security.Authentication.AuthenticationException",
    }
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        media_type="application/json; charset=utf-8",
    )


def routing_not_found(url: str, name: str, as_html: bool) -> Response:
    """Unknown entity set: Web API routing JSON, or IIS's HTML page (§3.6)."""
    if as_html:
        return Response(_IIS_404, status_code=404, media_type=HTML)
    body = {
        "Message": f"No HTTP resource was found that matches the request URI '{url}'.",
        "MessageDetail": f"No type was found that matches the controller named '{name}'.",
    }
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=404,
        media_type="application/json; charset=utf-8",
    )


def gateway_error(status: int) -> bytes:
    reason = REASONS.get(status, "Error")
    return _GATEWAY.format(status=status, reason=reason).encode()
