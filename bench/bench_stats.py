"""Repeated timings, their medians and spread, the targets, and the printed table."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Series:
    """One measurement repeated: the rows each repetition moved and its seconds."""

    name: str
    rows: int = 0
    seconds: list[float] = field(default_factory=list)
    extra: dict[str, list[float]] = field(default_factory=dict)

    def add(self, seconds: float, rows: int, **extra: float) -> None:
        """Record one repetition; every repetition must move the same rows."""
        if self.seconds and rows != self.rows:
            raise AssertionError(f"{self.name}: {rows} rows now, {self.rows} before")
        self.rows = rows
        self.seconds.append(seconds)
        for key, value in extra.items():
            self.extra.setdefault(key, []).append(value)

    @property
    def median_seconds(self) -> float:
        return statistics.median(self.seconds)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.median_seconds if self.median_seconds else 0.0

    def spread(self) -> tuple[float, float]:
        """The slowest and the fastest repetition, in rows per second."""
        return self.rows / max(self.seconds), self.rows / min(self.seconds)

    def median(self, key: str) -> float:
        return statistics.median(self.extra[key])

    def as_dict(self) -> dict[str, Any]:
        slowest, fastest = self.spread()
        return {
            "rows": self.rows,
            "repetitions": len(self.seconds),
            "seconds": [round(s, 3) for s in self.seconds],
            "median_seconds": round(self.median_seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
            "rows_per_second_min": round(slowest, 1),
            "rows_per_second_max": round(fastest, 1),
            "spread": round(relative_spread(self.seconds), 3),
            **{
                key: {"values": values, "median": statistics.median(values)}
                for key, values in self.extra.items()
            },
        }


def relative_spread(values: list[float]) -> float:
    """(max - min) / median: 0.10 means the repetitions lay within 10 % of the median."""
    middle = statistics.median(values)
    return (max(values) - min(values)) / middle if middle else 0.0


def target(value: float | None, limit: float, *, at_least: bool) -> dict[str, Any]:
    """A target as results.json keeps it; `value` None means it was not measured."""
    if value is None:
        return {"value": None, "limit": limit, "holds": None}
    holds = value >= limit if at_least else value <= limit
    return {"value": round(value, 4), "limit": limit, "holds": holds}


def format_table(results: dict[str, Any]) -> str:
    """The readable summary of a run: figures, ratios and targets."""
    m = results["measurements"]
    machine = results["machine"]
    lines = [
        f"roistat-bpmonline pipeline benchmark: {results['leads']:,} leads + "
        f"{results['orders']:,} orders, {results['repetitions']} repetition(s), "
        f"page size {results['page_size']}, {results['seconds']:.0f} s in all",
        f"machine: {machine['cpus']} cores, load average {machine['load_start']} at start, "
        f"{machine['load_end']} at end; warehouse: {results['warehouse']}",
    ]
    sandbox = results["sandbox"]
    if sandbox:
        lines.append(
            f"sandbox serving: {_rate(sandbox['serving_rows_per_second'])} (the raw fetch's "
            f"request time), 1,000-row page median {sandbox['page_median_ms']:.1f} ms, "
            f"p95 {sandbox['page_p95_ms']:.1f} ms"
        )
    lines += ["", f"  {'measurement':44} {'median':>15} {'slowest-fastest':>22} {'spread':>7}"]

    def row(label: str, key: str, note: str = "", seconds: bool = False) -> None:
        data = m.get(key)
        if data is None:
            lines.append(f"  {label:44} {'not run':>15}  {note}".rstrip())
            return
        if seconds:
            values = data["seconds"]
            median = f"{data['median_seconds']:.1f} s"
            spread = f"{min(values):.1f}-{max(values):.1f} s"
            note = note or f"{data['rows']:,} rows read"
        else:
            median = _rate(data["rows_per_second"])
            spread = f"{_num(data['rows_per_second_min'])}-{_num(data['rows_per_second_max'])}"
        lines.append(
            f"  {label:44} {median:>15} {spread:>22} {data['spread']:>6.0%}  {note}".rstrip()
        )

    ratios = results["ratios"]
    row("1 raw fetch (requests + json.loads)", "raw_fetch")
    row(
        "2 extract (BpmOnlineHook.iter_rows)",
        "extract",
        _ratio(ratios, "extract_vs_raw_fetch", "1"),
    )
    row(
        "  extract + DealMapper.map (info)",
        "extract_and_map",
        _ratio(ratios, "extract_and_map_vs_raw_fetch", "1"),
    )
    row("3 raw COPY into an unindexed table", "raw_copy")
    row("  raw COPY of preformatted text (info)", "raw_copy_text")
    row(
        "4 load into an empty table (DealLoader)",
        "load_empty",
        _ratio(ratios, "load_empty_vs_raw_copy", "3"),
    )
    row(
        "  load again, 1% of rows changed",
        "load_changed",
        _ratio(ratios, "load_changed_vs_raw_copy", "3"),
    )
    row("5 end to end: full sync, both entities", "sync_full")
    row("  end to end at N/10", "sync_full_small")
    row("6 incremental after 1% changed", "sync_incremental", seconds=True)
    row("  first one after the full sync (info)", "sync_incremental_first", seconds=True)
    row("7 dlt rest_api -> postgres, merge on Id", "dlt", results.get("dlt_note", ""))

    memory = results["memory"]
    if memory["peak_mib_n"] and memory["peak_mib_n10"]:
        lines += [
            "",
            f"  peak RSS of the sync process: {memory['peak_mib_n']:.0f} MiB at N, "
            f"{memory['peak_mib_n10']:.0f} MiB at N/10 (after imports: "
            f"{memory['baseline_mib_n']:.0f} / {memory['baseline_mib_n10']:.0f} MiB)",
        ]
    if m.get("dlt") and "peak_rss_mib" in m["dlt"]:
        lines.append(f"  peak RSS of the dlt process: {m['dlt']['peak_rss_mib']['median']:.0f} MiB")
    lines += ["", "  targets"]
    for name, t in results["targets"].items():
        label, sign = TARGET_LABELS[name]
        value = "n/a" if t["value"] is None else f"{t['value']:.3f}"
        verdict = {True: "holds", False: "DOES NOT HOLD", None: "not measured"}[t["holds"]]
        lines.append(f"    {label:36} {value:>8} {sign} {t['limit']:<5} {verdict}")
    return "\n".join(lines)


TARGET_LABELS = {
    "extract_vs_raw_fetch": ("extract / raw fetch", ">="),
    "load_empty_vs_raw_copy": ("load into empty / raw COPY", ">="),
    "peak_memory_n_vs_n10": ("peak memory at N / at N/10", "<="),
    "incremental_vs_full_sync": ("incremental time / full sync time", "<="),
    "end_to_end_vs_dlt": ("end to end rows/s / dlt rows/s", ">="),
}


def _cpu(measurements: dict[str, Any], key: str) -> str:
    """This process's CPU time per row: what the client itself spends."""
    data = measurements.get(key)
    if not data or "cpu_seconds" not in data:
        return ""
    return f"client CPU {data['cpu_seconds']['median'] / data['rows'] * 1e6:.1f} us/row"


def _ratio(ratios: dict[str, float | None], key: str, of: str) -> str:
    value = ratios.get(key)
    return "" if value is None else f"{value:.2f} of ({of})"


def _num(value: float) -> str:
    return f"{value:,.0f}"


def _rate(value: float) -> str:
    return f"{value:,.0f} rows/s"
