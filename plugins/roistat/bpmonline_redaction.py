"""Keep credentials out of log lines and exception texts.

Every string the bpm'online client puts into a log record or an exception goes
through one `Redactor` first. Airflow's own masker (`mask_secret`) only filters
task log output; exception texts travel further (the UI, alert e-mails, a
caller's own logging), so the client scrubs them itself as well.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

log = logging.getLogger(__name__)

MASK = "***"
BODY_LIMIT = 300

# Query parameters whose values are credentials wherever they turn up.
_SENSITIVE_PARAM = re.compile(r"pass|secret|token|key|auth|session|csrf|code", re.IGNORECASE)

# Secrets shorter than this would turn ordinary words into "***"; Airflow's
# masker draws its line at 5 characters for the same reason.
_MIN_SECRET_LENGTH = 3


class Redactor:
    """Remember the secrets of one client and scrub them from any text."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, secret: object) -> None:
        """Register a secret here and with Airflow's log masker, the moment it arrives."""
        if not isinstance(secret, str) or len(secret) < _MIN_SECRET_LENGTH:
            return
        if secret not in self._secrets:
            self._secrets.add(secret)
            _mask_in_airflow_logs(secret)

    def redact(self, text: object) -> str:
        """Return ``text`` as a string with every registered secret replaced by ***."""
        result = str(text)
        for secret in sorted(self._secrets, key=len, reverse=True):
            result = result.replace(secret, MASK)
        return result

    def url(self, url: str) -> str:
        """Return ``url`` without user info, sensitive query values or known secrets."""
        parts = urlsplit(url)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        query = urlencode(
            [
                (name, MASK if _SENSITIVE_PARAM.search(name) else value)
                for name, value in parse_qsl(parts.query, keep_blank_values=True)
            ],
            safe="$,/:' ",
        )
        return self.redact(urlunsplit((parts.scheme, netloc, parts.path, query, "")))

    def body(self, text: str | bytes | None, limit: int = BODY_LIMIT) -> str:
        """Return a response body fit for an error message: redacted, one line, cut short."""
        if text is None:
            return ""
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        flat = " ".join(self.redact(text).split())
        return flat if len(flat) <= limit else flat[:limit] + "..."


def _mask_in_airflow_logs(secret: str) -> None:
    # Outside a task (tests, the CLI) the masker may be unconfigured; masking is
    # then a nicety, our own redaction still applies.
    try:
        from airflow.sdk.log import mask_secret

        mask_secret(secret)
    except Exception:  # masking must never break a read
        log.debug("Airflow's secret masker is not available here")
