"""Integration settings: the YAML file, or the `roistat_integration` Variable.

DESIGN.md §3 lists the keys. The Variable (JSON) overrides the file as a whole,
so a team can change settings from the Airflow UI without a deploy. Every
problem is reported with the key it belongs to, e.g.
``filter.value: the pattern '(' is not a valid regular expression: ...``.

Nothing here runs at import time: DAG files call `load_settings()` inside tasks.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from roistat.errors import SettingsError

SETTINGS_VARIABLE = "roistat_integration"
SETTINGS_FILE_ENV = "ROISTAT_SETTINGS_FILE"
DEFAULT_SETTINGS_FILE = (
    Path(__file__).resolve().parents[2] / "include" / "config" / "integration.yaml"
)

Entity = Literal["lead", "order"]
StatusGroup = Literal["not_registered", "processing", "paid", "rejected"]
STATUS_GROUPS: tuple[str, ...] = ("not_registered", "processing", "paid", "rejected")

# Creatio column codes are Latin identifiers (reference/creatio-api.md §6). Holding
# every name from the settings to this shape is also what keeps them from carrying
# SQL or OData into a query: no quotes, spaces, semicolons or slashes get through.
_COLUMN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,127}")
_CONN_ID = re.compile(r"[A-Za-z0-9_.\-]{1,250}")

ColumnName = Annotated[str, Field(description="a CRM column as OData names it, e.g. UsrRoistat")]


def _check_column_name(value: str) -> str:
    if not _COLUMN_NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a CRM column name: it must start with a Latin letter and "
            "hold only Latin letters, digits and '_' (as OData names the column, e.g. UsrRoistat)"
        )
    return value


class FilterSettings(BaseModel):
    """Filtration field and value: only deals whose field matches are exported."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: ColumnName | None = None
    value: str | None = None

    @field_validator("field")
    @classmethod
    def _field_is_a_column(cls, value: str | None) -> str | None:
        return None if value is None else _check_column_name(value)

    @field_validator("value")
    @classmethod
    def _value_compiles(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # The deal filter runs on RE2 (linear time); compiling here reports a bad
        # pattern when the settings are read, not halfway through a sync.
        from roistat.rules.deal_filter import compile_filter

        compile_filter(value)
        return value

    @model_validator(mode="after")
    def _both_or_neither(self) -> FilterSettings:
        if (self.field is None) != (self.value is None):
            missing = "value" if self.value is None else "field"
            raise ValueError(f"filter.{missing} is missing: set both field and value, or neither")
        return self

    @property
    def enabled(self) -> bool:
        return self.field is not None


PerEntityColumn = ColumnName | dict[Entity, ColumnName] | None


class IntegrationSettings(BaseModel):
    """The validated integration settings (DESIGN.md §3)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bpmonline_conn_id: str = "bpmonline_default"
    warehouse_conn_id: str = "roistat_warehouse"
    entities: list[Entity] = Field(default_factory=lambda: ["lead", "order"], min_length=1)
    roistat_column: ColumnName = "UsrRoistat"
    status_groups: dict[StatusGroup, list[str]] = Field(default_factory=dict)
    revenue_field: PerEntityColumn = None
    first_cost_field: PerEntityColumn = None
    profit_field: PerEntityColumn = None
    filter: FilterSettings = Field(default_factory=FilterSettings)
    lookback_hours: int = Field(default=24, ge=0, le=24 * 90)
    # Creatio answers at most 20,000 rows per request (reference/creatio-api.md §3.3).
    page_size: int = Field(default=1000, ge=1, le=20000)
    # Some Creatio builds label local time with `Z` (reference/creatio-api.md
    # §3.7). The CRM clock's offset from UTC in minutes (180 for UTC+3) makes the
    # sync shift every CRM datetime and window literal back to true UTC.
    crm_time_offset_minutes: int = Field(default=0, ge=-14 * 60, le=14 * 60)

    @field_validator("bpmonline_conn_id", "warehouse_conn_id")
    @classmethod
    def _conn_id_shape(cls, value: str) -> str:
        if not _CONN_ID.fullmatch(value):
            raise ValueError(f"{value!r} is not an Airflow connection id")
        return value

    @field_validator("roistat_column")
    @classmethod
    def _roistat_column_shape(cls, value: str) -> str:
        return _check_column_name(value)

    @field_validator("revenue_field", "first_cost_field", "profit_field")
    @classmethod
    def _money_column_shape(cls, value: str | dict[str, str] | None) -> Any:
        if isinstance(value, str):
            return _check_column_name(value)
        if isinstance(value, dict):
            return {entity: _check_column_name(column) for entity, column in value.items()}
        return value

    @field_validator("entities")
    @classmethod
    def _entities_unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"{value} names an entity twice")
        return value

    @field_validator("status_groups")
    @classmethod
    def _status_in_one_group(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        seen: dict[str, str] = {}
        for group, statuses in value.items():
            for status in statuses:
                if not str(status).strip():
                    raise ValueError(f"{group} lists an empty status")
                key = str(status).strip().lower()
                if key in seen and seen[key] != group:
                    raise ValueError(f"status {status!r} is listed in both {seen[key]} and {group}")
                seen[key] = group
        return value

    def column_for(self, key: str, entity: str) -> str | None:
        """Return the column a money setting (`revenue_field`...) names for an entity."""
        value = getattr(self, key)
        if isinstance(value, dict):
            return value.get(entity)
        return value


def parse_settings(raw: Mapping[str, Any] | None, *, source: str) -> IntegrationSettings:
    """Validate a settings mapping; the error names the key and the problem."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise SettingsError(
            f"{source}: the settings must be a mapping of keys, got {type(raw).__name__}"
        )
    try:
        return IntegrationSettings.model_validate(dict(raw))
    except ValidationError as exc:
        raise SettingsError(
            f"invalid integration settings in {source}:\n{_describe(exc)}"
        ) from None


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        key = (
            ".".join(str(part) for part in error["loc"] if not _is_type_tag(part)) or "(top level)"
        )
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "is not a known key (see DESIGN.md §3 / README 'Settings')"
        lines.append(f"  - {key}: {message}")
    return "\n".join(dict.fromkeys(lines))


