"""Unit paths and successions: segment-aware "under", parent, the successor walk."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, MetaData, Table, Text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY

from services.reports.domain import rollup_to
from shared.units import ancestors, is_under, parent, successors, under, unit_ref

pytestmark = pytest.mark.unit


def test_a_path_lists_its_units_root_first_and_names_its_parent() -> None:
    assert ancestors("52.21787.VHXH") == ["52", "21787", "VHXH"]
    assert parent("52.21787.VHXH") == "21787"
    assert parent("52.21787") == "52"
    assert parent("52") is None


def test_under_is_segment_aware() -> None:
    assert is_under("52.21787", "52")
    assert is_under("52.21787", "21787")
    assert not is_under("521.21787", "52")  # a code that merely starts the same way
    assert not is_under("52.217870", "21787")
    assert not is_under("52", "52.21787")


def test_under_in_sql_compares_whole_codes_with_an_indexable_expression() -> None:
    table = Table("t", MetaData(), Column("unit_path", Text), Column("ancestors", ARRAY(Text)))
    text_sql = str(under(table.c.unit_path, "52").compile(dialect=postgresql.dialect()))
    array_sql = str(under(table.c.ancestors, "52").compile(dialect=postgresql.dialect()))
    # the separator is a literal, so the expression equals the one the GIN index is built on
    assert text_sql.startswith("string_to_array(t.unit_path, '.') @> CAST(")
    assert array_sql.startswith("t.ancestors @> CAST(")


def test_the_successor_walk_follows_default_links_and_stops_at_a_cycle() -> None:
    assert list(successors("A", {"A": "B", "B": "C"})) == ["A", "B", "C"]
    assert list(successors("A", {"A": "B", "B": "A"})) == ["A", "B"]
    assert list(successors("X", {})) == ["X"]


def test_a_body_of_a_merged_commune_rolls_up_to_the_commune_that_took_it_over() -> None:
    paths = {"old": "52.old", "new": "52.new", "old-VHXH": "52.old.old-VHXH"}
    assert rollup_to("old-VHXH", paths=paths, successor={"old": "new"}) == ["52", "old", "new", "old-VHXH"]


def test_a_unit_ref_is_read_from_a_row_by_prefix() -> None:
    row = {"unit_code": "21787", "unit_path": "52.21787", "unit_name": "Xã Vĩnh Sơn", "parent_code": "52"}
    assert unit_ref(row).model_dump(exclude_none=True) == {"code": "21787", "path": "52.21787", "name": "Xã Vĩnh Sơn"}
    assert unit_ref({"parent_code": "52", "parent_path": None}, prefix="parent_").path == "52"
