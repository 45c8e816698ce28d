"""Every value in the bad-input corpus gets its written outcome: parsed, classified or rejected."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from roistat.rules import (
    CrmValueError,
    FilterPatternError,
    classify_roistat_value,
    clean_text,
    compile_filter,
    parse_crm_datetime,
    parse_lookup_id,
    parse_money,
)

CORPUS = Path(__file__).parents[2] / "data" / "bad_values.jsonl"


def _load() -> list[dict[str, Any]]:
    with CORPUS.open(encoding="utf-8") as lines:
        # As the hook reads Creatio's JSON: fractions and exponents as Decimal.
        return [json.loads(line, parse_float=Decimal) for line in lines if line.strip()]


CASES = _load()


def _repeat(case: dict[str, Any], key: str) -> Any:
    if f"{key}_repeat" in case:
        text, times = case[f"{key}_repeat"]
        return text * times
    return case[key]


def _run(case: dict[str, Any]) -> Any:
    raw = _repeat(case, "input")
    rule = case["rule"]
    if rule == "money":
        return parse_money(raw)
    if rule == "roistat":
        return classify_roistat_value(raw)
    if rule == "date":
        return parse_crm_datetime(raw)
    if rule == "lookup":
        return parse_lookup_id(raw)
    if rule == "text":
        return clean_text(raw, case.get("max_len"))
    if rule == "filter":
        return compile_filter(raw)
    raise AssertionError(f"unknown rule {rule!r} in {case['id']}")


def test_corpus_is_broad_enough() -> None:
    ids = [case["id"] for case in CASES]
    per_rule = Counter(case["rule"] for case in CASES)
    per_outcome = Counter(case["expect"] for case in CASES)

    assert len(CASES) >= 70
    assert len(set(ids)) == len(ids)
    assert all(case["id"].startswith(f"{case['rule']}-") for case in CASES)
    assert min(per_rule[rule] for rule in ("money", "roistat", "date", "lookup", "text")) >= 10
    assert per_outcome["rejected"] >= 30


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_corpus_case(case: dict[str, Any]) -> None:
    if case["expect"] == "rejected":
        error = FilterPatternError if case["rule"] == "filter" else CrmValueError
        with pytest.raises(error) as caught:
            _run(case)
        assert case["reason"] in str(caught.value)
        return

    result = _run(case)
    rule = case["rule"]
    if case["expect"] == "classified":
        assert result.kind == case["kind"]
        assert result.visit_id == case.get("visit_id")
        assert result.marker == case.get("marker")
    elif rule == "money":
        assert (None if result is None else str(result)) == case["value"]
    elif rule == "date":
        assert result.isoformat() == case["value"]
    elif rule == "lookup":
        assert result == case["value"]
    elif rule == "text":
        assert result.text == _repeat(case, "value")
        assert len(result.notes) == len(case["notes"])
        assert all(want in got for want, got in zip(case["notes"], result.notes, strict=True))
    elif rule == "filter":
        assert {text: result.matches(text) for text in case["matches"]} == case["matches"]
    else:
        raise AssertionError(f"no check for a parsed {rule!r} value in {case['id']}")
