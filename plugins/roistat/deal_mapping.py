"""Turn one CRM row into a `DealRecord`, or a `Rejection` that says why not.

The rules themselves live in `roistat.rules` (pure functions); this module
only knows which column feeds which rule for an entity and the settings. A
value the rules cannot read rejects that one row (it goes to quarantine with
the reason); it never stops the run and is never loaded as a guess.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from roistat.crm_entities import CrmEntity
from roistat.deal_loader import DealRecord
from roistat.rules import (
    CrmValueError,
    DateValueError,
    DealFilter,
    classify_roistat_value,
    clean_text,
    compile_filter,
    map_deal_money,
    parse_crm_datetime,
    parse_lookup_id,
)
from roistat.settings import IntegrationSettings

# Titles and filter values longer than this are cut (and the cut is harmless:
# they are for display; the full value stays in the CRM).
_TITLE_MAX_CHARS = 1000


@dataclass(frozen=True)
class Rejection:
    crm_id: str
    modified_on: str | None
    reason: str


@dataclass
class DealMapper:
    """Apply the rules to the rows of one entity, counting what happened."""

    entity: CrmEntity
    roistat_column: str
    revenue_field: str | None
    first_cost_field: str | None
    profit_field: str | None
    status_groups: Mapping[str, str]
    filter_column: str | None = None
    deal_filter: DealFilter | None = None
    filter_names: Mapping[str, str] | None = None
    # Subtracted from every CRM datetime: the CRM's clock offset when it labels
    # local time `Z` (settings crm_time_offset_minutes), zero otherwise.
    crm_clock: timedelta = timedelta(0)

    filtered_out: int = 0
    unmapped_statuses: Counter = field(default_factory=Counter)
    _rejection_reasons: Counter = field(default_factory=Counter)

    @classmethod
    def for_entity(
        cls,
        entity: CrmEntity,
        settings: IntegrationSettings,
        *,
        status_groups: Mapping[str, str],
        filter_names: Mapping[str, str] | None = None,
    ) -> DealMapper:
        """Build the mapper for `entity` from the settings and the status groups in force."""
        deal_filter = compile_filter(settings.filter.value) if settings.filter.enabled else None
        filter_column = None
        if settings.filter.enabled:
            filter_column = (
                _lookup_scalar(settings.filter.field)
                if filter_names is not None
                else settings.filter.field
            )
        return cls(
            entity=entity,
            roistat_column=settings.roistat_column,
            revenue_field=settings.column_for("revenue_field", entity.name),
            first_cost_field=settings.column_for("first_cost_field", entity.name),
            profit_field=settings.column_for("profit_field", entity.name),
            status_groups=status_groups,
            filter_column=filter_column,
            deal_filter=deal_filter,
            filter_names=filter_names,
            crm_clock=timedelta(minutes=settings.crm_time_offset_minutes),
        )

    def required_columns(self) -> dict[str, str]:
        """Return column -> what it is for, to check against the CRM's $metadata."""
        required = {
            "Id": "the deal's key",
            "ModifiedOn": "incremental reads",
            "CreatedOn": "the report's day",
            self.entity.title_column: "the deal's title",
            self.entity.status_column: "the status group",
            self.roistat_column: "roistat_column (the visit number)",
            self.revenue_field or self.entity.revenue_column: "revenue_field (revenue)",
        }
        if self.first_cost_field:
            required[self.first_cost_field] = "first_cost_field"
        if self.profit_field:
            required[self.profit_field] = "profit_field"
        if self.filter_column:
            required[self.filter_column] = "filter.field"
        return required

    def columns(self) -> list[str]:
        """Return the $select list: exactly the columns the rules read."""
        return list(self.required_columns())

    def map(self, row: Mapping[str, Any]) -> DealRecord | Rejection:
        """Apply every rule to `row`."""
        raw_id = row.get("Id")
        raw_modified = row.get("ModifiedOn")
        try:
            crm_id = _in_column("Id", parse_lookup_id, raw_id)
            if crm_id is None:
                raise CrmValueError(raw_id, "the deal has no Id", column="Id")
            modified_on = self._crm_moment("ModifiedOn", raw_modified)
            created_raw = row.get("CreatedOn")
            if created_raw is None:
                raise CrmValueError(created_raw, "CreatedOn is empty", column="CreatedOn")
            created_on = self._crm_moment("CreatedOn", created_raw)
            title_column = self.entity.title_column
            title = _in_column(title_column, _clean, row.get(title_column))

            status_id = _in_column(
                self.entity.status_column, parse_lookup_id, row.get(self.entity.status_column)
            )
            status_group = self.status_groups.get(status_id) if status_id else None
            if status_group is None:
                self.unmapped_statuses[status_id or "(no status)"] += 1
                status_group = "not_registered"

            raw_roistat = row.get(self.roistat_column)
            roistat = classify_roistat_value(raw_roistat)
            # The raw value is kept whole, whatever its kind.
            roistat_raw = _in_column(
                self.roistat_column, _clean_full, None if raw_roistat is None else str(raw_roistat)
            )

            money = map_deal_money(
                self.entity.name,
                row,
                revenue_field=self.revenue_field,
                first_cost_field=self.first_cost_field,
                profit_field=self.profit_field,
            )
            filter_value, passes = self._apply_filter(row)
        except CrmValueError as exc:
            reason = str(exc)
            self._rejection_reasons[_reason_kind(exc)] += 1
            return Rejection(
                crm_id=str(raw_id)[:100],
                modified_on=None if raw_modified is None else str(raw_modified)[:100],
                reason=reason,
            )

        if not passes:
            self.filtered_out += 1
        return DealRecord(
            entity=self.entity.name,
            crm_id=crm_id,
            title=title,
            created_on=created_on,
            modified_on=modified_on,
            status_id=status_id,
            status_group=status_group,
            roistat_raw=roistat_raw,
            roistat_kind=str(roistat.kind),
            visit_id=roistat.visit_id,
            marker=roistat.marker,
            revenue=money.revenue,
            first_cost=money.first_cost,
            profit=money.profit,
            filter_value=filter_value,
            passes_filter=passes,
        )

    def _crm_moment(self, column: str, raw: Any) -> datetime:
        """Read a CRM datetime and shift it from the CRM's clock to true UTC."""
        value = _in_column(column, parse_crm_datetime, raw)
        try:
            return value - self.crm_clock
        except OverflowError:
            raise DateValueError(
                raw, "out of range once shifted by crm_time_offset_minutes", column=column
            ) from None

    def rejection_reasons(self, limit: int = 5) -> list[str]:
        """Return the most common kinds of rejection, with counts."""
        return [
            f"{reason} x{count}" for reason, count in self._rejection_reasons.most_common(limit)
        ]

    def _apply_filter(self, row: Mapping[str, Any]) -> tuple[str | None, bool]:
        if self.deal_filter is None or self.filter_column is None:
            return None, True
        raw = row.get(self.filter_column)
        if self.filter_names is not None:
            # A lookup: the expression matches the lookup's name, as a person sees it.
            lookup_id = _in_column(self.filter_column, parse_lookup_id, raw)
            value = self.filter_names.get(lookup_id) if lookup_id else None
        else:
            value = _in_column(self.filter_column, _clean_full, None if raw is None else str(raw))
        # Match on the whole value; store it cut to a displayable length.
        passes = self.deal_filter.matches(value)
        return _clean(value), passes


