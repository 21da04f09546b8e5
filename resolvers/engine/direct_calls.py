"""Sync resolvers with arguments or field extensions, called without strawberry's
per-call wrapping.

``Product.price(channel:)`` is asked once per product or order line: 48 times in a
ProductListing, 49 in a Customer360. For each, graphql-core reads the arguments from
the document again, strawberry converts them to Python again, builds its
``wrapped_get_result`` closure and folds the field extensions (the guard) around it
again: in process, three fifths of a ProductListing's execution CPU. All of it depends
only on the field, never on the object. So the chain (extensions around the resolver)
is built once per field when the schema is built, and the arguments are converted once
per field node and operation; each object then costs one call through the same
extensions strawberry would run, with the same ``Info``.

Only what strawberry itself would run synchronously takes this way: a sync resolver,
every extension able to resolve synchronously, and no exception handler in the schema.
The converted arguments are shared by the objects of one operation, so a resolver must
not change them (none does; they are the client's).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial, reduce
from typing import Any, NamedTuple, cast

import strawberry
from graphql import GraphQLField, GraphQLObjectType, GraphQLResolveInfo, is_object_type
from graphql.execution.collect_fields import FieldDetails
from graphql.execution.values import VariableValues, get_argument_values
from strawberry.extensions.field_extension import build_field_extension_resolvers
from strawberry.schema.config import StrawberryConfig
from strawberry.types.arguments import convert_arguments
from strawberry.types.field import StrawberryField

#: where a field's call is kept, in the graphql-core field's own ``extensions``
DIRECT = "mosaic-direct-call"


class Direct(NamedTuple):
    """How to call one field's resolver as strawberry would."""

    definition: StrawberryField
    call: Callable[..., Any]  # (source, info, **arguments): extensions, then the resolver
    info_class: type[strawberry.Info[Any, Any]]
    scalar_registry: Mapping[object, Any]  # what strawberry converts custom scalars with
    config: StrawberryConfig


def mark_direct_calls(schema: strawberry.Schema, skip: str) -> None:
    """Record on each field that can be called directly how to call it; fields already
    marked ``skip`` (plain fields) are left alone. Run once when the schema is built."""
    if schema.schema_converter.exception_handlers:
        return  # strawberry would wrap every call to look for a handler
    for named in schema._schema.type_map.values():
        if not is_object_type(named) or named.name.startswith("__"):
            continue
        assert isinstance(named, GraphQLObjectType)
        for field in named.fields.values():
            definition = (field.extensions or {}).get("strawberry-definition")
            if not isinstance(definition, StrawberryField) or skip in field.extensions:
                continue
            call = _chain(definition)
            if call is not None:
                converter = schema.schema_converter
                plan = Direct(
                    definition,
                    call,
                    schema.config.info_class,
                    converter.scalar_registry,
                    schema.config,
                )
                field.extensions = {**field.extensions, DIRECT: plan}


def _chain(definition: StrawberryField) -> Callable[..., Any] | None:
    """The field's extensions folded around its resolver, as strawberry folds them for
    every call; None where strawberry would not resolve it synchronously."""
    resolver = definition.base_resolver
    if resolver is None or resolver.is_async:
        return None
    extensions = [e for e in definition.extensions if e.has_resolver]
    if not all(e.supports_sync for e in extensions):
        return None
    pass_self = resolver.self_parameter is not None
    source_names = [p.name for p in (resolver.parent_parameter, resolver.root_parameter) if p]
    info_name = resolver.info_parameter.name if resolver.info_parameter else None
    function = cast("Callable[..., Any]", resolver.wrapped_func)

    def resolve(source: Any, info: strawberry.Info[Any, Any], **arguments: Any) -> Any:
        for name in source_names:
            arguments[name] = source
        if info_name is not None:
            arguments[info_name] = info
        return function(source, **arguments) if pass_self else function(**arguments)

    return reduce(
        lambda chained, step: partial(step, chained),
        build_field_extension_resolvers(definition) if extensions else [],
        resolve,
    )


def converted_arguments(
    plan: Direct,
    field: GraphQLField,
    details: FieldDetails,
    variables: VariableValues,
    info: strawberry.Info[Any, Any],
    hide_suggestions: bool,
) -> dict[str, Any]:
    """A field node's arguments as the resolver takes them, as strawberry converts them
    (input types built, names made Python's), reshaped by the field's extensions."""
    raw = get_argument_values(
        field, details.node, variables, details.fragment_variable_values, hide_suggestions
    )
    definition = plan.definition
    converted = convert_arguments(
        raw,
        definition.arguments,
        scalar_registry=plan.scalar_registry,
        config=plan.config,
        info=info,
    )
    for extension in definition.extensions:
        converted = extension.map_arguments(converted)
    return converted


def strawberry_info(plan: Direct, info: GraphQLResolveInfo[Any]) -> strawberry.Info[Any, Any]:
    return plan.info_class(_raw_info=info, _field=plan.definition)