def _is_type_tag(part: object) -> bool:
    # pydantic puts the union member's type in the location ("str", "dict[...]").
    # "[key]" marks a problem with a mapping's key rather than its value.
    return isinstance(part, str) and (
        part in {"str", "int", "[key]"} or part.startswith(("dict[", "list["))
    )


def load_settings_file(path: str | os.PathLike[str]) -> IntegrationSettings:
    """Read and validate the YAML settings file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"cannot read the settings file {path}: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SettingsError(f"the settings file {path} is not valid YAML: {exc}") from None
    return parse_settings(raw, source=str(path))


def load_settings(variable_json: str | None = None) -> IntegrationSettings:
    """Return the settings in force: the Variable when it is set, else the file.

    `variable_json` lets a caller pass the Variable's value it already holds; by
    default it is looked up through the Task SDK (so call this inside a task).
    """
    if variable_json is None:
        variable_json = _read_variable()
    if variable_json is not None:
        try:
            raw = json.loads(variable_json)
        except json.JSONDecodeError as exc:
            raise SettingsError(
                f"the Variable {SETTINGS_VARIABLE} is not valid JSON: {exc}"
            ) from None
        return parse_settings(raw, source=f"the Variable {SETTINGS_VARIABLE}")
    return load_settings_file(os.environ.get(SETTINGS_FILE_ENV) or DEFAULT_SETTINGS_FILE)


def _read_variable() -> str | None:
    from airflow.sdk import Variable

    try:
        return Variable.get(SETTINGS_VARIABLE, default=None)
    except Exception as exc:
        if os.environ.get(f"AIRFLOW_VAR_{SETTINGS_VARIABLE.upper()}"):
            raise SettingsError(f"cannot read the Variable {SETTINGS_VARIABLE}: {exc}") from None
        return None
