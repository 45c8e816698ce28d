"""Logging in to the sandbox: forms with BPMCSRF, OAuth tokens, sessions that end."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from bpmonline_fixtures import (
    LEAD_COLUMNS,
    as_datetime,
    make_hook,
    oauth_extra,
    sandbox_with_connection,
    set_connection,
    stored_versions,
    version_keys,
)

from roistat.bpmonline_errors import BpmOnlineAuthError
from sandbox.testing import RunningSandbox

WRONG_PASSWORD = "Wr0ng-Pa55word!"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with sandbox_with_connection(tmp_path_factory) as sb:
        yield sb


@pytest.fixture
def sb(shared: RunningSandbox) -> Iterator[RunningSandbox]:
    """The module's sandbox with faults, quirks, counters and sessions reset."""
    shared.admin.reset()
    shared.admin.expire_sessions()
    yield shared
    shared.admin.reset()


@pytest.fixture(scope="module")
def short_tokens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    """A .NET Core style site (OData at /odata) whose tokens live two seconds."""
    with sandbox_with_connection(
        tmp_path_factory,
        conn_id="bpmonline_core",
        leads=120,
        orders=0,
        netcore=True,
        token_lifetime=2,
    ) as sb:
        yield sb


@pytest.fixture(scope="module")
def eight_second_tokens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    """Tokens that live eight seconds: the hook renews them with 0.8 s left.

    The margin must exceed one request's time even on a loaded CI machine, or a
    request that starts just before the margin meets an expired token.
    """
    with sandbox_with_connection(
        tmp_path_factory,
        conn_id="bpmonline_core",
        leads=120,
        orders=0,
        netcore=True,
        token_lifetime=8,
    ) as sb:
        yield sb


def counters(sb: RunningSandbox) -> dict[str, int]:
    return sb.admin.counters()["counters"]


def read_leads(page_size: int = 50, **hook_kwargs) -> list[tuple[str, object]]:
    with make_hook(**hook_kwargs) as hook:
        return version_keys(hook.iter_rows("Lead", LEAD_COLUMNS, page_size=page_size))


def expected_leads(sb: RunningSandbox) -> set[tuple[str, object]]:
    return {(row_id, as_datetime(ticks)) for row_id, ticks in stored_versions(sb, "Lead").items()}


# -- forms login ----------------------------------------------------------------


def test_hook_does_no_io_until_first_use(sb):
    hook = make_hook("no_such_connection_anywhere")
    assert counters(sb).get("requests", 0) == 0
    hook.close()  # closing an unused hook is a no-op, not a lookup


def test_forms_login_sends_cookies_and_the_csrf_header(sb):
    with make_hook() as hook:
        session = hook.get_conn()
        csrf = next(c.value for c in session.cookies if c.name == "BPMCSRF")
        assert session.headers["BPMCSRF"] == csrf
        assert session.headers["ForceUseSession"] == "true"
        assert hook.count("Lead") == 300
        assert len(hook.read_lookup("QualifyStatus", ["Name"])) > 0

    seen = counters(sb)
    assert seen["logins"] == 1, "one login per hook, reused across calls"
    assert "auth.bad_csrf" not in seen and "auth.no_session" not in seen


def test_close_logs_out_and_frees_the_session(sb, caplog):
    caplog.set_level(logging.DEBUG, logger="roistat")
    with make_hook() as hook:
        hook.count("Lead")
        assert sb.admin.counters()["active_sessions"] == 1
    state = sb.admin.counters()
    assert state["counters"]["logouts"] == 1
    assert state["active_sessions"] == 0
    # The logout's empty answer is a success, not "not valid JSON".
    assert not [r for r in caplog.records if "Logout from" in r.getMessage()], caplog.text


def test_refused_login_quotes_the_server_message_and_never_the_password(sb, monkeypatch):
    set_connection(monkeypatch, sb, password=WRONG_PASSWORD)
    with pytest.raises(BpmOnlineAuthError) as caught:
        make_hook().count("Lead")
    text = str(caught.value)
    assert "refused the login" in text
    assert "Invalid username or password." in text
    assert WRONG_PASSWORD not in text
    assert counters(sb)["logins.refused"] == 1, "a refused login is not retried"


@pytest.mark.parametrize(
    ("refusal", "message"),
    [
        pytest.param("password_expired", "The password has expired", id="expired-password"),
        pytest.param("sso_only", "Use single sign-on", id="sso-only"),
    ],
)
def test_login_refusals_name_the_reason(sb, refusal, message):
    sb.admin.set_quirks(login_refusal=refusal)
    with pytest.raises(BpmOnlineAuthError, match=message):
        make_hook().count("Lead")


def test_login_page_answering_the_login_is_an_auth_error(sb):
    sb.admin.set_fault("login_page", path="/ServiceModel/AuthService.svc/Login")
    with pytest.raises(BpmOnlineAuthError, match="HTML page"):
        make_hook().count("Lead")


# -- sessions that end ------------------------------------------------------------


@pytest.mark.parametrize("unauthorized", ["401", "redirect", "html"])
def test_session_ending_mid_read_logs_in_again_and_the_read_completes(sb, caplog, unauthorized):
    sb.admin.set_quirks(unauthorized=unauthorized)
    sb.admin.set_fault("expire_session", entity="Lead", after=2)
    expected = expected_leads(sb)

    with caplog.at_level(logging.WARNING):
        rows = read_leads()

    assert set(rows) == expected and len(rows) == len(expected)
    assert counters(sb)["logins"] == 2
    assert "session ended" in caplog.text


