"""Read maps into the output's value model: keys and values decoded by the
resource plan, per-CPU aggregation slots summed."""

from __future__ import annotations

import struct

from auger.compiler.resources import MapPlan, slot_size
from auger.compiler.semantic.type_rules import as_integer
from auger.compiler.types import AggregateType, BoolType, TupleType, Type

from .format import values
from .format.percpu import combine_sum, wrap64
from .kernel import Map

_WORD = struct.Struct("<Q")


def read_map(map_: Map, plan: MapPlan) -> values.Map:
    entries = []
    for key, value in map_.items():
        decoded = _decode_value(plan, value)
        if plan.key is None:
            return values.Map.scalar(plan.name, decoded)
        entries.append((_decode_key(plan.key, key), decoded))
    return values.Map(plan.name, tuple(entries))


def _decode_value(plan: MapPlan, raw: bytes | list[bytes]) -> values.Value:
    value_type = plan.value
    if isinstance(value_type, AggregateType):
        signed = value_type.signed and value_type.kind != "count"
        return combine_sum([_WORD.unpack_from(slot)[0] for slot in raw], signed)
    return _scalar(value_type, raw)


def _decode_key(key_type: Type, raw: bytes) -> values.Key:
    if isinstance(key_type, TupleType):
        elements, offset = [], 0
        for element in key_type.elements:
            elements.append(_scalar(element, raw[offset:]))
            offset += slot_size(element)
        return values.Tuple(tuple(elements))
    return _scalar(key_type, raw)


def _scalar(type_: Type, raw: bytes) -> values.Integer | values.Bool:
    (word,) = _WORD.unpack_from(raw)
    if isinstance(type_, BoolType):
        return values.Bool(bool(word))
    signed = as_integer(type_).signed
    return values.Integer(wrap64(word, signed), signed)
