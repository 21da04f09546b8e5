"""DESIGN, Closed vocabularies: statuses, states, tiers, purposes, kinds, methods and the
systems are enums with one spelling each; every type, field and argument says what it
is. A new field that breaks either fails here, with its name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    get_named_type,
)
from pydantic import ValidationError

from adapters.config import LOYALTY_TIERS, PosConfig
from resolvers.graphql.schema import build_schema

SCHEMA = build_schema()._schema
#: names that hold a closed vocabulary wherever they appear
CLOSED = {"status", "state", "tier", "purpose", "kind", "method", "system", "source", "action"}
#: fields and arguments named like one whose values are open, and why
OPEN = {
    "Recommendation.reason": "a sentence for the shopper",
    "ReturnLine.reason": "NAV's return reason codes: the retailer's own list",
    "RegisterReturnInput.reason": "NAV's return reason codes: the retailer's own list",
    "ErasureStep.retailerAction": "a sentence: what the retailer must do",
    "HeldRecord.retailerAction": "a sentence: what the retailer must do",
}
BUILT_IN = {"String", "Int", "Float", "Boolean", "ID"}


def _ours() -> Iterator[tuple[str, GraphQLNamedType]]:
    """The schema's own types: not GraphQL's, introspection's or federation's."""
    for name, named in sorted(SCHEMA.type_map.items()):
        if name in BUILT_IN or name.startswith(("_", "link__")):
            continue
        yield name, named


def _members() -> Iterator[tuple[str, str | None, str]]:
    """``(path, description, named type)`` of every field, argument and input field."""
    for name, named in _ours():
        if not isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            continue
        for field_name, field in named.fields.items():
            if field_name.startswith("_"):
                continue
            path = f"{name}.{field_name}"
            yield path, field.description, get_named_type(field.type).name
            for argument_name, argument in getattr(field, "args", {}).items():
                yield (
                    f"{path}({argument_name})",
                    argument.description,
                    get_named_type(argument.type).name,
                )


def test_every_type_field_and_argument_is_described() -> None:
    undescribed = [name for name, named in _ours() if not named.description]
    undescribed += [path for path, description, _ in _members() if not description]
    assert undescribed == []


def test_no_closed_vocabulary_is_a_string() -> None:
    def last_word(path: str) -> str:
        name = path.rsplit("(", 1)[-1].rstrip(")") if "(" in path else path.rsplit(".", 1)[1]
        return "".join(" " + c.lower() if c.isupper() else c for c in name).split()[-1]

    strings = [
        path
        for path, _, named in _members()
        if named in ("String", "ID") and last_word(path) in CLOSED | {"reason"} and path not in OPEN
    ]
    assert strings == []


def test_each_word_has_one_spelling() -> None:
    values = {
        value
        for _, named in _ours()
        if isinstance(named, GraphQLEnumType)
        for value in named.values
    }
    assert "CANCELLED" in values
    assert "CANCELED" not in values


def test_the_open_exceptions_are_still_there() -> None:
    """An exception for a field that is gone would hide a new one of the same name."""
    paths = {path for path, _, _ in _members()}
    assert set(OPEN) <= paths


def test_the_tiers_the_settings_accept_are_the_schemas() -> None:
    """A tier the schema cannot name is refused where the retailer configures it."""
    tiers = SCHEMA.type_map["LoyaltyTier"]
    assert isinstance(tiers, GraphQLEnumType)
    assert list(tiers.values) == list(LOYALTY_TIERS)
    with pytest.raises(ValidationError, match="unknown loyalty tier DIAMOND"):
        PosConfig(url="http://pos.invalid", tier_thresholds={"GOLD": 7000, "DIAMOND": 9000})
