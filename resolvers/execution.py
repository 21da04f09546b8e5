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

The same holds one level up: the loop over an object's fields answers string, number
and enum leaves inline (no path, no call), and an object, or a list of objects, whose
type has no ``is_type_of`` goes straight to its fields, without the resolve info and
the chain of completion calls graphql-core walks for every item (StockCheck: 18.0 ->
10.2 ms of CPU, everything loaded). Whatever is not plain in them (a null, an error,
an awaitable) is completed by graphql-core as before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from enum import Enum
from operator import attrgetter
from typing import Any, NamedTuple, cast

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    Undefined,
    is_leaf_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.execution.executor import to_nodes
from graphql.pyutils import AwaitableOrValue, Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField

from resolvers.direct_calls import DIRECT, Direct, converted_arguments, strawberry_info

#: where a field's plan is kept, in the graphql-core field's own ``extensions``
PLAIN = "mosaic-plain-field"
#: the leaf values coerced inline; anything else is completed the long way
_SIMPLE = frozenset({str, int, float, bool})
#: "not read yet": a plain field's value is read (again) on the long way
_AGAIN = object()


class Plain(NamedTuple):
    read: Callable[[Any], Any]  # the value from the parent object
    leaf: GraphQLLeafType | None  # the scalar or enum of a leaf; None: object or list
    non_null: bool
    where: str  # Type.field, for the non-null error
    # an enum leaf's output name per Python member, computed once by the enum type
    # itself (strawberry's coercion scans the members for every value)
    names: dict[Enum, str] | None = None
    # the object type of an object field that needs no ``is_type_of`` check
    object_type: GraphQLObjectType | None = None
    # the item type (as declared, non-null or not) of a list of such objects
    item_type: GraphQLOutputType | None = None


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
            items = inner.of_type if isinstance(inner, GraphQLList) else None
            item_type = items if items is not None and _object(_nullable(items)) else None
            plan = Plain(
                read, leaf, non_null, f"{named}.{name}", _names(leaf), _object(inner), item_type
            )
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


def _nullable(type_: GraphQLOutputType) -> GraphQLOutputType:
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_


