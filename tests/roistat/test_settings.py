from __future__ import annotations

import json

import pytest

from roistat.errors import SettingsError
from roistat.settings import (
    DEFAULT_SETTINGS_FILE,
    IntegrationSettings,
    load_settings,
    load_settings_file,
    parse_settings,
)


def _error(raw) -> str:
    with pytest.raises(SettingsError) as info:
        parse_settings(raw, source="test")
    return str(info.value)


def test_defaults_are_the_designs():
    s = parse_settings({}, source="test")
    assert s.bpmonline_conn_id == "bpmonline_default"
    assert s.warehouse_conn_id == "roistat_warehouse"
    assert s.entities == ["lead", "order"]
    assert s.roistat_column == "UsrRoistat"
    assert s.status_groups == {}
    assert (s.revenue_field, s.first_cost_field, s.profit_field) == (None, None, None)
    assert not s.filter.enabled
    assert s.lookback_hours == 24
    assert s.page_size == 1000


def test_none_document_means_defaults():
    assert parse_settings(None, source="empty file") == IntegrationSettings()


def test_shipped_example_file_is_valid():
    s = load_settings_file(DEFAULT_SETTINGS_FILE)
    assert s.entities == ["lead", "order"]
    assert "d790a45d-03ff-4ddb-9dea-8087722c582c" in s.status_groups["processing"]
    assert s.column_for("first_cost_field", "order") == "UsrFirstCost"
    assert s.column_for("first_cost_field", "lead") is None


@pytest.mark.parametrize(
    ("raw", "key", "problem"),
    [
        pytest.param(
            {"entities": ["lead", "deal"]}, "entities.1", "'lead' or 'order'", id="entities-unknown"
        ),
        pytest.param({"entities": []}, "entities", "at least 1", id="entities-empty"),
        pytest.param({"entities": ["lead", "lead"]}, "entities", "twice", id="entities-twice"),
        pytest.param({"entities": "lead"}, "entities", "valid list", id="entities-not-list"),
        pytest.param(
            {"roistat_column": "Usr Roistat"},
            "roistat_column",
            "not a CRM column name",
            id="roistat-space",
        ),
        pytest.param(
            {"roistat_column": "UsrRoistat;drop"},
            "roistat_column",
            "not a CRM column name",
            id="roistat-semicolon",
        ),
        pytest.param(
            {"roistat_column": "Usr'x"},
            "roistat_column",
            "not a CRM column name",
            id="roistat-quote",
        ),
        pytest.param(
            {"roistat_column": "Lead/Id"},
            "roistat_column",
            "not a CRM column name",
            id="roistat-slash",
        ),
        pytest.param(
            {"roistat_column": "UsrКонтакт"}, "roistat_column", "Latin", id="roistat-cyrillic"
        ),
        pytest.param({"roistat_column": 5}, "roistat_column", "valid string", id="roistat-int"),
        pytest.param(
            {"status_groups": {"won": ["x"]}},
            "status_groups.won",
            "not_registered",
            id="groups-unknown-group",
        ),
        pytest.param(
            {"status_groups": {"paid": "x"}},
            "status_groups.paid",
            "valid list",
            id="groups-not-list",
        ),
        pytest.param(
            {"status_groups": {"paid": ["A"], "rejected": ["a"]}},
            "status_groups",
            "both paid and rejected",
            id="groups-status-twice",
        ),
        pytest.param(
            {"status_groups": {"paid": [" "]}},
            "status_groups",
            "empty status",
            id="groups-blank-status",
        ),
        pytest.param(
            {"revenue_field": "Amount;"}, "revenue_field", "not a CRM column name", id="revenue-bad"
        ),
        pytest.param(
            {"revenue_field": {"deal": "X"}},
            "revenue_field",
            "'lead' or 'order'",
            id="revenue-map-bad-entity",
        ),
        pytest.param(
            {"first_cost_field": {"order": "a b"}},
            "first_cost_field",
            "not a CRM column name",
            id="first-cost-map-bad",
        ),
        pytest.param({"profit_field": 1.5}, "profit_field", "valid", id="profit-float"),
        pytest.param(
            {"filter": {"field": "UsrBrand"}},
            "filter",
            "filter.value is missing",
            id="filter-no-value",
        ),
        pytest.param(
            {"filter": {"value": "x"}}, "filter", "filter.field is missing", id="filter-no-field"
        ),
        pytest.param(
            {"filter": {"field": "Usr Brand", "value": "x"}},
            "filter.field",
            "not a CRM column name",
            id="filter-field-bad",
        ),
        pytest.param(
            {"filter": {"field": "UsrBrand", "value": "x", "mode": "all"}},
            "filter.mode",
            "not a known key",
            id="filter-extra-key",
        ),
        pytest.param(
            {"lookback_hours": -1},
            "lookback_hours",
            "greater than or equal to 0",
            id="lookback-negative",
        ),
        pytest.param(
            {"lookback_hours": "a day"}, "lookback_hours", "valid integer", id="lookback-text"
        ),
        pytest.param({"page_size": 0}, "page_size", "greater than or equal to 1", id="page-zero"),
        pytest.param(
            {"page_size": 20001}, "page_size", "less than or equal to 20000", id="page-over-cap"
        ),
        pytest.param(
            {"bpmonline_conn_id": "bpm online"},
            "bpmonline_conn_id",
            "not an Airflow connection id",
            id="conn-id-space",
        ),
        pytest.param(
            {"warehouse_conn_id": ""},
            "warehouse_conn_id",
            "not an Airflow connection id",
            id="warehouse-empty",
        ),
        pytest.param({"page_sizes": 10}, "page_sizes", "not a known key", id="unknown-key"),
    ],
)
def test_invalid_key_is_named_with_its_problem(raw, key, problem):
    message = _error(raw)
    assert f"- {key}:" in message
    assert problem in message


