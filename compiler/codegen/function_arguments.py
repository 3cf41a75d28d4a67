"""The context of fentry/fexit programs (BPF_PROG_TYPE_TRACING): `args.NAME`,
`retval` and `func`.

The BPF trampoline hands the program an array of u64 slots: the traced
function's arguments in order (probes/fentry.py lays them out from the BTF
prototype: one slot each, two for a struct passed by value over 8 bytes),
then, for fexit, the return value. The verifier checks each read against
that prototype (btf_ctx_access): only whole, 8-byte aligned slots, so a
narrower argument is read as its whole slot and then truncated to its type,
as the callee would.

A pointer slot read directly would be a typed kernel pointer to the
verifier (PTR_TO_BTF_ID), on which it refuses most arithmetic (`&`, `%`,
`>>`, `*`: "pointer arithmetic prohibited"), while the language treats a
pointer as an integer. So pointers are copied out of the slot with
bpf_probe_read_kernel instead, which gives a plain number; what they point
at is read with probe reads anyway (`args.file->f_pos`).
"""

from __future__ import annotations

import llvmlite.ir as ir

from auger.compiler.diagnostics import Span
from auger.compiler.resources import unsupported
from auger.compiler.types import VOID, BoolType, EnumType, FieldLayout, IntType, PointerType, RecordType

from . import context as probe_context
from .function import ProbeFunction
from .helpers import BYTE_POINTER, GET_FUNC_IP, I64, PROBE_READ_KERNEL, call_helper
from .values import narrow


def argument(fn: ProbeFunction, field: FieldLayout, span: Span) -> ir.Value:
    """`args.NAME`: an i64 for an integer, enum, bool or pointer argument;
    for a struct passed by value, its address in the context (an i64, as
    any struct-typed expression), whose members are read from there."""
    if isinstance(field.type, RecordType):
        return probe_context.field_address(fn, field)
    return _read(fn, field, f"args.{field.name}", span)


def return_value(fn: ProbeFunction, span: Span) -> ir.Value:
    """fexit's `retval`, as the function's return type (the whole slot for
    a void function)."""
    extra = fn.group.context.extra
    return _read(fn, FieldLayout("retval", extra.get("return_type", VOID), int(extra["retval_offset"])), "retval", span)


def function_address(fn: ProbeFunction) -> ir.Value:
    """`func`: the traced function's address (bpf_get_func_ip, Linux >= 5.15),
    which the runtime resolves to its name."""
    return call_helper(fn.builder, GET_FUNC_IP, fn.builder.bitcast(fn.context, BYTE_POINTER))


def _read(fn: ProbeFunction, field: FieldLayout, what: str, span: Span) -> ir.Value:
    """The i64 value of the slot that holds `field`."""
    builder, type_ = fn.builder, field.type
    if isinstance(type_, PointerType) or type_ == VOID:
        return probe_context.read_word(fn, probe_context.field_address(fn, field), PROBE_READ_KERNEL)
    slot = builder.load(builder.bitcast(builder.gep(fn.context, [ir.Constant(I64, field.offset)]), I64.as_pointer()))
    if isinstance(type_, IntType):
        return narrow(builder, slot, type_)
    if isinstance(type_, EnumType):
        return narrow(builder, slot, IntType(type_.bits, type_.signed))
    if isinstance(type_, BoolType):
        truth = builder.icmp_unsigned("!=", builder.trunc(slot, ir.IntType(8)), ir.Constant(ir.IntType(8), 0))
        return builder.zext(truth, I64)
    raise unsupported(f"reading {what} of type {type_} as a value", span)
