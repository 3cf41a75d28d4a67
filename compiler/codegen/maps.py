"""Map access in BPF: build a key, look it up, read, store, delete, and find
(or create) an aggregation's per-CPU value to update in place.

Keys and plain values are laid out as values.py lays them out (integers in
8-byte slots). A key-less map's key is the 32-bit 0: a key-less plain value
is a one-entry hash (so that delete and clear can remove it), a key-less
aggregation a per-CPU array whose presence word says which CPUs' values are
set (resources.MapPlan.presence_word). An update that
fails because the map is full adds one to the map's slot of the per-CPU
`map_full` counter, which the session reports.
"""

from __future__ import annotations

from typing import Callable

import llvmlite.ir as ir

from auger.compiler.resources import MapPlan
from auger.compiler.types import AggregateType

from . import values
from .function import ProbeFunction
from .helpers import (BPF_ANY, BYTE_POINTER, I32, I64, MAP_DELETE_ELEM, MAP_LOOKUP_ELEM, MAP_UPDATE_ELEM,
                      call_helper)
from .scratch import scratch_space

# Not in helpers.py's table yet: map_lookup_percpu_elem(map, key, cpu).
_MAP_LOOKUP_PERCPU_ELEM = 195
_NOEXIST = 1  # map_update_elem: only create
_EEXIST = 17
_POSSIBLE_CPUS = "/sys/devices/system/cpu/possible"


def key_pointer(fn: ProbeFunction, plan: MapPlan, keys: list[ir.Value]) -> ir.Value:
    """The key in memory (an i8*), built from `keys` (computed before: the
    slot is shared)."""
    builder = fn.builder
    if plan.key is None:
        return scratch_space(fn).zero_key
    if values.holds_wide(plan.key):  # strings and such: laid out in scratch
        return values.build_key(fn, plan.key, keys)
    slot = fn.shared_slot(ir.ArrayType(I64, len(keys)), "key")
    for index, key in enumerate(keys):
        element = builder.gep(slot, [ir.Constant(I32, 0), ir.Constant(I32, index)])
        builder.store(key, element)
    return builder.bitcast(slot, BYTE_POINTER)


def lookup(fn: ProbeFunction, plan: MapPlan, key: ir.Value) -> ir.Value:
    """The value's address (i8*), null when the key is absent."""
    return call_helper(fn.builder, MAP_LOOKUP_ELEM, fn.map_pointer(plan), key)


def is_null(fn: ProbeFunction, pointer: ir.Value) -> ir.Value:
    return fn.builder.icmp_unsigned("==", pointer, ir.Constant(pointer.type, None))


def word(fn: ProbeFunction, value: ir.Value, index: int | ir.Value) -> ir.Value:
    """The address of 8-byte word `index` of a map value (an i8*)."""
    words = fn.builder.bitcast(value, I64.as_pointer())
    offset = index if isinstance(index, ir.Value) else ir.Constant(I64, index)
    return fn.builder.gep(words, [offset])


def read_value(fn: ProbeFunction, plan: MapPlan, keys: list[ir.Value]) -> ir.Value:
    """The entry's value, or 0 when the key is absent."""
    if isinstance(plan.value, AggregateType):
        return read_combined(fn, plan, key_pointer(fn, plan, keys))
    return values.load_or_zero(fn, plan.value, lookup(fn, plan, key_pointer(fn, plan, keys)))


def has_key(fn: ProbeFunction, plan: MapPlan, keys: list[ir.Value]) -> ir.Value:
    """1 if the key is in the map, else 0 (an i64)."""
    found = lookup(fn, plan, key_pointer(fn, plan, keys))
    return fn.builder.zext(fn.builder.not_(is_null(fn, found)), I64)


def store_value(fn: ProbeFunction, plan: MapPlan, keys: list[ir.Value], value: ir.Value) -> None:
    """`value`: an i64, or a wide value's i8* already laid out as the map's value type."""
    if values.is_wide(plan.value):
        slot = value
    else:
        slot = fn.shared_slot(I64, "value")
        fn.builder.store(value, slot)
    key = key_pointer(fn, plan, keys)
    status = call_helper(fn.builder, MAP_UPDATE_ELEM, fn.map_pointer(plan), key,
                         fn.builder.bitcast(slot, BYTE_POINTER), ir.Constant(I64, BPF_ANY))
    _count_if_full(fn, plan, fn.builder.icmp_unsigned("!=", status, ir.Constant(I64, 0)))


