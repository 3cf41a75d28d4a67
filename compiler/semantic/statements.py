"""Statements of a probe body: assignments fix variable and map types, blocks
scope `let` variables, loops bind theirs; expressions go to the expression
checker this class extends."""

from __future__ import annotations

from auger.compiler import ast
from auger.compiler.types import INT64, AggregateType, IntType, TupleType, Type, VoidType

from .aggregations import AGGREGATIONS
from .literals import literal_int
from .scopes import Binding
from .type_rules import as_integer, common_type, is_integer, promote
from .types_check import ExpressionChecker

MAX_UNROLL = 100


class ProbeChecker(ExpressionChecker):
    def __init__(self, env) -> None:
        super().__init__(env)
        self.loop_depth = 0

    def run(self) -> dict[str, Type]:
        """Check the probe; returns the type of each of its variables."""
        probe = self.env.probe
        if probe.predicate is not None:
            self.check_condition(probe.predicate)
        self.statement(probe.body)
        variables: dict[str, Type] = {}
        for binding in self.scopes.all:
            if binding.type is not None:
                variables.setdefault(binding.name, binding.type)
        return variables

    def statement(self, node: ast.Statement) -> None:
        getattr(self, "statement_" + type(node).__name__)(node)

    def statement_Block(self, node: ast.Block) -> None:
        with self.scopes.block():
            for statement in node.statements:
                self.statement(statement)

    def statement_ExprStatement(self, node: ast.ExprStatement) -> None:
        self.check(node.expr)

    def statement_Assignment(self, node: ast.Assignment) -> None:
        target = node.target
        if isinstance(node.value, ast.Call) and node.value.name in AGGREGATIONS and isinstance(target, ast.MapRef):
            self.aggregate_target = node.value
        value = self.check(node.value)
        self.aggregate_target = None
        if isinstance(value, VoidType):
            self.error("Cannot assign a value that does not exist (the call returns nothing)", node.value.span)
            return
        if node.op != "=":
            value = self._compound(node, value)
        if isinstance(target, ast.Variable):
            self._assign_variable(target, value, node)
        elif isinstance(target, ast.MapRef):
            if self.check_map_keys(target, target.span):
                self.env.program.maps.assign(target, value, node.span, self.env.program.reporter)
        else:
            self.error("Can only assign to a map or a variable", target.span)

    def _compound(self, node: ast.Assignment, value: Type | None) -> Type | None:
        """`x op= v` is `x = x op v`: both sides must be integers."""
        current = self.check(node.target) if not _unassigned_map(node.target, self.env) else INT64
        if current is None or value is None:
            return None
        left, right = as_integer(current), as_integer(value)
        if left is None or right is None:
            self.error(f"Type mismatch for '{node.op}': comparing '{current}' with '{value}'", node.span)
            return None
        return current if isinstance(current, IntType) else promote(left)

    def _assign_variable(self, target: ast.Variable, value: Type | None, node: ast.Node) -> None:
        binding = self.scopes.lookup(target.name)
        if binding is None:
            ended = self.scopes.ended(target.name)
            if ended is not None and (value is None or ended.type is None
                                      or common_type(ended.type, value) is not None):
                binding = ended  # 0.17: the same variable as in the earlier block
            else:
                binding = self.scopes.declare(target.name, target.span, implicit=True)
        self._store(binding, value, node)

    def _store(self, binding: Binding, value: Type | None, node: ast.Node) -> None:
        binding.assigned = True
        if value is None:
            return
        if binding.type is None:
            binding.type = value
            return
        if binding.fixed:
            fits = (is_integer(value) and isinstance(binding.type, IntType)) or common_type(binding.type, value) == binding.type
        else:
            fits = common_type(binding.type, value) is not None
        if not fits:
            self.error(
                f"Type mismatch for ${binding.name}: trying to assign value of type '{value}' "
                f"when variable already contains a value of type '{binding.type}'",
                node.span,
            )
        elif not binding.fixed:
            binding.type = common_type(binding.type, value)

    def statement_VarDecl(self, node: ast.VarDecl) -> None:
        name = node.variable.name
        value = self.check(node.value) if node.value is not None else None
        declared = self.resolve(node.type) if node.type is not None else None
        if self.scopes.is_declared_here(name):
            self.error(f"Variable ${name} was already declared", node.variable.span)
            return
        outer = self.scopes.lookup(name)
        if outer is not None and outer.assigned:
            self.error(f"Variable ${name} was already declared", node.variable.span)
        binding = self.scopes.declare(name, node.variable.span, declared, fixed=declared is not None)
        if node.value is not None:
            if isinstance(value, VoidType):
                self.error("Cannot assign a value that does not exist (the call returns nothing)", node.value.span)
                return
            self._store(binding, value, node)

    def statement_If(self, node: ast.If) -> None:
        self.check_condition(node.condition)
        self.statement(node.then)
        if node.otherwise is not None:
            self.statement(node.otherwise)

    def statement_Unroll(self, node: ast.Unroll) -> None:
        count = literal_int(node.count)
        if count is None:
            self.check(node.count)
            self.error("unroll count must be an integer literal", node.count.span)
        elif count > MAX_UNROLL:
            self.error(f"unroll maximum value is {MAX_UNROLL}", node.span.to(node.count.span))
        elif count < 1:
            self.error("unroll minimum value is 1", node.span.to(node.count.span))
        self.statement(node.body)

    def statement_While(self, node: ast.While) -> None:
        self.check_condition(node.condition)
        self._loop_body(node.body)

    def statement_ForMap(self, node: ast.ForMap) -> None:
        element: Type | None = None
        if node.map.keys:
            self.error("for loops iterate over a whole map: remove the key", node.map.span)
        elif self.check_map_defined(node.map):
            entry = self.env.program.maps.entries.get(node.map.name)
            if entry is not None and entry.keyed is False:
                self.error(f"for loop over {node.map.display_name}: a map without keys cannot be iterated", node.map.span)
            elif entry is not None and entry.key is not None and entry.value is not None:
                value = entry.value
                if isinstance(value, AggregateType):
                    value = as_integer(value) or value
                element = TupleType((entry.key, value))
        with self.scopes.block():
            self.scopes.declare(node.variable.name, node.variable.span, element, assigned=True)
            self._loop_body(node.body)

    def statement_ForRange(self, node: ast.ForRange) -> None:
        bounds = [self.check(node.start), self.check(node.end)]
        counter: Type | None = INT64
        for bound, expr in zip(bounds, (node.start, node.end)):
            if bound is not None and not is_integer(bound):
                self.error(f"Loop range bounds must be integers ('{bound}' given)", expr.span)
                counter = None
        if counter is not None and None not in bounds:
            counter = promote(as_integer(common_type(as_integer(bounds[0]), as_integer(bounds[1]))))
        with self.scopes.block():
            self.scopes.declare(node.variable.name, node.variable.span, counter, assigned=True)
            self._loop_body(node.body)

    def _loop_body(self, body: ast.Block) -> None:
        self.loop_depth += 1
        self.statement(body)
        self.loop_depth -= 1

    def statement_Break(self, node: ast.Break) -> None:
        if not self.loop_depth:
            self.error("'break' statement is not allowed outside of a loop", node.span)

    def statement_Continue(self, node: ast.Continue) -> None:
        if not self.loop_depth:
            self.error("'continue' statement is not allowed outside of a loop", node.span)

    def statement_Return(self, node: ast.Return) -> None:
        if node.value is not None:
            self.check(node.value)


def _unassigned_map(target: ast.Expr, env) -> bool:
    """`@x += 1` before any value is known: it starts from 0."""
    return isinstance(target, ast.MapRef) and env.program.maps.value(target.name) is None
