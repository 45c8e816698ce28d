"""The Airflow connection as the bpm'online client reads it (no HTTP here)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from roistat.bpmonline_connection import (
    DEFAULT_TIMEOUT,
    BpmOnlineConnection,
    default_token_url,
    parse_site,
    parse_timeout,
)
from roistat.bpmonline_errors import BpmOnlineConfigError
from roistat.bpmonline_hook import BpmOnlineHook


def airflow_connection(**fields):
    base = {
        "conn_id": "crm",
        "host": "https://mysite.creatio.com",
        "schema": None,
        "port": None,
        "login": "Supervisor",
        "password": "pw-123456",
        "extra_dejson": {},
    }
    return SimpleNamespace(**{**base, **fields})


def test_hook_identity_for_airflow():
    assert BpmOnlineHook.conn_type == "bpmonline"
    assert BpmOnlineHook.conn_name_attr == "bpmonline_conn_id"
    assert BpmOnlineHook.default_conn_name == "bpmonline_default"
    assert BpmOnlineHook.hook_name == "bpm'online (Creatio)"
    assert BpmOnlineHook().bpmonline_conn_id == "bpmonline_default"


@pytest.mark.parametrize(
    ("host", "site"),
    [
        pytest.param("https://mysite.creatio.com", "https://mysite.creatio.com", id="plain"),
        pytest.param(
            "https://mysite.creatio.com/", "https://mysite.creatio.com", id="trailing-slash"
        ),
        pytest.param("https://mysite.creatio.com/0/", "https://mysite.creatio.com", id="slash-0"),
        pytest.param(
            "https://mysite.creatio.com/0/Shell/#Section",
            "https://mysite.creatio.com",
            id="address-bar",
        ),
        pytest.param(
            "https://crm.local:8443/creatio/", "https://crm.local:8443/creatio", id="iis-sub-path"
        ),
        pytest.param("  http://10.0.0.5  ", "http://10.0.0.5", id="spaces"),
    ],
)
def test_site_url_forms(host, site):
    assert parse_site(host) == site


@pytest.mark.parametrize("host", ["mysite.creatio.com", "mysite.creatio.com/0", "ftp://mysite", ""])
def test_site_without_an_http_scheme_is_refused_rather_than_guessed(host):
    with pytest.raises(BpmOnlineConfigError, match="host"):
        parse_site(host)


def test_no_scheme_error_suggests_the_https_url():
    with pytest.raises(BpmOnlineConfigError, match="https://mysite.creatio.com"):
        parse_site("mysite.creatio.com")


def test_http_type_connection_may_carry_the_scheme_and_port_in_their_fields():
    assert parse_site("crm.local", schema="https", port=8443) == "https://crm.local:8443"


def test_forms_defaults():
    conn = BpmOnlineConnection.from_airflow(airflow_connection())
    assert conn.auth == "forms"
    assert conn.odata_root == "https://mysite.creatio.com/0/odata"
    assert conn.verify is True
    assert conn.timeout == DEFAULT_TIMEOUT
    assert conn.roistat_column == "UsrRoistat"


def test_extras_are_read():
    conn = BpmOnlineConnection.from_airflow(
        airflow_connection(
            extra_dejson={
                "odata_path": "odata/",
                "verify": "false",
                "timeout": 15,
                "roistat_column": "Usrroistat",
            }
        )
    )
    assert conn.odata_root == "https://mysite.creatio.com/odata"
    assert conn.verify is False
    assert conn.timeout == (10.0, 15.0)
    assert conn.roistat_column == "Usrroistat"


def test_oauth_on_a_cloud_site_derives_the_identity_service_url():
    conn = BpmOnlineConnection.from_airflow(
        airflow_connection(
            login=None,
            password=None,
            extra_dejson={"auth": "oauth2", "client_id": "a", "client_secret": "b"},
        )
    )
    assert conn.token_url == "https://mysite-is.creatio.com/connect/token"


def test_oauth_elsewhere_needs_a_token_url():
    with pytest.raises(BpmOnlineConfigError, match="OAuth20IdentityServerUrl"):
        default_token_url("https://crm.example.org")


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        pytest.param({"password": None}, "user name and a password", id="forms-without-password"),
        pytest.param(
            {"extra_dejson": {"auth": "oauth2"}}, "client id and secret", id="oauth-without-client"
        ),
        pytest.param(
            {"extra_dejson": {"auth": "kerberos"}}, "'forms' or 'oauth2'", id="unknown-auth"
        ),
        pytest.param(
            {"extra_dejson": {"odata_path": "https://x/odata"}}, "odata_path", id="odata-path-url"
        ),
        pytest.param({"extra_dejson": {"timeout": "soon"}}, "timeout", id="bad-timeout"),
    ],
)
def test_bad_connections_name_the_field(fields, problem):
    with pytest.raises(BpmOnlineConfigError, match=problem) as caught:
        BpmOnlineConnection.from_airflow(airflow_connection(**fields))
    assert "'crm'" in str(caught.value)
    assert "pw-123456" not in str(caught.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, DEFAULT_TIMEOUT), (5, (5.0, 5.0)), ("30", (10.0, 30.0)), ([2, 90], (2.0, 90.0))],
    ids=str,
)
def test_timeout_forms(value, expected):
    assert parse_timeout(value) == expected


def test_non_positive_timeout_is_refused():
    with pytest.raises(BpmOnlineConfigError):
        parse_timeout(0)
