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

And one level further: an object whose selected fields are all plain attributes (a
stock level: its location, on hand, reserved; the location: its id) is completed at
once, with the objects and lists of objects under it, by one loop per object that
makes no path, no call per field and asks nothing of graphql-core (``_fields_now``).
Strawberry's own ``is_type_of`` (a type with interfaces, ``Location``) is asked as
graphql-core asks it. Anything in such an object that is not plain sends the whole
object the usual way. The peer-equivalent StockCheck, cold, at concurrency 64: 22.4 ->
19.1 ms of CPU per request; 17.2 with the ERP's rows read field by field, the plan
worked out once per field and strings and ints taken as they are
(bench/results/profile/cold-cpu.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from operator import attrgetter
from types import CoroutineType, GeneratorType
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
from graphql.type.scalars import (
    GRAPHQL_MAX_INT,
    GRAPHQL_MIN_INT,
    serialize_id,
    serialize_int,
    serialize_string,
)
from strawberry.types.field import StrawberryField

from resolvers.engine.direct_calls import DIRECT, Direct, converted_arguments, strawberry_info
from resolvers.graphql.execution_context import AcyclicExecution
from resolvers.loading.memo import ByIdentity

#: where a field's plan is kept, in the graphql-core field's own ``extensions``
PLAIN = "mosaic-plain-field"
#: where every field's :class:`Shape` is kept
SHAPE = "mosaic-field-shape"
#: the leaf values coerced inline; anything else is completed the long way
_SIMPLE = frozenset({str, int, float, bool})
#: graphql-core's own coercions that give back a value of one type as it is (an Int
#: one within 32 bits): a String or ID is answered without a call
_AS_IS: dict[object, type] = {serialize_string: str, serialize_id: str, serialize_int: int}
_MIN_INT, _MAX_INT = GRAPHQL_MIN_INT, GRAPHQL_MAX_INT
#: beside those, the values a whole object completed at once may hold in a leaf (money's
#: amounts, dates): never an error, never awaitable
_SETTLED_LEAVES = _SIMPLE | {Decimal, date, datetime}
#: "not read yet": a plain field's value is read (again) on the long way
_AGAIN = object()
#: "not at once": something in the object needs the long way (see ``_fields_now``)
_LONG = object()


class Shape(NamedTuple):
    """How a field's value is completed, worked out once from its type."""

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
    # the object type of an object field whose values may be completed at once
    # (``PlainFieldsExecution._fields_now``), and the item type of a list of such
    at_once: GraphQLObjectType | None = None
    items_at_once: GraphQLOutputType | None = None
    # the Python type a String or ID (str) or an Int (int, if 32-bit) answers as it is
    as_is: type | None = None


class Plain(NamedTuple):
    read: Callable[[Any], Any]  # the value from the parent object
    shape: Shape


def mark_plain_fields(schema: GraphQLSchema) -> None:
    """Record on each field how its value is completed, and on each that can take the
    short way how to read it. Run once when the schema is built."""
    for named in schema.type_map.values():
        if not is_object_type(named) or named.name.startswith("__"):
            continue
        assert isinstance(named, GraphQLObjectType)
        for name, field in named.fields.items():
            shape = _shape(f"{named}.{name}", field.type)
            field.extensions = {**field.extensions, SHAPE: shape}
            definition = field.extensions.get("strawberry-definition")
            if not isinstance(definition, StrawberryField) or field.args:
                continue
            read = _reader(definition, field)
            if read is not None:
                field.extensions = {**field.extensions, PLAIN: Plain(read, shape)}


def _shape(where: str, type_: GraphQLOutputType) -> Shape:
    non_null = is_non_null_type(type_)
    inner = _nullable(type_)
    leaf = inner if is_leaf_type(inner) else None
    items = inner.of_type if isinstance(inner, GraphQLList) else None
    item_type = items if items is not None and _object(_nullable(items)) else None
    items_at_once = items if items is not None and _at_once(_nullable(items)) else None
    return Shape(
        leaf,
        non_null,
        where,
        _names(leaf),
        _object(inner),
        item_type,
        _at_once(inner),
        items_at_once,
        _AS_IS.get(getattr(leaf, "coerce_output_value", None)),
    )


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


def _at_once(type_: GraphQLOutputType) -> GraphQLObjectType | None:
    """An object type whose values may be completed at once: without ``is_type_of``,
    or with strawberry's own (made for a type with interfaces, ``Location`` say: an
    ``isinstance`` that needs no resolve info). A type's own ``is_type_of`` may want
    the info: its values are checked the long way."""
    if not isinstance(type_, GraphQLObjectType):
        return None
    definition = type_.extensions.get("strawberry-definition")
    if type_.is_type_of is None or getattr(definition, "is_type_of", True) is None:
        return type_
    return None


def _names(leaf: GraphQLLeafType | None) -> dict[Enum, str] | None:
    members = getattr(leaf, "wrapped_cls", None)
    if leaf is None or not isinstance(members, type) or not issubclass(members, Enum):
        return None
    return {member: leaf.coerce_output_value(member) for member in members}


#: a selected field: its response name, its nodes, its definition and its plain plan
_Entry = tuple[str, FieldDetailsList, GraphQLField | None, Plain | None]


class _Selection(NamedTuple):
    entries: list[_Entry]
    # every field a plain attribute: the object may be completed at once, and its
    # fields read again should it need the long way (a method may make something new
    # each time it is called, an awaitable say, so a selection with one is not);
    # then each field's response name, nodes, read and shape, else empty
    attributes: list[tuple[str, FieldDetailsList, Callable[[Any], Any], Shape]]


def _selection(parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet) -> _Selection:
    """Each field of a selection with its plan; worked out once per operation, as
    graphql-core hands every object of a list the same grouped field set."""
    entries: list[_Entry] = []
    for name, details in grouped_field_set.items():
        field = parent_type.fields.get(details[0].node.name.value)
        plan = field.extensions.get(PLAIN) if field is not None else None
        entries.append((name, details, field, plan))
    attributes: list[tuple[str, FieldDetailsList, Callable[[Any], Any], Shape]] = [
        (name, details, plan.read, plan.shape)
        for name, details, _, plan in entries
        if plan is not None and isinstance(plan.read, attrgetter)
    ]
    return _Selection(entries, attributes if len(attributes) == len(entries) else [])


def _leaf_now(shape: Shape, value: Any, simple: frozenset[type] = _SIMPLE) -> Any:
    """A leaf coerced on the spot: an enum member, or a value of the ``simple`` types
    (strings and numbers); ``_AGAIN`` for any other value (a null, an error, an
    awaitable), which takes the long way."""
    if shape.names is not None and isinstance(value, Enum):
        return shape.names.get(value, _AGAIN)
    if type(value) in simple:
        coerced = cast("GraphQLLeafType", shape.leaf).coerce_output_value(value)
        if coerced is not None and coerced is not Undefined:
            return coerced
    return _AGAIN


def _streamed(field_details_list: FieldDetailsList) -> bool:
    """Whether a list field carries a directive (``@stream``), which the short ways
    leave to graphql-core."""
    return any(details.node.directives for details in field_details_list)


class PlainFieldsExecution(AcyclicExecution):
    """strawberry's execution context, with the short way for plain fields."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # a schema extension with a ``resolve`` hook wraps every field: no short way
        wrapped = self.middleware_manager is not None and self.middleware_manager.middlewares
        self.short_way = not wrapped
        self._field_plans: ByIdentity[_Selection] = ByIdentity()
        self._converted: ByIdentity[dict[str, Any]] = ByIdentity()
        self._settled_types: dict[type, bool] = {}
        self._shapes: ByIdentity[Shape] = ByIdentity()
        self._below: dict[int, tuple[FieldDetailsList, GraphQLObjectType, _Selection | None]] = {}

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
            # a grouped field set is made for one parent type: it alone is the key
            selection = self._selection(parent_type, grouped_field_set)
            for name, details, field, plan in selection.entries:
                leaf = plan.shape.leaf if plan is not None else None
                if plan is not None and leaf is not None:
                    try:
                        value = plan.read(source_value)
                        now = _leaf_now(plan.shape, value)
                    except Exception:  # read again below, the long way, which reports it
                        value = now = _AGAIN
                    if now is not _AGAIN:
                        results[name] = now
                        continue
                field_path = Path(path, name, parent_type.name)
                if plan is None or field is None:
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
                        value if leaf is not None else _AGAIN,
                    )
                if result is not Undefined:
                    results[name] = result
                    if self.is_awaitable(result):
                        awaitable_fields.append(name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[f] for f in awaitable_fields])
            raise
        return cast("AwaitableOrValue[dict[str, Any]]", self._gathered(results, awaitable_fields))

    def _selection(
        self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
    ) -> _Selection:
        # a grouped field set is made for one parent type: it alone is the key
        return self._field_plans.get(lambda g: _selection(parent_type, g), grouped_field_set)

    def _selection_below(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> _Selection | None:
        """The selection of an object field's objects where they may be completed at once
        (every field a plain attribute, no deferred fragment), else None; worked out once
        per field node and type, as every object of a list shares them."""
        known = self._below.get(id(field_details_list))
        if known is None or known[1] is not object_type:
            grouped, defer_usages, _ = self.collect_subfields(object_type, field_details_list)
            selection = None if defer_usages else self._selection(object_type, grouped)
            at_once = selection if selection is not None and selection.attributes else None
            # the list is kept with its plan: its id cannot be reused meanwhile
            known = self._below[id(field_details_list)] = (field_details_list, object_type, at_once)
        return known[2]

    def _fields_now(self, selection: _Selection, source: Any) -> Any:
        """An object whose selected fields are all plain attributes, completed at once:
        its leaves coerced on the spot, its objects and lists of objects likewise, all
        the way down, with no path, no call and no awaitable. ``_LONG`` as soon as
        anything in it needs more (a field that is no plain attribute, a null where
        none may be, a value to coerce the long way, an error, an awaitable, a deferred
        fragment): the caller then completes it the usual way, which reads the
        attributes again and reports what there is to report. A StockCheck's 1,500
        stock levels with their locations are such objects."""
        results: dict[str, Any] = {}
        for name, details, read, shape in selection.attributes:
            try:
                value = read(source)
                kind = type(value)
                if kind is shape.as_is and (kind is str or _MIN_INT <= value <= _MAX_INT):
                    now = value
                elif value is None or value is Undefined:
                    if shape.non_null:
                        return _LONG
                    now = None
                elif shape.leaf is not None:
                    now = _leaf_now(shape, value, _SETTLED_LEAVES)
                else:
                    now = self._value_now(shape, details, value)
            except Exception:
                return _LONG
            if now is _AGAIN or now is _LONG:
                return _LONG
            results[name] = now
        return results

    def _value_now(self, shape: Shape, field_details_list: FieldDetailsList, value: Any) -> Any:
        """An object or a list of objects (not null) completed at once, or ``_LONG``."""
        if shape.at_once is not None:
            return self._object_now(shape.at_once, field_details_list, value)
        if (
            shape.items_at_once is not None
            and type(value) in (list, tuple)
            and not _streamed(field_details_list)
        ):
            return self._items_now(shape.items_at_once, field_details_list, value)
        return _LONG

    def _object_now(
        self, object_type: GraphQLObjectType, field_details_list: FieldDetailsList, value: Any
    ) -> Any:
        """An object value completed at once (``_fields_now``), or ``_LONG``."""
        selection = self._selection_below(object_type, field_details_list)
        return _LONG if selection is None else self._one_now(object_type, selection, value)

    def _one_now(self, object_type: GraphQLObjectType, selection: _Selection, value: Any) -> Any:
        """``value`` completed at once if it is an object of ``object_type``: its type's
        ``is_type_of``, if any, asked as graphql-core asks it (strawberry's needs no
        resolve info)."""
        if not self._settled(value):
            return _LONG
        is_type_of = object_type.is_type_of
        if is_type_of is not None and is_type_of(value, cast("Any", None)) is not True:
            return _LONG
        return self._fields_now(selection, value)

    def _items_now(
        self, item_type: GraphQLOutputType, field_details_list: FieldDetailsList, items: Any
    ) -> Any:
        """A list of objects completed at once, each item by ``_object_now``; a null
        item where the list allows one. ``_LONG`` when any item needs the long way."""
        object_type = cast("GraphQLObjectType", _nullable(item_type))
        selection = self._selection_below(object_type, field_details_list)
        if selection is None:
            return _LONG
        nullable = not is_non_null_type(item_type)
        completed: list[Any] = []
        for item in items:
            if item is None and nullable:
                completed.append(None)
                continue
            now = self._one_now(object_type, selection, item)
            if now is _LONG:
                return _LONG
            completed.append(now)
        return completed

    def _settled(self, value: Any) -> bool:
        """Neither null, nor an error, nor an awaitable: an object to complete now.
        Known per type: an instance is awaitable through its type's ``__await__``
        (a type that answers attributes itself, ``__getattr__``, is never known)."""
        kind = type(value)
        known = self._settled_types.get(kind)
        if known is None:
            known = value is not None and not (
                issubclass(kind, Exception | CoroutineType | GeneratorType)
                or hasattr(kind, "__await__")
                or hasattr(kind, "__getattr__")
            )
            self._settled_types[kind] = known
        return known

    @classmethod
    def _gathered(cls, values: Any, awaitable_keys: list[Any]) -> Any:
        """``values`` (an object's fields or a list's items) now, or once those at
        ``awaitable_keys`` have answered."""
        return cls._later(values, awaitable_keys) if awaitable_keys else values

    @staticmethod
    async def _later(values: Any, awaitable_keys: list[Any]) -> Any:
        """Awaited together, as graphql-core awaits them."""
        awaited = await gather_with_cancel(*(values[key] for key in awaitable_keys))
        for key, value in zip(awaitable_keys, awaited, strict=True):
            values[key] = value
        return values

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
        """A resolver called through its field's extensions (:mod:`resolvers.engine.direct_calls`),
        its result completed by the field's shape, its errors handled as graphql-core's
        ``execute_field`` handles them."""
        info = self.build_resolve_info(field, to_nodes(field_details_list), parent_type, path)
        try:
            given = strawberry_info(direct, info)
            arguments = self._arguments(direct, field, field_details_list, given)
            value = direct.call(source, given, **arguments)
        except Exception as raw_error:
            self.handle_field_error(raw_error, field.type, field_details_list, path)
            return None
        shape: Shape = field.extensions[SHAPE]
        return self._complete_shaped(
            shape, field, parent_type, field_details_list, path, position_context, value, info
        )

    def _arguments(
        self,
        direct: Direct,
        field: GraphQLField,
        field_details_list: FieldDetailsList,
        info: Any,
    ) -> dict[str, Any]:
        """The field node's converted arguments, once per operation: every object of a
        list shares the node (and a failed conversion is tried, and reported, again)."""
        return self._converted.get(
            lambda details: converted_arguments(
                direct, field, details[0], self.variable_values, info, self.hide_suggestions
            ),
            field_details_list,
        )

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
        """A plain field's value (read first unless ``value`` has it), completed."""
        if value is _AGAIN:
            try:
                value = plan.read(source)
            except Exception as raw_error:
                self.handle_field_error(raw_error, field.type, field_details_list, path)
                return None
        return self._complete_shaped(
            plan.shape, field, parent_type, field_details_list, path, position_context, value
        )

    def _complete_shaped(
        self,
        shape: Shape,
        field: GraphQLField,
        parent_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
        value: Any,
        info: GraphQLResolveInfo[Any] | None = None,
    ) -> AwaitableOrValue[Any]:
        """A field's value completed as graphql-core completes a resolver's result,
        with the short ways its shape allows: a leaf coerced on the spot, an object or a
        list of objects straight to their fields; the resolve info built only where
        graphql-core's own completion needs it."""
        try:
            if isinstance(value, Exception):
                raise value
            if value is None or value is Undefined:
                if shape.non_null:
                    raise TypeError(f"Cannot return null for non-nullable field {shape.where}.")
                return None
            if self.is_awaitable(value):
                info = info or self.build_resolve_info(
                    field, to_nodes(field_details_list), parent_type, path
                )
                return self.complete_awaitable_value(
                    field.type, field_details_list, info, path, value, position_context
                )
            if shape.leaf is not None:
                if shape.names is not None and isinstance(value, Enum) and value in shape.names:
                    return shape.names[value]
                return self.complete_leaf_value(shape.leaf, value)
            if position_context is None:
                now = self._value_now(shape, field_details_list, value)
                if now is not _LONG:
                    return now
            completed: AwaitableOrValue[Any]
            if shape.object_type is not None:
                completed = self._complete_object(
                    shape.object_type, field_details_list, path, value, position_context
                )
            elif (
                shape.item_type is not None
                and type(value) in (list, tuple)
                and not _streamed(field_details_list)
            ):
                completed = self._complete_items(
                    shape.item_type,
                    field,
                    parent_type,
                    field_details_list,
                    path,
                    value,
                    position_context,
                )
            else:
                info = info or self.build_resolve_info(
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
        """graphql-core's completion, with an object or a list of objects completed at
        once where it can be (a resolver's list of stock levels, say), else objects (a
        list's items above all) taken straight to their fields when their type has no
        ``is_type_of`` to ask."""
        if self.short_way and position_context is None and result is not None:
            shape = self._shapes.get(lambda type_: _shape(str(type_), type_), return_type)
            now = (
                _LONG
                if shape.leaf is not None
                else self._value_now(shape, field_details_list, result)
            )
            if now is not _LONG:
                return now
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
        return cast("AwaitableOrValue[list[Any]]", self._gathered(completed, awaitable_indices))

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
        if position_context is None:
            now = self._object_now(object_type, field_details_list, value)
            if now is not _LONG:
                return cast("dict[str, Any]", now)
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