def delete(fn: ProbeFunction, plan: MapPlan, keys: list[ir.Value]) -> None:
    """Remove the entry; an absent key is not an error (as bpftrace). A
    per-CPU array's entry cannot go: every CPU's value is unset instead."""
    key = key_pointer(fn, plan, keys)
    if plan.presence_word is None:
        call_helper(fn.builder, MAP_DELETE_ELEM, fn.map_pointer(plan), key)
        return
    _for_each_cpu(fn, plan, key, lambda value: fn.builder.store(ir.Constant(I64, 0), word(fn, value, plan.presence_word)))


def call_unlisted_helper(fn: ProbeFunction, helper: int, result: ir.Type, *arguments: ir.Value) -> ir.Value:
    """A helper helpers.py has no signature for yet, typed by its arguments."""
    signature = ir.FunctionType(result, [argument.type for argument in arguments])
    return fn.builder.call(fn.builder.inttoptr(ir.Constant(I64, helper), signature.as_pointer()), list(arguments))


def read_combined(fn: ProbeFunction, plan: MapPlan, key: ir.Value) -> ir.Value:
    """count/sum/min/max/avg as an integer, the CPUs combined as userspace
    combines them (avg: total / count toward zero; 0 when nothing was seen)."""
    builder = fn.builder
    kind, signed = plan.value.kind, plan.value.signed
    first, second, seen = (fn.shared_slot(I64, name) for name in ("first", "second", "seen"))
    for slot in (first, second, seen):
        builder.store(ir.Constant(I64, 0), slot)

    def add(value: ir.Value) -> None:
        words = [builder.load(word(fn, value, 0)), builder.load(word(fn, value, 1)) if kind != "count" else None]
        if kind in ("min", "max"):
            compare = builder.icmp_signed if signed else builder.icmp_unsigned
            wins = compare("<" if kind == "min" else ">", words[0], builder.load(first))
            unseen = builder.icmp_unsigned("==", builder.load(seen), ir.Constant(I64, 0))
            take = builder.and_(builder.icmp_unsigned("!=", words[1], ir.Constant(I64, 0)), builder.or_(unseen, wins))
            builder.store(builder.select(take, words[0], builder.load(first)), first)
            builder.store(builder.or_(builder.load(seen), builder.zext(take, I64)), seen)
        else:
            builder.store(builder.add(builder.load(first), words[0]), first)
            if kind == "avg":
                builder.store(builder.add(builder.load(second), words[1]), second)

    _for_each_cpu(fn, plan, key, add)
    if kind != "avg":
        return builder.load(first)
    count, total = builder.load(first), builder.load(second)
    negative = builder.icmp_signed("<", total, ir.Constant(I64, 0)) if signed else ir.Constant(ir.IntType(1), 0)
    magnitude = builder.select(negative, builder.neg(total), total)
    # udiv by zero gives 0 in BPF, which is the average of nothing.
    quotient = builder.udiv(magnitude, count)
    return builder.select(negative, builder.neg(quotient), quotient)


def _for_each_cpu(fn: ProbeFunction, plan: MapPlan, key: ir.Value, body: Callable[[ir.Value], None]) -> None:
    """Emit a loop calling `body(value)` on each CPU's value of the entry
    (an i8*) that is set (see MapPlan.presence_word)."""
    builder = fn.builder
    cpu = fn.shared_slot(I32, "cpu")
    builder.store(ir.Constant(I32, 0), cpu)
    test, found, apply, step, done = (fn.block(f"cpus_{part}") for part in ("test", "found", "apply", "step", "done"))
    builder.branch(test)
    builder.position_at_end(test)
    builder.cbranch(builder.icmp_unsigned("<", builder.load(cpu), ir.Constant(I32, _cpu_count())), found, done)
    builder.position_at_end(found)
    value = call_unlisted_helper(fn, _MAP_LOOKUP_PERCPU_ELEM, BYTE_POINTER, fn.map_pointer(plan), key, builder.load(cpu))
    builder.cbranch(is_null(fn, value), step, apply)
    builder.position_at_end(apply)
    if plan.presence_word is not None:
        unset = builder.icmp_unsigned("==", builder.load(word(fn, value, plan.presence_word)), ir.Constant(I64, 0))
        use = fn.block("cpus_use")
        builder.cbranch(unset, step, use)
        builder.position_at_end(use)
    body(value)
    builder.branch(step)
    builder.position_at_end(step)
    builder.store(builder.add(builder.load(cpu), ir.Constant(I32, 1)), cpu)
    builder.branch(test)
    builder.position_at_end(done)


def _cpu_count() -> int:
    """nr_cpu_ids (the possible CPUs are "0-N"), read when compiling: the
    bound the verifier needs for the loop over the CPUs."""
    with open(_POSSIBLE_CPUS) as possible:
        return int(possible.read().strip().split(",")[-1].split("-")[-1]) + 1


