"""Read maps into the output's value model: keys and values decoded by the
resource plan, the per-CPU slots of aggregations combined (format/percpu);
and the count of updates lost to full maps, for the warning at exit."""

from __future__ import annotations

import struct

from auger.compiler.resources import MapPlan, ResourcePlan, slot_size
from auger.compiler.types import AggregateType, TupleType, Type

from .events import decode_value
from .format import values
from .format.percpu import combine_avg, combine_buckets, combine_max, combine_min, combine_stats, combine_sum
from .kernel import Map

_WORD = struct.Struct("<Q")

MAP_FULL_WARNING = ("WARNING: Map full; can't update element. Try increasing max_map_keys config or manually "
                    "setting the max entries in a map declaration e.g. `let {name} = hash(5000)`\n"
                    "Additional Info - map: {name}, updates lost: {count}\n")


def read_map(map_: Map, plan: MapPlan) -> values.Map:
    """Every entry of the map; an empty map has no entries (also a key-less one)."""
    entries = []
    for key, value in map_.items():
        decoded = _decode_value(plan, value)
        if plan.key is None:
            return values.Map.scalar(plan.name, decoded)
        entries.append((_decode_key(plan.key, key), decoded))
    return values.Map(plan.name, tuple(entries))


def map_full_warnings(map_full: Map, plan: ResourcePlan) -> str:
    """One warning per map that lost updates because it was full (bpftrace's
    wording, said once at exit instead of once per failing update)."""
    text = []
    for index, map_plan in enumerate(plan.maps):
        slots = map_full.lookup(struct.pack("<I", index))
        lost = sum(_words(slot)[0] for slot in slots) if slots is not None else 0
        if lost:
            text.append(MAP_FULL_WARNING.format(name=map_plan.name, count=lost))
    return "".join(text)


def _words(raw: bytes) -> tuple[int, ...]:
    return struct.unpack_from(f"<{len(raw) // 8}Q", raw)


def _decode_value(plan: MapPlan, raw: bytes | list[bytes]) -> values.Value:
    value_type = plan.value
    if not isinstance(value_type, AggregateType):
        return _scalar(value_type, raw)
    kind, signed = value_type.kind, value_type.signed and value_type.kind != "count"
    slots = [_words(slot) for slot in raw]
    if kind in ("count", "sum"):
        return combine_sum([words[0] for words in slots], signed)
    if kind in ("min", "max"):
        combine = combine_min if kind == "min" else combine_max
        # An entry no CPU has set (after zero()) prints as 0, as bpftrace.
        return combine([(words[0], words[1]) for words in slots], signed) or values.Integer(0, signed)
    if kind in ("avg", "stats"):
        combine = combine_avg if kind == "avg" else combine_stats
        return combine([(words[0], words[1]) for words in slots], signed)
    counts = combine_buckets(slots)
    if kind == "hist":
        return values.Hist(value_type.parameters[0], counts)
    return values.LinearHist(*value_type.parameters, counts)


def _decode_key(key_type: Type, raw: bytes) -> values.Key:
    if isinstance(key_type, TupleType):
        elements, offset = [], 0
        for element in key_type.elements:
            elements.append(_scalar(element, raw[offset:]))
            offset += slot_size(element)
        return values.Tuple(tuple(elements))
    return _scalar(key_type, raw)


def _scalar(type_: Type, raw: bytes) -> values.Value:
    """A plain value or key element of any type (events.decode_value: the one decoder of values.py layouts)."""
    return decode_value(type_, raw)
