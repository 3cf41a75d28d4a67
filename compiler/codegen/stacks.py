"""kstack and ustack values: `bpf_get_stack` copies the frames into scratch,
a 64-bit hash of them names the stack, and the frames are stored once in
the stack map of the stack's kind and frame limit (resources.stack_maps: a
hash map, hash -> frames). The value is the 16 bytes userspace needs to
print it: the hash, then for a user stack the pid (tgid) whose memory map
names its frames (0 for a kernel stack, so that equal kernel stacks are
equal map keys).

Not bpf_get_stackid and a STACK_TRACE map, as bpftrace 0.17 did: that map
keeps one stack per bucket of its own small hash, so a new stack whose
bucket is taken is lost (by the birthday paradox a few hundred distinct
stacks already collide), and BPF_F_REUSE_STACKID would instead change the
frames of ids already used as map keys. A 64-bit hash does not collide in
practice; a stack is lost only when its map is full, which is counted in
the stack map's `map_full` slot (the session warns).

No stack (a kernel stack sampled in user mode, a user stack of a kernel
thread) is the hash 0, printed as an empty stack, as in bpftrace.
"""

from __future__ import annotations

import llvmlite.ir as ir

from auger.compiler import ast
from auger.compiler.diagnostics import Span
from auger.compiler.resources import slot_size, unsupported
from auger.compiler.types import StackType

from . import values
from .function import ProbeFunction
from .helpers import BYTE_POINTER, GET_CURRENT_PID_TGID, I32, I64, MAP_UPDATE_ELEM, call_helper
from .maps import call_unlisted_helper, is_null, lookup, word
from .scratch import scratch_space

# Not in helpers.py's table yet: get_stack(context, buffer, size, flags).
_GET_STACK = 67
_BPF_F_USER_STACK = 1 << 8
_NOEXIST = 1  # map_update_elem: only create (an existing hash holds these frames already)
_EEXIST = 17
_PID_OFFSET = 8
# The hash: h = (h ^ frame) * K per frame. K is odd, so each step is a
# bijection of h, and stacks that differ only in one frame never collide.
_HASH_SEED = 0xCBF29CE484222325
_HASH_MULTIPLIER = 0x9E3779B97F4A7C15


def lower_stack(fn: ProbeFunction, stack: StackType, span: Span | None = None) -> ir.Value:
    """A kstack/ustack value in scratch (an i8*)."""
    builder = fn.builder
    result = scratch_space(fn).allocate(slot_size(stack), span)
    plan = fn.plan.stack_map(stack)
    with scratch_space(fn).temporaries():
        frames, copied = _capture(fn, stack, span)
        stack_hash = _hash(fn, frames, plan.value_size)
        # A hash of 0 is no stack; a real stack hashing to 0 becomes 1.
        stack_hash = builder.select(builder.icmp_unsigned("==", stack_hash, _constant(0)), _constant(1), stack_hash)
        captured = builder.icmp_signed(">", copied, _constant(0))
        stack_hash = builder.select(captured, stack_hash, _constant(0))
        with builder.if_then(captured):
            key = fn.shared_slot(I64, "stack_hash")
            builder.store(stack_hash, key)
            status = call_helper(builder, MAP_UPDATE_ELEM, fn.map_pointer(plan), builder.bitcast(key, BYTE_POINTER),
                                 frames, _constant(_NOEXIST))
            lost = builder.and_(builder.icmp_signed("<", status, _constant(0)),
                                builder.icmp_signed("!=", status, _constant(-_EEXIST)))
            with builder.if_then(lost):
                _count_lost(fn, fn.plan.map_full_slot(plan))
    builder.store(stack_hash, builder.bitcast(result, I64.as_pointer()))
    if stack.user:
        pid = builder.lshr(call_helper(builder, GET_CURRENT_PID_TGID), _constant(32))
    else:
        pid = _constant(0)
    builder.store(pid, builder.bitcast(values.at(builder, result, _PID_OFFSET), I64.as_pointer()))
    return result


def _capture(fn: ProbeFunction, stack: StackType, span: Span | None) -> tuple[ir.Value, ir.Value]:
    """The frames in scratch (the stack map's value size, zero past the
    last frame: bpf_get_stack clears the rest) and the bytes copied
    (negative on failure)."""
    size = fn.plan.stack_map(stack).value_size
    frames = scratch_space(fn).allocate(size, span)
    flags = _constant(_BPF_F_USER_STACK if stack.user else 0)
    copied = call_unlisted_helper(fn, _GET_STACK, I64, fn.context, frames, _constant(size), flags)
    return frames, copied


def _hash(fn: ProbeFunction, frames: ir.Value, size: int) -> ir.Value:
    """Every word of the buffer: branch-free, so the verifier walks it once."""
    builder = fn.builder
    stack_hash = _constant(_HASH_SEED)
    for index in range(size // 8):
        frame = builder.load(word(fn, frames, index))
        stack_hash = builder.mul(builder.xor(stack_hash, frame), _constant(_HASH_MULTIPLIER))
    return stack_hash


def _count_lost(fn: ProbeFunction, slot: int) -> None:
    builder = fn.builder
    index = fn.shared_slot(I32, "map_index")
    builder.store(ir.Constant(I32, slot), index)
    counter = lookup(fn, fn.plan.map_full, builder.bitcast(index, BYTE_POINTER))
    with builder.if_then(builder.not_(is_null(fn, counter))):
        total = word(fn, counter, 0)
        builder.store(builder.add(builder.load(total), _constant(1)), total)


def _constant(value: int) -> ir.Constant:
    return ir.Constant(I64, value & ((1 << 64) - 1))


def stack_length(fn: ProbeFunction, argument: ast.Expr) -> ir.Value:
    """len(kstack), len(ustack(raw, 5)): the frames captured now (the
    length of a stack stored earlier is not lowered yet)."""
    stack = fn.analysis.type_of(argument)
    is_capture = isinstance(argument, (ast.Identifier, ast.Call)) and argument.name in ("kstack", "ustack")
    if not isinstance(stack, StackType) or not is_capture:
        raise unsupported("len() of a stored stack", argument.span)
    builder = fn.builder
    with scratch_space(fn).temporaries():
        _, copied = _capture(fn, stack, argument.span)
    failed = builder.icmp_signed("<", copied, _constant(0))
    return builder.select(failed, _constant(0), builder.lshr(copied, _constant(3)))
