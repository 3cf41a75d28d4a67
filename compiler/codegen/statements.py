"""Statements and the calls that act (printf, exit, aggregations, the map
functions) to LLVM IR; loops are in loops.py, aggregations in aggregations.py."""

from __future__ import annotations

import dataclasses

import llvmlite.ir as ir

from auger.compiler import ast
from auger.compiler.resources import acts_on_map, unsupported
from auger.compiler.semantic.literals import literal_int
from auger.compiler.types import IntType

from . import maps
from .aggregations import aggregate
from .events import emit_event
from .expressions import ExpressionLowering, constant, narrow
from .loops import LoopLowering, map_length
from .value_calls import OUTPUT_CALLS

_AGGREGATIONS = ("count", "sum", "min", "max", "avg", "stats", "hist", "lhist")


class ProbeLowering(LoopLowering, ExpressionLowering):
    def __init__(self, *arguments) -> None:
        super().__init__(*arguments)
        self.loops = []
        self.returned_flag = None

    def lower_probe(self, probe: ast.Probe) -> None:
        if probe.predicate is not None:
            raise unsupported("probe predicates", probe.predicate.span)
        self.statement(probe.body)
        self.fn.finish_block()

    def statement(self, node: ast.Statement) -> None:
        method = getattr(self, "statement_" + type(node).__name__, None)
        if method is None:
            raise unsupported(f"the {type(node).__name__} statement", node.span)
        method(node)

    def statement_Block(self, node: ast.Block) -> None:
        for statement in node.statements:
            self.statement(statement)

    def statement_ExprStatement(self, node: ast.ExprStatement) -> None:
        if isinstance(node.expr, ast.Call):
            self.call(node.expr)
        else:
            self.lower(node.expr)

    def statement_Assignment(self, node: ast.Assignment) -> None:
        target, value = node.target, node.value
        if isinstance(value, ast.Call) and value.name in _AGGREGATIONS:
            aggregate(self, target, value)
            return
        if node.op == "=":
            result = self.lower(value)
        else:
            operator = node.op[:-1]
            signed = self.is_signed(target) and self.is_signed(value)
            result = self.arithmetic(operator, self.lower(target), self.lower(value), signed, self.is_signed(target), node)
        stored_type = self._stored_type(target)
        if isinstance(stored_type, IntType):
            result = narrow(self.builder, result, stored_type)
        self.store(target, result)

    def _stored_type(self, target: ast.Expr):
        if isinstance(target, ast.Variable):
            return self.variable_types.get(target.name)
        return self.fn.analysis.maps[target.name].value

    def statement_VarDecl(self, node: ast.VarDecl) -> None:
        value = self.lower(node.value) if node.value is not None else constant(0)
        declared = self.variable_types.get(node.variable.name)
        if isinstance(declared, IntType):
            value = narrow(self.builder, value, declared)
        self.store(node.variable, value)

    def statement_If(self, node: ast.If) -> None:
        builder = self.builder
        condition = self.truth(node.condition)
        then_block, done = self.fn.block("if_then"), self.fn.block("if_done")
        else_block = self.fn.block("if_else") if node.otherwise is not None else done
        builder.cbranch(condition, then_block, else_block)
        for block, body in ((then_block, node.then), (else_block, node.otherwise)):
            if body is None:
                continue
            builder.position_at_end(block)
            self.statement(body)
            if not builder.block.is_terminated:
                builder.branch(done)
        builder.position_at_end(done)

    def statement_Unroll(self, node: ast.Unroll) -> None:
        for _ in range(literal_int(node.count)):
            self.statement(node.body)

    def statement_Return(self, node: ast.Return) -> None:
        if node.value is not None:
            raise unsupported("return with a value", node.value.span)
        self.return_from_probe()
        self.fn.start_unreachable()

    # ------------------------------------------------------------ calls that act

    def call(self, node: ast.Call) -> None:
        if node.name == "exit":
            self._exit(node)
        elif acts_on_map(node):
            self._map_action(node)
        elif node.name == "delete":
            target = node.args[0]
            maps.delete(self.fn, self.fn.plan.map(target.name), self._key_of(node))
        elif node.name in OUTPUT_CALLS:
            self.output_call(node)
        else:
            raise unsupported(f"{node.name}()", node.span)

    def _exit(self, node: ast.Call) -> None:
        """exit() stops the session, and this probe at once (as bpftrace)."""
        event = self.fn.plan.event_of_call[id(node)]
        code = self.lower(node.args[0]) if node.args else constant(0)
        emit_event(self.fn, event, [code])
        self.statement_Return(ast.Return(node.span, None))

    def _map_action(self, node: ast.Call) -> None:
        """print(@m, top, div), clear(@m), zero(@m): userspace acts on the
        map when the record arrives, in order with the other output."""
        event = self.fn.plan.event_of_call[id(node)]
        emit_event(self.fn, event, [self.lower(argument) for argument in node.args[1:]])

    def _key_of(self, node: ast.Call) -> list[ir.Value]:
        """The key of `delete(@m[k])`, `delete(@m, k)`, `has_key(@m, k)`
        (`k` is then the key as `@m[k]` takes it)."""
        target = node.args[0]
        if not target.keys and len(node.args) > 1:
            target = dataclasses.replace(target, keys=(node.args[1],))
        return self.map_keys(target)

    def lower_Call(self, node: ast.Call) -> ir.Value:
        if node.name == "has_key":
            return maps.has_key(self.fn, self.fn.plan.map(node.args[0].name), self._key_of(node))
        if node.name == "len" and isinstance(node.args[0], ast.MapRef):
            return map_length(self.fn, self.fn.plan.map(node.args[0].name))
        return self.lower_value_call(node)


