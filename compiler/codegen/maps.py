"""Map access in BPF: build a key on the stack, look it up, read, store, and
add to per-CPU aggregation slots in place.

Values are 8-byte slots (resources.slot_size). A key-less map is an array
whose one key is the 32-bit index 0; a keyed map's key is its integer
elements, 8 bytes each.
"""

from __future__ import annotations

import llvmlite.ir as ir

from auger.compiler.resources import MapPlan

from .function import ProbeFunction
from .helpers import BPF_ANY, BYTE_POINTER, I32, I64, MAP_LOOKUP_ELEM, MAP_UPDATE_ELEM, call_helper


def key_pointer(fn: ProbeFunction, plan: MapPlan, keys: list[ir.Value]) -> ir.Value:
    builder = fn.builder
    if plan.key is None:
        slot = fn.stack_slot(I32, "key")
        builder.store(ir.Constant(I32, 0), slot)
        return builder.bitcast(slot, BYTE_POINTER)
    slot = fn.stack_slot(ir.ArrayType(I64, len(keys)), "key")
    for index, key in enumerate(keys):
        element = builder.gep(slot, [ir.Constant(I32, 0), ir.Constant(I32, index)])
        builder.store(key, element)
    return builder.bitcast(slot, BYTE_POINTER)


def _lookup(fn: ProbeFunction, plan: MapPlan, key: ir.Value) -> ir.Value:
    found = call_helper(fn.builder, MAP_LOOKUP_ELEM, fn.map_pointer(plan), key)
    return fn.builder.bitcast(found, I64.as_pointer())


def read_value(fn: ProbeFunction, plan: MapPlan, keys: list[ir.Value]) -> ir.Value:
    """The entry's value, or 0 when the key is absent."""
    builder = fn.builder
    value = _lookup(fn, plan, key_pointer(fn, plan, keys))
    missing = builder.icmp_unsigned("==", value, ir.Constant(value.type, None))
    hit, done = fn.block("map_hit"), fn.block("map_read")
    before = builder.block
    builder.cbranch(missing, done, hit)
    builder.position_at_end(hit)
    loaded = builder.load(value)
    builder.branch(done)
    builder.position_at_end(done)
    result = builder.phi(I64)
    result.add_incoming(ir.Constant(I64, 0), before)
    result.add_incoming(loaded, hit)
    return result


def store_value(fn: ProbeFunction, plan: MapPlan, keys: list[ir.Value], value: ir.Value) -> None:
    slot = fn.stack_slot(I64, "value")
    fn.builder.store(value, slot)
    key = key_pointer(fn, plan, keys)
    call_helper(fn.builder, MAP_UPDATE_ELEM, fn.map_pointer(plan), key,
                fn.builder.bitcast(slot, BYTE_POINTER), ir.Constant(I64, BPF_ANY))


def add_to_slot(fn: ProbeFunction, plan: MapPlan, keys: list[ir.Value], amount: ir.Value) -> None:
    """count()/sum(): this CPU's slot += amount; a missing key is created
    holding `amount`. The map is per-CPU, so no atomic add is needed."""
    builder = fn.builder
    key = key_pointer(fn, plan, keys)
    slot = _lookup(fn, plan, key)
    missing = builder.icmp_unsigned("==", slot, ir.Constant(slot.type, None))
    create, add, done = fn.block("slot_new"), fn.block("slot_add"), fn.block("slot_done")
    builder.cbranch(missing, create, add)
    builder.position_at_end(add)
    builder.store(builder.add(builder.load(slot), amount), slot)
    builder.branch(done)
    builder.position_at_end(create)
    initial = fn.stack_slot(I64, "initial")
    builder.store(amount, initial)
    call_helper(builder, MAP_UPDATE_ELEM, fn.map_pointer(plan), key,
                builder.bitcast(initial, BYTE_POINTER), ir.Constant(I64, BPF_ANY))
    builder.branch(done)
    builder.position_at_end(done)
