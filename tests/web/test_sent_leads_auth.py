"""Only signed-in Airflow users see the page: the real auth check, no stand-in.

The auth manager is the one the API server runs (SimpleAuthManager, from the
test Airflow home's config); tokens are signed with its JWT settings, as the
login page and POST /auth/token sign them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import jwt
import psycopg
import pytest
from starlette.testclient import TestClient

from roistat.sent_leads_app import create_app
from tests.web.sent_leads_support import insert_deal

PAGES = ["/sent-leads", "/sent-leads/summary", "/sent-leads/export.csv"]


@pytest.fixture(scope="module")
def auth_manager():
    from airflow.api_fastapi.app import init_auth_manager

    return init_auth_manager()


def _token(auth_manager, *, role: str = "viewer", seconds: int = 600) -> str:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    user = SimpleAuthManagerUser(username="ana", role=role)
    return auth_manager.generate_jwt(user, expiration_time_in_seconds=seconds)


@pytest.fixture
def client(warehouse_url, auth_manager) -> Iterator[TestClient]:
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        insert_deal(conn, title="a lead only signed-in users see")
    app = create_app(connect=lambda: psycopg.connect(warehouse_url, autocommit=True))
    with TestClient(app, base_url="http://airflow.test") as client:
        yield client


@pytest.mark.parametrize("path", PAGES)
def test_no_session_is_a_401(client, path):
    response = client.get(path)

    assert response.status_code == 401
    assert "only signed-in" not in response.text


def test_a_browser_without_a_session_goes_to_the_login_page(client):
    response = client.get(
        "/sent-leads?entity=lead", headers={"Accept": "text/html"}, follow_redirects=False
    )

    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/auth/login"
    assert parse_qs(location.query)["next"] == ["http://airflow.test/sent-leads?entity=lead"]


@pytest.mark.parametrize("path", PAGES)
def test_the_ui_session_cookie_opens_the_page(client, auth_manager, path):
    client.cookies.set("_token", _token(auth_manager))

    response = client.get(path)

    assert response.status_code == 200
    assert path.endswith(".csv") or path.endswith("summary") or "Signed in as" in response.text


def test_a_bearer_token_opens_the_csv(client, auth_manager):
    response = client.get(
        "/sent-leads/export.csv", headers={"Authorization": f"Bearer {_token(auth_manager)}"}
    )

    assert response.status_code == 200
    assert "a lead only signed-in users see" in response.text


def test_the_signed_in_user_is_named(client, auth_manager):
    client.cookies.set("_token", _token(auth_manager))

    text = client.get("/sent-leads").text

    assert re.search(r"Signed in as <strong>ana</strong>", text)


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("not-a-jwt", id="garbage"),
        pytest.param(
            jwt.encode({"sub": "ana", "role": "admin"}, "someone-elses-secret", algorithm="HS512"),
            id="foreign-signature",
        ),
    ],
)
def test_a_forged_token_is_refused(client, token):
    client.cookies.set("_token", token)

    assert client.get("/sent-leads").status_code == 401
    assert client.get("/sent-leads/export.csv").status_code == 401


def test_an_expired_token_is_refused(client, auth_manager):
    client.cookies.set("_token", _token(auth_manager, seconds=-120))

    assert client.get("/sent-leads").status_code == 401


def test_static_files_need_no_session(client):
    response = client.get("/sent-leads/static/chart.umd.min.js")

    assert response.status_code == 200
    assert response.text.startswith("/*!\n * Chart.js v4")