def test_logging_in_again_frees_the_old_seat_first(sb):
    # One seat per user; the login page answer leaves the old session alive.
    sb.admin.set_quirks(max_sessions=1)
    sb.admin.set_fault("login_page", entity="Lead", after=1)
    assert set(read_leads()) == expected_leads(sb)
    seen = counters(sb)
    assert seen["logins"] == 2 and "logins.refused" not in seen


def test_sessions_that_die_every_few_requests_are_renewed_each_time(sb):
    sb.admin.set_quirks(session_max_requests=3)
    rows = read_leads(page_size=20)
    assert set(rows) == expected_leads(sb)
    assert counters(sb)["logins"] >= 4


def test_refused_login_after_the_session_ended_stops_with_a_clear_error(sb):
    with make_hook() as hook:
        rows = hook.iter_rows("Lead", LEAD_COLUMNS, page_size=50)
        next(rows)
        sb.admin.set_quirks(login_refusal="password_expired")
        sb.admin.expire_sessions()
        with pytest.raises(BpmOnlineAuthError, match="refused the login.*password has expired"):
            list(rows)
    assert counters(sb)["logins.refused"] == 1


def test_session_ending_again_right_after_a_fresh_login_stops(sb):
    sb.admin.set_fault("expire_session", entity="Lead", times=None)
    with pytest.raises(BpmOnlineAuthError, match="ended again right after a fresh login"):
        read_leads()
    assert counters(sb)["logins"] == 2, "exactly one new login, no loop"


# -- OAuth 2.0 client credentials ------------------------------------------------------


def test_oauth_reads_with_a_bearer_token(sb, monkeypatch):
    set_connection(monkeypatch, sb, login="", password="", **oauth_extra(sb))
    rows = read_leads()
    assert set(rows) == expected_leads(sb)
    seen = counters(sb)
    assert seen["tokens"] == 1 and "logins" not in seen


def test_oauth_token_rejected_mid_read_is_fetched_again(sb, monkeypatch):
    set_connection(monkeypatch, sb, **oauth_extra(sb))
    sb.admin.set_fault("expire_session", entity="Lead", after=1)
    assert set(read_leads()) == expected_leads(sb)
    assert counters(sb)["tokens"] == 2


def test_oauth_wrong_secret_is_a_clear_error_without_the_secret(sb, monkeypatch):
    secret = "not-the-right-secret-42"
    set_connection(monkeypatch, sb, **oauth_extra(sb, client_secret=secret))
    with pytest.raises(BpmOnlineAuthError) as caught:
        read_leads()
    text = str(caught.value)
    assert "refused the client credentials" in text and "invalid_client" in text
    assert secret not in text


def test_token_endpoint_answering_a_login_page_is_a_clear_error(sb, monkeypatch):
    set_connection(monkeypatch, sb, **oauth_extra(sb))
    sb.admin.set_fault("login_page", path="/connect/token")
    with pytest.raises(BpmOnlineAuthError, match="token_url"):
        read_leads()


def test_oauth_token_is_renewed_before_it_expires(eight_second_tokens, monkeypatch):
    sb = eight_second_tokens
    set_connection(monkeypatch, sb, conn_id="bpmonline_core", **oauth_extra(sb))
    sb.admin.reset()
    # 60 pages held 0.15 s each: the read outlives the eight-second token. The
    # hook renews with 10% (0.8 s) left, more than one request takes.
    sb.admin.set_fault("latency", entity="Lead", seconds=0.15)
    with make_hook("bpmonline_core") as hook:
        rows = list(hook.iter_rows("Lead", ["LeadName"], page_size=2))
    assert len(rows) == 120
    seen = counters(sb)
    assert seen["tokens"] >= 2, "the token was renewed"
    assert "auth.bad_token" not in seen, "renewed before expiry, not after a 401"


def test_dotnet_core_site_reads_under_odata_path(short_tokens, monkeypatch):
    sb = short_tokens
    sb.admin.reset()
    set_connection(monkeypatch, sb, conn_id="bpmonline_core")
    with make_hook("bpmonline_core") as hook:
        assert hook.count("Lead") == 120
    assert all(
        r["path"].startswith("/odata") for r in sb.admin.counters()["requests"] if r["entity"]
    )


# -- connection forms ------------------------------------------------------------------


def test_http_connection_type_with_the_scheme_in_schema_works(sb, monkeypatch):
    bare_host = sb.url.removeprefix("http://")
    set_connection(monkeypatch, sb, conn_type="http", host=bare_host, schema="http")
    with make_hook() as hook:
        assert hook.count("Lead") == 300


@pytest.mark.parametrize(
    "suffix", ["/", "/0/", "/0/Shell/#SectionModuleV2/LeadSectionV2"], ids=repr
)
def test_site_url_pasted_with_a_slash_or_a_page_path_works(sb, monkeypatch, suffix):
    set_connection(monkeypatch, sb, host=sb.url + suffix)
    with make_hook() as hook:
        assert hook.count("Lead") == 300


def test_verify_false_warns_each_time_a_session_is_built(sb, monkeypatch, caplog):
    set_connection(monkeypatch, sb, verify=False)
    with caplog.at_level(logging.WARNING), make_hook() as hook:
        hook.count("Lead")
    assert "TLS certificate checks are OFF" in caplog.text
