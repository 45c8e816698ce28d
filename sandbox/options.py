"""Run options of the sandbox: the dataset, the credentials, and the quirks.

Quirks are the switchable behaviours of real Creatio stands that differ from one
site to another (reference/creatio-api.md §1.4, §3.7, §3.8, §3.5). They can be set
at start-up and changed later through the admin endpoint, so they live in their own
mutable dataclass; everything else is fixed for the life of a server.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Bump when the generator changes what it writes, so stale cached databases are
# not reused.
GENERATOR_VERSION = 5

DEFAULT_UNTIL = datetime(2026, 12, 1, tzinfo=UTC)
DEFAULT_ROW_CAP = 20_000
COLUMN_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

DECIMAL_MODES = ("number", "string", "ieee754")
EMPTY_LOOKUP_MODES = ("zero", "null")
UNAUTHORIZED_MODES = ("401", "redirect", "html")
NOT_FOUND_MODES = ("json", "html")
LOGIN_REFUSALS = ("password_expired", "sso_only")


class OptionError(ValueError):
    """A run option or quirk has a value the sandbox cannot honour."""


@dataclass
class Quirks:
    """Behaviours that vary between real stands; see the module docstring."""

    # "number": Edm.Decimal as JSON numbers; "string": always "1500.00";
    # "ieee754": strings only when the request says IEEE754Compatible=true.
    decimals: str = "number"
    # How an empty lookup is written: the all-zero GUID or null (§3.5).
    empty_lookup: str = "zero"
    # Minutes added to every datetime written out and to every filter literal:
    # a stand whose clock runs in local time but labels it `Z` (§3.7).
    clock_offset_minutes: int = 0
    # Answer to a missing or expired session: 401, 302 to the login page, or
    # 200 with the HTML login page (§1.4).
    unauthorized: str = "401"
    # Status for a valid session without the BPMCSRF header (§1.4: 401 or 403).
    csrf_status: int = 401
    # A session dies after this many authenticated requests (None: never).
    session_max_requests: int | None = None
    # More live sessions than this and a login is refused with Code 1 (§1.3).
    max_sessions: int | None = None
    # Refuse every password login as an expired-password or SSO-only site does.
    login_refusal: str | None = None
    # Unknown entity set: Web API routing JSON or the IIS HTML page (§3.6).
    not_found: str = "json"
    # A read without $select fails with 500 as on a stand whose EDM and schema
    # disagree (§3.6).
    select_all_fails: bool = False
    # The `in` operator was refused by at least one tenant (§3.3).
    in_operator: bool = True
    # ODataLib's parser node limit (§3.3).
    filter_node_limit: int = 100

    def validate(self) -> None:
        _check_choice("decimals", self.decimals, DECIMAL_MODES)
        _check_choice("empty_lookup", self.empty_lookup, EMPTY_LOOKUP_MODES)
        _check_choice("unauthorized", str(self.unauthorized), UNAUTHORIZED_MODES)
        _check_choice("not_found", self.not_found, NOT_FOUND_MODES)
        if self.login_refusal is not None:
            _check_choice("login_refusal", self.login_refusal, LOGIN_REFUSALS)
        if self.csrf_status not in (401, 403):
            raise OptionError("csrf_status must be 401 or 403")
        for name in ("session_max_requests", "max_sessions"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise OptionError(f"{name} must be a positive integer or null")
        if not isinstance(self.clock_offset_minutes, int):
            raise OptionError("clock_offset_minutes must be an integer")
        if not isinstance(self.filter_node_limit, int) or self.filter_node_limit < 1:
            raise OptionError("filter_node_limit must be a positive integer")

    def updated(self, changes: dict[str, Any]) -> Quirks:
        """Return a copy with `changes` applied; unknown names are an error."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise OptionError(f"unknown quirk(s): {', '.join(unknown)}")
        changes = dict(changes)
        if "unauthorized" in changes:
            changes["unauthorized"] = str(changes["unauthorized"])
        result = dataclasses.replace(self, **changes)
        result.validate()
        return result

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


QUIRK_NAMES = frozenset(f.name for f in dataclasses.fields(Quirks))


@dataclass
class SandboxOptions:
    """Everything a sandbox run is started with (the CLI flags, one to one)."""

    leads: int = 300
    orders: int = 200
    seed: int = 1
    until: datetime = DEFAULT_UNTIL
    roistat_column: str = "UsrRoistat"
    user: str = "Supervisor"
    password: str = "Supervisor"
    host: str = "127.0.0.1"
    port: int = 0
    netcore: bool = False
    data_dir: Path = Path(".sandbox")
    db: Path | None = None
    client_id: str = "roistat-client"
    client_secret: str = "roistat-secret"
    token_path: str = "/connect/token"
    token_lifetime: int = 3600
    row_cap: int = DEFAULT_ROW_CAP
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    quirks: Quirks = field(default_factory=Quirks)

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> SandboxOptions:
        """Build options from flat keywords; quirk names may be given directly."""
        quirk_changes = {k: kwargs.pop(k) for k in list(kwargs) if k in QUIRK_NAMES}
        quirks = kwargs.pop("quirks", None) or Quirks()
        if isinstance(quirks, dict):
            quirks = Quirks().updated(quirks)
        if quirk_changes:
            quirks = quirks.updated(quirk_changes)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise OptionError(f"unknown sandbox option(s): {', '.join(unknown)}")
        if isinstance(kwargs.get("until"), str):
            kwargs["until"] = parse_until(kwargs["until"])
        for name in ("data_dir", "db"):
            if kwargs.get(name) is not None:
                kwargs[name] = Path(kwargs[name])
        options = cls(quirks=quirks, **kwargs)
        options.validate()
        return options

    def validate(self) -> None:
        if self.leads < 0 or self.orders < 0:
            raise OptionError("leads and orders must not be negative")
        if not COLUMN_NAME.match(self.roistat_column):
            # Creatio refuses non-Latin codes (reference §6, field report 15).
            raise OptionError(
                f"roistat column {self.roistat_column!r} is not a valid Creatio column code"
            )
        if self.until.tzinfo is None:
            raise OptionError("until must carry a time zone")
        if self.row_cap < 1 or self.token_lifetime < 1:
            raise OptionError("row_cap and token_lifetime must be positive")
        if not self.token_path.startswith("/"):
            raise OptionError("token_path must start with '/'")
        self.quirks.validate()

    @property
    def odata_path(self) -> str:
        # .NET Core / .NET 8 sites serve OData without the `/0` prefix (§3.1).
        return "/odata" if self.netcore else "/0/odata"

    def dataset_key(self) -> str:
        """Hash of everything the generated data depends on (the cache key)."""
        params = {
            "generator": GENERATOR_VERSION,
            "seed": self.seed,
            "leads": self.leads,
            "orders": self.orders,
            "until": self.until.astimezone(UTC).isoformat(),
            "roistat_column": self.roistat_column,
        }
        text = json.dumps(params, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def pristine_db_path(self) -> Path:
        if self.db is not None:
            return self.db
        return self.data_dir / f"sandbox-{self.dataset_key()}.sqlite"


def parse_until(text: str) -> datetime:
    """Parse an ISO date or datetime; a value without zone is taken as UTC."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise OptionError(f"until: {text!r} is not an ISO date or datetime") from error
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise OptionError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
