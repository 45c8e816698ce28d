"""No credential reaches a log line or an exception text, through a whole lifecycle.

The hook runs against a sandbox with a distinct password and client secret,
through logins, retries, re-logins, fatal errors and refusals, with every log
record captured at DEBUG. The secrets the server handed out (cookies, the CSRF
token, bearer tokens) are collected from the wire with a ``requests`` response
hook on the session, which observes traffic without changing it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from http.cookies import SimpleCookie

import pytest
from airflow.sdk.log import redact
from bpmonline_fixtures import (
    LEAD_COLUMNS,
    make_hook,
    oauth_extra,
    sandbox_with_connection,
    set_connection,
)

from roistat.bpmonline_errors import BpmOnlineError
from sandbox.testing import RunningSandbox

PASSWORD = "S3cret-Pa55word"
CLIENT_SECRET = "cl1ent-S3cret-xyz"


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with sandbox_with_connection(
        tmp_path_factory, password=PASSWORD, client_secret=CLIENT_SECRET
    ) as running:
        yield running


class WireSecrets:
    """Cookies, CSRF headers and bearer tokens seen in requests and answers."""

    def __init__(self) -> None:
        self.values: set[str] = set()

    def watch(self, hook) -> None:
        hook.get_conn().hooks["response"].append(self._record)

    def _record(self, response, *args, **kwargs) -> None:
        request = response.request
        cookies = SimpleCookie()
        cookies.load(request.headers.get("Cookie", ""))
        for header in response.raw.headers.getlist("Set-Cookie"):
            cookies.load(header)
        self.values |= {
            m.value
            for name, m in cookies.items()
            if name not in ("UserName", "UserType") and m.value
        }
        if request.headers.get("BPMCSRF"):
            self.values.add(request.headers["BPMCSRF"])
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            self.values.add(auth.removeprefix("Bearer "))


def exception_texts(exc: BaseException | None) -> list[str]:
    texts = []
    while exc is not None:
        texts += [str(exc), repr(exc)]
        exc = exc.__cause__ or exc.__context__
    return texts


def test_forms_lifecycle_leaks_no_secret(sb, caplog, capsys, monkeypatch):
    wire = WireSecrets()
    errors: list[BpmOnlineError] = []
    sb.admin.reset()
    caplog.set_level(logging.DEBUG)

    hook = make_hook()
    wire.watch(hook)
    sb.admin.set_fault("status", status=503, entity="Lead", after=1)
    sb.admin.set_fault("truncate", entity="Lead", after=2)
    sb.admin.set_fault("login_page", entity="Lead", after=3)
    sb.admin.set_fault("expire_session", entity="Lead", after=5)
    assert len(list(hook.iter_rows("Lead", LEAD_COLUMNS, page_size=25))) == 300

    with pytest.raises(BpmOnlineError) as fatal:
        list(hook.iter_rows("Lead", ["NoSuchColumn"]))
    errors.append(fatal.value)

    sb.admin.set_quirks(login_refusal="password_expired")
    sb.admin.expire_sessions()
    with pytest.raises(BpmOnlineError) as refused:
        hook.count("Lead")
    errors.append(refused.value)
    hook.close()
    sb.admin.reset()

    set_connection(monkeypatch, sb, password="Not-" + PASSWORD)
    with pytest.raises(BpmOnlineError) as wrong:
        make_hook().count("Lead")
    errors.append(wrong.value)

    secrets = {PASSWORD, "Not-" + PASSWORD} | wire.values
    assert len(wire.values) >= 6, "two sessions' cookies and CSRF tokens were seen"
    assert_no_secret(secrets, caplog.text + capsys.readouterr().out, errors)
    for secret in wire.values | {PASSWORD}:
        assert redact(f"x{secret}x") != f"x{secret}x", "registered with Airflow's masker"


def test_oauth_lifecycle_leaks_no_secret(sb, caplog, capsys, monkeypatch):
    wire = WireSecrets()
    errors: list[BpmOnlineError] = []
    sb.admin.reset()
    caplog.set_level(logging.DEBUG)
    set_connection(monkeypatch, sb, login="", password="", **oauth_extra(sb))

    with make_hook() as hook:
        wire.watch(hook)
        sb.admin.set_fault("expire_session", entity="Lead", after=2)
        sb.admin.set_fault("status", status=429, entity="Lead", after=3)
        assert len(list(hook.iter_rows("Lead", LEAD_COLUMNS, page_size=25))) == 300
        with pytest.raises(BpmOnlineError) as fatal:
            hook.count("Leads")
        errors.append(fatal.value)

    set_connection(monkeypatch, sb, **oauth_extra(sb, client_secret="Not-" + CLIENT_SECRET))
    with pytest.raises(BpmOnlineError) as refused:
        make_hook().count("Lead")
    errors.append(refused.value)

    assert len(wire.values) >= 2, "two bearer tokens were seen"
    secrets = {CLIENT_SECRET, "Not-" + CLIENT_SECRET} | wire.values
    assert_no_secret(secrets, caplog.text + capsys.readouterr().out, errors)
    for secret in wire.values | {CLIENT_SECRET}:
        assert redact(f"x{secret}x") != f"x{secret}x", "registered with Airflow's masker"


def assert_no_secret(secrets: set[str], logs: str, errors: list[BaseException]) -> None:
    assert logs, "logs were captured"
    for secret in secrets:
        assert secret not in logs, f"a secret ({secret[:3]}...) reached the logs"
        for error in errors:
            for text in exception_texts(error):
                assert secret not in text, f"a secret ({secret[:3]}...) reached an exception"
