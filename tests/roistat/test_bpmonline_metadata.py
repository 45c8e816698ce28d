"""$metadata: columns and types, missing-column errors with near matches, the UI test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bpmonline_fixtures import make_hook, odata_requests, sandbox_with_connection, set_connection

from roistat.bpmonline_errors import BpmOnlineFatalError, BpmOnlineSchemaError
from roistat.bpmonline_metadata import ODataMetadata
from sandbox.testing import RunningSandbox

ROISTAT_PURPOSE = "roistat_column (the visit number)"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    # The designer named the column "Usrroistat", not the default "UsrRoistat".
    with sandbox_with_connection(
        tmp_path_factory, leads=30, orders=20, roistat_column="Usrroistat"
    ) as sb:
        yield sb


@pytest.fixture
def sb(shared: RunningSandbox) -> Iterator[RunningSandbox]:
    shared.admin.reset()
    yield shared


def test_entity_columns_and_their_edm_types(sb):
    with make_hook() as hook:
        columns = hook.get_entity_columns("Lead")
    assert columns["Id"] == "Edm.Guid"
    assert columns["ModifiedOn"] == "Edm.DateTimeOffset"
    assert columns["Budget"] == "Edm.Decimal"
    assert columns["QualifyStatusId"] == "Edm.Guid"
    assert columns["Usrroistat"] == "Edm.String"


def test_metadata_is_read_once_per_hook(sb):
    with make_hook() as hook:
        hook.get_entity_columns("Lead")
        hook.check_columns("Order", {"Amount": "revenue"})
        list(hook.iter_rows("Lead", ["LeadName"], page_size=100))
    assert sum(r["path"].endswith("/$metadata") for r in odata_requests(sb)) == 1


def test_present_columns_pass(sb):
    with make_hook() as hook:
        hook.check_columns("Lead", {"Usrroistat": ROISTAT_PURPOSE, "Budget": "revenue"})


@pytest.mark.parametrize(
    "wrong", [pytest.param("UsrRoistat", id="case"), pytest.param("UsrRoistt", id="typo")]
)
def test_missing_column_names_entity_column_near_match_and_how_to_add_it(sb, wrong):
    with pytest.raises(BpmOnlineSchemaError) as caught, make_hook() as hook:
        hook.check_columns("Lead", {wrong: ROISTAT_PURPOSE})
    text = str(caught.value)
    assert f"Lead has no column '{wrong}'" in text
    assert ROISTAT_PURPOSE in text
    assert "did you mean 'Usrroistat'" in text
    assert "page designer" in text and "50 characters" in text and "publish" in text
    assert "roistat_column" in text


def test_every_missing_column_is_reported_at_once(sb):
    with pytest.raises(BpmOnlineSchemaError) as caught, make_hook() as hook:
        hook.check_columns("Order", {"UsrRoistat": ROISTAT_PURPOSE, "UsrMargin": "profit_field"})
    text = str(caught.value)
    assert "'UsrRoistat'" in text and "'UsrMargin'" in text and "no similar column" in text


def test_unknown_entity_suggests_the_right_one(sb):
    with pytest.raises(BpmOnlineSchemaError, match="did you mean 'Lead'"), make_hook() as hook:
        hook.check_columns("lead", {"Id": "key"})


def test_connection_test_reports_the_missing_roistat_column_with_a_near_match(sb):
    ok, message = make_hook().test_connection()
    assert not ok
    assert "Lead.UsrRoistat: MISSING (did you mean Usrroistat?)" in message


def test_connection_test_passes_with_the_configured_column(sb, monkeypatch):
    set_connection(monkeypatch, sb, roistat_column="Usrroistat")
    ok, message = make_hook().test_connection()
    assert ok, message
    assert "Lead.Usrroistat: found" in message and "Order.Usrroistat: found" in message
    assert sb.admin.counters()["counters"]["logouts"] == 1


def test_connection_test_never_raises_and_hides_the_password(sb, monkeypatch):
    set_connection(monkeypatch, sb, password="Wrong-Secret-99")
    ok, message = make_hook().test_connection()
    assert not ok
    assert "refused the login" in message and "Wrong-Secret-99" not in message


def test_connection_test_on_a_missing_connection_reports_it(sb):
    ok, message = make_hook("bpmonline_nowhere").test_connection()
    assert not ok and "bpmonline_nowhere" in message


# -- EDMX parsing without a server ----------------------------------------------------

EDMX = """<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
<edmx:DataServices>
<Schema Namespace="Terrasoft.Configuration.OData" Alias="T" xmlns="http://docs.oasis-open.org/odata/ns/edm">
<EntityType Name="BaseEntity" Abstract="true">
  <Key><PropertyRef Name="Id" /></Key>
  <Property Name="Id" Type="Edm.Guid" Nullable="false" />
  <Property Name="ModifiedOn" Type="Edm.DateTimeOffset" />
</EntityType>
<EntityType Name="Lead" BaseType="T.BaseEntity">
  <Property Name="Budget" Type="Edm.Decimal" />
  <Property Name="QualifyStatusId" Type="Edm.Guid" />
  <NavigationProperty Name="QualifyStatus" Type="Terrasoft.Configuration.OData.QualifyStatus" />
</EntityType>
<EntityContainer Name="Default">
  <EntitySet Name="Lead" EntityType="Terrasoft.Configuration.OData.Lead" />
</EntityContainer>
</Schema>
</edmx:DataServices>
</edmx:Edmx>"""


def test_inherited_columns_are_resolved():
    lead = ODataMetadata.parse(EDMX).entity("Lead")
    assert lead.columns == {
        "Id": "Edm.Guid",
        "ModifiedOn": "Edm.DateTimeOffset",
        "Budget": "Edm.Decimal",
        "QualifyStatusId": "Edm.Guid",
    }
    assert lead.navigation == {"QualifyStatus": "Terrasoft.Configuration.OData.QualifyStatus"}


def test_a_document_type_definition_is_refused():
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    with pytest.raises(BpmOnlineFatalError, match="DTD"):
        ODataMetadata.parse(bomb)


def test_broken_xml_is_a_clear_error():
    with pytest.raises(BpmOnlineFatalError, match="not valid XML"):
        ODataMetadata.parse("<edmx:Edmx")
