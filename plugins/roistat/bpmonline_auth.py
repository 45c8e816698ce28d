"""Logging in to the CRM: forms (cookies and BPMCSRF) or OAuth 2.0 client credentials.

Forms: ``POST {site}/ServiceModel/AuthService.svc/Login`` at the site root (the
``/0`` path answers 401). A refused login is HTTP 200 with ``Code`` not 0. The
answer sets ``.ASPXAUTH``, ``BPMCSRF`` and ``BPMLOADER``; every later call sends
the cookies back and the ``BPMCSRF`` cookie's value as a header of that name.

OAuth 2.0: a client-credentials token from the Identity Service, sent as
``Authorization: Bearer``. There is no refresh token; a new one is fetched
shortly before the old one expires. See reference/creatio-api.md §1-2.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

import requests

from roistat.bpmonline_connection import BpmOnlineConnection
from roistat.bpmonline_errors import (
    BpmOnlineAuthError,
    BpmOnlineFatalError,
    BpmOnlineSessionEnded,
)
from roistat.bpmonline_transport import Transport

log = logging.getLogger(__name__)

LOGIN_PATH = "/ServiceModel/AuthService.svc/Login"
LOGOUT_PATH = "/ServiceModel/AuthService.svc/Logout"
CSRF_COOKIE = CSRF_HEADER = "BPMCSRF"

# Cookies that only name the user; all others are session credentials.
_PUBLIC_COOKIES = frozenset({"UserName", "UserType"})

# Renew a bearer token when less than this share of its life, or a minute, is left.
_RENEW_SHARE = 0.1
_RENEW_SECONDS = 60.0


class Auth(Protocol):
    def login(self) -> None: ...
    def before_send(self, session: requests.Session) -> None: ...
    def logout(self) -> None: ...


class FormsAuth:
    """Cookie login through ``AuthService.svc`` with the BPMCSRF header."""

    def __init__(self, conn: BpmOnlineConnection, transport: Transport) -> None:
        self._conn = conn
        self._transport = transport
        self.logged_in = False

    def login(self) -> None:
        conn, transport = self._conn, self._transport
        session = transport.session
        if self.logged_in:
            # Logging in again: the old session may still hold a licence seat (a
            # login page answer does not prove it is gone), and sites refuse
            # logins past a seat limit. Free it first, quietly.
            self.logout()
        session.cookies.clear()
        session.headers.pop(CSRF_HEADER, None)
        self.logged_in = False

        try:
            reply = transport.send(
                "POST",
                conn.site + LOGIN_PATH,
                what="login",
                json_body={"UserName": conn.login, "UserPassword": conn.password},
                authorize=False,
            )
        except BpmOnlineSessionEnded as exc:
            raise BpmOnlineAuthError(
                f"bpm'online login at {conn.site} failed: {exc}. Check the site URL (site root, "
                "no /0) and that the site allows password login (not SSO only)"
            ) from None
        except BpmOnlineFatalError as exc:
            raise BpmOnlineAuthError(f"bpm'online login at {conn.site} failed: {exc}") from None

        body = reply.data if isinstance(reply.data, dict) else {}
        for cookie in session.cookies:
            if cookie.name not in _PUBLIC_COOKIES:
                transport.redactor.add(cookie.value)
        if body.get("Code") != 0:
            session.cookies.clear()
            raise BpmOnlineAuthError(
                f"bpm'online refused the login of user {conn.login!r} at {conn.site}: "
                f"{transport.redactor.redact(_login_message(body))} (Code {body.get('Code')!r}). "
                "Check the user name and password in the Airflow connection; the CRM also "
                "refuses concurrent logins of one user and expired passwords"
            )

        csrf = _cookie(session, CSRF_COOKIE)
        if csrf:
            session.headers[CSRF_HEADER] = csrf
        else:
            log.warning(
                "The CRM set no BPMCSRF cookie at login; OData calls go without the CSRF header"
            )
        self.logged_in = True
        log.info("Logged in to %s as %s", conn.site, conn.login)

    def before_send(self, session: requests.Session) -> None:
        if not self.logged_in:
            self.login()

    def logout(self) -> None:
        if not self.logged_in:
            return
        self.logged_in = False
        try:
            self._transport.send(
                "POST",
                self._conn.site + LOGOUT_PATH,
                what="logout",
                json_body={},
                # Creatio answers a logout with an empty body: asking for JSON
                # would log every successful logout as a failure.
                expect="text",
                retry=False,
                authorize=False,
            )
        except Exception as exc:  # a failed logout must not fail the task
            log.debug(
                "Logout from %s failed: %s", self._conn.site, self._transport.redactor.redact(exc)
            )
        finally:
            self._transport.session.cookies.clear()
            self._transport.session.headers.pop(CSRF_HEADER, None)


class OAuthClientCredentials:
    """Bearer tokens from the Identity Service, renewed before they expire."""

    def __init__(self, conn: BpmOnlineConnection, transport: Transport) -> None:
        self._conn = conn
        self._transport = transport
        self._token: str | None = None
        self._expires_at = 0.0
        self._lifetime = 0.0

    @property
    def logged_in(self) -> bool:
        return self._token is not None

    def login(self) -> None:
        conn, transport = self._conn, self._transport
        self._token = None
        what = "OAuth token request"
        try:
            reply = transport.send(
                "POST",
                str(conn.token_url),
                what=what,
                form={
                    "grant_type": "client_credentials",
                    "client_id": str(conn.client_id),
                    "client_secret": str(conn.client_secret),
                },
                authorize=False,
            )
        except BpmOnlineSessionEnded:
            raise BpmOnlineAuthError(
                f"the token endpoint {transport.redactor.url(str(conn.token_url))} answered with a "
                "login page or 401, not a token: check extra.token_url and that the Identity "
                "Service is connected to the site, and the client id and secret"
            ) from None
        except BpmOnlineFatalError as exc:
            raise BpmOnlineAuthError(
                f"the token endpoint refused the client credentials: {exc}. Check extra.client_id "
                "and extra.client_secret (System Designer > OAuth 2.0 integrated applications)"
            ) from None

        body = reply.data if isinstance(reply.data, dict) else {}
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise BpmOnlineAuthError(
                f"the token endpoint answered without an access_token (keys: {sorted(body)})"
            )
        transport.redactor.add(token)

        try:
            lifetime = float(body.get("expires_in") or 3600)
        except (TypeError, ValueError):
            lifetime = 3600.0
        self._token = token
        self._lifetime = lifetime
        self._expires_at = time.monotonic() + lifetime
        log.info("Got an OAuth token for %s, valid %.0f s", conn.site, lifetime)

    def before_send(self, session: requests.Session) -> None:
        remaining = self._expires_at - time.monotonic()
        if self._token is None or remaining < min(_RENEW_SECONDS, self._lifetime * _RENEW_SHARE):
            self.login()
        session.headers["Authorization"] = f"Bearer {self._token}"

    def logout(self) -> None:
        self._token = None
        self._transport.session.headers.pop("Authorization", None)


def build_auth(
    conn: BpmOnlineConnection, transport: Transport
) -> FormsAuth | OAuthClientCredentials:
    """Return the auth the connection asks for."""
    transport.redactor.add(conn.password)
    transport.redactor.add(conn.client_secret)
    if conn.auth == "oauth2":
        return OAuthClientCredentials(conn, transport)
    return FormsAuth(conn, transport)


def _login_message(body: dict) -> str:
    message = body.get("Message")
    exception = body.get("Exception")
    if not message and isinstance(exception, dict):
        message = exception.get("Message")
    return str(message or "no message")


def _cookie(session: requests.Session, name: str) -> str | None:
    # Iterate: .get() raises when one name is set for two paths.
    for cookie in session.cookies:
        if cookie.name == name:
            return cookie.value
    return None
