"""Write OData JSON bodies: each row's object is built by SQLite itself.

A page of 1,000 rows is produced as text by `json_object(...)` in the SELECT,
and the envelope is joined around it here. This is several times faster than
building dicts and encoding them, and it keeps money as its exact decimal text
(`1500.00` stays `1500.00`; a float would lose it). Datetimes are formatted in SQL
from ticks, seven fractional digits and `Z`, shifted by the clock quirk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring  # the C escaper; keeps non-ASCII as is

from sandbox.catalog import EMPTY_GUID
from sandbox.schema import Column, Entity

# What ASP.NET OData answers with (minimal metadata, no IEEE754 strings).
JSON_CONTENT_TYPE = (
    "application/json; odata.metadata=minimal; odata.streaming=true; "
    "IEEE754Compatible=false; charset=utf-8"
)
JSON_IEEE754_CONTENT_TYPE = JSON_CONTENT_TYPE.replace(
    "IEEE754Compatible=false", "IEEE754Compatible=true"
)
ODATA_HEADERS = {"OData-Version": "4.0"}


@dataclass(frozen=True)
class RenderSettings:
    decimals_as_strings: bool = False
    empty_lookup_null: bool = False
    offset_ticks: int = 0


def value_sql(column: Column, alias: str, settings: RenderSettings) -> str:
    """An SQL expression whose value json_object writes as Creatio writes the column."""
    ref = f"{alias}.{column.sql}"
    if column.kind == "datetime":
        if settings.offset_ticks:
            # int() keeps this a number we made, never caller text.
            ref = f"({ref} + {int(settings.offset_ticks)})"
        # SQLite's / and % truncate toward zero; a moment before 1970 needs the
        # floor (whole seconds down, the fraction counted up from there).
        fraction = f"((({ref}) % 10000000 + 10000000) % 10000000)"
        return (
            f"strftime('%Y-%m-%dT%H:%M:%S', (({ref}) - {fraction}) / 10000000, 'unixepoch')"
            f" || printf('.%07dZ', {fraction})"
        )
    if column.kind == "money":
        # json() makes the stored text a JSON number without passing through a float.
        return ref if settings.decimals_as_strings else f"json({ref})"
    if column.kind == "lookup" and not settings.empty_lookup_null:
        return f"COALESCE({ref}, '{EMPTY_GUID}')"
    if column.kind == "bool":
        return (
            f"json(CASE WHEN {ref} IS NULL THEN NULL WHEN {ref} = 0 THEN 'false' ELSE 'true' END)"
        )
    return ref


def object_sql(
    columns: Sequence[Column],
    alias: str,
    settings: RenderSettings,
    nested: Sequence[tuple[str, str]] = (),
) -> str:
    """`json_object(...)` over columns, plus (key, SQL) pairs for expanded lookups."""
    parts = [f"'{c.name}', {value_sql(c, alias, settings)}" for c in columns]
    parts += [f"'{key}', json({sql})" for key, sql in nested]
    return f"json_object({', '.join(parts)})"


def expand_sql(
    nav: Column, target: Entity, columns: Sequence[Column], alias: str, settings: RenderSettings
) -> str:
    """A correlated subquery giving the expanded lookup's object, or NULL."""
    inner = f"e_{nav.name.lower()}"
    body = object_sql(columns, inner, settings)
    return (
        f"(SELECT {body} FROM {target.table} AS {inner} "  # noqa: S608 - schema names
        f'WHERE {inner}."Id" = {alias}.{nav.sql})'
    )


def render_collection(context: str, objects: Sequence[str], count: int | None) -> bytes:
    """A collection answer: context, optional count, value. Never a next link."""
    head = '{"@odata.context":' + encode_basestring(context)
    if count is not None:
        head += f',"@odata.count":{count}'
    return (head + ',"value":[' + ",".join(objects) + "]}").encode()


def render_entity(context: str, obj: str) -> bytes:
    head = '{"@odata.context":' + encode_basestring(context)
    return (head + ("," + obj[1:] if len(obj) > 2 else "}")).encode()
