"""Generated data: deterministic by seed, and holding every case DESIGN.md §4 names."""

from __future__ import annotations

import csv
import re
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from sandbox.catalog import EMPTY_GUID, LEAD_SOURCES, ORDER_STATUSES, QUALIFY_STATUSES
from sandbox.dataset import prepare_dataset
from sandbox.generate import VISITS_HEADER, generate, visits_path_for
from sandbox.options import DEFAULT_UNTIL, SandboxOptions
from sandbox.ticks import TICKS_PER_DAY, to_ticks
from sandbox.vocabulary import JUNK_VALUES, OFFLINE_MARKERS


def _rows(path: Path, table: str) -> list[dict]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid')]  # noqa: S608
    finally:
        conn.close()


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset large enough that every kind of value shows up."""
    path = tmp_path_factory.mktemp("gen") / "big.sqlite"
    generate(SandboxOptions(leads=3000, orders=2000, seed=11), path)
    return path


def test_same_seed_gives_identical_data(tmp_path: Path) -> None:
    options = SandboxOptions(leads=150, orders=100, seed=3)
    generate(options, tmp_path / "a.sqlite")
    generate(options, tmp_path / "b.sqlite")

    for table in ("Lead", "Order", "QualifyStatus"):
        assert _rows(tmp_path / "a.sqlite", table) == _rows(tmp_path / "b.sqlite", table)
    visits_a = visits_path_for(tmp_path / "a.sqlite").read_bytes()
    assert visits_a == visits_path_for(tmp_path / "b.sqlite").read_bytes()


def test_other_seed_gives_other_data(tmp_path: Path) -> None:
    generate(SandboxOptions(leads=150, orders=100, seed=3), tmp_path / "a.sqlite")
    generate(SandboxOptions(leads=150, orders=100, seed=4), tmp_path / "b.sqlite")

    ids_a = {r["Id"] for r in _rows(tmp_path / "a.sqlite", "Lead")}
    ids_b = {r["Id"] for r in _rows(tmp_path / "b.sqlite", "Lead")}
    assert ids_a.isdisjoint(ids_b)


def test_cache_is_reused_and_runs_get_private_copies(tmp_path: Path) -> None:
    options = SandboxOptions(leads=40, orders=20, seed=2, data_dir=tmp_path)

    first = prepare_dataset(options)
    second = prepare_dataset(options)

    assert first.generation_seconds is not None
    assert second.generation_seconds is None
    assert first.pristine_path == second.pristine_path
    assert first.pristine_path.name.startswith("sandbox-")
    assert first.db_path != second.db_path
    first.discard()
    second.discard()
    assert not first.db_path.exists()
    assert first.pristine_path.exists()


def test_cache_key_follows_the_parameters() -> None:
    base = SandboxOptions(leads=10, orders=10, seed=1)
    keys = {
        base.dataset_key(),
        SandboxOptions(leads=10, orders=10, seed=2).dataset_key(),
        SandboxOptions(leads=11, orders=10, seed=1).dataset_key(),
        SandboxOptions(leads=10, orders=10, seed=1, roistat_column="Usrroistat").dataset_key(),
    }
    assert len(keys) == 4
    assert SandboxOptions(leads=10, orders=10, seed=1, user="x").dataset_key() in keys


def test_roistat_values_cover_every_kind(big: Path) -> None:
    values = [r["UsrRoistat"] for r in _rows(big, "Lead")] + [
        r["UsrRoistat"] for r in _rows(big, "Order")
    ]
    kinds = Counter(_kind(v) for v in values)

    assert kinds["visit"] > len(values) / 2
    for kind in ("spaced", "dashed", "nocookie", "empty", "marker", "junk"):
        assert kinds[kind] > 0, kind
    assert set(OFFLINE_MARKERS) & set(values)
    assert set(JUNK_VALUES) & set(values)
    assert any(len(v) >= 45 for v in values)
    assert all(len(v) <= 50 for v in values)


def _kind(value: str) -> str:
    if re.fullmatch(r"\d+", value):
        return "visit"
    if re.fullmatch(r"\s*\d+(?:[ \u00a0]\d+)*\s*", value):
        return "spaced"
    if re.fullmatch(r"\d+(?:-\d+)+", value):
        return "dashed"
    if value == "nocookie":
        return "nocookie"
    if value == "":
        return "empty"
    if value in OFFLINE_MARKERS:
        return "marker"
    return "junk"


def test_visits_file_covers_most_but_not_all_visits(big: Path) -> None:
    with open(visits_path_for(big), encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        visits = {int(row[0]): row for row in reader}
    referenced = {
        int(re.sub(r"[\s\-]", "", r["UsrRoistat"]))
        for table in ("Lead", "Order")
        for r in _rows(big, table)
        if re.fullmatch(r"[\d\s\-\u00a0]+", r["UsrRoistat"] or "-")
        and re.sub(r"[\s\-]", "", r["UsrRoistat"])
    }

    assert tuple(header) == VISITS_HEADER
    known = referenced & set(visits)
    assert 0.85 < len(known) / len(referenced) < 0.99
    markers = {row[2] for row in visits.values()}
    assert {
        "google_cpc_brand",
        "yandex_direct_search",
        "vk_target",
        "seo_google",
        "direct",
    } <= markers
    assert all(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z", r[1]) for r in visits.values()
    )


def test_money_is_mostly_set_sometimes_blank_now_and_then_zero(big: Path) -> None:
    leads, orders = _rows(big, "Lead"), _rows(big, "Order")
    budgets = Counter(
        "blank" if r["Budget"] is None else "zero" if r["Budget"] == "0.00" else "set"
        for r in leads
    )
    costs = Counter(
        (r["UsrFirstCost"] is not None, r["UsrProfit"] is not None)
        for r in orders
        if r["Amount"] not in (None, "0.00")
    )

    assert budgets["set"] > budgets["blank"] > budgets["zero"] > 0
    assert all(re.fullmatch(r"\d+\.\d\d", r["Budget"]) for r in leads if r["Budget"])
    assert costs[(True, True)] and costs[(True, False)] and costs[(False, True)]
    assert costs[(False, False)]


def test_standard_lookups_and_empty_lookups(big: Path) -> None:
    leads, orders = _rows(big, "Lead"), _rows(big, "Order")

    assert {r["QualifyStatusId"] for r in leads} <= {s.id for s in QUALIFY_STATUSES}
    assert {r["StatusId"] for r in orders} == {s.id for s in ORDER_STATUSES}
    sources = Counter(r["LeadSourceId"] for r in leads)
    assert sources[None] and sources[EMPTY_GUID]
    assert set(sources) - {None, EMPTY_GUID} <= {s[0] for s in LEAD_SOURCES}


def test_titles_are_cyrillic_and_latin(big: Path) -> None:
    names = [r["LeadName"] for r in _rows(big, "Lead")]
    numbers = [r["Number"] for r in _rows(big, "Order")]

    assert any(re.search("[А-Яа-я]", n) for n in names)
    assert any(re.fullmatch(r"[A-Za-z' ]+( [A-Za-z]+)* / [A-Za-z'í]+", n) for n in names)
    assert all(" / " in n for n in names)
    assert len(set(numbers)) == len(numbers)
    assert all(re.fullmatch(r"ORD-\d+", n) for n in numbers)


def test_burst_of_rows_sharing_one_modified_on(big: Path) -> None:
    stamps = Counter(r["ModifiedOn"] for r in _rows(big, "Lead"))
    (burst, size), (_, runner_up) = stamps.most_common(2)

    assert size == 600
    assert burst % 10_000_000 == 0
    assert runner_up < 5


def test_timestamps_are_ordered_and_within_two_years(big: Path) -> None:
    until = to_ticks(DEFAULT_UNTIL)
    for table in ("Lead", "Order"):
        rows = _rows(big, table)
        assert all(r["CreatedOn"] <= r["ModifiedOn"] < until for r in rows)
        assert min(r["CreatedOn"] for r in rows) >= until - 730 * TICKS_PER_DAY - 10_000
        assert any(r["ModifiedOn"] % 10_000 for r in rows)
        assert any(r["ModifiedOn"] % 10_000 == 0 for r in rows)


def test_money_typed_into_a_text_column_in_every_format(big: Path) -> None:
    values = {r["UsrRevenueText"] for r in _rows(big, "Order")} | {
        r["UsrRevenueText"] for r in _rows(big, "Lead")
    }

    assert "" in values
    assert any(re.fullmatch(r"\d{1,3}( \d{3})+,\d\d", v) for v in values)
    assert any(re.fullmatch(r"\d{1,3}(\u00a0\d{3})+,\d\d", v) for v in values)
    assert any(re.fullmatch(r"\d{1,3}(,\d{3})+\.\d\d", v) for v in values)
    assert any(re.fullmatch(r"\d+\.\d\d", v) for v in values)
    assert any(re.fullmatch(r"\d+", v) for v in values)