def update_slot(fn: ProbeFunction, plan: MapPlan, keys: list[ir.Value], update: Callable[[ir.Value], None]) -> None:
    """Call `update(value)` to emit code that changes this CPU's value of
    the entry in place (`value` is an i8*)."""
    key = key_pointer(fn, plan, keys)
    if plan.presence_word is not None:
        _update_array_slot(fn, plan, key, update)
    else:
        update_entry(fn, plan, key, update)


def update_entry(fn: ProbeFunction, plan: MapPlan, key: ir.Value, update: Callable[[ir.Value], None]) -> None:
    """update_slot for a hash, the key at `key` (an i8*). A missing entry is
    created all zero first; BPF_NOEXIST makes a racing creation on another
    CPU harmless (EEXIST: look it up again). The map being per-CPU, no
    atomics are needed."""
    builder = fn.builder
    found = lookup(fn, plan, key)
    found_block = builder.block
    create, apply, done = fn.block("slot_new"), fn.block("slot_update"), fn.block("slot_done")
    builder.cbranch(is_null(fn, found), create, apply)

    builder.position_at_end(create)
    zero = lookup(fn, fn.plan.zero, key_pointer(fn, fn.plan.zero, []))
    have_zero = fn.block("slot_zero")
    builder.cbranch(is_null(fn, zero), done, have_zero)
    builder.position_at_end(have_zero)
    status = call_helper(builder, MAP_UPDATE_ELEM, fn.map_pointer(plan), key, zero, ir.Constant(I64, _NOEXIST))
    failed = builder.and_(builder.icmp_unsigned("!=", status, ir.Constant(I64, 0)),
                          builder.icmp_unsigned("!=", status, ir.Constant(I64, -_EEXIST & (2**64 - 1))))
    _count_if_full(fn, plan, failed)
    created = lookup(fn, plan, key)
    created_block = builder.block
    builder.cbranch(is_null(fn, created), done, apply)

    builder.position_at_end(apply)
    value = builder.phi(BYTE_POINTER)
    value.add_incoming(found, found_block)
    value.add_incoming(created, created_block)
    update(value)
    builder.branch(done)
    builder.position_at_end(done)


def _update_array_slot(fn: ProbeFunction, plan: MapPlan, key: ir.Value, update: Callable[[ir.Value], None]) -> None:
    """update_slot for a key-less aggregation's per-CPU array: the entry
    always exists. An unset value (never set, or deleted since) is zeroed
    first: from BPF, map_update_elem writes only this CPU's value."""
    builder = fn.builder
    value = lookup(fn, plan, key)
    check, reset, apply, done = (fn.block(f"array_{part}") for part in ("check", "reset", "update", "done"))
    builder.cbranch(is_null(fn, value), done, check)
    builder.position_at_end(check)
    presence = word(fn, value, plan.presence_word)
    builder.cbranch(builder.icmp_unsigned("==", builder.load(presence), ir.Constant(I64, 0)), reset, apply)
    builder.position_at_end(reset)
    zero = lookup(fn, fn.plan.zero, key_pointer(fn, fn.plan.zero, []))
    have_zero = fn.block("array_zero")
    builder.cbranch(is_null(fn, zero), done, have_zero)
    builder.position_at_end(have_zero)
    call_helper(builder, MAP_UPDATE_ELEM, fn.map_pointer(plan), key, zero, ir.Constant(I64, BPF_ANY))
    builder.store(ir.Constant(I64, 1), presence)
    builder.branch(apply)
    builder.position_at_end(apply)
    update(value)
    builder.branch(done)
    builder.position_at_end(done)


def _count_if_full(fn: ProbeFunction, plan: MapPlan, failed: ir.Value) -> None:
    """Where the i1 `failed` holds, add one to the map's `map_full` slot."""
    builder = fn.builder
    count, done = fn.block("map_full"), fn.block("map_full_done")
    builder.cbranch(failed, count, done)
    builder.position_at_end(count)
    counters = fn.plan.map_full
    index = fn.shared_slot(I32, "map_index")
    builder.store(ir.Constant(I32, fn.plan.maps.index(plan)), index)
    counter = lookup(fn, counters, builder.bitcast(index, BYTE_POINTER))
    increment = fn.block("map_full_add")
    builder.cbranch(is_null(fn, counter), done, increment)
    builder.position_at_end(increment)
    slot = word(fn, counter, 0)
    builder.store(builder.add(builder.load(slot), ir.Constant(I64, 1)), slot)
    builder.branch(done)
    builder.position_at_end(done)
