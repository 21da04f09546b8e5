"""Plain leaf fields completed without graphql-core's per-field machinery.

Most of a large answer is leaves read straight off an object: a StockCheck of 50
products is about 6,800 fields, four in five of them an attribute holding a string or
a number. For each, graphql-core builds a resolve-info tuple, looks for arguments,
calls strawberry's default resolver, asks whether the value is awaitable and walks
the type wrappers before it coerces the value; that is most of the gateway's CPU per
request. A field with no resolver, no arguments and no field extension whose type is
a scalar or an enum needs none of it: read the attribute, coerce it, done. Anything
else (resolvers, guarded fields, objects, lists, ``__typename``, a schema extension
that wraps every resolver) goes the usual way, and errors are handled the usual way.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from graphql import (
    GraphQLLeafType,
    GraphQLObjectType,
    GraphQLSchema,
    Undefined,
    is_leaf_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import AwaitableOrValue, Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField

#: where a field's plan is kept, in the graphql-core field's own ``extensions``
PLAIN_LEAF = "mosaic-plain-leaf"


class PlainLeaf(NamedTuple):
    attribute: str
    type: GraphQLLeafType
    non_null: bool
    where: str  # Type.field, for the non-null error


def mark_plain_leaves(schema: GraphQLSchema) -> None:
    """Record on each field that can take the short way how to read it. Run once when
    the schema is built."""
    for named in schema.type_map.values():
        if not is_object_type(named) or named.name.startswith("__"):
            continue
        assert isinstance(named, GraphQLObjectType)
        for name, field in named.fields.items():
            definition = (field.extensions or {}).get("strawberry-definition")
            if not isinstance(definition, StrawberryField) or field.args:
                continue
            if not getattr(field.resolve, "_is_default", False):
                continue  # a resolver, a field extension or a permission: the usual way
            if definition.default_resolver is not getattr:
                continue
            non_null = is_non_null_type(field.type)
            inner = field.type.of_type if non_null else field.type
            if is_leaf_type(inner):
                field.extensions = {
                    **field.extensions,
                    PLAIN_LEAF: PlainLeaf(
                        definition.python_name, inner, non_null, f"{named}.{name}"
                    ),
                }


class PlainLeavesExecution(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context, with the short way for plain leaf fields."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # a schema extension with a ``resolve`` hook wraps every field: no short way
        wrapped = self.middleware_manager is not None and self.middleware_manager.middlewares
        self.short_way = not wrapped

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> AwaitableOrValue[Any]:
        field = parent_type.fields.get(field_details_list[0].node.name.value)
        plan = field.extensions.get(PLAIN_LEAF) if field is not None else None
        if plan is None or not self.short_way:
            return super().execute_field(
                parent_type, source, field_details_list, path, position_context
            )
        try:
            value = getattr(source, plan.attribute)
            if isinstance(value, Exception):
                raise value
            if value is None or value is Undefined:
                if plan.non_null:
                    raise TypeError(f"Cannot return null for non-nullable field {plan.where}.")
                return None
            return self.complete_leaf_value(plan.type, value)
        except Exception as raw_error:
            assert field is not None
            self.handle_field_error(raw_error, field.type, field_details_list, path)
            return None
