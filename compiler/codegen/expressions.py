"""Expressions to LLVM IR. A scalar value is an i64 holding the value as its
type says (a uint32 zero-extended, an int8 sign-extended, a bool 0 or 1), so
arithmetic is 64-bit as C's promotions make it and only signedness matters.
A wide value (string, tuple, record, buffer, ...) is an i8* to its bytes in
the values.py layout, in per-CPU scratch space (scratch.py) or a variable's
scratch region; whoever keeps it (a variable, a map, an event) copies it.

Signed division and modulo are built from unsigned ones: the BPF ISA before
cpu v4 has no signed division, and C truncates toward zero.
"""

from __future__ import annotations

import os
from typing import Mapping

import llvmlite.ir as ir

from auger.compiler import ast
from auger.compiler.literals import string_bytes
from auger.compiler.resources import element_offsets, slot_size, storable, unsupported
from auger.compiler.semantic.builtins import is_builtin
from auger.compiler.semantic.type_rules import as_integer, promote
from auger.compiler.types import ArrayType, BoolType, IntType, NamedTupleType, PointerType, TupleType, Type

from . import context, maps, strings, values
from .function import RUNTIME_START_NS, ProbeFunction
from .helpers import (GET_CURRENT_CGROUP_ID, GET_CURRENT_PID_TGID, GET_CURRENT_TASK, GET_CURRENT_UID_GID,
                      GET_NUMA_NODE_ID, GET_PRANDOM_U32, GET_SMP_PROCESSOR_ID, I64, JIFFIES64, KTIME_GET_NS,
                      call_helper)
from .machine_calls import MachineCalls
from .scratch import scratch_space
from .stacks import lower_stack
from .values import narrow
from .value_calls import ValueCalls

_COMPARISONS = ("==", "!=", "<", ">", "<=", ">=")
_SHIFT_MASK = 63  # BPF masks shift counts the same way; LLVM would call >= 64 poison


def constant(value: int) -> ir.Constant:
    return ir.Constant(I64, value & ((1 << 64) - 1))


# Builtins that are one helper call, masked to their type's width.
_HELPER_BUILTINS = {
    "cgroup": (GET_CURRENT_CGROUP_ID, None), "jiffies": (JIFFIES64, None), "curtask": (GET_CURRENT_TASK, None),
    "rand": (GET_PRANDOM_U32, 0xFFFFFFFF), "numaid": (GET_NUMA_NODE_ID, 0xFFFFFFFF),
}


