"""A keyed aggregation's update through the per-CPU update cache (see
compiler/update_cache.py for why and for the entry's layout).

    tag = generation of the map + 1
    entry = this program's entry for the map, on this CPU
    if entry.tag != tag or entry.key != key:
        if entry.tag == tag: merge entry.pending into the map at entry.key
        entry.key = key; entry.pending = 0; entry.tag = tag
    update(entry.pending)
"""

from __future__ import annotations

from typing import Callable

import llvmlite.ir as ir

from auger.compiler.resources import MapPlan
from auger.compiler.types import UINT64

from . import maps
from .function import ProbeFunction
from .helpers import BYTE_POINTER, I32, I64
from .values import load_or_zero

Update = Callable[[ir.Value], None]


def is_cached(fn: ProbeFunction, plan: MapPlan) -> bool:
    cache = fn.plan.update_cache
    return cache is not None and cache.index(plan.name) is not None


def cached_update(fn: ProbeFunction, plan: MapPlan, keys: list[ir.Value], update: Update,
                  merge: Callable[[ir.Value], Update]) -> None:
    """Apply `update` to the pending value of `plan`'s entry; `merge(pending)`
    is the update that adds a pending value into the map's value."""
    builder = fn.builder
    cache = fn.plan.update_cache
    key = maps.key_pointer(fn, plan, keys)
    tag = builder.add(_generation(fn, cache.index(plan.name)), ir.Constant(I64, 1))
    index = fn.shared_slot(I32, "pending_index")
    builder.store(ir.Constant(I32, cache.entry(fn.index, plan.name)), index)
    entry = maps.lookup(fn, fn.plan.pending_updates, builder.bitcast(index, BYTE_POINTER))
    check, switch, flush, start, apply, done = (
        fn.block(f"pending_{part}") for part in ("check", "switch", "flush", "start", "apply", "done"))
    builder.cbranch(maps.is_null(fn, entry), done, check)

    builder.position_at_end(check)
    entry_key = builder.gep(entry, [ir.Constant(I64, cache.key_offset())])
    pending = builder.gep(entry, [ir.Constant(I64, cache.value_offset(plan.key_size))])
    same_tag = builder.icmp_unsigned("==", builder.load(maps.word(fn, entry, 0)), tag)
    _branch_if_same_key(fn, same_tag, entry_key, key, plan.key_size // 8, apply, switch)

    builder.position_at_end(switch)
    builder.cbranch(same_tag, flush, start)
    builder.position_at_end(flush)
    maps.update_entry(fn, plan, entry_key, merge(pending))
    builder.branch(start)

    builder.position_at_end(start)
    for word in range(plan.key_size // 8):
        builder.store(builder.load(maps.word(fn, key, word)), maps.word(fn, entry_key, word))
    for word in range(plan.value_size // 8):
        builder.store(ir.Constant(I64, 0), maps.word(fn, pending, word))
    builder.store(tag, maps.word(fn, entry, 0))
    builder.branch(apply)

    builder.position_at_end(apply)
    update(pending)
    builder.branch(done)
    builder.position_at_end(done)


def _generation(fn: ProbeFunction, index: int) -> ir.Value:
    slot = fn.shared_slot(I32, "generation_index")
    fn.builder.store(ir.Constant(I32, index), slot)
    found = maps.lookup(fn, fn.plan.generations, fn.builder.bitcast(slot, BYTE_POINTER))
    return load_or_zero(fn, UINT64, found)


def _branch_if_same_key(fn: ProbeFunction, same_tag: ir.Value, entry_key: ir.Value, key: ir.Value, words: int,
                        same: ir.Block, other: ir.Block) -> None:
    """Go to `same` when the tag matches and the `words` words at
    `entry_key` and `key` are equal, else to `other`: a branch per word."""
    builder = fn.builder
    for word in range(words):
        next_word = fn.block("pending_key")
        builder.cbranch(same_tag, next_word, other)
        builder.position_at_end(next_word)
        same_tag = builder.icmp_unsigned("==", builder.load(maps.word(fn, entry_key, word)),
                                         builder.load(maps.word(fn, key, word)))
    builder.cbranch(same_tag, same, other)
