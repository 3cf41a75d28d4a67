"""Expressions to LLVM IR. Every value is an i64 holding the value as its
type says (a uint32 zero-extended, an int8 sign-extended, a bool 0 or 1), so
arithmetic is 64-bit as C's promotions make it and only signedness matters.

Signed division and modulo are built from unsigned ones: the BPF ISA before
cpu v4 has no signed division, and C truncates toward zero.
"""

from __future__ import annotations

from typing import Mapping

import llvmlite.ir as ir

from auger.compiler import ast
from auger.compiler.resources import unsupported
from auger.compiler.semantic.type_rules import as_integer, promote
from auger.compiler.types import BoolType, IntType, Type

from . import maps
from .function import ProbeFunction
from .helpers import GET_CURRENT_PID_TGID, GET_SMP_PROCESSOR_ID, I64, KTIME_GET_NS, call_helper

_COMPARISONS = ("==", "!=", "<", ">", "<=", ">=")
_SHIFT_MASK = 63  # BPF masks shift counts the same way; LLVM would call >= 64 poison


def constant(value: int) -> ir.Constant:
    return ir.Constant(I64, value & ((1 << 64) - 1))


class ExpressionLowering:
    def __init__(self, fn: ProbeFunction, variable_types: Mapping[str, Type]) -> None:
        self.fn = fn
        self.variable_types = variable_types
        self.variables: dict[str, ir.AllocaInstr] = {}

    @property
    def builder(self) -> ir.IRBuilder:
        return self.fn.builder

    def type_of(self, expr: ast.Expr) -> Type | None:
        return self.fn.analysis.type_of(expr)

    def is_signed(self, expr: ast.Expr) -> bool:
        integer = as_integer(self.type_of(expr))
        return integer is not None and promote(integer).signed

    def lower(self, expr: ast.Expr) -> ir.Value:
        """The i64 value of an integer or bool expression."""
        method = getattr(self, "lower_" + type(expr).__name__, None)
        if method is None:
            raise unsupported(_describe(expr), expr.span)
        return method(expr)

    # ------------------------------------------------------------ leaves

    def lower_IntLiteral(self, node: ast.IntLiteral) -> ir.Value:
        return constant(node.value)

    def lower_BoolLiteral(self, node: ast.BoolLiteral) -> ir.Value:
        return constant(int(node.value))

    def lower_Identifier(self, node: ast.Identifier) -> ir.Value:
        builder = self.builder
        if node.name in ("pid", "tid"):
            pid_tgid = call_helper(builder, GET_CURRENT_PID_TGID)
            if node.name == "pid":
                return builder.lshr(pid_tgid, constant(32))
            return builder.and_(pid_tgid, constant(0xFFFFFFFF))
        if node.name == "nsecs":
            return call_helper(builder, KTIME_GET_NS)
        if node.name == "cpu":
            return builder.and_(call_helper(builder, GET_SMP_PROCESSOR_ID), constant(0xFFFFFFFF))
        raise unsupported(f"the builtin '{node.name}'", node.span)

    def variable_slot(self, node: ast.Variable) -> ir.AllocaInstr:
        type_ = self.variable_types.get(node.name)
        if as_integer(type_) is None:
            raise unsupported(f"variables of type {type_}", node.span)
        if node.name not in self.variables:
            self.variables[node.name] = self.fn.stack_slot(I64, node.name)
        return self.variables[node.name]

    def lower_Variable(self, node: ast.Variable) -> ir.Value:
        return self.builder.load(self.variable_slot(node))

    def map_keys(self, node: ast.MapRef) -> list[ir.Value]:
        return [self.lower(key) for key in node.keys]

    def lower_MapRef(self, node: ast.MapRef) -> ir.Value:
        plan = self.fn.plan.map(node.name)
        return maps.read_value(self.fn, plan, self.map_keys(node))

    def store(self, target: ast.Expr, value: ir.Value) -> None:
        """Assign an i64 to a variable or a plain (non-aggregation) map entry."""
        if isinstance(target, ast.Variable):
            self.builder.store(value, self.variable_slot(target))
            return
        plan = self.fn.plan.map(target.name)
        if plan.per_cpu:
            raise unsupported(f"assigning a value to the aggregation map {plan.name}", target.span)
        maps.store_value(self.fn, plan, self.map_keys(target), value)

    def lower_IncDec(self, node: ast.IncDec) -> ir.Value:
        old = self.lower(node.target)
        step = constant(1 if node.op == "++" else -1)
        new = self.builder.add(old, step)
        self.store(node.target, new)
        return new if node.prefix else old

    # ------------------------------------------------------------ operators

    def truth(self, expr: ast.Expr) -> ir.Value:
        """An i1: the expression is not zero."""
        return self.builder.icmp_unsigned("!=", self.lower(expr), constant(0))

    def lower_Unary(self, node: ast.Unary) -> ir.Value:
        builder = self.builder
        if node.op == "!":
            return builder.zext(builder.not_(self.truth(node.operand)), I64)
        value = self.lower(node.operand)
        if node.op == "-":
            return builder.neg(value)
        if node.op == "~":
            return builder.not_(value)
        if node.op == "+":
            return value
        raise unsupported(f"the unary operator '{node.op}'", node.span)

    def lower_Binary(self, node: ast.Binary) -> ir.Value:
        if node.op in ("&&", "||"):
            return self._logical(node)
        left, right = self.lower(node.left), self.lower(node.right)
        return self.arithmetic(node.op, left, right, self.is_signed(node.left) and self.is_signed(node.right),
                               self.is_signed(node.left), node)

    def arithmetic(self, op: str, left: ir.Value, right: ir.Value, signed: bool, left_signed: bool, node: ast.Node) -> ir.Value:
        """`left op right`; `signed` is the usual arithmetic conversion's
        verdict, `left_signed` decides `>>` (the left operand's type)."""
        builder = self.builder
        if op in _COMPARISONS:
            compare = builder.icmp_signed if signed else builder.icmp_unsigned
            return builder.zext(compare(op, left, right), I64)
        simple = {"+": builder.add, "-": builder.sub, "*": builder.mul,
                  "&": builder.and_, "|": builder.or_, "^": builder.xor}
        if op in simple:
            return simple[op](left, right)
        if op in ("<<", ">>"):
            count = builder.and_(right, constant(_SHIFT_MASK))
            if op == "<<":
                return builder.shl(left, count)
            return builder.ashr(left, count) if left_signed else builder.lshr(left, count)
        if op in ("/", "%"):
            return self._divide(op, left, right, signed)
        raise unsupported(f"the operator '{op}'", node.span)

    def _divide(self, op: str, left: ir.Value, right: ir.Value, signed: bool) -> ir.Value:
        builder = self.builder
        if not signed:
            return builder.udiv(left, right) if op == "/" else builder.urem(left, right)
        zero = constant(0)
        left_negative = builder.icmp_signed("<", left, zero)
        right_negative = builder.icmp_signed("<", right, zero)
        left_magnitude = builder.select(left_negative, builder.neg(left), left)
        right_magnitude = builder.select(right_negative, builder.neg(right), right)
        if op == "/":
            quotient = builder.udiv(left_magnitude, right_magnitude)
            negative = builder.xor(left_negative, right_negative)
            return builder.select(negative, builder.neg(quotient), quotient)
        remainder = builder.urem(left_magnitude, right_magnitude)
        return builder.select(left_negative, builder.neg(remainder), remainder)

    def _logical(self, node: ast.Binary) -> ir.Value:
        """Short-circuit: the right operand runs only when it decides."""
        builder = self.fn.builder
        left = self.truth(node.left)
        left_block = builder.block
        right_block, done = self.fn.block("logic_right"), self.fn.block("logic_done")
        if node.op == "&&":
            builder.cbranch(left, right_block, done)
        else:
            builder.cbranch(left, done, right_block)
        builder.position_at_end(right_block)
        right = self.truth(node.right)
        right_end = builder.block
        builder.branch(done)
        builder.position_at_end(done)
        result = builder.phi(ir.IntType(1))
        result.add_incoming(ir.Constant(ir.IntType(1), node.op == "||"), left_block)
        result.add_incoming(right, right_end)
        return builder.zext(result, I64)

    def lower_Ternary(self, node: ast.Ternary) -> ir.Value:
        if as_integer(self.type_of(node)) is None:
            raise unsupported(f"a ternary of type {self.type_of(node)}", node.span)
        builder = self.fn.builder
        condition = self.truth(node.condition)
        then_block, else_block, done = self.fn.block("then"), self.fn.block("else"), self.fn.block("ternary")
        builder.cbranch(condition, then_block, else_block)
        results = []
        for block, branch in ((then_block, node.then), (else_block, node.otherwise)):
            builder.position_at_end(block)
            value = self.lower(branch)
            results.append((value, builder.block))
            builder.branch(done)
        builder.position_at_end(done)
        result = builder.phi(I64)
        for value, block in results:
            result.add_incoming(value, block)
        return result

    def lower_Cast(self, node: ast.Cast) -> ir.Value:
        target = self.type_of(node)
        value = self.lower(node.operand)
        if isinstance(target, BoolType):
            return self.builder.zext(self.builder.icmp_unsigned("!=", value, constant(0)), I64)
        if not isinstance(target, IntType):
            raise unsupported(f"casts to {target}", node.span)
        return narrow(self.builder, value, target)


def narrow(builder: ir.IRBuilder, value: ir.Value, type_: IntType) -> ir.Value:
    """The i64 that a value stored in `type_` reads back as."""
    if type_.bits == 64:
        return value
    truncated = builder.trunc(value, ir.IntType(type_.bits))
    return builder.sext(truncated, I64) if type_.signed else builder.zext(truncated, I64)


def _describe(expr: ast.Expr) -> str:
    if isinstance(expr, ast.Call):
        return f"{expr.name}() here"
    if isinstance(expr, ast.StringLiteral):
        return "string values outside printf arguments"
    return {
        "FieldAccess": "field access", "Index": "indexing", "TupleExpr": "tuple values",
        "RecordExpr": "record values", "PositionalParam": "positional parameters",
    }.get(type(expr).__name__, type(expr).__name__)
