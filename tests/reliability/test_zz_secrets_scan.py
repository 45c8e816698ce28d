"""After every other reliability test: no credential, cookie or token reached a log or an error.

Runs last in this package (pytest takes the files in name order). It reads
what the other tests kept in `support.EVIDENCE`: every log record of this
process, formatted (the `roistat` loggers at DEBUG), the output of the crash
test's child processes, the texts of the exceptions the tests caught, the
errors stored in `roistat.sync_run`, and every task log and process log the
Airflow cluster of the backfill test wrote. It looks for the sandboxes'
password and OAuth client secret, and for every session cookie, CSRF token
and bearer token the sandboxes issued (recorded by conftest.py as they were
issued), whole or by a long enough piece.
"""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.reliability.support import CLIENT_SECRET, EVIDENCE, ISSUED, PASSWORD

# A piece this long of a random token does not occur by chance.
PIECE = 16


def _needles() -> dict[str, str]:
    needles = {}
    for name, secret in (("password", PASSWORD), ("client secret", CLIENT_SECRET)):
        needles[secret] = name
        needles[quote(secret, safe="")] = f"{name} (URL-encoded)"
    basic = base64.b64encode(f"roistat-client:{CLIENT_SECRET}".encode()).decode()
    needles[basic] = "client credentials (HTTP Basic)"
    for kind, values in (("cookie", ISSUED.cookies), ("CSRF token", ISSUED.csrf)):
        for value in values:
            needles[value] = kind
            needles[value[:PIECE]] = f"{kind} (first {PIECE} characters)"
    for token in ISSUED.bearer:
        needles[token] = "bearer token"
        # The JWT header is the same for every token; the claims and the
        # signature are the token's own.
        for part in token.split(".")[1:]:
            needles[part[:PIECE]] = "bearer token (a piece)"
            needles[part[-PIECE:]] = "bearer token (a piece)"
    return needles


def _material() -> list[tuple[str, str]]:
    texts = list(EVIDENCE.texts)
    for path in EVIDENCE.files:
        texts.append((str(path), Path(path).read_text(encoding="utf-8", errors="replace")))
    return texts


def test_no_password_cookie_csrf_or_bearer_token_in_any_log_or_error():
    if not (ISSUED.cookies and ISSUED.csrf and ISSUED.bearer):
        pytest.skip(
            "the scan needs the other reliability tests to have run first in this session "
            "(forms and OAuth logins); run tests/reliability as a whole"
        )
    material = _material()
    needles = _needles()
    product_records = sum(1 for source, _ in material if source.startswith("log roistat"))
    assert product_records > 100, f"only {product_records} log records of the package were kept"

    leaks = [
        f"{what} in {source}: ...{text[max(0, text.find(needle) - 60) : text.find(needle) + 60]!r}..."
        for source, text in material
        for needle, what in needles.items()
        if needle in text
    ]
    assert not leaks, f"{len(leaks)} leak(s):\n" + "\n".join(leaks[:20])
