"""The CRM's ``$metadata``: which entity sets exist, their columns and EDM types.

Creatio serves one EDMX document for the whole site (namespace
``Terrasoft.Configuration.OData``; every entity derives from ``BaseEntity``).
Custom columns appear with the site's prefix (``Usr`` by default), and their
OData names are case-sensitive, so a missing column is reported with the near
matches a person most likely meant (``Usrroistat`` for ``UsrRoistat``).
"""

from __future__ import annotations

import difflib
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from dataclasses import dataclass, field

from roistat.bpmonline_errors import BpmOnlineFatalError, BpmOnlineSchemaError

_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)

HOW_TO_ADD_COLUMN = (
    "To add the visit number column: open the {entity} object in the CRM's page designer, "
    'add a text column of 50 characters captioned "roistat", and publish it; its OData '
    "name gets the custom prefix (usually UsrRoistat or Usrroistat). Then set "
    "roistat_column (or the field setting that names this column) to that exact name: "
    "OData names are case-sensitive."
)


@dataclass(frozen=True)
class EntityColumns:
    """The columns of one entity set: name -> EDM type (``Edm.Guid``, ``Edm.String``...)."""

    entity_set: str
    columns: Mapping[str, str]
    navigation: Mapping[str, str] = field(default_factory=dict)

    def near_matches(self, name: str) -> list[str]:
        """Return columns a person most likely meant by ``name``, best first."""
        by_lower: dict[str, list[str]] = {}
        for column in self.columns:
            by_lower.setdefault(column.lower(), []).append(column)

        exact_but_case = [c for c in by_lower.get(name.lower(), []) if c != name]
        close = difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.75)
        similar = [c for key in close for c in by_lower[key] if c != name]
        return list(dict.fromkeys(exact_but_case + similar))


class ODataMetadata:
    """Entity sets and their columns, parsed from an EDMX document."""

    def __init__(self, entity_sets: Mapping[str, EntityColumns]) -> None:
        self._sets = dict(entity_sets)

    @classmethod
    def parse(cls, xml_text: str | bytes) -> ODataMetadata:
        """Parse Creatio's EDMX; inherited properties (``BaseType``) are resolved."""
        raw = xml_text if isinstance(xml_text, bytes) else xml_text.encode()
        if _DTD.search(raw):
            # EDMX never needs a DTD; refusing one shuts out entity-expansion tricks.
            raise BpmOnlineFatalError(
                "the CRM's $metadata carries a DTD; refusing to parse it", reason="DTD"
            )
        try:
            root = ElementTree.fromstring(xml_text)
        except ElementTree.ParseError as exc:
            raise BpmOnlineFatalError(
                f"the CRM's $metadata is not valid XML: {exc}", reason="bad XML"
            ) from None

        types: dict[str, tuple[str | None, dict[str, str], dict[str, str]]] = {}
        set_types: dict[str, str] = {}
        for schema in _children(root, "Schema", deep=True):
            namespace = schema.get("Namespace", "")
            alias = schema.get("Alias")
            for entity in _children(schema, "EntityType"):
                props = {
                    p.get("Name", ""): p.get("Type", "") for p in _children(entity, "Property")
                }
                nav = {
                    p.get("Name", ""): p.get("Type", "")
                    for p in _children(entity, "NavigationProperty")
                }
                entry = (entity.get("BaseType"), props, nav)
                types[f"{namespace}.{entity.get('Name')}"] = entry
                if alias:
                    types[f"{alias}.{entity.get('Name')}"] = entry
            for container in _children(schema, "EntityContainer"):
                for entity_set in _children(container, "EntitySet"):
                    set_types[entity_set.get("Name", "")] = entity_set.get("EntityType", "")

        return cls(
            {name: _resolve(name, type_name, types) for name, type_name in set_types.items()}
        )

    @property
    def entity_sets(self) -> list[str]:
        return sorted(self._sets)

    def __contains__(self, entity_set: object) -> bool:
        return entity_set in self._sets

    def entity(self, entity_set: str) -> EntityColumns:
        """Return the columns of ``entity_set``, or raise naming the sets it might be."""
        try:
            return self._sets[entity_set]
        except KeyError:
            near = difflib.get_close_matches(entity_set, list(self._sets), n=3, cutoff=0.6)
            hint = f"; did you mean {_quote_all(near)}?" if near else ""
            raise BpmOnlineSchemaError(
                f"the CRM has no entity set {entity_set!r}{hint} Entity set names are case-sensitive "
                "(Lead, Order); the team edition of bpm'online has Lead only"
            ) from None

    def check_columns(self, entity_set: str, required: Mapping[str, str]) -> None:
        """Raise `BpmOnlineSchemaError` naming every required column the entity lacks.

        ``required`` maps a column name to what it is for, e.g.
        ``{"UsrRoistat": "roistat_column (the visit number)"}``.
        """
        entity = self.entity(entity_set)
        problems = []
        for column, purpose in required.items():
            if column in entity.columns:
                continue
            near = entity.near_matches(column)
            hint = f"; did you mean {_quote_all(near)}?" if near else "; no similar column exists."
            problems.append(f"{entity_set} has no column {column!r} (needed for {purpose}){hint}")
        if problems:
            raise BpmOnlineSchemaError(
                " ".join(problems) + " " + HOW_TO_ADD_COLUMN.format(entity=entity_set)
            )


def _resolve(
    set_name: str,
    type_name: str,
    types: Mapping[str, tuple[str | None, dict[str, str], dict[str, str]]],
) -> EntityColumns:
    columns: dict[str, str] = {}
    navigation: dict[str, str] = {}
    seen: set[str] = set()
    chain = []
    while type_name and type_name in types and type_name not in seen:
        seen.add(type_name)
        chain.append(types[type_name])
        type_name = types[type_name][0] or ""
    for _, props, nav in reversed(chain):  # base first, so a subtype may override
        columns.update(props)
        navigation.update(nav)
    return EntityColumns(set_name, columns, navigation)


def _children(
    element: ElementTree.Element, local_name: str, *, deep: bool = False
) -> list[ElementTree.Element]:
    candidates = element.iter() if deep else list(element)
    return [child for child in candidates if child.tag.rsplit("}", 1)[-1] == local_name]


def _quote_all(names: list[str]) -> str:
    return " or ".join(repr(name) for name in names)
