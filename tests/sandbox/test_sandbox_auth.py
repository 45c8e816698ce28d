"""Forms login, CSRF, logout and OAuth, checked against reference §1 and §2."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from sandbox.auth_routes import LOGIN_PATH as LOGIN
from sandbox.testing import RunningSandbox, run_sandbox


def test_login_succeeds_with_creatio_body_and_cookies(sandbox: RunningSandbox) -> None:
    response = requests.post(
        sandbox.url + LOGIN,
        json={"UserName": "Supervisor", "UserPassword": "Supervisor"},
        headers={"ForceUseSession": "true"},
        timeout=10,
    )

    assert response.status_code == 200
    assert response.json() == {
        "Code": 0,
        "Message": "",
        "Exception": None,
        "PasswordChangeUrl": None,
        "RedirectUrl": "/0/Shell",
        "UserType": "General",
    }
    cookies = {c.name: c for c in response.cookies}
    assert set(cookies) == {".ASPXAUTH", "BPMCSRF", "BPMLOADER", "UserName", "UserType"}
    assert cookies[".ASPXAUTH"].has_nonstandard_attr("HttpOnly")
    assert cookies["BPMLOADER"].has_nonstandard_attr("HttpOnly")
    assert not cookies["BPMCSRF"].has_nonstandard_attr("HttpOnly")
    assert len(cookies["BPMCSRF"].value) == 22
    assert cookies["UserName"].value == "83|117|112|101|114|118|105|115|111|114"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"UserName": "Supervisor", "UserPassword": "wrong"}, id="wrong-password"),
        pytest.param({"UserName": "Nobody", "UserPassword": "Supervisor"}, id="unknown-user"),
        pytest.param({}, id="empty-body"),
    ],
)
def test_failed_login_is_http_200_with_code_1_and_no_cookies(
    sandbox: RunningSandbox, body: dict[str, str]
) -> None:
    response = requests.post(sandbox.url + LOGIN, json=body, timeout=10)

    assert response.status_code == 200
    assert response.json()["Code"] == 1
    assert response.json()["Message"] == "Invalid username or password."
    assert not response.cookies


def test_login_under_slash_zero_answers_401(sandbox: RunningSandbox) -> None:
    response = requests.post(
        sandbox.url + "/0" + LOGIN,
        json={"UserName": "Supervisor", "UserPassword": "Supervisor"},
        timeout=10,
    )

    assert response.status_code == 401


def test_odata_needs_the_session(sandbox: RunningSandbox) -> None:
    response = requests.get(
        sandbox.odata_url + "/Lead", headers={"ForceUseSession": "true"}, timeout=10
    )

    assert response.status_code == 401


def test_odata_needs_the_bpmcsrf_header(sandbox: RunningSandbox) -> None:
    session = sandbox.login()
    del session.headers["BPMCSRF"]

    without = session.get(sandbox.odata_url + "/Lead?$top=1", timeout=10)
    wrong = session.get(
        sandbox.odata_url + "/Lead?$top=1", headers={"BPMCSRF": "x" * 22}, timeout=10
    )
    right = session.get(
        sandbox.odata_url + "/Lead?$top=1",
        headers={"BPMCSRF": session.cookies["BPMCSRF"]},
        timeout=10,
    )

    assert (without.status_code, wrong.status_code, right.status_code) == (401, 401, 200)


def test_missing_csrf_can_answer_403(sandbox: RunningSandbox) -> None:
    sandbox.admin.set_quirks(csrf_status=403)
    session = sandbox.login()
    del session.headers["BPMCSRF"]

    assert session.get(sandbox.odata_url + "/Lead?$top=1", timeout=10).status_code == 403


def test_logout_kills_the_session(sandbox: RunningSandbox) -> None:
    session = sandbox.login()
    assert session.get(sandbox.odata_url + "/Lead?$top=1", timeout=10).status_code == 200

    logout = session.post(sandbox.url + "/ServiceModel/AuthService.svc/Logout", json={}, timeout=10)

    assert logout.status_code == 200
    stale = requests.get(
        sandbox.odata_url + "/Lead?$top=1",
        cookies={".ASPXAUTH": "gone"},
        headers={"BPMCSRF": "gone"},
        timeout=10,
    )
    assert stale.status_code == 401
    assert session.get(sandbox.odata_url + "/Lead?$top=1", timeout=10).status_code == 401


def test_logout_replayed_with_old_cookies_is_refused(sandbox: RunningSandbox) -> None:
    session = sandbox.login()
    cookies = session.cookies.get_dict()
    session.post(sandbox.url + "/ServiceModel/AuthService.svc/Logout", json={}, timeout=10)

    replay = requests.get(
        sandbox.odata_url + "/Lead?$top=1",
        cookies=cookies,
        headers={"BPMCSRF": cookies["BPMCSRF"]},
        timeout=10,
    )

    assert replay.status_code == 401


def test_session_limit_refuses_login_with_code_1(sandbox: RunningSandbox) -> None:
    sandbox.admin.expire_sessions()
    sandbox.admin.set_quirks(max_sessions=1)
    first = sandbox.login()

    second = requests.post(
        sandbox.url + LOGIN,
        json={"UserName": sandbox.user, "UserPassword": sandbox.password},
        timeout=10,
    )

    assert second.status_code == 200
    assert second.json()["Code"] == 1
    first.post(sandbox.url + "/ServiceModel/AuthService.svc/Logout", json={}, timeout=10)
    sandbox.login()


def test_expired_password_refusal_sets_the_change_url(sandbox: RunningSandbox) -> None:
    sandbox.admin.set_quirks(login_refusal="password_expired")

    response = requests.post(
        sandbox.url + LOGIN,
        json={"UserName": sandbox.user, "UserPassword": sandbox.password},
        timeout=10,
    )

    assert response.json()["Code"] == 1
    assert response.json()["PasswordChangeUrl"]
    assert not response.cookies


@pytest.mark.parametrize("mode", ["form", "basic"])
def test_oauth_token_opens_odata_without_cookies(sandbox: RunningSandbox, mode: str) -> None:
    if mode == "form":
        response = requests.post(
            sandbox.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": sandbox.client_id,
                "client_secret": sandbox.client_secret,
            },
            timeout=10,
        )
    else:
        response = requests.post(
            sandbox.token_url,
            data={"grant_type": "client_credentials"},
            auth=(sandbox.client_id, sandbox.client_secret),
            timeout=10,
        )

    assert response.status_code == 200
    token = response.json()
    assert set(token) == {"access_token", "expires_in", "token_type", "scope"}
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 3600
    page = requests.get(
        sandbox.odata_url + "/Lead?$top=2",
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=10,
    )
    assert page.status_code == 200
    assert len(page.json()["value"]) == 2


@pytest.mark.parametrize(
    ("data", "error"),
    [
        pytest.param(
            {"grant_type": "client_credentials", "client_id": "roistat-client"},
            "invalid_client",
            id="no-secret",
        ),
        pytest.param(
            {
                "grant_type": "client_credentials",
                "client_id": "roistat-client",
                "client_secret": "bad",
            },
            "invalid_client",
            id="bad-secret",
        ),
        pytest.param(
            {"grant_type": "password", "client_id": "x", "client_secret": "y"},
            "unsupported_grant_type",
            id="wrong-grant",
        ),
    ],
)
def test_oauth_refusals_are_400(sandbox: RunningSandbox, data: dict[str, str], error: str) -> None:
    response = requests.post(sandbox.token_url, data=data, timeout=10)

    assert response.status_code == 400
    assert response.json() == {"error": error}


def test_bad_bearer_token_is_401(sandbox: RunningSandbox) -> None:
    response = requests.get(
        sandbox.odata_url + "/Lead?$top=1",
        headers={"Authorization": "Bearer not-a-token"},
        timeout=10,
    )

    assert response.status_code == 401
    assert "invalid_token" in response.headers["WWW-Authenticate"]


def test_bearer_token_expires(tmp_path: Path) -> None:
    with run_sandbox(leads=20, orders=10, data_dir=tmp_path, token_lifetime=1) as sb:
        token = requests.post(
            sb.token_url,
            data={"grant_type": "client_credentials"},
            auth=(sb.client_id, sb.client_secret),
            timeout=10,
        ).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        assert token["expires_in"] == 1
        fresh = requests.get(sb.odata_url + "/Lead?$top=1", headers=headers, timeout=10)
        time.sleep(1.1)
        stale = requests.get(sb.odata_url + "/Lead?$top=1", headers=headers, timeout=10)

    assert (fresh.status_code, stale.status_code) == (200, 401)


def test_session_dies_after_n_requests(sandbox: RunningSandbox) -> None:
    sandbox.admin.set_quirks(session_max_requests=3)
    session = sandbox.login()

    statuses = [
        session.get(sandbox.odata_url + "/Lead?$top=1", timeout=10).status_code for _ in range(5)
    ]
    relogged = sandbox.login()

    assert statuses == [200, 200, 200, 401, 401]
    assert relogged.get(sandbox.odata_url + "/Lead?$top=1", timeout=10).status_code == 200


def test_unauthorized_can_redirect_to_the_login_page(sandbox: RunningSandbox) -> None:
    sandbox.admin.set_quirks(unauthorized="redirect")

    response = requests.get(sandbox.odata_url + "/Lead?$top=1", allow_redirects=False, timeout=10)
    followed = requests.get(sandbox.odata_url + "/Lead?$top=1", timeout=10)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/Login/NuiLogin.aspx?ReturnUrl=")
    assert followed.status_code == 200
    assert followed.headers["Content-Type"].startswith("text/html")


def test_unauthorized_can_be_the_login_page_with_200(sandbox: RunningSandbox) -> None:
    sandbox.admin.set_quirks(unauthorized="html")

    response = requests.get(sandbox.odata_url + "/Lead?$top=1", timeout=10)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "bootstrap.login" in response.text


def test_ping_and_unrouted_svc(sandbox: RunningSandbox) -> None:
    assert requests.get(sandbox.url + "/0/ping", timeout=10).status_code == 200
    unrouted = requests.post(sandbox.url + "/ServiceModel/Nothing.svc/Do", timeout=10)
    assert unrouted.status_code == 404
    assert unrouted.content == b""
