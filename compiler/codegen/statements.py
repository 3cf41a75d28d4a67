"""Statements and the calls that act (printf, exit, aggregations) to LLVM IR."""

from __future__ import annotations

import llvmlite.ir as ir

from auger.compiler import ast
from auger.compiler.literals import string_bytes
from auger.compiler.resources import SUPPORTED_AGGREGATES, unsupported
from auger.compiler.semantic.literals import literal_int
from auger.compiler.types import IntType

from . import maps
from .events import emit_event
from .expressions import ExpressionLowering, constant, narrow
from .helpers import I64

_AGGREGATIONS = ("count", "sum", "min", "max", "avg", "stats", "hist", "lhist")


class ProbeLowering(ExpressionLowering):
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
            self._aggregate(target, value)
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
        self.builder.ret(ir.Constant(I64, 0))
        self.fn.start_unreachable()

    def _aggregate(self, target: ast.Expr, call: ast.Call) -> None:
        if call.name not in SUPPORTED_AGGREGATES:
            raise unsupported(f"{call.name}()", call.span)
        plan = self.fn.plan.map(target.name)
        amount = constant(1) if call.name == "count" else self.lower(call.args[0])
        maps.add_to_slot(self.fn, plan, self.map_keys(target), amount)

    # ------------------------------------------------------------ calls that act

    def call(self, node: ast.Call) -> None:
        if node.name == "printf":
            self._printf(node)
        elif node.name == "exit":
            self._exit(node)
        else:
            raise unsupported(f"{node.name}()", node.span)

    def _printf(self, node: ast.Call) -> None:
        event = self.fn.plan.event_of_call[id(node)]
        arguments: list[ir.Value | bytes] = []
        for argument in node.args[1:]:
            if isinstance(argument, ast.StringLiteral):
                arguments.append(string_bytes(argument.value) + b"\0")
            else:
                arguments.append(self.lower(argument))
        emit_event(self.fn, event, arguments)

    def _exit(self, node: ast.Call) -> None:
        """exit() stops the session, and this probe at once (as bpftrace)."""
        event = self.fn.plan.event_of_call[id(node)]
        code = self.lower(node.args[0]) if node.args else constant(0)
        emit_event(self.fn, event, [code])
        self.statement_Return(ast.Return(node.span, None))

    def lower_Call(self, node: ast.Call) -> ir.Value:
        raise unsupported(f"{node.name}() as a value", node.span)


