"""The pure mapping rules: CRM values in, warehouse values out, no I/O.

Each module holds one rule (DESIGN.md §4); the loader calls them per row and
quarantines a record whose value raises a `CrmValueError`.
"""

from __future__ import annotations

from roistat.rules.crm_scalars import (
    EMPTY_GUID,
    CleanedText,
    clean_text,
    parse_crm_datetime,
    parse_lookup_id,
)
from roistat.rules.deal_filter import DealFilter, compile_filter
from roistat.rules.deal_money import (
    STANDARD_REVENUE_COLUMNS,
    DealMoney,
    map_deal_money,
    parse_money,
)
from roistat.rules.paid_tracking import StatusSnapshot, history_row_needed, next_paid_at
from roistat.rules.roistat_value import RoistatKind, RoistatValue, classify_roistat_value
from roistat.rules.rule_errors import (
    CrmValueError,
    DateValueError,
    FilterPatternError,
    LookupIdError,
    MissingColumnError,
    MoneyValueError,
    RuleInputError,
    StatusGroupError,
    TextValueError,
    UnknownEntityError,
)
from roistat.rules.status_grouping import (
    StatusGroup,
    StatusGroupMatch,
    StatusGroupResolution,
    as_status_group,
    resolve_status_groups,
    status_group_for,
)

__all__ = [
    "EMPTY_GUID",
    "STANDARD_REVENUE_COLUMNS",
    "CleanedText",
    "CrmValueError",
    "DateValueError",
    "DealFilter",
    "DealMoney",
    "FilterPatternError",
    "LookupIdError",
    "MissingColumnError",
    "MoneyValueError",
    "RoistatKind",
    "RoistatValue",
    "RuleInputError",
    "StatusGroup",
    "StatusGroupError",
    "StatusGroupMatch",
    "StatusGroupResolution",
    "StatusSnapshot",
    "TextValueError",
    "UnknownEntityError",
    "as_status_group",
    "classify_roistat_value",
    "clean_text",
    "compile_filter",
    "history_row_needed",
    "map_deal_money",
    "next_paid_at",
    "parse_crm_datetime",
    "parse_lookup_id",
    "parse_money",
    "resolve_status_groups",
    "status_group_for",
]
