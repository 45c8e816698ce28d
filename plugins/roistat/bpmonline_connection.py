"""What the bpm'online client needs from an Airflow connection, checked once.

Fields (DESIGN.md §3): ``host`` is the site URL with its scheme; ``login`` and
``password`` serve the forms login; ``extra`` may hold ``auth`` (``forms`` or
``oauth2``), ``client_id``, ``client_secret``, ``token_url``, ``odata_path``,
``verify``, ``timeout`` and ``roistat_column``. Connections of type ``http``
with the same fields work too; there ``schema`` may carry the scheme.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from roistat.bpmonline_errors import BpmOnlineConfigError

DEFAULT_ODATA_PATH = "/0/odata"
DEFAULT_ROISTAT_COLUMN = "UsrRoistat"

# Seconds to open a connection, and to wait for each read from the socket.
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 60.0
DEFAULT_TIMEOUT = (DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT)

AUTH_MODES = ("forms", "oauth2")


@dataclass(frozen=True)
class BpmOnlineConnection:
    """The checked settings of one bpm'online connection."""

    conn_id: str
    site: str
    auth: str
    login: str | None
    password: str | None
    client_id: str | None
    client_secret: str | None
    token_url: str | None
    odata_path: str
    verify: bool | str
    timeout: tuple[float, float]
    roistat_column: str

    @classmethod
    def from_airflow(cls, conn: Any) -> BpmOnlineConnection:
        """Build from an Airflow ``Connection``; raise `BpmOnlineConfigError` naming the field."""
        conn_id = conn.conn_id or "?"
        extra = conn.extra_dejson or {}
        site = parse_site(conn.host, schema=conn.schema, port=conn.port, conn_id=conn_id)

        auth = str(extra.get("auth") or "forms").strip().lower()
        if auth not in AUTH_MODES:
            raise _error(conn_id, "extra.auth", f"must be 'forms' or 'oauth2', not {auth!r}")

        client_id = extra.get("client_id") or None
        client_secret = extra.get("client_secret") or None
        token_url = extra.get("token_url") or None
        if auth == "forms":
            if not conn.login or not conn.password:
                raise _error(
                    conn_id, "login/password", "forms login needs both a user name and a password"
                )
        else:
            if not client_id or not client_secret:
                raise _error(
                    conn_id, "extra.client_id/client_secret", "oauth2 needs a client id and secret"
                )
            token_url = str(token_url).strip() if token_url else default_token_url(site, conn_id)
            if urlsplit(token_url).scheme not in ("http", "https"):
                raise _error(conn_id, "extra.token_url", f"{token_url!r} is not an http(s) URL")

        return cls(
            conn_id=conn_id,
            site=site,
            auth=auth,
            login=conn.login or None,
            password=conn.password or None,
            client_id=client_id,
            client_secret=client_secret,
            token_url=token_url,
            odata_path=_parse_odata_path(extra.get("odata_path"), conn_id),
            verify=_parse_verify(extra.get("verify", True), conn_id),
            timeout=parse_timeout(
                extra.get("timeout"), field=f"connection {conn_id!r}: extra.timeout"
            ),
            roistat_column=str(extra.get("roistat_column") or DEFAULT_ROISTAT_COLUMN),
        )

    @property
    def odata_root(self) -> str:
        return self.site + self.odata_path


def parse_site(
    host: str | None, *, schema: str | None = None, port: int | None = None, conn_id: str = "?"
) -> str:
    """Return the site root URL (scheme, host, port, IIS sub-path; no trailing slash).

    A host without a scheme is refused rather than taken as plain http, unless
    an ``http`` type connection names the scheme in ``schema``.
    """
    host = (host or "").strip()
    if not host:
        raise _error(
            conn_id, "host", "is empty; set it to the site URL, e.g. https://mysite.creatio.com"
        )
    if "://" not in host:
        if (schema or "").lower() not in ("http", "https"):
            raise _error(
                conn_id,
                "host",
                f"{host!r} has no scheme; write the site URL in full, e.g. https://{host.strip('/')}",
            )
        host = f"{schema.lower()}://{host}"

    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _error(conn_id, "host", f"{host!r} is not an http(s) site URL")
    netloc = parts.netloc.rsplit("@", 1)[-1]
    if port and parts.port is None:
        netloc = f"{netloc}:{port}"

    # People paste the address bar: https://site/0/Shell/#... . Login lives at the
    # site root and OData under /0, so keep only what comes before "/0".
    path = parts.path.rstrip("/")
    if path == "/0" or "/0/" in path + "/":
        path = path[: (path + "/").index("/0/")]
    return f"{parts.scheme}://{netloc}{path}"


def default_token_url(site: str, conn_id: str = "?") -> str:
    """Return the cloud Identity Service token URL for ``*.creatio.com`` sites.

    Cloud sites serve tokens from the same host with ``-is`` after the first
    label (reference/creatio-api.md §2). On-site the Identity Service lives
    wherever the system setting ``OAuth20IdentityServerUrl`` points, which we
    cannot guess, so other hosts must set ``extra.token_url``.
    """
    parts = urlsplit(site)
    hostname = parts.hostname or ""
    if hostname.endswith(".creatio.com"):
        first, rest = hostname.split(".", 1)
        return f"https://{first}-is.{rest}/connect/token"
    raise _error(
        conn_id,
        "extra.token_url",
        "is needed for oauth2 on a site outside creatio.com: take the system setting "
        "OAuth20IdentityServerUrl and append /connect/token",
    )


def parse_timeout(value: Any, *, field: str = "timeout") -> tuple[float, float]:
    """Return (connect, read) seconds from a number, a pair, or None for the defaults."""
    if value is None or value == "":
        return DEFAULT_TIMEOUT
    try:
        if isinstance(value, list | tuple):
            connect, read = (float(v) for v in value)
        else:
            read = float(value)
            connect = min(DEFAULT_CONNECT_TIMEOUT, read)
    except (TypeError, ValueError):
        raise BpmOnlineConfigError(
            f"{field}: {value!r} is not a number of seconds or a pair of them"
        ) from None
    if connect <= 0 or read <= 0:
        raise BpmOnlineConfigError(f"{field}: timeouts must be positive, got {value!r}")
    return connect, read


def _parse_odata_path(value: Any, conn_id: str) -> str:
    path = str(value or DEFAULT_ODATA_PATH).strip()
    if "://" in path or " " in path:
        raise _error(
            conn_id, "extra.odata_path", f"{path!r} must be a path such as /0/odata or /odata"
        )
    return "/" + path.strip("/")


def _parse_verify(value: Any, conn_id: str) -> bool | str:
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if text.lower() in ("true", "1", "yes", ""):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    return text  # a CA bundle path


def _error(conn_id: str, field: str, problem: str) -> BpmOnlineConfigError:
    return BpmOnlineConfigError(f"bpm'online connection {conn_id!r}: {field} {problem}")
