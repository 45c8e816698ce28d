"""The objects the sandbox serves: entity sets, their columns and EDM types.

One table per entity set, one SQLite column per OData property, same names. How a
kind is stored:
- `datetime`: INTEGER, 100 ns ticks since the Unix epoch (7 fractional digits, as
  Creatio writes them, and exact `+1 tick` arithmetic);
- `money`: TEXT holding the decimal exactly ("1500.00"), never a float;
- `guid` and `lookup`: TEXT, lower-case; an empty lookup is NULL (or, in a few
  imported rows, the all-zero GUID).
"""

from __future__ import annotations

from dataclasses import dataclass, field

NAMESPACE = "Terrasoft.Configuration.OData"

EDM_TYPES = {
    "guid": "Edm.Guid",
    "lookup": "Edm.Guid",
    "datetime": "Edm.DateTimeOffset",
    "string": "Edm.String",
    "money": "Edm.Decimal",
    "int": "Edm.Int32",
    "bool": "Edm.Boolean",
}
SQL_TYPES = {
    "guid": "TEXT",
    "lookup": "TEXT",
    "datetime": "INTEGER",
    "string": "TEXT",
    "money": "TEXT",
    "int": "INTEGER",
    "bool": "INTEGER",
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    max_length: int | None = None
    # For lookups: the navigation property and the entity set it points to.
    nav: str | None = None
    target: str | None = None

    @property
    def edm_type(self) -> str:
        return EDM_TYPES[self.kind]

    @property
    def sql(self) -> str:
        """The quoted SQL identifier; names come from this schema only."""
        return f'"{self.name}"'


@dataclass(frozen=True)
class Entity:
    name: str
    columns: tuple[Column, ...]
    by_name: dict[str, Column] = field(init=False, repr=False, compare=False)
    by_nav: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {c.name: c for c in self.columns})
        object.__setattr__(self, "by_nav", {c.nav: c for c in self.columns if c.nav})

    @property
    def type_name(self) -> str:
        return f"{NAMESPACE}.{self.name}"

    @property
    def table(self) -> str:
        # "Order" is an SQL keyword: identifiers are always quoted.
        return f'"{self.name}"'


def _base_columns() -> list[Column]:
    # Every Creatio object derives from BaseEntity (reference §3.1).
    return [
        Column("Id", "guid"),
        Column("CreatedOn", "datetime"),
        Column("CreatedById", "lookup", nav="CreatedBy", target="Contact"),
        Column("ModifiedOn", "datetime"),
        Column("ModifiedById", "lookup", nav="ModifiedBy", target="Contact"),
        Column("ProcessListeners", "int"),
    ]


def _text(name: str, length: int = 250) -> Column:
    return Column(name, "string", max_length=length)


def build_schema(roistat_column: str = "UsrRoistat") -> dict[str, Entity]:
    """Return the entity sets by name, with the roistat column named as configured."""
    roistat = _text(roistat_column, 50)
    brand = _text("UsrBrand", 250)
    # A money amount kept in a text column, typed by hand ("1 234,56"): sites
    # that added their revenue field as text (DESIGN.md §4).
    revenue_text = _text("UsrRevenueText", 50)
    entities = [
        Entity(
            "Contact",
            (*_base_columns(), _text("Name"), _text("Email")),
        ),
        Entity(
            "QualifyStatus",
            (
                *_base_columns(),
                _text("Name"),
                _text("Description"),
                Column("StageNumber", "int"),
                Column("IsDisplayed", "bool"),
                Column("IsFinal", "bool"),
                Column("Successful", "bool"),
            ),
        ),
        Entity(
            "OrderStatus",
            (
                *_base_columns(),
                _text("Name"),
                _text("Description"),
                Column("Position", "int"),
                Column("FinalStatus", "bool"),
            ),
        ),
        Entity(
            "LeadMedium",
            (*_base_columns(), _text("Name"), _text("Description")),
        ),
        Entity(
            "LeadSource",
            (
                *_base_columns(),
                _text("Name"),
                _text("Description"),
                Column("LeadMediumId", "lookup", nav="LeadMedium", target="LeadMedium"),
            ),
        ),
        Entity(
            "Lead",
            (
                *_base_columns(),
                _text("LeadName", 500),
                Column("QualifyStatusId", "lookup", nav="QualifyStatus", target="QualifyStatus"),
                Column("Budget", "money"),
                Column("LeadSourceId", "lookup", nav="LeadSource", target="LeadSource"),
                Column("LeadMediumId", "lookup", nav="LeadMedium", target="LeadMedium"),
                Column("OwnerId", "lookup", nav="Owner", target="Contact"),
                _text("Contact"),
                _text("Account"),
                _text("Email"),
                _text("MobilePhone"),
                roistat,
                brand,
                revenue_text,
            ),
        ),
        Entity(
            "Order",
            (
                *_base_columns(),
                _text("Number"),
                Column("Date", "datetime"),
                Column("StatusId", "lookup", nav="Status", target="OrderStatus"),
                Column("Amount", "money"),
                Column("PaymentAmount", "money"),
                Column("PrimaryAmount", "money"),
                Column("OwnerId", "lookup", nav="Owner", target="Contact"),
                _text("Comment", 500),
                roistat,
                Column("UsrFirstCost", "money"),
                Column("UsrProfit", "money"),
                brand,
                revenue_text,
            ),
        ),
    ]
    return {entity.name: entity for entity in entities}


# The deal objects; the rest are lookups.
DEAL_ENTITIES = ("Lead", "Order")
STATUS_LOOKUPS = {
    "Lead": ("QualifyStatus", "QualifyStatusId"),
    "Order": ("OrderStatus", "StatusId"),
}


def create_table_sql(entity: Entity) -> str:
    columns = ", ".join(
        f"{c.sql} {SQL_TYPES[c.kind]}{' NOT NULL' if c.name == 'Id' else ''}"
        for c in entity.columns
    )
    return f"CREATE TABLE {entity.table} ({columns})"


def create_index_sql(entity: Entity) -> list[str]:
    # The unique key is built after loading, which is far faster than keeping a
    # primary key index up to date through a million random GUID inserts.
    # Keyset paging reads `ModifiedOn, Id` in order; CreatedOn for clients that
    # page by creation date (reference §3.3).
    name = entity.name.lower()
    return [
        f'CREATE UNIQUE INDEX "ix_{name}_id" ON {entity.table} ("Id")',
        f'CREATE INDEX "ix_{name}_modified" ON {entity.table} ("ModifiedOn", "Id")',
        f'CREATE INDEX "ix_{name}_created" ON {entity.table} ("CreatedOn", "Id")',
    ]