def test_valid_full_settings():
    s = parse_settings(
        {
            "entities": ["lead"],
            "roistat_column": "Usrroistat",
            "status_groups": {"paid": ["0a0808c5-5415-41f0-bea3-118cc3089959", "Satisfied"]},
            "revenue_field": {"lead": "UsrRevenue", "order": "PaymentAmount"},
            "first_cost_field": "UsrFirstCost",
            "filter": {"field": "UsrBrand", "value": "^Ромашка"},
            "lookback_hours": 0,
            "page_size": 20000,
        },
        source="test",
    )
    assert s.entities == ["lead"]
    assert s.column_for("revenue_field", "order") == "PaymentAmount"
    assert s.column_for("first_cost_field", "lead") == "UsrFirstCost"
    assert s.filter.enabled and s.filter.field == "UsrBrand"


def test_not_a_mapping():
    assert "must be a mapping" in _error(["lead"])


def test_file_errors_name_the_file(tmp_path):
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("entities: [lead\n")
    with pytest.raises(SettingsError, match="bad.yaml is not valid YAML"):
        load_settings_file(bad_yaml)
    with pytest.raises(SettingsError, match="cannot read the settings file"):
        load_settings_file(tmp_path / "missing.yaml")
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("page_size: 0\n")
    with pytest.raises(SettingsError, match=r"wrong.yaml:\n  - page_size"):
        load_settings_file(wrong)


def test_variable_replaces_the_file_as_a_whole(tmp_path, monkeypatch):
    settings_file = tmp_path / "integration.yaml"
    settings_file.write_text("page_size: 50\nlookback_hours: 2\n")
    monkeypatch.setenv("ROISTAT_SETTINGS_FILE", str(settings_file))
    from_variable = load_settings(variable_json=json.dumps({"entities": ["lead"]}))
    assert from_variable.entities == ["lead"]
    # keys the Variable leaves out take defaults, not the file's values
    assert from_variable.page_size == 1000
    assert from_variable.lookback_hours == 24


def test_file_is_used_when_no_variable(tmp_path, monkeypatch):
    settings_file = tmp_path / "integration.yaml"
    settings_file.write_text("page_size: 50\n")
    monkeypatch.setenv("ROISTAT_SETTINGS_FILE", str(settings_file))
    monkeypatch.delenv("AIRFLOW_VAR_ROISTAT_INTEGRATION", raising=False)
    assert load_settings().page_size == 50


def test_variable_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("ROISTAT_SETTINGS_FILE", str(tmp_path / "absent.yaml"))
    monkeypatch.setenv("AIRFLOW_VAR_ROISTAT_INTEGRATION", json.dumps({"lookback_hours": 3}))
    assert load_settings().lookback_hours == 3


def test_variable_that_is_not_json():
    with pytest.raises(SettingsError, match="roistat_integration is not valid JSON"):
        load_settings(variable_json="{entities: [lead]")