class ExpressionLowering(ValueCalls, MachineCalls):
    def __init__(self, fn: ProbeFunction, variable_types: Mapping[str, Type]) -> None:
        self.fn = fn
        self.variable_types = variable_types
        self.variables: dict[str, ir.Value] = {}
        self.scratch = scratch_space(fn)
        # id(i8*) -> (the i8*, its type) for every wide value lowered, so a
        # store knows the layout it copies from.
        self.wide_types: dict[int, tuple[ir.Value, Type]] = {}
        # Wide variables get their scratch regions first, outside any
        # statement's temporaries; the addresses are made in the first
        # block, which every later block is dominated by.
        for name, type_ in variable_types.items():
            if values.is_wide(type_):
                self.variables[name] = self.scratch.allocate(slot_size(type_))

    @property
    def builder(self) -> ir.IRBuilder:
        return self.fn.builder

    def type_of(self, expr: ast.Expr) -> Type | None:
        return self.fn.analysis.type_of(expr)

    def is_signed(self, expr: ast.Expr) -> bool:
        integer = as_integer(self.type_of(expr))
        return integer is not None and promote(integer).signed

    def lower(self, expr: ast.Expr) -> ir.Value:
        """The expression's value: an i64, or an i8* for a wide value."""
        method = getattr(self, "lower_" + type(expr).__name__, None)
        if method is None:
            raise unsupported(_describe(expr), expr.span)
        value = method(expr)
        type_ = self.type_of(expr)
        if values.is_wide(type_):
            self.wide_types[id(value)] = (value, type_)
        return value

    def string_operand(self, expr: ast.Expr) -> strings.StringOperand:
        return strings.StringOperand(self.lower_field(expr), strings.byte_length(self.type_of(expr)))

    def lower_as(self, expr: ast.Expr, type_: Type) -> ir.Value:
        """The value converted to `type_`'s layout: for a wide value a
        fresh scratch copy of exactly that type (a map key element, say)."""
        source_type = self.type_of(expr)
        if not values.is_wide(type_):
            value = self.lower(expr)
            return narrow(self.builder, value, type_) if isinstance(type_, IntType) else value
        if source_type == type_:
            return self.lower(expr)
        return values.materialise(self.fn, type_, self.lower_field(expr), source_type, expr.span)

    def lower_field(self, expr: ast.Expr) -> ir.Value | bytes:
        """A value for values.store: a string literal stays its bytes, so
        it is written as immediates without a scratch copy first."""
        if isinstance(expr, ast.StringLiteral):
            return string_bytes(expr.value) + b"\0"
        return self.lower(expr)

    # ------------------------------------------------------------ leaves

    def lower_IntLiteral(self, node: ast.IntLiteral) -> ir.Value:
        return constant(node.value)

    def lower_BoolLiteral(self, node: ast.BoolLiteral) -> ir.Value:
        return constant(int(node.value))

    def lower_StringLiteral(self, node: ast.StringLiteral) -> ir.Value:
        return strings.literal(self.fn, string_bytes(node.value) + b"\0", self.type_of(node))

    def lower_TupleExpr(self, node: ast.TupleExpr) -> ir.Value:
        return self._build_tuple(node, node.elements)

    def lower_RecordExpr(self, node: ast.RecordExpr) -> ir.Value:
        return self._build_tuple(node, [field.value for field in node.fields])

    def _build_tuple(self, node: ast.Expr, elements) -> ir.Value:
        type_ = self.type_of(node)
        address = self.scratch.allocate(slot_size(type_), node.span)
        for element, element_type, offset in zip(elements, type_.elements, element_offsets(type_)):
            with self.scratch.temporaries():
                values.store(self.fn, element_type, values.at(self.builder, address, offset),
                             self.lower_field(element), self.type_of(element))
        return address

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
        if node.name in ("uid", "gid", "username"):
            uid_gid = call_helper(builder, GET_CURRENT_UID_GID)
            return builder.lshr(uid_gid, constant(32)) if node.name == "gid" else builder.and_(uid_gid, constant(0xFFFFFFFF))
        if node.name in _HELPER_BUILTINS:
            helper, mask = _HELPER_BUILTINS[node.name]
            result = call_helper(builder, helper)
            return result if mask is None else builder.and_(result, constant(mask))
        if node.name == "ncpus":
            # As bpftrace: the CPUs online when the program is compiled.
            return constant(os.sysconf("SC_NPROCESSORS_ONLN"))
        if node.name == "comm":
            return strings.comm(self.fn, self.type_of(node))
        if node.name in ("kstack", "ustack"):
            return lower_stack(self.fn, self.type_of(node), node.span)
        if node.name == "elapsed":
            start = context.runtime_value(self.fn, RUNTIME_START_NS)
            return builder.sub(call_helper(builder, KTIME_GET_NS), start)
        constant_value = None if is_builtin(node.name) else self.constant_value(node)
        if constant_value is not None:
            return constant_value
        value = context.lower_builtin(self.fn, node)
        if node.name == "func" and values.is_wide(self.type_of(node)):  # a user function: usym
            return self.user_symbol(node, value)
        return value

    def lower_FieldAccess(self, node: ast.FieldAccess) -> ir.Value:
        if context.is_args_access(node):
            if isinstance(self.type_of(node), ArrayType):
                return self.lower_args_array(node)
            return context.lower_args_access(self.fn, node)
        operand_type = self.type_of(node.operand)
        if isinstance(operand_type, NamedTupleType) and node.field in operand_type.names:
            return self._element(node.operand, operand_type.names.index(node.field))
        if isinstance(operand_type, TupleType) and node.field.isdigit():
            return self._element(node.operand, int(node.field))
        return self.lower_member(node)

    def lower_Index(self, node: ast.Index) -> ir.Value:
        operand_type = self.type_of(node.operand)
        if isinstance(operand_type, TupleType) and isinstance(node.index, ast.IntLiteral):
            return self._element(node.operand, node.index.value)
        if isinstance(operand_type, PointerType) and operand_type.target.size:
            # `p[i]` is `*(p + i)`: the element read from memory, as `*` reads it.
            offset = self.builder.mul(self.lower(node.index), constant(operand_type.target.size))
            return self.read_at(self.builder.add(self.lower(node.operand), offset), self.type_of(node), node)
        element = as_integer(self.type_of(node))
        if isinstance(operand_type, ArrayType) and isinstance(node.index, ast.IntLiteral) \
                and 0 <= node.index.value < operand_type.length and isinstance(element, IntType):
            # A constant index into an array value (in scratch): a load at its offset.
            address = values.at(self.builder, self.lower(node.operand), node.index.value * operand_type.element.size)
            loaded = self.builder.load(self.builder.bitcast(address, ir.IntType(element.bits).as_pointer()))
            return self.builder.sext(loaded, I64) if element.signed else self.builder.zext(loaded, I64)
        raise unsupported("indexing", node.span)

    def _element(self, operand: ast.Expr, index: int) -> ir.Value:
        """Element `index` of a tuple or record (a wide element is an i8*
        into the tuple's own bytes)."""
        type_ = self.type_of(operand)
        address = values.at(self.builder, self.lower(operand), element_offsets(type_)[index])
        return values.load(self.fn, type_.elements[index], address)

    def variable_slot(self, node: ast.Variable) -> ir.Value:
        """A scalar variable's i64 stack slot, or a wide one's scratch region (i8*)."""
        type_ = self.variable_types.get(node.name)
        if not storable(type_):
            raise unsupported(f"variables of type {type_}", node.span)
        if node.name not in self.variables:
            self.variables[node.name] = self.fn.stack_slot(I64, node.name)
        return self.variables[node.name]

    def lower_Variable(self, node: ast.Variable) -> ir.Value:
        slot = self.variable_slot(node)
        if values.is_wide(self.variable_types.get(node.name)):
            return slot
        return self.builder.load(slot)

    def map_keys(self, node: ast.MapRef) -> list[ir.Value]:
        """The key's elements (one per tuple element, else one), each
        converted to the map's key element type; values.build_key lays
        them out."""
        key_type = self.fn.analysis.maps[node.name].key
        if key_type is None:
            return []
        if not isinstance(key_type, TupleType):
            return [self.lower_as(node.keys[0], key_type)]
        if len(node.keys) == 1:  # a tuple-valued key: `@m[$t]`
            tuple_value = self.lower_as(node.keys[0], key_type)
            return [values.load(self.fn, element, values.at(self.builder, tuple_value, offset))
                    for element, offset in zip(key_type.elements, element_offsets(key_type))]
        return [self.lower_as(key, element) for key, element in zip(node.keys, key_type.elements)]

    def lower_MapRef(self, node: ast.MapRef) -> ir.Value:
        plan = self.fn.plan.map(node.name)
        return maps.read_value(self.fn, plan, self.map_keys(node))

    def store(self, target: ast.Expr, value: ir.Value, source_type: Type | None = None) -> None:
        """Assign a value to a variable or a plain (non-aggregation) map
        entry. A wide value is copied, converted from `source_type` (by
        default the type of the value last lowered to this i8*)."""
        target_type = self._target_type(target)
        if values.is_wide(target_type):
            source_type = source_type or self.wide_types.get(id(value), (None, target_type))[1]
            if isinstance(target, ast.Variable):
                values.store(self.fn, target_type, self.variable_slot(target), value, source_type)
                return
            value = values.materialise(self.fn, target_type, value, source_type, target.span)
        if isinstance(target, ast.Variable):
            self.builder.store(value, self.variable_slot(target))
            return
        plan = self.fn.plan.map(target.name)
        if plan.per_cpu:
            raise unsupported(f"assigning a value to the aggregation map {plan.name}", target.span)
        maps.store_value(self.fn, plan, self.map_keys(target), value)

    def _target_type(self, target: ast.Expr) -> Type | None:
        if isinstance(target, ast.Variable):
            return self.variable_types.get(target.name)
        return self.fn.analysis.maps[target.name].value

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
        if node.op == "*":
            return self.lower_dereference(node)
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
        if strings.byte_length(self.type_of(node.left)) is not None and node.op in ("==", "!="):
            with self.scratch.temporaries():
                same = strings.equal(self.fn, self.string_operand(node.left), self.string_operand(node.right))
            return self.builder.zext(same if node.op == "==" else self.builder.not_(same), I64)
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
        """BPF's rule for a zero divisor (x / 0 is 0, x % 0 is x), made
        explicit: to LLVM a division by zero is undefined, and it deletes
        the code paths that would reach one (a map read's null check)."""
        builder = self.builder
        by_zero = builder.icmp_unsigned("==", right, constant(0))
        quotient = self._divide_nonzero(op, left, builder.select(by_zero, constant(1), right), signed)
        return builder.select(by_zero, constant(0) if op == "/" else left, quotient)

    def _divide_nonzero(self, op: str, left: ir.Value, right: ir.Value, signed: bool) -> ir.Value:
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
        type_ = self.type_of(node)
        wide = values.is_wide(type_)
        if as_integer(type_) is None and not isinstance(type_, BoolType) and not wide:
            raise unsupported(f"a ternary of type {type_}", node.span)
        builder = self.fn.builder
        # A wide result: both branches write one region, in the ternary's type.
        result = self.scratch.allocate(slot_size(type_), node.span) if wide else None
        condition = self.truth(node.condition)
        then_block, else_block, done = self.fn.block("then"), self.fn.block("else"), self.fn.block("ternary")
        builder.cbranch(condition, then_block, else_block)
        results = []
        for block, branch in ((then_block, node.then), (else_block, node.otherwise)):
            builder.position_at_end(block)
            if wide:
                with self.scratch.temporaries():
                    values.store(self.fn, type_, result, self.lower_field(branch), self.type_of(branch))
            else:
                results.append((self.lower(branch), builder.block))
            builder.branch(done)
        builder.position_at_end(done)
        if wide:
            return result
        merged = builder.phi(I64)
        for value, block in results:
            merged.add_incoming(value, block)
        return merged

    def lower_Cast(self, node: ast.Cast) -> ir.Value:
        target = self.type_of(node)
        value = self.lower(node.operand)
        if isinstance(target, BoolType):
            return self.builder.zext(self.builder.icmp_unsigned("!=", value, constant(0)), I64)
        if isinstance(target, PointerType):  # an address either way
            return value
        if not isinstance(target, IntType):
            raise unsupported(f"casts to {target}", node.span)
        return narrow(self.builder, value, target)


def _describe(expr: ast.Expr) -> str:
    if isinstance(expr, ast.Call):
        return f"{expr.name}() here"
    if isinstance(expr, ast.StringLiteral):
        return "string values outside printf arguments"
    return {
        "FieldAccess": "field access", "Index": "indexing", "TupleExpr": "tuple values",
        "RecordExpr": "record values", "PositionalParam": "positional parameters",
    }.get(type(expr).__name__, type(expr).__name__)
