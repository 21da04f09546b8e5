"""The short way for plain leaf fields (resolvers/execution.py) answers exactly as
graphql-core's own execution does: same data, same errors at the same paths, and it
steps aside for every field that is not a plain attribute leaf and for a schema
extension that wraps every resolver."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any, ClassVar

import pytest
import strawberry
from graphql import ExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from resolvers.authz import DENY, guarded
from resolvers.execution import PLAIN_LEAF, PlainLeavesExecution, mark_plain_leaves


@strawberry.enum
class Kind(Enum):
    STORE = "STORE"
    WAREHOUSE = "WAREHOUSE"


@strawberry.type
class Level:
    name: str
    on_hand: int | None
    kind: Kind
    ratio: float | None = None
    broken_count: int | None = None  # holds a value Int cannot represent
    missing: str = ""  # non-null, but some objects hold None

    @strawberry.field
    def doubled(self) -> int | None:
        return None if self.on_hand is None else 2 * self.on_hand

    @strawberry.field
    def padded(self, width: int) -> str:
        return self.name.ljust(width)

    @strawberry.field(extensions=[guarded(anonymous=DENY)])
    def guarded_name(self) -> str:
        return self.name


LEVELS = [
    Level(name="Utrecht", on_hand=4, kind=Kind.STORE, ratio=0.5),
    Level(name="Tilburg", on_hand=None, kind=Kind.WAREHOUSE),
    Level(name="Zwolle", on_hand=1, kind=Kind.STORE, broken_count="many"),  # type: ignore[arg-type]
    Level(name="Breda", on_hand=2, kind=Kind.STORE, missing=None),  # type: ignore[arg-type]
]


@strawberry.type
class Query:
    @strawberry.field
    def levels(self) -> list[Level]:
        return LEVELS


def schema(
    context_class: type[StrawberryGraphQLCoreExecutionContext],
    extensions: list[type[SchemaExtension]] | None = None,
) -> strawberry.Schema:
    built = strawberry.Schema(
        query=Query, execution_context_class=context_class, extensions=extensions or []
    )
    mark_plain_leaves(built._schema)
    return built


def run(built: strawberry.Schema, query: str) -> ExecutionResult:
    return built.execute_sync(query)


def same(one: ExecutionResult, other: ExecutionResult) -> None:
    assert one.data == other.data
    assert [(e.message, e.path) for e in one.errors or []] == [
        (e.message, e.path) for e in other.errors or []
    ]


PLAIN = schema(PlainLeavesExecution)
USUAL = schema(StrawberryGraphQLCoreExecutionContext)


def test_marks_attribute_leaves_only() -> None:
    fields = PLAIN._schema.type_map["Level"].fields  # type: ignore[union-attr]
    marked = {name for name, field in fields.items() if PLAIN_LEAF in field.extensions}
    assert marked == {"name", "onHand", "kind", "ratio", "brokenCount", "missing"}


def test_scalars_enums_and_nulls_answer_as_graphql_core_does() -> None:
    query = "{ levels { name onHand kind ratio doubled padded(width: 9) } }"
    result = run(PLAIN, query)
    assert not result.errors
    assert result.data == {
        "levels": [
            {"name": "Utrecht", "onHand": 4, "kind": "STORE", "ratio": 0.5, "doubled": 8,
             "padded": "Utrecht  "},
            {"name": "Tilburg", "onHand": None, "kind": "WAREHOUSE", "ratio": None,
             "doubled": None, "padded": "Tilburg  "},
            {"name": "Zwolle", "onHand": 1, "kind": "STORE", "ratio": None, "doubled": 2,
             "padded": "Zwolle   "},
            {"name": "Breda", "onHand": 2, "kind": "STORE", "ratio": None, "doubled": 4,
             "padded": "Breda    "},
        ]
    }  # fmt: skip
    same(result, run(USUAL, query))


def test_a_value_its_scalar_cannot_represent_is_the_same_field_error() -> None:
    query = "{ levels { name brokenCount } }"
    result = run(PLAIN, query)
    assert result.errors
    assert result.errors[0].path == ["levels", 2, "brokenCount"]
    assert result.data
    assert result.data["levels"][2] == {"name": "Zwolle", "brokenCount": None}
    same(result, run(USUAL, query))


def test_null_in_a_non_null_leaf_nulls_the_parent_with_the_same_error() -> None:
    query = "{ levels { name missing } }"
    result = run(PLAIN, query)
    assert result.errors
    assert result.errors[0].message == "Cannot return null for non-nullable field Level.missing."
    assert result.errors[0].path == ["levels", 3, "missing"]
    same(result, run(USUAL, query))


class SeesEveryField(SchemaExtension):
    """A schema extension with a resolve hook: it must see plain leaves too."""

    seen: ClassVar[list[str]] = []

    def resolve(
        self, _next: Callable[..., Any], root: Any, info: Any, *args: Any, **kwargs: Any
    ) -> Any:
        SeesEveryField.seen.append(info.field_name)
        return _next(root, info, *args, **kwargs)


@pytest.fixture
def seen() -> list[str]:
    SeesEveryField.seen = []
    return SeesEveryField.seen


def test_a_schema_extension_with_a_resolve_hook_still_sees_every_leaf(seen: list[str]) -> None:
    wrapped = schema(PlainLeavesExecution, [SeesEveryField])
    result = run(wrapped, "{ levels { name onHand } }")
    assert not result.errors
    assert seen.count("name") == len(LEVELS)
    assert seen.count("onHand") == len(LEVELS)
