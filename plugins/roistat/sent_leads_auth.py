"""Who may open the "Sent leads" page: whoever the API server has signed in.

The page is mounted inside Airflow's API server, so it takes the caller the way
Airflow's own REST routes do (airflow.api_fastapi.core_api.security.get_user):
a JWT in `Authorization: Bearer ...`, else the `_token` cookie the UI's login
sets, checked by the configured auth manager (signature, expiry, revocation).
Then, as for any Airflow UI page, the auth manager must allow the user the
website view.

Without a valid session a browser is sent to the auth manager's login page,
which brings it back here; any other client gets 401.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

_bearer = HTTPBearer(auto_error=False)


class NotSignedIn(Exception):
    """The request carries no valid Airflow session; `detail` says why."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


async def signed_in_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Any:
    """Return the signed-in Airflow user; raise NotSignedIn or a 403."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from airflow.api_fastapi.core_api.security import get_user

    try:
        user = await get_user(request, _oauth_token=None, bearer_credentials=credentials)
    except HTTPException as exc:
        # 401 for no or an expired token, 403 for one that fails its check:
        # either way the caller has no session.
        raise NotSignedIn(str(exc.detail)) from None

    if not get_auth_manager().is_authorized_view(access_view=AccessView.WEBSITE, user=user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Forbidden")
    return user


def login_url(request: Request) -> str:
    """Return the auth manager's login page, set to come back to this request."""
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().get_url_login(next_url=str(request.url))


def user_name(user: Any) -> str:
    """Return a user's display name, whatever the auth manager's user class."""
    get_name = getattr(user, "get_name", None)
    return str(get_name() if callable(get_name) else user)
