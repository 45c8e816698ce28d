"""Translate an OData `$filter` into parameterized SQLite SQL, as Creatio judges it.

The text is parsed by the `odata-query` package's lexer and parser; this module
walks the tree, checks types the way ODataLib does, and emits SQL in which every
value is a bound parameter. Identifiers come only from the schema.

Creatio's rules it reproduces (reference §3.3–§3.5):
- DateTimeOffset and Guid literals are unquoted; a quoted one is a type error (400);
- a lookup is filtered through its navigation path, `QualifyStatus/Id eq <guid>`;
  the scalar `QualifyStatusId` in a filter type-checks but fails with a 500;
- `Nav eq null` finds rows without the lookup; `Nav/Id eq null` finds nothing,
  because the path is an inner join;
- more than 100 nodes in the tree is refused, so are unknown properties.
Strings compare case-insensitively, as on Creatio's usual `_CI_` SQL collation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

from odata_query import ast
from odata_query import exceptions as odata_errors
from odata_query.grammar import ODataLexer, ODataParser

from sandbox.catalog import EMPTY_GUID
from sandbox.errors import (
    ODataError,
    incompatible_types,
    invalid_query,
    lookup_scalar_in_filter,
    unknown_property,
)
from sandbox.schema import Column, Entity
from sandbox.ticks import TICKS_PER_MINUTE, parse_iso_ticks

BOOLEAN = "Edm.Boolean"
NULL = "null"
NUMERIC = frozenset({"Edm.Int32", "Edm.Int64", "Edm.Decimal", "Edm.Double"})
MAIN = "m"

_COMPARATORS = {
    ast.Eq: "=",
    ast.NotEq: "<>",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Lt: "<",
    ast.LtE: "<=",
}
_STRING_PREDICATES = {
    "contains": "ci_contains",
    "startswith": "ci_startswith",
    "endswith": "ci_endswith",
}
_DATE_PARTS = ("year", "month", "day", "hour", "minute", "second")


@dataclass(frozen=True)
class DecimalLiteral(ast.Float):
    """A number written with the `M` suffix (`1500.5M`): an Edm.Decimal."""


@dataclass(frozen=True)
class Join:
    alias: str
    table: str
    on: str


@dataclass(frozen=True)
class Operand:
    sql: str
    params: tuple[object, ...]
    edm: str
    joins: tuple[Join, ...] = ()
    # A bare navigation property (`QualifyStatus`): only `eq/ne null` apply.
    nav: Column | None = None


@dataclass(frozen=True)
class Compiled:
    where: str
    params: list[object]


def column_sql(alias: str, column: Column) -> str:
    """The SQL value of a column as filters compare it."""
    if column.kind == "money":
        # Money is kept as exact text; comparisons need its numeric value.
        return f"CAST({alias}.{column.sql} AS REAL)"
    return f"{alias}.{column.sql}"


def parse_filter(text: str) -> ast._Node:
    """Parse `$filter` text into the odata-query AST, or raise a 400."""
    try:
        return ODataParser().parse(_tokens(text))
    except odata_errors.TokenizingException as error:
        token = error.token
        char = str(token.value)[:1]
        if char == "'":
            raise invalid_query(
                f"There is an unterminated string literal at position {len(text)} in '{text}'."
            ) from error
        raise invalid_query(
            f"Syntax error: character '{char}' is not valid at position {token.index} in '{text}'."
        ) from error
    except odata_errors.UnknownFunctionException as error:
        raise invalid_query(
            f"An unknown function with name '{error.function_name}' was found. This may also "
            "be a function import or a key lookup on a navigation property, which is not allowed."
        ) from error
    except odata_errors.ArgumentCountException as error:
        raise invalid_query(_no_signature(error.function_name)) from error
    except odata_errors.ODataSyntaxError as error:
        position = len(text)
        token = getattr(error, "token", None)
        if token is not None:
            position = token.index
        raise invalid_query(f"Syntax error at position {position} in '{text}'.") from error
    except odata_errors.ODataException as error:
        raise invalid_query(str(error)) from error


def _tokens(text: str) -> Iterator[object]:
    # ODataLib also takes the OData 3 decimal suffix `1500.5M`; odata-query lexes
    # it as a number followed by an identifier `M`, so the two are merged here.
    previous = None
    for token in ODataLexer().tokenize(text):
        if (
            previous is not None
            and token.type == "ODATA_IDENTIFIER"
            and token.value.name in ("M", "m")
            and not token.value.namespace
            and previous.type in ("DECIMAL", "INTEGER")
            and token.index == previous.index + len(previous.value.val)
        ):
            previous.type = "DECIMAL"
            previous.value = DecimalLiteral(previous.value.val)
            continue
        if previous is not None:
            yield previous
        previous = token
    if previous is not None:
        yield previous


def count_nodes(node: object) -> int:
    """Count tree nodes the way the node limit counts them: every AST object."""
    if isinstance(node, list | tuple):
        return sum(count_nodes(item) for item in node)
    if not dataclasses.is_dataclass(node):
        return 0
    return 1 + sum(count_nodes(getattr(node, f.name)) for f in dataclasses.fields(node))


class FilterCompiler:
    """Compile one `$filter` against one entity set."""

    def __init__(
        self,
        schema: dict[str, Entity],
        entity: Entity,
        *,
        clock_offset_minutes: int = 0,
        in_operator: bool = True,
        node_limit: int = 100,
        now_ticks: int = 0,
    ) -> None:
        self.schema = schema
        self.entity = entity
        self.offset_ticks = clock_offset_minutes * TICKS_PER_MINUTE
        self.in_operator = in_operator
        self.node_limit = node_limit
        self.now_ticks = now_ticks
        self._aliases = 0
        self._lookup_scalar: str | None = None
        self._text = ""

    def compile(self, text: str) -> Compiled:
        self._text = text
        tree = parse_filter(text)
        if count_nodes(tree) > self.node_limit:
            raise invalid_query(
                f"The node count limit of '{self.node_limit}' has been exceeded. To increase "
                "the limit, set the 'MaxNodeCount' property on EnableQueryAttribute or "
                "ODataValidationSettings."
            )
        result = self._expr(tree)
        if result.edm != BOOLEAN:
            raise invalid_query("The $filter expression must evaluate to a single boolean value.")
        result = self._wrap_joins(result)
        # Type checks pass first; the scalar lookup fails only when executed.
        if self._lookup_scalar:
            raise lookup_scalar_in_filter(self._lookup_scalar, self.entity.name)
        return Compiled(result.sql, list(result.params))

    # --- expressions -------------------------------------------------------

    def _expr(self, node: ast._Node) -> Operand:
        if isinstance(node, ast.BoolOp):
            return self._bool_op(node)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.Identifier | ast.Attribute):
            return self._path(node)
        if isinstance(node, ast._Literal):
            return self._literal(node)
        if isinstance(node, ast.BinOp):
            raise invalid_query("Arithmetic operators are not supported by this sandbox.")
        raise invalid_query(f"Syntax error at position 0 in '{self._text}'.")

    def _bool_op(self, node: ast.BoolOp) -> Operand:
        left = self._predicate(node.left)
        right = self._predicate(node.right)
        word = "AND" if isinstance(node.op, ast.And) else "OR"
        return Operand(f"({left.sql} {word} {right.sql})", left.params + right.params, BOOLEAN)

    def _unary(self, node: ast.UnaryOp) -> Operand:
        if isinstance(node.op, ast.Not):
            inner = self._predicate(node.operand)
            # NOT over SQL NULL is NULL; OData's `not` of an unknown is false too.
            return Operand(f"(NOT {inner.sql})", inner.params, BOOLEAN)
        inner = self._expr(node.operand)
        if inner.edm not in NUMERIC:
            raise invalid_query(f"Operator 'Negate' incompatible with operand type '{inner.edm}'.")
        return Operand(f"(-{inner.sql})", inner.params, inner.edm, inner.joins)

    def _predicate(self, node: ast._Node) -> Operand:
        operand = self._expr(node)
        if operand.edm != BOOLEAN:
            raise invalid_query(
                f"The operand of a logical operator must be 'Edm.Boolean', found '{operand.edm}'."
            )
        return self._wrap_joins(operand)

    def _compare(self, node: ast.Compare) -> Operand:
        operator = type(node.comparator).__name__
        if isinstance(node.comparator, ast.In):
            return self._in(node)
        left = self._expr(node.left)
        right = self._expr(node.right)

        if left.nav or right.nav:
            return self._nav_null(left, right, node.comparator, operator)
        if not _compatible(left.edm, right.edm):
            raise incompatible_types(left.edm, right.edm, operator)

        joins = left.joins + right.joins
        if right.edm == NULL or left.edm == NULL:
            value = left if right.edm == NULL else right
            if value.edm == NULL:
                result = "1" if isinstance(node.comparator, ast.Eq) else "0"
                return Operand(result, (), BOOLEAN)
            test = "IS NULL" if isinstance(node.comparator, ast.Eq) else "IS NOT NULL"
            if not isinstance(node.comparator, ast.Eq | ast.NotEq):
                # Ordering against null is never true.
                return Operand("0", (), BOOLEAN)
            return self._wrap_joins(Operand(f"({value.sql} {test})", value.params, BOOLEAN, joins))

        sql_operator = _COMPARATORS[type(node.comparator)]
        collate = " COLLATE CI" if left.edm == "Edm.String" else ""
        predicate = f"({left.sql} {sql_operator} {right.sql}{collate})"
        return self._wrap_joins(Operand(predicate, left.params + right.params, BOOLEAN, joins))

    def _in(self, node: ast.Compare) -> Operand:
        if not self.in_operator:
            position = max(0, self._text.find(" in "))
            raise invalid_query(f"Syntax error at position {position} in '{self._text}'.")
        left = self._expr(node.left)
        items = [self._expr(item) for item in node.right.val]
        for item in items:
            if not _compatible(left.edm, item.edm):
                raise incompatible_types(left.edm, item.edm, "In")
        params = left.params + tuple(p for item in items for p in item.params)
        marks = ", ".join(item.sql for item in items)
        collate = " COLLATE CI" if left.edm == "Edm.String" else ""
        predicate = f"({left.sql}{collate} IN ({marks}))"
        return self._wrap_joins(Operand(predicate, params, BOOLEAN, left.joins))

    def _nav_null(
        self, left: Operand, right: Operand, comparator: ast._Comparator, operator: str
    ) -> Operand:
        nav, other = (left, right) if left.nav else (right, left)
        if other.edm != NULL or not isinstance(comparator, ast.Eq | ast.NotEq):
            raise incompatible_types(left.edm, right.edm, operator)
        column = nav.nav
        assert column is not None and column.target is not None
        target = self.schema[column.target]
        # No lookup: NULL, the all-zero GUID, or an id whose row is gone.
        missing = (
            f"({nav.sql} IS NULL OR {nav.sql} = ? OR NOT EXISTS "  # noqa: S608 - schema names
            f'(SELECT 1 FROM {target.table} AS x WHERE x."Id" = {nav.sql}))'
        )
        params = (EMPTY_GUID,)
        if isinstance(comparator, ast.NotEq):
            missing = f"(NOT {missing})"
        return self._wrap_joins(Operand(missing, params, BOOLEAN, nav.joins))

    def _call(self, node: ast.Call) -> Operand:
        name = node.func.name
        args = [self._expr(arg) for arg in node.args]
        joins = tuple(join for arg in args for join in arg.joins)
        params = tuple(p for arg in args for p in arg.params)
        if name in _STRING_PREDICATES:
            self._expect(name, args, ["Edm.String", "Edm.String"])
            sql = f"({_STRING_PREDICATES[name]}({args[0].sql}, {args[1].sql}) = 1)"
            return Operand(sql, params, BOOLEAN, joins)
        if name in ("tolower", "toupper", "trim"):
            self._expect(name, args, ["Edm.String"])
            function = {"tolower": "py_lower", "toupper": "py_upper", "trim": "trim"}[name]
            return Operand(f"{function}({args[0].sql})", params, "Edm.String", joins)
        if name == "length":
            self._expect(name, args, ["Edm.String"])
            return Operand(f"length({args[0].sql})", params, "Edm.Int32", joins)
        if name in _DATE_PARTS:
            self._expect(name, args, ["Edm.DateTimeOffset"])
            sql = f"date_part({args[0].sql}, ?, '{name}')"
            return Operand(sql, (*params, self.offset_ticks), "Edm.Int32", joins)
        if name == "now":
            return Operand("?", (self.now_ticks,), "Edm.DateTimeOffset")
        raise invalid_query(f"The function '{name}' is not supported by this sandbox.")

    def _expect(self, name: str, args: list[Operand], types: list[str]) -> None:
        for arg, wanted in zip(args, types, strict=True):
            if arg.edm not in (wanted, NULL):
                raise invalid_query(_no_signature(name, types))

    # --- properties and literals -------------------------------------------

    def _path(self, node: ast.Identifier | ast.Attribute) -> Operand:
        segments = _segments(node)
        entity = self.entity
        alias = MAIN
        joins: tuple[Join, ...] = ()
        for index, segment in enumerate(segments):
            last = index == len(segments) - 1
            column = entity.by_name.get(segment)
            nav = entity.by_nav.get(segment)
            if column is None and nav is None:
                raise _unknown(segment, entity)
            if column is not None:
                if not last:
                    raise invalid_query(
                        f"Found a path with multiple navigation properties or a bad complex "
                        f"property path in a select clause. Please reword your query such "
                        f"that each level of select or expand only contains either "
                        f"TypeSegments or Properties. Bad property: '{segment}'."
                    )
                if column.kind == "lookup":
                    self._lookup_scalar = self._lookup_scalar or column.name
                return Operand(column_sql(alias, column), (), column.edm_type, joins)
            assert nav is not None and nav.target is not None
            target = self.schema[nav.target]
            if last:
                return Operand(f"{alias}.{nav.sql}", (), target.type_name, joins, nav=nav)
            self._aliases += 1
            child = f"n{self._aliases}"
            on = f'{child}."Id" = {alias}.{nav.sql}'
            joins = (*joins, Join(child, target.table, on))
            entity, alias = target, child
        raise AssertionError("unreachable")

    def _literal(self, node: ast._Literal) -> Operand:
        if isinstance(node, ast.Null):
            return Operand("NULL", (), NULL)
        if isinstance(node, ast.String):
            return Operand("?", (node.val,), "Edm.String")
        if isinstance(node, ast.GUID):
            return Operand("?", (node.val.lower(),), "Edm.Guid")
        if isinstance(node, ast.DateTime):
            try:
                ticks = parse_iso_ticks(node.val)
            except ValueError as error:
                raise invalid_query(f"Syntax error at position 0 in '{self._text}'.") from error
            # A stand that labels local time `Z` also reads filter literals as local.
            return Operand("?", (ticks - self.offset_ticks,), "Edm.DateTimeOffset")
        if isinstance(node, ast.Boolean):
            return Operand("?", (int(node.py_val),), BOOLEAN)
        if isinstance(node, ast.Integer):
            value = int(node.val)
            edm = "Edm.Int32" if -(2**31) <= value < 2**31 else "Edm.Int64"
            return Operand("?", (value,), edm)
        if isinstance(node, DecimalLiteral):
            return Operand("?", (float(node.val),), "Edm.Decimal")
        if isinstance(node, ast.Float):
            edm = "Edm.Double" if "e" in node.val.lower() else "Edm.Decimal"
            return Operand("?", (float(node.val),), edm)
        edm = {
            ast.Date: "Edm.Date",
            ast.Time: "Edm.TimeOfDay",
            ast.Duration: "Edm.Duration",
        }.get(type(node))
        if edm is None:
            raise invalid_query(f"Unsupported literal in '{self._text}'.")
        # Kept only for the type check: no Creatio column has these types.
        return Operand("?", (None,), edm)

    def _wrap_joins(self, operand: Operand) -> Operand:
        """Turn a predicate over navigation paths into an inner-join EXISTS."""
        if not operand.joins:
            return operand
        tables = ", ".join(f"{join.table} AS {join.alias}" for join in operand.joins)
        conditions = " AND ".join(join.on for join in operand.joins)
        sql = f"EXISTS (SELECT 1 FROM {tables} WHERE {conditions} AND {operand.sql})"  # noqa: S608
        return Operand(sql, operand.params, BOOLEAN)


def _segments(node: ast.Identifier | ast.Attribute) -> list[str]:
    if isinstance(node, ast.Identifier):
        return [*node.namespace, node.name] if node.namespace else [node.name]
    owner = node.owner
    assert isinstance(owner, ast.Identifier | ast.Attribute)
    return [*_segments(owner), node.attr]


def _compatible(left: str, right: str) -> bool:
    if NULL in (left, right) or left == right:
        return True
    return left in NUMERIC and right in NUMERIC


def _unknown(name: str, entity: Entity) -> ODataError:
    return unknown_property(name, entity.type_name)


def _no_signature(name: str, types: list[str] | None = None) -> str:
    signature = ", ".join(f"{t} Nullable=true" for t in (types or []))
    return (
        f"No function signature for the function with name '{name}' matches the specified "
        f"arguments. The function signatures considered are: {name}({signature})."
    )
