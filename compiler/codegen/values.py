"""Values in memory: the one place that knows how a value of any type is laid
out in a map key, a map value, an event record or a wide variable
(resources.slot_size, resources.element_offsets).

In the lowering, a scalar (integer, bool, pointer) is an i64 and a wide
value (string, tuple, record, buffer, inet address, ...) is an i8* to its
bytes, already in this layout, in scratch space or a map value. Storing
converts between layouts of the same kind: a string[6] into a string[16]
slot is copied and NUL-padded, a tuple element by element, so that equal
values always have equal bytes (hash map keys depend on it).
"""

from __future__ import annotations

import llvmlite.ir as ir

from auger.compiler.resources import element_offsets, slot_size
from auger.compiler.types import (ArrayType, BufferType, IntType, NamedTupleType, SpecialType, StackType, StringType,
                                  TupleType, Type)

from .function import ProbeFunction
from .helpers import I8, I32, I64
from .scratch import scratch_space

_WORD = 8
# Special values held as bytes: an address family and address (ntop), an
# address and pid (usym), ns and a format index (strftime), six bytes (macaddr),
# a cgroup id and a word for its filter (cgroup_path).
# A stack is wide too: the hash of its frames and a pid (codegen/stacks.py).
_WIDE_SPECIALS = ("inet", "usym", "timestamp", "macaddr", "cgroup_path")


def is_wide(type_: Type | None) -> bool:
    """The value is held in memory and lowered as an i8* to its bytes."""
    if isinstance(type_, SpecialType):
        return type_.kind in _WIDE_SPECIALS
    return isinstance(type_, (StringType, TupleType, NamedTupleType, BufferType, ArrayType, StackType))


def holds_wide(type_: Type | None) -> bool:
    """The value, or an element of the tuple it is, is wide (a tuple of
    integers is only a row of words)."""
    if isinstance(type_, (TupleType, NamedTupleType)):
        return any(holds_wide(element) for element in type_.elements)
    return is_wide(type_)


def narrow(builder: ir.IRBuilder, value: ir.Value, type_: IntType) -> ir.Value:
    """The i64 that a value stored in `type_` reads back as."""
    if type_.bits == 64:
        return value
    truncated = builder.trunc(value, ir.IntType(type_.bits))
    return builder.sext(truncated, I64) if type_.signed else builder.zext(truncated, I64)


def at(builder: ir.IRBuilder, address: ir.Value, offset: int) -> ir.Value:
    """address + offset bytes (an i8*)."""
    return address if offset == 0 else builder.gep(address, [ir.Constant(I32, offset)])


def _word_pointer(builder: ir.IRBuilder, address: ir.Value, offset: int) -> ir.Value:
    return builder.bitcast(at(builder, address, offset), I64.as_pointer())


def store(fn: ProbeFunction, type_: Type, address: ir.Value, value: ir.Value | bytes,
          source_type: Type | None = None) -> None:  # fmt: skip
    """Write `value` (of `source_type`, default `type_`) at `address` laid
    out as `type_`. `value` may be the bytes of a string known at compile
    time."""
    builder = fn.builder
    source_type = source_type or type_
    if isinstance(value, bytes):
        store_constant(builder, address, value, slot_size(type_))
    elif isinstance(type_, (TupleType, NamedTupleType)):
        sources = zip(source_type.elements, element_offsets(source_type))
        for element, offset, (source_element, source_offset) in zip(type_.elements, element_offsets(type_), sources):
            item = load(fn, source_element, at(builder, value, source_offset))
            store(fn, element, at(builder, address, offset), item, source_element)
    elif is_wide(type_):
        size, source_size = slot_size(type_), slot_size(source_type)
        copy(builder, address, value, min(size, source_size))
        zero(builder, at(builder, address, source_size), size - source_size)
        if isinstance(type_, StringType) and source_size > size:
            # A longer string cut to the slot still ends in a NUL.
            builder.store(ir.Constant(I8, 0), at(builder, address, type_.length - 1))
    else:
        builder.store(value, _word_pointer(builder, address, 0))


def load(fn: ProbeFunction, type_: Type, address: ir.Value) -> ir.Value:
    """The value stored at `address`: an i64, or for a wide value the
    address itself (copy it with `materialise` if the memory may change)."""
    if is_wide(type_):
        return address
    return fn.builder.load(_word_pointer(fn.builder, address, 0))


def materialise(fn: ProbeFunction, type_: Type, value: ir.Value | bytes, source_type: Type | None = None,
                span=None) -> ir.Value:  # fmt: skip
    """A fresh scratch copy of `value` laid out as `type_` (an i8*)."""
    address = scratch_space(fn).allocate(slot_size(type_), span)
    store(fn, type_, address, value, source_type)
    return address


def load_or_zero(fn: ProbeFunction, type_: Type, found: ir.Value, span=None) -> ir.Value:
    """What a map lookup reads: the value at `found`, or zero (an empty
    string, a tuple of zeros) when `found` is null. A wide value is copied
    to scratch, so a later update of the entry does not change it."""
    builder = fn.builder
    missing = builder.icmp_unsigned("==", found, ir.Constant(found.type, None))
    if is_wide(type_):
        copied = scratch_space(fn).allocate(slot_size(type_), span)
        zero(builder, copied, slot_size(type_))
        with builder.if_then(builder.not_(missing)):
            copy(builder, copied, found, slot_size(type_))
        return copied
    before = builder.block
    hit, done = fn.block("value_hit"), fn.block("value_read")
    builder.cbranch(missing, done, hit)
    builder.position_at_end(hit)
    loaded = builder.load(_word_pointer(builder, found, 0))
    builder.branch(done)
    builder.position_at_end(done)
    result = builder.phi(I64)
    result.add_incoming(ir.Constant(I64, 0), before)
    result.add_incoming(loaded, hit)
    return result


def copy(builder: ir.IRBuilder, destination: ir.Value, source: ir.Value, size: int) -> None:
    """Copy `size` bytes (a multiple of 8), a word at a time: slots are
    8-aligned, and unrolled word moves are what the verifier checks fastest."""
    for offset in range(0, size, _WORD):
        word = builder.load(_word_pointer(builder, source, offset))
        builder.store(word, _word_pointer(builder, destination, offset))


def zero(builder: ir.IRBuilder, address: ir.Value, size: int) -> None:
    for offset in range(0, size, _WORD):
        builder.store(ir.Constant(I64, 0), _word_pointer(builder, address, offset))


def store_constant(builder: ir.IRBuilder, address: ir.Value, data: bytes, size: int) -> None:
    """`data`, NUL-padded to `size` bytes (cut to it, if longer)."""
    padded = data[:size].ljust(size, b"\0")
    for offset in range(0, size, _WORD):
        word = int.from_bytes(padded[offset : offset + _WORD], "little")
        builder.store(ir.Constant(I64, word), _word_pointer(builder, address, offset))


def build_key(fn: ProbeFunction, key_type: Type, elements: list[ir.Value]) -> ir.Value:
    """A map key laid out as `key_type`, in scratch (an i8*). `elements` are
    the key's values (one per tuple element, else one), each already of its
    element's type: ExpressionLowering.map_keys converts them."""
    element_types = key_type.elements if isinstance(key_type, TupleType) else (key_type,)
    offsets = element_offsets(key_type) if isinstance(key_type, TupleType) else (0,)
    address = scratch_space(fn).allocate(slot_size(key_type))
    for element_type, offset, element in zip(element_types, offsets, elements):
        store(fn, element_type, at(fn.builder, address, offset), element)
    return address
