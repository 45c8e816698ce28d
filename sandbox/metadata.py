"""The OData service document and the `$metadata` EDMX (reference §3.1).

Every column is listed with its EDM type, custom `Usr` columns included, so a
client can check its configured roistat column against the schema.
"""

from __future__ import annotations

import json
from xml.sax.saxutils import quoteattr

from sandbox.schema import NAMESPACE, Entity

EDMX_CONTENT_TYPE = "application/xml; charset=utf-8"

# Precision and scale of Creatio's Money columns.
_DECIMAL_FACETS = ' Precision="18" Scale="2"'


def service_document(base_url: str, schema: dict[str, Entity]) -> bytes:
    body = {
        "@odata.context": f"{base_url}/$metadata",
        "value": [{"name": name, "kind": "EntitySet", "url": name} for name in sorted(schema)],
    }
    return json.dumps(body, separators=(",", ":")).encode()


def edmx(schema: dict[str, Entity]) -> bytes:
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">',
        "<edmx:DataServices>",
        f'<Schema Namespace="{NAMESPACE}" xmlns="http://docs.oasis-open.org/odata/ns/edm">',
    ]
    for entity in schema.values():
        lines.extend(_entity_type(entity))
    lines.append('<EntityContainer Name="Default">')
    for entity in schema.values():
        lines.append(f'<EntitySet Name="{entity.name}" EntityType="{entity.type_name}">')
        for column in entity.columns:
            if column.nav:
                lines.append(
                    f'<NavigationPropertyBinding Path="{column.nav}" Target="{column.target}" />'
                )
        lines.append("</EntitySet>")
    lines.extend(["</EntityContainer>", "</Schema>", "</edmx:DataServices>", "</edmx:Edmx>"])
    return "\n".join(lines).encode()


def _entity_type(entity: Entity) -> list[str]:
    lines = [
        f'<EntityType Name="{entity.name}">',
        '<Key><PropertyRef Name="Id" /></Key>',
    ]
    for column in entity.columns:
        facets = ""
        if column.max_length:
            facets = f' MaxLength="{column.max_length}"'
        elif column.kind == "money":
            facets = _DECIMAL_FACETS
        nullable = ' Nullable="false"' if column.name == "Id" else ""
        lines.append(
            f'<Property Name={quoteattr(column.name)} Type="{column.edm_type}"{nullable}{facets} />'
        )
    for column in entity.columns:
        if column.nav:
            lines.append(
                f'<NavigationProperty Name="{column.nav}" Type="{NAMESPACE}.{column.target}" />'
            )
    lines.append("</EntityType>")
    return lines
