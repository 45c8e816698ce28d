"""The CRM objects we read, and the columns that carry each part of a deal.

Names are Creatio's OData names (reference/creatio-api.md §5): case-sensitive,
singular entity sets, lookups read through their scalar `...Id` column.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CrmEntity:
    """One kind of deal: a lead or an order."""

    name: str  # "lead" / "order": the warehouse's `entity` value
    entity_set: str  # OData entity set
    status_set: str  # the lookup holding its statuses
    status_column: str  # scalar lookup column on the deal
    title_column: str  # what the Sent leads list shows as the deal's name
    revenue_column: str  # the standard amount used when revenue_field is empty


LEAD = CrmEntity(
    name="lead",
    entity_set="Lead",
    status_set="QualifyStatus",
    status_column="QualifyStatusId",
    title_column="LeadName",
    revenue_column="Budget",
)

ORDER = CrmEntity(
    name="order",
    entity_set="Order",
    status_set="OrderStatus",
    status_column="StatusId",
    title_column="Number",
    revenue_column="Amount",
)

ENTITIES: dict[str, CrmEntity] = {LEAD.name: LEAD, ORDER.name: ORDER}