def _clean(value: str | None) -> str | None:
    return clean_text(value, _TITLE_MAX_CHARS).text


def _clean_full(value: str | None) -> str | None:
    return clean_text(value).text


def _in_column(column: str, parse: Any, value: Any) -> Any:
    """Run a rule on a column's value; a failure names the column."""
    try:
        return parse(value)
    except CrmValueError as exc:
        if exc.column is None:
            raise type(exc)(exc.value, exc.reason, column=column) from None
        raise


def _reason_kind(exc: CrmValueError) -> str:
    return f"{type(exc).__name__} in {exc.column or 'a column'}"


def _lookup_scalar(field_name: str) -> str:
    """Return the scalar column of a lookup named either way (`LeadSource` or `LeadSourceId`)."""
    return field_name if field_name.endswith("Id") else f"{field_name}Id"


def filter_lookup(
    hook: Any, entity: CrmEntity, settings: IntegrationSettings
) -> dict[str, str] | None:
    """Return lookup id -> name when the filter field is a lookup; None for a text field.

    Creatio shows a lookup as a scalar `XxxId` column plus a navigation property
    `Xxx` (reference/creatio-api.md §3.5); the user may name either.
    """
    if not settings.filter.enabled:
        return None
    columns = hook.metadata.entity(entity.entity_set)
    name = settings.filter.field
    navigation = name if name in columns.navigation else None
    if navigation is None and name.endswith("Id") and name[:-2] in columns.navigation:
        navigation = name[:-2]
    if navigation is None:
        return None
    target_set = columns.navigation[navigation].rsplit(".", 1)[-1]
    rows = hook.read_lookup(target_set, ["Name"])
    return {str(row["Id"]).lower(): str(row.get("Name") or "") for row in rows}
