"""The aggregations (`@m[k] = count()`, sum min max avg stats hist lhist):
compute what to record, then change this CPU's value of the entry in place
(maps.update_slot). Value layouts, in 8-byte words (resources.aggregate_value_size):

    count, sum      total
    min, max        value, is_set   (is_set: this CPU has seen a value)
    avg, stats      count, total
    hist, lhist     one count per bucket, numbered as runtime/format/buckets
                    numbers them (hist_bucket_index, lhist_bucket_index)

Userspace combines the CPUs (runtime/format/percpu).
"""

from __future__ import annotations

from typing import Callable

import llvmlite.ir as ir

from auger.compiler import ast
from auger.compiler.resources import bucket_count
from auger.compiler.types import AggregateType

from . import maps, update_cache
from .expressions import ExpressionLowering, constant
from .function import ProbeFunction
from .helpers import I64

Update = Callable[[ir.Value], None]


def aggregate(lowering: ExpressionLowering, target: ast.MapRef, call: ast.Call) -> None:
    """`target = call` where call is one of the aggregations."""
    fn = lowering.fn
    plan = fn.plan.map(target.name)
    value_type: AggregateType = plan.value
    # Everything is computed before the lookup, so that the in-place update
    # is only loads and stores.
    amount = constant(1) if call.name == "count" else lowering.lower(call.args[0])
    keys = lowering.map_keys(target)
    if call.name in ("count", "sum"):
        update = _add_words(fn, (amount,))
    elif call.name in ("min", "max"):
        update = _extreme(fn, amount, call.name, value_type.signed)
    elif call.name in ("avg", "stats"):
        update = _add_words(fn, (constant(1), amount))
    elif call.name == "hist":
        update = _count_bucket(fn, hist_index(fn.builder, amount, value_type.parameters[0], value_type.signed),
                               value_type)
    else:
        update = _count_bucket(fn, lhist_index(fn.builder, amount, *value_type.parameters, value_type.signed),
                               value_type)
    if update_cache.is_cached(fn, plan):
        update_cache.cached_update(fn, plan, keys, update, lambda pending: _merge(fn, pending, value_type))
    else:
        maps.update_slot(fn, plan, keys, update)


def _add_words(fn: ProbeFunction, amounts: tuple[ir.Value, ...]) -> Update:
    def update(value: ir.Value) -> None:
        for index, amount in enumerate(amounts):
            slot = maps.word(fn, value, index)
            fn.builder.store(fn.builder.add(fn.builder.load(slot), amount), slot)
    return update


def _merge(fn: ProbeFunction, source: ir.Value, value_type: AggregateType) -> Update:
    """The update that merges the value at `source` (an i8*, same layout)
    into the value updated: what userspace does to combine two CPUs."""
    builder = fn.builder
    if value_type.kind in ("count", "sum"):
        return _add_words(fn, (builder.load(maps.word(fn, source, 0)),))
    if value_type.kind in ("avg", "stats"):
        return _add_words(fn, (builder.load(maps.word(fn, source, 0)), builder.load(maps.word(fn, source, 1))))
    extreme = _extreme(fn, builder.load(maps.word(fn, source, 0)), value_type.kind, value_type.signed)
    is_set = builder.icmp_unsigned("!=", builder.load(maps.word(fn, source, 1)), constant(0))

    def update(value: ir.Value) -> None:
        with builder.if_then(is_set):
            extreme(value)
    return update


def _extreme(fn: ProbeFunction, amount: ir.Value, kind: str, signed: bool) -> Update:
    """min/max: replace the value when this CPU has none yet or `amount` wins."""
    def update(value: ir.Value) -> None:
        builder = fn.builder
        current, is_set = maps.word(fn, value, 0), maps.word(fn, value, 1)
        compare = builder.icmp_signed if signed else builder.icmp_unsigned
        wins = compare("<" if kind == "min" else ">", amount, builder.load(current))
        unset = builder.icmp_unsigned("==", builder.load(is_set), constant(0))
        replace = builder.or_(unset, wins)
        builder.store(builder.select(replace, amount, builder.load(current)), current)
        builder.store(constant(1), is_set)
    return update


def _count_bucket(fn: ProbeFunction, index: ir.Value, value_type: AggregateType) -> Update:
    last = bucket_count(value_type) - 1
    # The verifier needs the index bounded where the value's address is
    # formed; the barrier keeps LLVM from deleting a check it proved true.
    index = _opaque(fn.builder, index)
    index = fn.builder.select(fn.builder.icmp_unsigned(">", index, constant(last)), constant(last), index)

    def update(value: ir.Value) -> None:
        slot = maps.word(fn, value, index)
        fn.builder.store(fn.builder.add(fn.builder.load(slot), constant(1)), slot)
    return update


def _opaque(builder: ir.IRBuilder, value: ir.Value) -> ir.Value:
    """`value`, but LLVM cannot know anything about it."""
    barrier = ir.InlineAsm(ir.FunctionType(I64, [I64]), "", "=r,0", side_effect=True)
    return builder.call(barrier, [value])


def hist_index(builder: ir.IRBuilder, value: ir.Value, bits: int, signed: bool) -> ir.Value:
    """buckets.hist_bucket_index without loops or branches: the power of two
    by a binary search over the shifts 32, 16, .., 1. BPF has no
    conditional move, so a comparison would be a branch, and the verifier
    walks every path: `(t | -t) >> 63` is 1 when t != 0, without one (the
    barrier keeps LLVM from turning it back into a comparison)."""
    per_power = 1 << bits
    power, rest = constant(0), value
    for log_shift in (5, 4, 3, 2, 1, 0):
        above = builder.lshr(rest, constant(1 << log_shift))
        nonzero = builder.lshr(_opaque(builder, builder.or_(above, builder.neg(above))), constant(63))
        amount = builder.shl(nonzero, constant(log_shift))
        rest = builder.lshr(rest, amount)
        power = builder.add(power, amount)
    # Only used when value >= 2 * per_power, where power >= bits + 1.
    shift = builder.and_(builder.sub(power, constant(bits)), constant(63))
    sub_bucket = builder.and_(builder.lshr(value, shift), constant(per_power - 1))
    index = builder.add(builder.shl(builder.add(shift, constant(1)), constant(bits)),
                        builder.add(sub_bucket, constant(1)))
    small = builder.icmp_unsigned("<", value, constant(2 * per_power))
    index = builder.select(small, builder.add(value, constant(1)), index)
    if signed:
        index = builder.select(builder.icmp_signed("<", value, constant(0)), constant(0), index)
    return index


def lhist_index(builder: ir.IRBuilder, value: ir.Value, low: int, high: int, step: int, signed: bool) -> ir.Value:
    """buckets.lhist_bucket_index: 0 below `low`, the last index at `high`
    and above, else one bucket per step."""
    compare = builder.icmp_signed if signed else builder.icmp_unsigned
    inside = builder.add(builder.udiv(builder.sub(value, constant(low)), constant(step)), constant(1))
    index = builder.select(compare(">=", value, constant(high)), constant((high - low) // step + 1), inside)
    return builder.select(compare("<", value, constant(low)), constant(0), index)
