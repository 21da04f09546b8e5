"""The short way for plain fields (resolvers/engine/execution.py) answers exactly as
graphql-core's own execution does: same data, same errors at the same paths, and it
steps aside for every field that is not a plain attribute and for a schema extension
that wraps every resolver."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any, ClassVar

import pytest
import strawberry
from graphql import ExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from resolvers.engine.execution import PLAIN, PlainFieldsExecution, mark_plain_fields
from resolvers.privacy.authz import DENY, guarded


@strawberry.enum
class Kind(Enum):
    STORE = "STORE"
    WAREHOUSE = "WAREHOUSE"


@strawberry.type
class Place:
    city: str

    @strawberry.field
    async def later_city(self) -> str:
        return self.city


@strawberry.type
class Level:
    name: str
    on_hand: int | None
    kind: Kind
    ratio: float | None = None
    broken_count: int | None = None  # holds a value Int cannot represent
    missing: str = ""  # non-null, but some objects hold None
    place: Place | None = None
    places: list[Place] | None = None
    home: Place = strawberry.field(default_factory=lambda: Place(city="Ede"))

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
    Level(
        name="Utrecht",
        on_hand=4,
        kind=Kind.STORE,
        ratio=0.5,
        place=Place(city="Utrecht"),
        places=[Place(city="Zeist"), Place(city=None)],  # type: ignore[arg-type]
    ),
    Level(name="Tilburg", on_hand=None, kind=Kind.WAREHOUSE),
    Level(name="Zwolle", on_hand=1, kind=Kind.STORE, broken_count="many"),  # type: ignore[arg-type]
    Level(name="Breda", on_hand=2, kind=Kind.STORE, missing=None),  # type: ignore[arg-type]
    Level(name="Delft", on_hand=0, kind=Kind.STORE, home=None),  # type: ignore[arg-type]
]


async def later(place: Place) -> Place:
    return place


@strawberry.type
class Shelf:
    strict: list[Place]

    @strawberry.field
    def places(self) -> list[Place | None]:
        """A list's items as they may come: objects, a null, an error, an awaitable."""
        return [Place(city="Oss"), None, ValueError("lost"), later(Place(city="Ede"))]  # type: ignore[list-item]


@strawberry.type
class Query:
    @strawberry.field
    def levels(self) -> list[Level]:
        return LEVELS

    @strawberry.field
    def shelves(self) -> list[Shelf]:
        return [Shelf(strict=[Place(city="Urk"), None])]  # type: ignore[list-item]


def schema(
    context_class: type[StrawberryGraphQLCoreExecutionContext],
    extensions: list[type[SchemaExtension]] | None = None,
) -> strawberry.Schema:
    built = strawberry.Schema(
        query=Query, execution_context_class=context_class, extensions=extensions or []
    )
    mark_plain_fields(built._schema)
    return built


def run(built: strawberry.Schema, query: str) -> ExecutionResult:
    return built.execute_sync(query)


def same(one: ExecutionResult, other: ExecutionResult) -> None:
    assert one.data == other.data
    assert [(e.message, e.path) for e in one.errors or []] == [
        (e.message, e.path) for e in other.errors or []
    ]


SHORT = schema(PlainFieldsExecution)
USUAL = schema(StrawberryGraphQLCoreExecutionContext)


def marked(type_name: str) -> set[str]:
    fields = SHORT._schema.type_map[type_name].fields  # type: ignore[union-attr]
    return {name for name, field in fields.items() if PLAIN in field.extensions}


def test_marks_attributes_and_methods_of_the_object_alone() -> None:
    attributes = {"name", "onHand", "kind", "ratio", "brokenCount", "missing", "place"}
    assert marked("Level") == attributes | {"places", "home", "doubled"}


def test_leaves_arguments_extensions_and_async_resolvers_to_strawberry() -> None:
    assert not marked("Level") & {"padded", "guardedName"}
    assert marked("Place") == {"city"}
    assert marked("Shelf") == {"places", "strict"}


def test_scalars_enums_and_nulls_answer_as_graphql_core_does() -> None:
    query = "{ levels { name onHand kind ratio doubled padded(width: 9) } }"
    result = run(SHORT, query)
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
            {"name": "Delft", "onHand": 0, "kind": "STORE", "ratio": None, "doubled": 0,
             "padded": "Delft    "},
        ]
    }  # fmt: skip
    same(result, run(USUAL, query))


