"""Forms sessions and OAuth bearer tokens, with Creatio's rules (reference §1, §2).

A forms session is the `.ASPXAUTH` cookie; every call must also echo the
`BPMCSRF` cookie in a `BPMCSRF` header. A bearer token from the token endpoint
replaces both. Sessions can be limited in number (logins refused with Code 1,
clio #1106) and in length (dead after N requests).
"""

from __future__ import annotations

import base64
import json
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from enum import Enum

_CSRF_ALPHABET = string.ascii_letters + string.digits


class AuthResult(Enum):
    OK = "ok"
    NO_SESSION = "no_session"
    BAD_CSRF = "bad_csrf"
    BAD_TOKEN = "bad_token"


@dataclass
class Session:
    aspxauth: str
    csrf: str
    loader: str
    user: str
    requests: int = 0


@dataclass
class Token:
    value: str
    client_id: str
    expires_at: float


@dataclass
class AuthState:
    """All live sessions and tokens of one sandbox; safe across threads."""

    token_lifetime: int
    sessions: dict[str, Session] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def open_session(self, user: str, max_sessions: int | None) -> Session | None:
        """Start a session, or return None when the seat limit is reached."""
        with self._lock:
            if max_sessions is not None and len(self.sessions) >= max_sessions:
                return None
            session = Session(
                aspxauth=secrets.token_hex(64).upper(),
                csrf="".join(secrets.choice(_CSRF_ALPHABET) for _ in range(22)),
                loader=secrets.token_hex(12),
                user=user,
            )
            self.sessions[session.aspxauth] = session
            return session

    def close_session(self, aspxauth: str | None) -> bool:
        with self._lock:
            return self.sessions.pop(aspxauth or "", None) is not None

    def expire_all(self) -> int:
        with self._lock:
            killed = len(self.sessions) + len(self.tokens)
            self.sessions.clear()
            self.tokens.clear()
            return killed

    def check_session(
        self, aspxauth: str | None, csrf_header: str | None, max_requests: int | None
    ) -> AuthResult:
        """Validate a cookie session and count the request against it."""
        with self._lock:
            session = self.sessions.get(aspxauth or "")
            if session is None:
                return AuthResult.NO_SESSION
            if max_requests is not None and session.requests >= max_requests:
                # The session ran out: gone for good, as after a server-side timeout.
                del self.sessions[session.aspxauth]
                return AuthResult.NO_SESSION
            if not csrf_header or not secrets.compare_digest(csrf_header, session.csrf):
                return AuthResult.BAD_CSRF
            session.requests += 1
            return AuthResult.OK

    def issue_token(self, client_id: str) -> Token:
        payload = {"client_id": client_id, "jti": secrets.token_hex(8), "iat": int(time.time())}
        value = ".".join(
            base64.urlsafe_b64encode(part).rstrip(b"=").decode()
            for part in (
                json.dumps({"alg": "RS256", "typ": "at+jwt"}).encode(),
                json.dumps(payload).encode(),
                secrets.token_bytes(48),
            )
        )
        token = Token(value, client_id, time.monotonic() + self.token_lifetime)
        with self._lock:
            self.tokens[value] = token
        return token

    def check_token(self, value: str) -> AuthResult:
        with self._lock:
            token = self.tokens.get(value)
            if token is None:
                return AuthResult.BAD_TOKEN
            if time.monotonic() >= token.expires_at:
                del self.tokens[value]
                return AuthResult.BAD_TOKEN
            return AuthResult.OK

    def kill_session_of(self, aspxauth: str | None, bearer: str | None) -> None:
        with self._lock:
            self.sessions.pop(aspxauth or "", None)
            self.tokens.pop(bearer or "", None)


def user_name_cookie(user: str) -> str:
    """Creatio's `UserName` cookie: the name as char codes joined by `|`."""
    return "|".join(str(ord(char)) for char in user)


def bearer_of(authorization: str | None) -> str | None:
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None