def _object(type_: GraphQLOutputType) -> GraphQLObjectType | None:
    if isinstance(type_, GraphQLObjectType) and type_.is_type_of is None:
        return type_
    return None


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
        self._field_plans: dict[tuple[str, int], tuple[GroupedFieldSet, list[Any]]] = {}
        self._converted: dict[int, tuple[FieldDetailsList, dict[str, Any]]] = {}

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        """graphql-core's loop over an object's fields, with the plain leaves answered
        inline: a string, number or enum read and coerced needs no path, no call and no
        lookup of its field. Whatever else a leaf holds (a null, an error, a date, an
        awaitable) and every other field takes :meth:`execute_field`'s way."""
        if not self.short_way:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        awaitable_fields: list[str] = []
        try:
            for name, details, field, plan, direct in self._plans(parent_type, grouped_field_set):
                if plan is not None and plan.leaf is not None:
                    try:
                        value = plan.read(source_value)
                        if plan.names is not None and isinstance(value, Enum):
                            if value in plan.names:
                                results[name] = plan.names[value]
                                continue
                        elif type(value) in _SIMPLE:
                            coerced = plan.leaf.coerce_output_value(value)
                            if coerced is not None and coerced is not Undefined:
                                results[name] = coerced
                                continue
                    except Exception:  # read again below, the long way, which reports it
                        value = _AGAIN
                field_path = Path(path, name, parent_type.name)
                if direct is not None and field is not None:
                    result = self._call_direct(
                        direct,
                        field,
                        parent_type,
                        source_value,
                        details,
                        field_path,
                        position_context,
                    )
                elif plan is None or field is None:
                    result = self.execute_field(
                        parent_type, source_value, details, field_path, position_context
                    )
                else:
                    result = self._complete_plain(
                        plan,
                        field,
                        parent_type,
                        source_value,
                        details,
                        field_path,
                        position_context,
                        value if plan.leaf is not None else _AGAIN,
                    )
                if result is not Undefined:
                    results[name] = result
                    if self.is_awaitable(result):
                        awaitable_fields.append(name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[f] for f in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return self._results_later(results, awaitable_fields)

    async def _results_later(
        self, results: dict[str, Any], awaitable_fields: list[str]
    ) -> dict[str, Any]:
        awaited = await gather_with_cancel(*(results[f] for f in awaitable_fields))
        results.update(zip(awaitable_fields, awaited, strict=True))
        return results

    def _plans(
        self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
    ) -> list[tuple[str, FieldDetailsList, GraphQLField | None, Plain | None, Direct | None]]:
        """Each field of a selection with its plan, worked out once per operation:
        graphql-core hands every object of a list the same grouped field set."""
        key = (parent_type.name, id(grouped_field_set))
        known = self._field_plans.get(key)
        if known is None or known[0] is not grouped_field_set:
            entries = []
            for name, details in grouped_field_set.items():
                field = parent_type.fields.get(details[0].node.name.value)
                plan = field.extensions.get(PLAIN) if field is not None else None
                direct = field.extensions.get(DIRECT) if field is not None else None
                entries.append((name, details, field, plan, direct))
            known = (grouped_field_set, entries)
            self._field_plans[key] = known
        return known[1]

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> AwaitableOrValue[Any]:
        field = parent_type.fields.get(field_details_list[0].node.name.value)
        if field is None or not self.short_way:
            return super().execute_field(
                parent_type, source, field_details_list, path, position_context
            )
        direct: Direct | None = field.extensions.get(DIRECT)
        if direct is not None:
            return self._call_direct(
                direct, field, parent_type, source, field_details_list, path, position_context
            )
        plan: Plain | None = field.extensions.get(PLAIN)
        if plan is None:
            return super().execute_field(
                parent_type, source, field_details_list, path, position_context
            )
        return self._complete_plain(
            plan, field, parent_type, source, field_details_list, path, position_context, _AGAIN
        )

    def _call_direct(
        self,
        direct: Direct,
        field: GraphQLField,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> AwaitableOrValue[Any]:
        """A resolver called through its field's extensions (:mod:`resolvers.direct_calls`),
        its result completed and its errors handled as graphql-core's ``execute_field``
        does."""
        info = self.build_resolve_info(field, to_nodes(field_details_list), parent_type, path)
        try:
            given = strawberry_info(direct, info)
            arguments = self._arguments(direct, field, field_details_list, given)
            result = direct.call(source, given, **arguments)
            if self.is_awaitable(result):
                return self.complete_awaitable_value(
                    field.type, field_details_list, info, path, result, position_context
                )
            completed = self.complete_value(
                field.type, field_details_list, info, path, result, position_context
            )
        except Exception as raw_error:
            self.handle_field_error(raw_error, field.type, field_details_list, path)
            return None
        if self.is_awaitable(completed):
            return self._completed_later(completed, field.type, field_details_list, path)
        return completed

    def _arguments(
        self,
        direct: Direct,
        field: GraphQLField,
        field_details_list: FieldDetailsList,
        info: Any,
    ) -> dict[str, Any]:
        """The field node's converted arguments, once per operation: every object of a
        list shares the node (and a failed conversion is tried, and reported, again)."""
        key = id(field_details_list)
        known = self._converted.get(key)
        if known is None or known[0] is not field_details_list:
            converted = converted_arguments(
                direct,
                field,
                field_details_list[0],
                self.variable_values,
                info,
                self.hide_suggestions,
            )
            known = (field_details_list, converted)
            self._converted[key] = known
        return known[1]

    def _complete_plain(
        self,
        plan: Plain,
        field: GraphQLField,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
        value: Any,
    ) -> AwaitableOrValue[Any]:
        """A plain field's value completed (read first unless ``value`` has it), its
        errors handled as graphql-core handles a resolver's."""
        try:
            if value is _AGAIN:
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
            completed: AwaitableOrValue[Any]
            if plan.object_type is not None:
                completed = self._complete_object(
                    plan.object_type, field_details_list, path, value, position_context
                )
            elif (
                plan.item_type is not None
                and type(value) in (list, tuple)
                and not any(details.node.directives for details in field_details_list)
            ):
                completed = self._complete_items(
                    plan.item_type,
                    field,
                    parent_type,
                    field_details_list,
                    path,
                    value,
                    position_context,
                )
            else:
                info = self.build_resolve_info(
                    field, to_nodes(field_details_list), parent_type, path
                )
                completed = self.complete_value(
                    field.type, field_details_list, info, path, value, position_context
                )
        except Exception as raw_error:
            self.handle_field_error(raw_error, field.type, field_details_list, path)
            return None
        if self.is_awaitable(completed):
            return self._completed_later(completed, field.type, field_details_list, path)
        return completed

    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> AwaitableOrValue[Any]:
        """graphql-core's completion, with objects (a list's items above all) taken
        straight to their fields when their type has no ``is_type_of`` to ask."""
        inner = _nullable(return_type)
        if (
            self.short_way
            and type(inner) is GraphQLObjectType
            and inner.is_type_of is None
            and result is not None
            and not isinstance(result, Exception)
            and not self.is_awaitable(result)
        ):
            return self._complete_object(inner, field_details_list, path, result, position_context)
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _complete_items(
        self,
        item_type: GraphQLOutputType,
        field: GraphQLField,
        parent_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        path: Path,
        items: Sequence[Any],
        position_context: Any,
    ) -> AwaitableOrValue[list[Any]]:
        """A list of objects, item by item as graphql-core's ``complete_iterable_value``
        does it, without what only a streamed or lazily produced list needs. The resolve
        info is built only for an item that is not an object (a null, an error, an
        awaitable), whose completion graphql-core does as usual."""
        object_type = cast("GraphQLObjectType", _nullable(item_type))
        completed: list[Any] = []
        awaitable_indices: list[int] = []
        info: GraphQLResolveInfo[Any] | None = None
        try:
            for index, item in enumerate(items):
                item_path = Path(path, index, None)
                if item is None or isinstance(item, Exception) or self.is_awaitable(item):
                    info = info or self.build_resolve_info(
                        field, to_nodes(field_details_list), parent_type, path
                    )
                    if self.is_awaitable(item):
                        completed.append(
                            self.complete_awaitable_list_item_value(
                                item,
                                item_type,
                                field_details_list,
                                info,
                                item_path,
                                position_context,
                            )
                        )
                        awaitable_indices.append(index)
                    elif self.complete_list_item_value(
                        item,
                        completed,
                        item_type,
                        field_details_list,
                        info,
                        item_path,
                        position_context,
                    ):
                        awaitable_indices.append(index)
                    continue
                try:
                    value = self._complete_object(
                        object_type, field_details_list, item_path, item, position_context
                    )
                except Exception as raw_error:
                    self.handle_field_error(raw_error, item_type, field_details_list, item_path)
                    value = None
                else:
                    if self.is_awaitable(value):
                        value = self._completed_later(
                            value, item_type, field_details_list, item_path
                        )
                        awaitable_indices.append(index)
                completed.append(value)
        except Exception:
            if awaitable_indices:
                self.settle_in_background([completed[i] for i in awaitable_indices])
            raise
        if not awaitable_indices:
            return completed
        return self._items_later(completed, awaitable_indices)

    async def _items_later(self, completed: list[Any], awaitable_indices: list[int]) -> list[Any]:
        awaited = await gather_with_cancel(*(completed[i] for i in awaitable_indices))
        for index, value in zip(awaitable_indices, awaited, strict=True):
            completed[index] = value
        return completed

    def _complete_object(
        self,
        object_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        path: Path,
        value: Any,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        """An object's selected fields, as graphql-core's ``complete_object_value``
        does them for a type without ``is_type_of`` (deferred fragments included)."""
        grouped, defer_usages, _ = self.collect_subfields(object_type, field_details_list)
        return self.execute_collected_subfields(
            object_type, value, path, grouped, defer_usages, position_context
        )

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