@pytest.mark.parametrize("kind", [Kind.WAREHOUSE, "WAREHOUSE", "NOWHERE"])
def test_an_enum_answers_as_graphql_core_does_however_it_is_held(kind: object) -> None:
    @strawberry.type
    class Query:
        @strawberry.field
        def levels(self) -> list[Level]:
            return [Level(name="Oss", on_hand=1, kind=kind)]  # type: ignore[arg-type]

    def built(context_class: type[StrawberryGraphQLCoreExecutionContext]) -> strawberry.Schema:
        schema = strawberry.Schema(query=Query, execution_context_class=context_class)
        mark_plain_fields(schema._schema)
        return schema

    query = "{ levels { kind } }"
    result = run(built(PlainFieldsExecution), query)
    assert (result.data, bool(result.errors)) == (
        ({"levels": [{"kind": "WAREHOUSE"}]}, False) if kind != "NOWHERE" else (None, True)
    )
    same(result, run(built(StrawberryGraphQLCoreExecutionContext), query))


def test_a_value_its_scalar_cannot_represent_is_the_same_field_error() -> None:
    query = "{ levels { name brokenCount } }"
    result = run(SHORT, query)
    assert result.errors
    assert result.errors[0].path == ["levels", 2, "brokenCount"]
    assert result.data
    assert result.data["levels"][2] == {"name": "Zwolle", "brokenCount": None}
    same(result, run(USUAL, query))


@pytest.mark.parametrize(
    ("selection", "row"),
    [("missing", 3), ("home { city }", 4)],  # a leaf, an object
)
def test_null_in_a_non_null_field_is_the_same_error(selection: str, row: int) -> None:
    query = f"{{ levels {{ name {selection} }} }}"
    field = selection.split()[0]
    result = run(SHORT, query)
    assert result.errors
    assert result.errors[0].message == f"Cannot return null for non-nullable field Level.{field}."
    assert result.errors[0].path == ["levels", row, field]
    same(result, run(USUAL, query))


def test_objects_answer_as_graphql_core_does() -> None:
    query = "{ levels { name place { city } } }"
    result = run(SHORT, query)
    assert not result.errors
    assert result.data
    assert [level["place"] for level in result.data["levels"]] == [
        {"city": "Utrecht"}, None, None, None, None
    ]  # fmt: skip
    same(result, run(USUAL, query))


@pytest.mark.parametrize("city", ["city", "laterCity"])  # now, and from an async resolver
async def test_an_error_inside_a_plain_list_nulls_the_list_with_the_same_error(
    city: str,
) -> None:
    query = f"{{ levels {{ name places {{ {city} }} }} }}"
    result = await SHORT.execute(query)
    assert result.errors
    assert result.errors[0].path == ["levels", 0, "places", 1, city]
    assert result.data
    assert result.data["levels"][0] == {"name": "Utrecht", "places": None}
    same(result, await USUAL.execute(query))


async def test_a_list_of_objects_holding_nulls_errors_and_awaitables_answers_the_same() -> None:
    query = "{ shelves { places { city } } }"
    result = await SHORT.execute(query)
    assert result.data == {"shelves": [{"places": [{"city": "Oss"}, None, None, {"city": "Ede"}]}]}
    assert [(e.message, e.path) for e in result.errors or []] == [
        ("lost", ["shelves", 0, "places", 2])
    ]
    same(result, await USUAL.execute(query))


async def test_a_null_item_in_a_list_of_non_null_objects_nulls_its_parent_the_same() -> None:
    query = "{ shelves { strict { city } } }"
    result = await SHORT.execute(query)
    assert result.data is None  # Shelf.strict is non-null, and so is the shelves list
    assert result.errors
    assert result.errors[0].path == ["shelves", 0, "strict", 1]
    same(result, await USUAL.execute(query))


async def test_a_list_under_a_directive_answers_the_same() -> None:
    query = "{ levels { places @include(if: true) { city } home @skip(if: false) { city } } }"
    same(await SHORT.execute(query), await USUAL.execute(query))


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
    wrapped = schema(PlainFieldsExecution, [SeesEveryField])
    result = run(wrapped, "{ levels { name onHand } }")
    assert not result.errors
    assert seen.count("name") == len(LEVELS)
    assert seen.count("onHand") == len(LEVELS)
