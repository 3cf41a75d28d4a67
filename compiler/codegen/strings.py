"""Strings in BPF: literals, `comm`, str() reads, buf(), and comparisons.

A string value is an i8* to a NUL-terminated buffer of its type's length in
scratch space (values.py), zero-filled past the NUL. Comparisons still stop
at the first NUL, as C's do, because a string read from a tracepoint's
`char[N]` field or a map written by another tool need not be zero-filled.

Comparisons are unrolled chains of early exits, one byte at a time (see
_Outcome); the bytes of a literal operand are immediates.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import llvmlite.ir as ir

from auger.compiler.btf import kernel_types
from auger.compiler.resources import slot_size
from auger.compiler.types import ArrayType, BufferType, StringType

from .function import ProbeFunction
from .helpers import (GET_CURRENT_COMM, GET_CURRENT_TASK_BTF, I1, I8, I64, PROBE_READ_KERNEL, PROBE_READ_KERNEL_STR, PROBE_READ_USER,
                      PROBE_READ_USER_STR, BYTE_POINTER, call_helper)
from .scratch import scratch_space
from .values import at, store_constant, zero

TRUE = ir.Constant(I1, 1)
FALSE = ir.Constant(I1, 0)

# Probe kinds whose pointers (arguments, struct fields) point into the
# traced process, read with the _user helpers; everything else is kernel
# memory. Syscall tracepoints' pointer arguments are user pointers too.
_USER_PROVIDERS = ("uprobe", "uretprobe", "usdt")
_SYSCALL_TRACEPOINTS = "syscalls"


@dataclass(frozen=True)
class StringOperand:
    """One side of a comparison: the bytes of a literal, or the address of
    a buffer of `length` bytes."""

    value: ir.Value | bytes
    length: int

    def byte(self, builder: ir.IRBuilder, index: int) -> ir.Value:
        """Byte `index` as an i8 (a constant past the end)."""
        if isinstance(self.value, bytes):
            return ir.Constant(I8, self.value[index] if index < len(self.value) else 0)
        if index >= self.length:
            return ir.Constant(I8, 0)
        return builder.load(at(builder, self.value, index))


def byte_length(type_) -> int | None:
    """The bytes a string-like value holds: a string, or a `char[N]` array
    (a tracepoint's `comm`, say), which compares as a string too."""
    if isinstance(type_, StringType):
        return type_.length
    if isinstance(type_, ArrayType) and type_.element.size == 1:
        return type_.length
    return None


def literal(fn: ProbeFunction, data: bytes, type_: StringType) -> ir.Value:
    """A string known at compile time, placed in scratch."""
    address = scratch_space(fn).allocate(slot_size(type_))
    store_constant(fn.builder, address, data, slot_size(type_))
    return address


def comm(fn: ProbeFunction, type_: StringType) -> ir.Value:
    """The current task's name. Read straight from its task_struct (the
    verifier allows loads through bpf_get_current_task_btf's pointer):
    bpf_get_current_comm costs ~70 ns here, two loads next to nothing."""
    address = scratch_space(fn).allocate(slot_size(type_))
    offset = _task_comm_offset()
    if offset is None or type_.length != _TASK_COMM_LEN:
        # The helper zero-fills the buffer past the name (strscpy_pad).
        call_helper(fn.builder, GET_CURRENT_COMM, address, ir.Constant(I64, type_.length))
        return address
    builder = fn.builder
    task = builder.inttoptr(call_helper(builder, GET_CURRENT_TASK_BTF), I64.as_pointer())
    words = [builder.load(builder.gep(task, [ir.Constant(I64, offset // 8 + index)])) for index in (0, 1)]
    # The kernel pads the name with zeros (strscpy_pad), but a rename
    # racing with the loads could leave other bytes past the NUL: cleared,
    # as the helper's copy would.
    first, first_has_nul = _up_to_nul(builder, words[0])
    second, _ = _up_to_nul(builder, words[1])
    keep_second = builder.sub(first_has_nul, ir.Constant(I64, 1))  # all ones when the first word has no NUL
    destination = builder.bitcast(address, I64.as_pointer())
    builder.store(first, destination)
    builder.store(builder.and_(second, keep_second), builder.gep(destination, [ir.Constant(I64, 1)]))
    return address


_TASK_COMM_LEN = 16
_LOW_BITS = ir.Constant(I64, 0x0101010101010101)
_HIGH_BITS = ir.Constant(I64, 0x8080808080808080)


def _up_to_nul(builder: ir.IRBuilder, word: ir.Value) -> tuple[ir.Value, ...]:
    """The 8 little-endian bytes of `word` with every byte after its first
    NUL cleared, and 1 if it has a NUL, else 0 (both i64). The lowest bit of
    `(w - 0x01..) & ~w & 0x80..` marks the first zero byte (the classic
    word-at-a-time test: bits above it can be false positives)."""
    marks = builder.and_(builder.and_(builder.sub(word, _LOW_BITS), builder.not_(word)), _HIGH_BITS)
    lowest = builder.and_(marks, builder.neg(marks))
    keep = builder.sub(builder.lshr(lowest, ir.Constant(I64, 7)), ir.Constant(I64, 1))  # all ones without a NUL
    has_nul = builder.lshr(builder.or_(marks, builder.neg(marks)), ir.Constant(I64, 63))
    return builder.and_(word, keep), has_nul


@lru_cache(maxsize=None)
def _task_comm_offset() -> int | None:
    """Where task_struct's `comm` is, from the kernel's BTF; None without
    BTF or with an unexpected layout (then the helper is used)."""
    types = kernel_types()
    task = types.record("struct", "task_struct") if types is not None else None
    field = next((field for field in types.fields(task) if field.name == "comm"), None) if task else None
    usable = (field is not None and field.offset % 8 == 0 and field.bit_size == 0 and isinstance(field.type, ArrayType)
              and field.type.length == _TASK_COMM_LEN and field.type.element.size == 1)
    return field.offset if usable else None


def reads_user_memory(fn: ProbeFunction) -> bool:
    """Whether pointers in this probe point into user memory (as bpftrace
    decides it: by probe kind)."""
    group = fn.group
    if group.provider in _USER_PROVIDERS:
        return True
    return group.provider == "tracepoint" and all(spec.target == _SYSCALL_TRACEPOINTS for spec in group.specs)


def read_string(fn: ProbeFunction, source: ir.Value, type_: StringType, length: ir.Value | None = None,
                user: bool | None = None) -> ir.Value:  # fmt: skip
    """str(source [, length]) as bpftrace 0.27 reads it: the NUL-terminated
    string at address `source` (an i64), at most `length` bytes with its NUL
    (a run-time i64), into a zeroed scratch buffer. A string that fills all
    type_.length bytes keeps no NUL there: the runtime shows it as cut
    (bpftrace's `..` trailer). The helper still writes a NUL after those
    bytes, so the buffer is a byte longer. `user`: whether `source` is user
    memory (None: as the probe kind says)."""
    builder = fn.builder
    buffer = StringType(type_.length + 1)
    address = scratch_space(fn).allocate(slot_size(buffer))
    size = ir.Constant(I64, buffer.length)
    if length is not None:  # a size the verifier can bound: min(length, buffer)
        size = builder.select(builder.icmp_unsigned(">", length, size), size, length)
    _read(fn, address, source, slot_size(buffer), size, user)
    return address


def read_into(fn: ProbeFunction, address: ir.Value, source: ir.Value, type_: StringType, user: bool | None) -> None:
    """The string at `source` into the slot of type_ at `address`: at most
    type_.length - 1 characters and the NUL."""
    _read(fn, address, source, slot_size(type_), ir.Constant(I64, type_.length), user)


def _read(fn: ProbeFunction, address: ir.Value, source: ir.Value, buffer_size: int, size: ir.Value,
          user: bool | None) -> None:  # fmt: skip
    builder = fn.builder
    zero(builder, address, buffer_size)
    user = reads_user_memory(fn) if user is None else user
    helper = PROBE_READ_USER_STR if user else PROBE_READ_KERNEL_STR
    call_helper(builder, helper, address, size, builder.inttoptr(source, BYTE_POINTER))


def read_buffer(fn: ProbeFunction, source: ir.Value, type_: BufferType, length: ir.Value | None = None,
                user: bool | None = None) -> ir.Value:  # fmt: skip
    """buf(source, length): a length word, then up to type_.length raw bytes
    from address `source` (an i64)."""
    builder = fn.builder
    address = scratch_space(fn).allocate(slot_size(type_))
    zero(builder, address, slot_size(type_))
    capacity = ir.Constant(I64, type_.length)
    size = capacity
    if length is not None:
        too_long = builder.icmp_unsigned(">", length, capacity)
        size = builder.select(too_long, capacity, length)
    builder.store(size, builder.bitcast(address, I64.as_pointer()))
    user = reads_user_memory(fn) if user is None else user
    helper = PROBE_READ_USER if user else PROBE_READ_KERNEL
    call_helper(builder, helper, at(builder, address, 8), size, builder.inttoptr(source, BYTE_POINTER))
    return address


def equal(fn: ProbeFunction, left: StringOperand, right: StringOperand, limit: int | None = None) -> ir.Value:
    """An i1: the strings are equal up to their NULs (or over the first
    `limit` bytes, strncmp's way)."""
    count = max(left.length, right.length)
    if limit is not None:
        count = min(count, limit)
    outcome = _Outcome(fn, "string_equal")
    builder = fn.builder
    for index in range(count):
        a, b = left.byte(builder, index), right.byte(builder, index)
        outcome.decide_if(builder.icmp_unsigned("!=", a, b), FALSE)
        outcome.decide_if(builder.icmp_unsigned("==", a, ZERO_BYTE), TRUE)
    return outcome.finish(TRUE)


def contains(fn: ProbeFunction, haystack: StringOperand, needle: StringOperand) -> ir.Value:
    """An i1: `needle` occurs in `haystack` (an empty needle always does)."""
    literal = isinstance(needle.value, bytes)
    if literal:
        needle = StringOperand(needle.value.split(b"\0", 1)[0], 0)
    needle_length = len(needle.value) if literal else needle.length
    if literal and needle_length == 0:
        return TRUE
    builder = fn.builder
    outcome = _Outcome(fn, "string_contains")
    for start in range(haystack.length):
        next_start = fn.block("contains_next")
        for index in range(needle_length):
            wanted = needle.byte(builder, index)
            if not literal:  # the needle ended: it matched here
                outcome.decide_if(builder.icmp_unsigned("==", wanted, ZERO_BYTE), TRUE)
            mismatch = builder.icmp_unsigned("!=", haystack.byte(builder, start + index), wanted)
            _continue_unless(fn, mismatch, next_start)
        outcome.decide(TRUE)  # every byte of the needle matched
        builder.position_at_end(next_start)
        # The haystack ended: no later start can match.
        outcome.decide_if(builder.icmp_unsigned("==", haystack.byte(builder, start), ZERO_BYTE), FALSE)
    return outcome.finish(FALSE)


ZERO_BYTE = ir.Constant(I8, 0)


class _Outcome:
    """An i1 decided by a chain of early exits: each test either decides
    the result (a branch to the end) or lets the code go on. A chain of
    branches keeps one byte live at a time (branch-free code over 64 bytes
    spills past the BPF stack) and the verifier walks it in linear time."""

    def __init__(self, fn: ProbeFunction, name: str) -> None:
        self.fn = fn
        self.done = fn.block(name)
        self.incoming: list[tuple[ir.Value, ir.Block]] = []

    def decide_if(self, condition: ir.Value, result: ir.Value) -> None:
        builder = self.fn.builder
        self.incoming.append((result, builder.block))
        go_on = self.fn.block("string_next")
        builder.cbranch(condition, self.done, go_on)
        builder.position_at_end(go_on)

    def decide(self, result: ir.Value) -> None:
        """Decide from here on every path (the builder's block then ends)."""
        self.incoming.append((result, self.fn.builder.block))
        self.fn.builder.branch(self.done)

    def finish(self, otherwise: ir.Value) -> ir.Value:
        builder = self.fn.builder
        self.decide(otherwise)
        builder.position_at_end(self.done)
        result = builder.phi(I1)
        for value, block in self.incoming:
            result.add_incoming(value, block)
        return result


def _continue_unless(fn: ProbeFunction, condition: ir.Value, elsewhere: ir.Block) -> None:
    go_on = fn.block("string_next")
    fn.builder.cbranch(condition, elsewhere, go_on)
    fn.builder.position_at_end(go_on)
