"""An operation that selects a field its caller may never read is refused before it
runs, with one error naming the fields and the role.

Field by field (``resolvers/privacy/authz.py``), a customer's StockCheck of fifty
products was fifty empty ``stock`` lists and fifty identical FORBIDDEN errors, after
every other source had been asked. Whether a role may *ever* read a field is known from
the operation alone (``Guard.never_for``: a rule that denies the role, a scope it lacks,
a person's field for a role admitted to nobody), so the operation is looked at first:
the fields it would reach for this caller (through fragments, honouring ``@skip`` and
``@include``) are checked, and if any is never readable the operation does not run.
What depends on arguments or data (a customer's own record, a consent, a channel's
price) is still decided field by field, as before.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from strawberry.extensions import SchemaExtension
from strawberry.types.field import StrawberryField

from resolvers.graphql.context import MosaicContext
from resolvers.privacy.authz import Guard, refusal
from resolvers.privacy.principal import Principal

Fields = Mapping[str, FragmentDefinitionNode]


def never_readable(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Fields,
    variables: Mapping[str, Any],
    principal: Principal,
) -> list[str]:
    """``Type.field`` of every field the operation reaches that ``principal`` may never
    read, level by level as the operation reaches them."""
    root = schema.get_root_type(operation.operation)
    found: dict[str, None] = {}
    if root is None:
        return []
    for owner, name, definition in _reached(
        schema, root, operation.selection_set, fragments, variables
    ):
        guards = [e for e in definition.extensions if isinstance(e, Guard)]
        if any(guard.never_for(principal) for guard in guards):
            found.setdefault(f"{owner}.{name}")
    return list(found)


def _reached(
    schema: GraphQLSchema,
    root: GraphQLNamedType,
    selections: SelectionSetNode,
    fragments: Fields,
    variables: Mapping[str, Any],
) -> Iterator[tuple[str, str, StrawberryField]]:
    """``(type, field, its strawberry definition)`` for each field selected under
    ``root``, and below it. Each selection set is walked once per type it is reached
    as (a fragment spread in many places, or nested in itself, costs one walk), so a
    hostile document costs its size, not the number of its paths."""
    work: deque[tuple[GraphQLNamedType, SelectionSetNode]] = deque([(root, selections)])
    walked: set[tuple[str, int]] = set()
    while work:
        parent, selection_set = work.popleft()
        if (parent.name, id(selection_set)) in walked:
            continue
        walked.add((parent.name, id(selection_set)))
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            continue
        for selection in selection_set.selections:
            if not _included(selection, variables):
                continue
            if isinstance(selection, FieldNode):
                field = parent.fields.get(selection.name.value)
                if field is None:  # __typename and the like
                    continue
                definition = field.extensions.get("strawberry-definition")
                if isinstance(definition, StrawberryField):
                    yield parent.name, selection.name.value, definition
                if selection.selection_set is not None:
                    work.append((get_named_type(field.type), selection.selection_set))
                continue
            if isinstance(selection, InlineFragmentNode):
                condition, inner = selection.type_condition, selection.selection_set
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if fragment is None:
                    continue
                condition, inner = fragment.type_condition, fragment.selection_set
            else:
                continue
            kind = schema.get_type(condition.name.value) if condition else parent
            if kind is not None:
                work.append((kind, inner))


def _included(node: Any, variables: Mapping[str, Any]) -> bool:
    """``@skip(if:)`` and ``@include(if:)``, from a literal or a variable."""
    for directive in node.directives or ():
        argument = next((a for a in directive.arguments or () if a.name.value == "if"), None)
        if argument is None:
            continue
        value = argument.value
        truth = (
            bool(variables.get(value.name.value))
            if isinstance(value, VariableNode)
            else getattr(value, "value", False)
        )
        if directive.name.value == "skip" and truth:
            return False
        if directive.name.value == "include" and not truth:
            return False
    return True


def _operation(document: Any, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == name), None)


class RefuseNeverReadable(SchemaExtension):
    """Refuses, before execution, an operation that selects a field the caller may
    never read (module docstring). Validation has passed by then, so the document is
    sound and its operation found as graphql-core would find it."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        mosaic = context.context
        document = context.graphql_document
        # another extension may have answered already (a limit, the response cache)
        if isinstance(mosaic, MosaicContext) and document is not None and not context.result:
            operation = _operation(document, context.operation_name)
            if operation is not None:
                fragments = {
                    d.name.value: d
                    for d in document.definitions
                    if isinstance(d, FragmentDefinitionNode)
                }
                schema = context.schema._schema
                fields = never_readable(
                    schema, operation, fragments, context.variables or {}, mosaic.principal
                )
                if fields:
                    context.result = ExecutionResult(
                        data=None, errors=[_refused(fields, mosaic.principal)]
                    )
        yield


def _refused(fields: list[str], principal: Principal) -> GraphQLError:
    """One error for the operation: the fields, the role, and that nothing ran."""
    error = refusal(principal, ", ".join(fields))
    message = f"{error.message} (the operation was not run)"
    extensions = {**(error.extensions or {}), "fields": fields, "role": principal.role}
    return GraphQLError(message, original_error=error, extensions=extensions)
