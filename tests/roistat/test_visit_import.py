from __future__ import annotations

import json

import psycopg
import pytest

from roistat.visit_import import VisitFileError, load_visits

HEADER = "visit_id,visit_date,marker,utm_source,utm_medium,utm_campaign,landing_page\n"


def _visits(url):
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select visit_id, visit_date::text, marker, utm_source from roistat.visit order by 1"
        ).fetchall()


def test_csv_then_changed_csv(warehouse_url, tmp_path):
    path = tmp_path / "visits.csv"
    path.write_text(
        HEADER
        + "101,2025-01-02T10:00:00Z,google_cpc_brand,google,cpc,brand,/\n"
        + "102,,direct,,,,\n"
    )
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        assert load_visits(conn, path) == {"read": 2, "written": 2}
        assert load_visits(conn, path) == {"read": 2, "written": 0}
        path.write_text(HEADER + "102,,seo_google,google,organic,,\n")
        assert load_visits(conn, path) == {"read": 1, "written": 1}
    assert _visits(warehouse_url) == [
        (101, "2025-01-02 10:00:00+00", "google_cpc_brand", "google"),
        (102, None, "seo_google", "google"),
    ]


def test_json_lines(warehouse_url, tmp_path):
    path = tmp_path / "visits.jsonl"
    path.write_text(json.dumps({"visit_id": 7, "marker": "vk_target", "extra": 1}) + "\n\n")
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        load_visits(conn, path)
    assert _visits(warehouse_url) == [(7, None, "vk_target", None)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(
            HEADER + "101,,a,,,,\nabc,,b,,,,\n", r"visits.csv:3: visit_id 'abc'", id="not-a-number"
        ),
        pytest.param(HEADER + "0,,a,,,,\n", "not a positive visit number", id="zero"),
        pytest.param(
            HEADER + "99999999999999999999,,a,,,,\n",
            "not a positive visit number",
            id="over-bigint",
        ),
        pytest.param(HEADER + "5,yesterday,a,,,,\n", "visit_date 'yesterday'", id="bad-date"),
        pytest.param("id,marker\n1,a\n", "must name a visit_id column", id="no-header"),
        pytest.param(HEADER + "5,,a\x00b,,,,\n", "NUL", id="nul"),
    ],
)
def test_bad_file_names_the_line_and_loads_nothing(warehouse_url, tmp_path, content, message):
    path = tmp_path / "visits.csv"
    path.write_text(content)
    with (
        psycopg.connect(warehouse_url, autocommit=True) as conn,
        pytest.raises(VisitFileError, match=message),
    ):
        load_visits(conn, path)
    assert _visits(warehouse_url) == []
