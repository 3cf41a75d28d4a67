"""The aggregation functions: count sum min max avg stats hist lhist. Each
may only be the whole value of a map assignment (`@x = count()`); the literal
arguments that shape the buckets become part of the map's type."""

from __future__ import annotations

from auger.compiler import ast
from auger.compiler.types import AggregateType, Type

from .literals import literal_int
from .type_rules import as_integer

AGGREGATIONS = ("count", "sum", "min", "max", "avg", "stats", "hist", "lhist")

MAX_HIST_BITS = 5


def check_aggregation(checker, call: ast.Call, arguments: list[Type | None]) -> Type | None:
    if checker.aggregate_target is not call:
        checker.error(f"{call.name}() must be assigned directly to a map", call.span)
        return None
    if call.name == "count":
        return AggregateType("count", signed=False)
    value = arguments[0]
    if value is None:
        return None
    integer = as_integer(value)
    if integer is None:
        checker.error(f"{call.name}() only supports integer arguments ({value} provided)", call.args[0].span)
        return None
    if call.name == "hist":
        return _hist(checker, call, integer.signed)
    if call.name == "lhist":
        return _lhist(checker, call, integer.signed)
    return AggregateType(call.name, signed=integer.signed)


def _hist(checker, call: ast.Call, signed: bool) -> Type | None:
    bits = 0
    if len(call.args) == 2:
        bits = literal_int(call.args[1])
        if bits is None:
            checker.error("hist: invalid bits value, need non-negative literal", call.span)
            return None
        if not 0 <= bits <= MAX_HIST_BITS:
            checker.error(f"hist: bits {bits} must be 0..{MAX_HIST_BITS}", call.span)
            return None
    return AggregateType("hist", signed, (bits,))


def _lhist(checker, call: ast.Call, signed: bool) -> Type | None:
    bounds = []
    for name, argument in zip(("min", "max", "step"), call.args[1:]):
        value = literal_int(argument)
        if value is None or value < 0:
            checker.error(f"lhist: invalid {name} value (must be non-negative literal)", call.span)
            return None
        bounds.append(value)
    low, high, step = bounds
    if step == 0:
        checker.error("lhist: step must not be 0", call.span)
        return None
    if low >= high:
        checker.error("lhist: max value must be greater than min value", call.span)
        return None
    return AggregateType("lhist", signed, (low, high, step))
