"""Read maps into the output's value model: keys and values decoded by the
resource plan, the per-CPU slots of aggregations combined (format/percpu);
the count of updates lost to full maps, for the warning at exit; and the
frames of stack values (StackTraces, for ValueContext.stack_addresses)."""

from __future__ import annotations

import struct

from auger.compiler.resources import MapPlan, ResourcePlan, slot_size
from auger.compiler.types import AggregateType, StackType, TupleType, Type

from .events import ValueContext, decode_value
from .format import values
from .format.percpu import combine_avg, combine_buckets, combine_max, combine_min, combine_stats, combine_sum
from .kernel import Map
from .pending_updates import PendingUpdates

_WORD = struct.Struct("<Q")

MAP_FULL_WARNING = ("WARNING: Map full; can't update element. Try increasing max_map_keys config or manually "
                    "setting the max entries in a map declaration e.g. `let {name} = hash(5000)`\n"
                    "Additional Info - map: {name}, updates lost: {count}\n")
STACKS_LOST_WARNING = ("WARNING: {count} {name} stacks were lost (they print as empty stacks): the map of their "
                       "frames was full. Try increasing max_map_keys\n")


class StackTraces:
    """The return addresses a stack value's hash names in its stack map
    (codegen/stacks.py), innermost first; none for the hash 0 (no stack)
    or a stack the full map could not take."""

    def __init__(self, maps: dict[str, Map], plan: ResourcePlan):
        self.maps = maps
        self.plan = plan

    def __call__(self, stack: StackType, stack_hash: int) -> tuple[int, ...]:
        frames = self.maps[self.plan.stack_map(stack).symbol].lookup(_WORD.pack(stack_hash)) if stack_hash else None
        if frames is None:
            return ()
        words = _words(frames)
        # bpf_get_stack zero-fills the buffer past the stack's depth.
        return words[:words.index(0)] if 0 in words else words


def read_map(map_: Map, plan: MapPlan, context: ValueContext = ValueContext(),
             pending: PendingUpdates | None = None) -> values.Map:
    """Every entry of the map; an empty map has no entries (also a key-less one).
    `context` names `probe` values and formats strftime values; `pending`
    adds the values a cached map's updates left in the update cache."""
    items = pending.entries(plan, map_) if pending is not None and pending.cached(plan) else map_.items()
    entries = []
    for key, value in items:
        if plan.presence_word is not None:
            value = set_slots(plan, value)
            if not value:
                break
        decoded = _decode_value(plan, value, context)
        if plan.key is None:
            return values.Map.scalar(plan.name, decoded)
        entries.append((_decode_key(plan.key, key, context), decoded))
    return values.Map(plan.name, tuple(entries))


def set_slots(plan: MapPlan, slots: list[bytes]) -> list[bytes]:
    """The values (without the presence word) of a key-less aggregation on
    the CPUs where it is set: the others were never set or were deleted
    since (MapPlan.presence_word)."""
    presence = 8 * plan.presence_word
    return [slot[:presence] for slot in slots if _WORD.unpack_from(slot, presence)[0]]


def map_full_warnings(map_full: Map, plan: ResourcePlan, lost_pending: dict[str, int] | None = None) -> str:
    """One warning per map that lost updates because it was full (bpftrace's
    wording, said once at exit instead of once per failing update), and per
    stack map that lost captures. `lost_pending`: by map name, the update
    cache's pending values the full map refused at the end (each counts
    as one update, as a failed merge does in BPF)."""
    text = []
    for index, map_plan in enumerate(plan.maps + plan.stack_maps):
        slots = map_full.lookup(struct.pack("<I", index))
        lost = sum(_words(slot)[0] for slot in slots) if slots is not None else 0
        lost += (lost_pending or {}).get(map_plan.name, 0)
        if lost:
            warning = STACKS_LOST_WARNING if map_plan in plan.stack_maps else MAP_FULL_WARNING
            text.append(warning.format(name=map_plan.name, count=lost))
    return "".join(text)


def _words(raw: bytes) -> tuple[int, ...]:
    return struct.unpack_from(f"<{len(raw) // 8}Q", raw)


def _decode_value(plan: MapPlan, raw: bytes | list[bytes], context: ValueContext) -> values.Value:
    value_type = plan.value
    if not isinstance(value_type, AggregateType):
        return _scalar(value_type, raw, context)
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


def _decode_key(key_type: Type, raw: bytes, context: ValueContext) -> values.Key:
    if isinstance(key_type, TupleType):
        elements, offset = [], 0
        for element in key_type.elements:
            elements.append(_scalar(element, raw[offset:], context))
            offset += slot_size(element)
        return values.Tuple(tuple(elements))
    return _scalar(key_type, raw, context)


def _scalar(type_: Type, raw: bytes, context: ValueContext) -> values.Value:
    """A plain value or key element of any type (events.decode_value: the one decoder of values.py layouts)."""
    return decode_value(type_, raw, context)
