"""schema.graphql is the published contract: it must be exactly what the code serves."""

from __future__ import annotations

from pathlib import Path

from resolvers.graphql.schema import build_schema

CONTRACT = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_the_exported_contract_matches_the_code() -> None:
    assert CONTRACT.read_text() == build_schema().as_str() + "\n", (
        "schema.graphql is out of date: run `mosaic schema export --output schema.graphql`"
    )


def test_every_reference_operation_validates_against_the_schema() -> None:
    from graphql import parse, validate

    from gateway.operations import reference_operations

    schema = build_schema()._schema
    runnable = {
        name for name, text in reference_operations().items() if not validate(schema, parse(text))
    }
    assert {"Customer360", "ProductListing", "StockCheck"} <= runnable
