"""How deep an operation goes, how many aliases it has and how many objects it may
resolve, each found in a walk that never expands a fragment: each fragment's figure is
computed once and remembered, so a document whose fragments each spread the next one
twice (30 levels of them make 2^30 paths) costs one visit per fragment, not one per path.

Both walks stop as soon as the bound is passed: a value past the bound is held at
``bound + 1`` (saturated), so adding or multiplying more onto it changes nothing and
nothing below it is visited. The whole analysis runs within a time budget, read from a
clock passed in; past it the request is refused like any other limit.

Cost: every field counts one, and a list field's selection counts once per item it may
return (its size argument, or DEFAULT_LIST_SIZE), so nested lists multiply. Depth: a
field with a selection counts one more than its deepest child; leaves and
introspection fields (``__typename``, ``__schema``) count nothing. Aliases: every
aliased field, in every operation of the document, as often as it would be resolved
through the fragments that hold it (strawberry's MaxAliasesLimiter's count).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    value_from_ast_untyped,
)

from adapters.errors import ErrorCode

#: list size assumed for a list field without a size argument (a customer's consents,
#: an order's lines, a product's stock locations): a typical count, not the worst case
DEFAULT_LIST_SIZE = 5
#: arguments that say how many items a field returns: a list's length, or a number
SIZE_ARGUMENTS = ("skus", "ids", "last", "limit", "first")
#: no bound: the exact figure (tests and benchmarks measuring the reference operations)
UNBOUNDED = 1 << 62

Clock = Callable[[], float]


class AnalysisTooLong(GraphQLError):
    """The analysis did not finish within its budget: refused as a limit."""

    def __init__(self, budget_s: float) -> None:
        super().__init__(
            f"the operation could not be analysed within {budget_s * 1000:g} ms: "
            "it is too complex to serve",
            extensions={
                "code": ErrorCode.MAX_ANALYSIS_TIME_EXCEEDED,
                "maxAnalysisMs": budget_s * 1000,
            },
        )


class Budget:
    """A deadline on a clock, started when made."""

    def __init__(self, seconds: float, clock: Clock = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._deadline = clock() + seconds

    def check(self) -> None:
        if self._clock() > self._deadline:
            raise AnalysisTooLong(self.seconds)


class Complexity:
    """The depth and the cost of a document's operations, each fragment walked once.

    ``walk_fragment_*`` are called once per fragment (a test counts them); every other
    spread of that fragment reads the remembered figure."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        budget: Budget,
        variables: Mapping[str, Any] | None = None,
    ) -> None:
        self.schema = schema
        self.budget = budget
        self.variables = dict(variables or {})
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self._depths: dict[str, int] = {}
        self._aliases: dict[str, int] = {}
        self._costs: dict[str, int] = {}
        self._cap = UNBOUNDED

    # --- depth -----------------------------------------------------------------------

    def depth(self, operation: OperationDefinitionNode, bound: int = UNBOUNDED) -> int:
        """The operation's depth, or ``bound + 1`` once it is known to pass ``bound``."""
        self._cap = min(bound + 1, UNBOUNDED)
        self._depths.clear()
        return self._depth(operation.selection_set)

    def _depth(self, selection_set: SelectionSetNode) -> int:
        deepest = 0
        for selection in selection_set.selections:
            self.budget.check()
            if isinstance(selection, FieldNode):
                if selection.selection_set is None or selection.name.value.startswith("__"):
                    continue
                depth = 1 + self._depth(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                depth = self._depth(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                depth = self._fragment_depth(selection)
            else:
                continue
            deepest = max(deepest, min(depth, self._cap))
            if deepest >= self._cap:
                break  # past the bound: nothing further can bring it back
        return deepest

    def _fragment_depth(self, spread: FragmentSpreadNode) -> int:
        return self._once(self._depths, spread, self.walk_fragment_depth)

    def _once(
        self,
        memo: dict[str, int],
        spread: FragmentSpreadNode,
        walk: Callable[[FragmentDefinitionNode], int],
    ) -> int:
        """The spread fragment's figure: walked the first time, remembered after."""
        name = spread.name.value
        if name not in memo:
            memo[name] = 0  # a cycle (refused by validation) adds nothing
            fragment = self.fragments.get(name)
            if fragment is not None:
                memo[name] = walk(fragment)
        return memo[name]

    def walk_fragment_depth(self, fragment: FragmentDefinitionNode) -> int:
        return self._depth(fragment.selection_set)

    # --- aliases ---------------------------------------------------------------------

    def aliases(self, operations: list[OperationDefinitionNode], bound: int = UNBOUNDED) -> int:
        """Aliased fields in all the operations, each spread of a fragment counting its
        aliases again; or ``bound + 1`` once they pass ``bound``."""
        self._cap = min(bound + 1, UNBOUNDED)
        self._aliases.clear()
        total = 0
        for operation in operations:
            total = min(total + self._alias_count(operation.selection_set), self._cap)
        return total

    def _alias_count(self, selection_set: SelectionSetNode) -> int:
        total = 0
        for selection in selection_set.selections:
            self.budget.check()
            if isinstance(selection, FieldNode):
                total += selection.alias is not None
                if selection.selection_set is not None:
                    total += self._alias_count(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                total += self._alias_count(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += self._fragment_aliases(selection)
            if total >= self._cap:
                return self._cap
        return total

    def _fragment_aliases(self, spread: FragmentSpreadNode) -> int:
        return self._once(self._aliases, spread, self.walk_fragment_aliases)

    def walk_fragment_aliases(self, fragment: FragmentDefinitionNode) -> int:
        return self._alias_count(fragment.selection_set)

    # --- cost ------------------------------------------------------------------------

    def cost(self, operation: OperationDefinitionNode, bound: int = UNBOUNDED) -> int:
        """Objects the operation may resolve, or ``bound + 1`` once it passes ``bound``."""
        self._cap = min(bound + 1, UNBOUNDED)
        self._costs.clear()
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            if name not in self.variables and definition.default_value is not None:
                self.variables[name] = value_from_ast_untyped(definition.default_value)
        root = self.schema.get_root_type(operation.operation)
        return self._cost(root, operation.selection_set) if root else 0

    def _cost(self, parent: GraphQLNamedType, selection_set: SelectionSetNode) -> int:
        total = 0
        for selection in selection_set.selections:
            self.budget.check()
            if isinstance(selection, FieldNode):
                total += self._field_cost(parent, selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                kind = self.schema.get_type(condition.name.value) if condition else parent
                total += self._cost(kind or parent, selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += self._fragment_cost(selection, parent)
            if total >= self._cap:
                return self._cap  # past the bound: stop here, and so will every caller
        return total

    def _field_cost(self, parent: GraphQLNamedType, node: FieldNode) -> int:
        definition = (
            parent.fields.get(node.name.value) if isinstance(parent, GraphQLObjectType) else None
        )
        if definition is None or node.selection_set is None:
            return 1
        field_type = definition.type
        if isinstance(field_type, GraphQLNonNull):
            field_type = field_type.of_type
        size = self._size(definition.args, node) if isinstance(field_type, GraphQLList) else 1
        if size == 0:
            return 1  # nothing under it will be resolved
        children = self._cost(get_named_type(field_type), node.selection_set)
        return min(1 + size * children, self._cap)

    def _fragment_cost(self, spread: FragmentSpreadNode, parent: GraphQLNamedType) -> int:
        def walk(fragment: FragmentDefinitionNode) -> int:
            kind = self.schema.get_type(fragment.type_condition.name.value)
            return self.walk_fragment_cost(fragment, kind or parent)

        return self._once(self._costs, spread, walk)

    def walk_fragment_cost(self, fragment: FragmentDefinitionNode, kind: GraphQLNamedType) -> int:
        return self._cost(kind, fragment.selection_set)

    def _size(self, arguments: Mapping[str, Any], node: FieldNode) -> int:
        given = {a.name.value: a.value for a in node.arguments or ()}
        for name in SIZE_ARGUMENTS:
            if name in given:
                value_node = given[name]
                value = (
                    self.variables.get(value_node.name.value)
                    if isinstance(value_node, VariableNode)
                    else value_from_ast_untyped(value_node, self.variables)
                )
            elif name in arguments:
                value = arguments[name].default_value
            else:
                continue
            if isinstance(value, list):
                return len(value)
            if isinstance(value, int):
                return max(value, 0)
        return DEFAULT_LIST_SIZE
