"""Turn OData query options into a plan: SQL to run and fields to write.

Supported: `$select`, `$filter`, `$orderby`, `$top`, `$skip`, `$count`, and a
plain `$expand` of lookups with a nested `$select`. Every answer is capped at the
row cap (20,000 by default, reference §3.3); above it the answer is silently
truncated: Creatio's behaviour there is unconfirmed, and truncation without a
next link is the one a client can least detect, so it is the one to test against.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sandbox.errors import ODataError, invalid_query, server_error, unknown_property
from sandbox.filtering import MAIN, FilterCompiler, column_sql
from sandbox.options import Quirks
from sandbox.rendering import RenderSettings, expand_sql, object_sql
from sandbox.schema import DEAL_ENTITIES, Column, Entity

SUPPORTED = frozenset({"$select", "$filter", "$orderby", "$top", "$skip", "$count", "$expand"})
_ORDER_ITEM = re.compile(r"^\s*([A-Za-z_][\w/]*)(?:\s+(asc|desc))?\s*$", re.IGNORECASE)
_EXPAND_ITEM = re.compile(r"^\s*([A-Za-z_]\w*)\s*(?:\((.*)\))?\s*$", re.DOTALL)


@dataclass
class Expand:
    nav: Column
    target: Entity
    columns: list[Column]
    explicit: bool


@dataclass
class Plan:
    entity: Entity
    columns: list[Column]
    select_text: str | None
    expands: list[Expand] = field(default_factory=list)
    where: str = ""
    params: list[object] = field(default_factory=list)
    order: str = ""
    top: int | None = None
    skip: int = 0
    count: bool = False
    extra: list[str] = field(default_factory=list)

    def select_sql(self, settings: RenderSettings) -> str:
        nested = [
            (e.nav.nav or "", expand_sql(e.nav, e.target, e.columns, MAIN, settings))
            for e in self.expands
        ]
        return ", ".join([object_sql(self.columns, MAIN, settings, nested), *self.extra])

    def rows_sql(self, limit: int, settings: RenderSettings) -> tuple[str, list[object]]:
        """SQL whose rows are (JSON object text, *extra values)."""
        select = self.select_sql(settings)
        sql = f"SELECT {select} FROM {self.entity.table} AS {MAIN}"  # noqa: S608
        if self.where:
            sql += f" WHERE {self.where}"
        if self.order:
            sql += f" ORDER BY {self.order}"
        sql += " LIMIT ? OFFSET ?"
        return sql, [*self.params, limit, self.skip]

    def count_sql(self) -> tuple[str, list[object]]:
        sql = f"SELECT COUNT(*) FROM {self.entity.table} AS {MAIN}"  # noqa: S608
        if self.where:
            sql += f" WHERE {self.where}"
        return sql, list(self.params)

    def add_extra(self, sql: str) -> int:
        """Fetch one more value per row that is not written out; return its index."""
        self.extra.append(sql)
        return len(self.extra)

    def context_projection(self) -> str:
        """The `(...)` part of `@odata.context` for this select and expand."""
        items = []
        if self.select_text is not None:
            items.extend(i.strip() for i in self.select_text.split(",") if i.strip())
        for expand in self.expands:
            inner = ",".join(c.name for c in expand.columns) if expand.explicit else ""
            items.append(f"{expand.nav.nav}({inner})")
        return f"({','.join(items)})" if items else ""


def single_options(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Collect `$` options, refusing repeats and the unsupported ones."""
    options: dict[str, str] = {}
    for key, value in pairs:
        if not key.startswith("$"):
            continue
        if key in options:
            raise invalid_query(
                f"Query option '{key}' was specified more than once, but it must be "
                "specified at most once."
            )
        if key not in SUPPORTED:
            raise ODataError(400, f"The query parameter '{key}' is not supported.")
        options[key] = value
    return options


