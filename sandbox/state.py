"""Everything one running sandbox holds: options, data, sessions, faults, quirks."""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.auth import AuthState
from sandbox.dataset import Dataset, prepare_dataset
from sandbox.faults import FaultBook
from sandbox.options import Quirks, SandboxOptions
from sandbox.schema import Entity, build_schema
from sandbox.store import Store


@dataclass
class SandboxState:
    options: SandboxOptions
    dataset: Dataset
    schema: dict[str, Entity]
    store: Store
    auth: AuthState
    faults: FaultBook
    quirks: Quirks
    startup_quirks: Quirks = field(repr=False, default_factory=Quirks)

    @classmethod
    def open(cls, options: SandboxOptions) -> SandboxState:
        """Generate or reuse the data, copy it for this run, and open it."""
        dataset = prepare_dataset(options)
        schema = build_schema(options.roistat_column)
        store = Store(dataset.db_path, schema, options.roistat_column, options.seed)
        return cls(
            options=options,
            dataset=dataset,
            schema=schema,
            store=store,
            auth=AuthState(token_lifetime=options.token_lifetime),
            faults=FaultBook(options.seed),
            quirks=options.quirks,
            startup_quirks=options.quirks,
        )

    def close(self) -> None:
        self.dataset.discard()
