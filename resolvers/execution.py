"""Plain fields completed without graphql-core's per-field resolver machinery.

Most of a large answer is attributes read straight off an object: a StockCheck of 50
products is about 6,800 fields, four in five of them a string or a number, most of the
rest a location or a list of shipments already built. For each, graphql-core builds a
resolve-info tuple, looks for arguments, calls strawberry's default resolver (through
two wrappers), asks twice whether the value is awaitable and walks the type wrappers;
that was most of the gateway's CPU per request. A field with no resolver, no arguments
and no field extension needs none of it: read the attribute; a scalar or an enum is
coerced on the spot, an object or a list completed as graphql-core would. Anything
else (resolvers, guarded fields, ``__typename``, a schema extension that wraps every
resolver) goes the usual way, and errors are handled the usual way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import Enum
from operator import attrgetter
from typing import Any, NamedTuple, cast

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    Undefined,
    is_leaf_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.execution.executor import to_nodes
from graphql.pyutils import AwaitableOrValue, Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField

#: where a field's plan is kept, in the graphql-core field's own ``extensions``
PLAIN = "mosaic-plain-field"


class Plain(NamedTuple):
    read: Callable[[Any], Any]  # the value from the parent object
    leaf: GraphQLLeafType | None  # the scalar or enum of a leaf; None: object or list
    non_null: bool
    where: str  # Type.field, for the non-null error
    # an enum leaf's output name per Python member, computed once by the enum type
    # itself (strawberry's coercion scans the members for every value)
    names: dict[Enum, str] | None = None


def mark_plain_fields(schema: GraphQLSchema) -> None:
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
            read = _reader(definition, field)
            if read is None:
                continue
            non_null = is_non_null_type(field.type)
            inner = field.type.of_type if non_null else field.type
            leaf = inner if is_leaf_type(inner) else None
            plan = Plain(read, leaf, non_null, f"{named}.{name}", _names(leaf))
            field.extensions = {**field.extensions, PLAIN: plan}


def _reader(definition: StrawberryField, field: GraphQLField) -> Callable[[Any], Any] | None:
    """How a plain field reads its value: an attribute, or a method that takes nothing
    but the object itself (``Product.name``: the card's name, or the ERP's failure).
    None for anything strawberry must wrap: a field extension, a permission, a resolver
    that wants ``info`` or arguments, an async one."""
    if getattr(field.resolve, "_is_default", False):
        if definition.default_resolver is not getattr:
            return None
        return attrgetter(definition.python_name)
    resolver = definition.base_resolver
    if resolver is None or definition.extensions or resolver.is_async:
        return None
    if list(resolver.signature.parameters) != [getattr(resolver.self_parameter, "name", None)]:
        return None
    return cast("Callable[[Any], Any]", resolver.wrapped_func)


def _names(leaf: GraphQLLeafType | None) -> dict[Enum, str] | None:
    members = getattr(leaf, "wrapped_cls", None)
    if leaf is None or not isinstance(members, type) or not issubclass(members, Enum):
        return None
    return {member: leaf.coerce_output_value(member) for member in members}


class PlainFieldsExecution(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context, with the short way for plain fields."""

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
        plan: Plain | None = field.extensions.get(PLAIN) if field is not None else None
        if plan is None or not self.short_way:
            return super().execute_field(
                parent_type, source, field_details_list, path, position_context
            )
        assert field is not None
        try:
            value = plan.read(source)
            if isinstance(value, Exception):
                raise value
            if value is None or value is Undefined:
                if plan.non_null:
                    raise TypeError(f"Cannot return null for non-nullable field {plan.where}.")
                return None
            if self.is_awaitable(value):
                info = self.build_resolve_info(
                    field, to_nodes(field_details_list), parent_type, path
                )
                return self.complete_awaitable_value(
                    field.type, field_details_list, info, path, value, position_context
                )
            if plan.leaf is not None:
                if plan.names is not None and isinstance(value, Enum) and value in plan.names:
                    return plan.names[value]
                return self.complete_leaf_value(plan.leaf, value)
            info = self.build_resolve_info(field, to_nodes(field_details_list), parent_type, path)
            completed = self.complete_value(
                field.type, field_details_list, info, path, value, position_context
            )
        except Exception as raw_error:
            self.handle_field_error(raw_error, field.type, field_details_list, path)
            return None
        if self.is_awaitable(completed):
            return self._completed_later(completed, field.type, field_details_list, path)
        return completed

    async def _completed_later(
        self,
        completed: Awaitable[Any],
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        path: Path,
    ) -> Any:
        """An object or list whose own fields answer later: its errors are handled
        where they surface, as graphql-core does."""
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