class Planner:
    """Build plans for one request's entity set."""

    def __init__(
        self, schema: dict[str, Entity], quirks: Quirks, row_cap: int, now_ticks: int
    ) -> None:
        self.schema = schema
        self.quirks = quirks
        self.row_cap = row_cap
        self.now_ticks = now_ticks

    def plan(self, entity: Entity, options: dict[str, str], collection: bool = True) -> Plan:
        plan = self._select(entity, options.get("$select"))
        if "$expand" in options:
            self._expand(plan, options["$expand"])
        if collection:
            if options.get("$filter", "").strip():
                compiled = FilterCompiler(
                    self.schema,
                    entity,
                    clock_offset_minutes=self.quirks.clock_offset_minutes,
                    in_operator=self.quirks.in_operator,
                    node_limit=self.quirks.filter_node_limit,
                    now_ticks=self.now_ticks,
                ).compile(options["$filter"])
                plan.where, plan.params = compiled.where, compiled.params
            if "$orderby" in options:
                plan.order = self._order(entity, options["$orderby"])
            plan.top = _non_negative("$top", options.get("$top"))
            plan.skip = _non_negative("$skip", options.get("$skip")) or 0
            plan.count = _count_flag(options.get("$count"))
        if (
            self.quirks.select_all_fails
            and entity.name in DEAL_ENTITIES
            and plan.select_text in (None, "*")
        ):
            # A stand whose compiled EDM and schema disagree 500s on all-column reads.
            raise server_error(
                f"EDM instance of type '[{entity.type_name} Nullable=True]' is missing the "
                "property 'UsrObsoleteColumn'."
            )
        return plan

    def limit(self, plan: Plan) -> int:
        if plan.top is None:
            return self.row_cap
        return min(plan.top, self.row_cap)

    def _select(self, entity: Entity, text: str | None) -> Plan:
        if text is None or not text.strip() or text.strip() == "*":
            select_text = "*" if text is not None and text.strip() == "*" else None
            return Plan(entity, list(entity.columns), select_text)
        columns: list[Column] = []
        for item in (i.strip() for i in text.split(",")):
            if not item:
                raise invalid_query(f"Syntax error at position {len(text)} in '{text}'.")
            if item == "*":
                columns.extend(c for c in entity.columns if c not in columns)
                continue
            if "/" in item:
                raise invalid_query(
                    "Found a path with multiple navigation properties or a bad complex property "
                    "path in a select clause. Please reword your query such that each level of "
                    "select or expand only contains either TypeSegments or Properties. "
                    f"Bad property: '{item}'."
                )
            column = entity.by_name.get(item)
            if column is None:
                if item in entity.by_nav:
                    # Minimal metadata writes nothing for a selected navigation property.
                    continue
                raise unknown_property(item, entity.type_name)
            if column not in columns:
                columns.append(column)
        return Plan(entity, columns, text)

    def _expand(self, plan: Plan, text: str) -> None:
        for item in _split_top_level(text):
            match = _EXPAND_ITEM.match(item)
            if not match:
                raise invalid_query(f"Syntax error at position 0 in '{text}'.")
            name, inner = match.groups()
            nav = plan.entity.by_nav.get(name)
            if nav is None:
                if name in plan.entity.by_name:
                    raise invalid_query(
                        f"Property '{name}' on type '{plan.entity.type_name}' is not a navigation "
                        "property or complex property. Only navigation properties can be expanded."
                    )
                raise unknown_property(name, plan.entity.type_name)
            assert nav.target is not None
            target = self.schema[nav.target]
            nested = _nested_select(inner or "")
            columns = list(target.columns)
            if nested is not None:
                columns = [target.by_name.get(n) or _raise_unknown(n, target) for n in nested]
            plan.expands.append(Expand(nav, target, columns, nested is not None))

    def _order(self, entity: Entity, text: str) -> str:
        parts = []
        for item in text.split(","):
            match = _ORDER_ITEM.match(item)
            if not match:
                raise invalid_query(f"Syntax error at position {len(text)} in '{text}'.")
            path, direction = match.groups()
            expression = self._order_expression(entity, path.split("/"))
            parts.append(f"{expression} {'DESC' if (direction or '').lower() == 'desc' else 'ASC'}")
        return ", ".join(parts)

    def _order_expression(self, entity: Entity, segments: list[str]) -> str:
        head, rest = segments[0], segments[1:]
        column = entity.by_name.get(head)
        if column is not None:
            if rest:
                raise unknown_property(rest[0], entity.type_name)
            sql = column_sql(MAIN, column)
            return sql + (" COLLATE CI" if column.kind == "string" else "")
        nav = entity.by_nav.get(head)
        if nav is None:
            raise unknown_property(head, entity.type_name)
        if len(rest) != 1:
            raise invalid_query(
                "The $orderby expression must evaluate to a single value of primitive type."
            )
        target = self.schema[nav.target or ""]
        inner = target.by_name.get(rest[0])
        if inner is None:
            raise unknown_property(rest[0], target.type_name)
        value = column_sql("o", inner)
        return f'(SELECT {value} FROM {target.table} AS o WHERE o."Id" = {MAIN}.{nav.sql})'  # noqa: S608


def _non_negative(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    if not value.strip().isdigit():
        raise invalid_query(
            f"Invalid value '{value}' for {name} query option found. The {name} query option "
            "requires a non-negative integer value."
        )
    return int(value)


def _count_flag(value: str | None) -> bool:
    if value is None:
        return False
    if value.lower() not in ("true", "false"):
        raise invalid_query(f"'{value}' is not a valid count option.")
    return value.lower() == "true"


def _split_top_level(text: str) -> list[str]:
    items, depth, current = [], 0, ""
    for char in text:
        if char == "," and depth == 0:
            items.append(current)
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    items.append(current)
    return [item for item in items if item.strip()]


def _nested_select(inner: str) -> list[str] | None:
    selected = None
    for option in (o.strip() for o in inner.split(";") if o.strip()):
        key, _, value = option.partition("=")
        if key.strip() != "$select":
            raise ODataError(400, f"The query parameter '{key.strip()}' is not supported.")
        selected = [name.strip() for name in value.split(",") if name.strip()]
    return selected


def _raise_unknown(name: str, entity: Entity) -> Column:
    raise unknown_property(name, entity.type_name)
