"""print(@m, top, div), clear(@m) and zero(@m) as the session meets their
ring buffer records, so they take effect in order with printf's output.

    actions = MapActions(loaded.maps, plan, write, format_map=text.format_map, context=ValueContext(...))
    if event.kind in MAP_ACTIONS: actions.handle(event, record)
"""

from __future__ import annotations

import struct
from typing import Callable

from auger.compiler.resources import CLEAR, PRINT_MAP, ZERO, EventPlan, MapPlan, ResourcePlan

from .events import ValueContext
from .format import text, values
from .format.percpu import wrap64
from .kernel import Map
from .map_reader import read_map, set_slots
from .pending_updates import PendingUpdates

MAP_ACTIONS = (PRINT_MAP, CLEAR, ZERO)

_WORD = struct.Struct("<Q")
_KEY_LESS = struct.pack("<I", 0)

MapFormatter = Callable[[values.Map, int, int], str]


class MapActions:
    """`maps` are the loaded maps by symbol; `write` takes the output text;
    `format_map(map, top, div)` renders print's map (text or JSON);
    `context` decodes its keys and values (map_reader.read_map); `pending`
    holds what cached maps' updates left in the update cache."""

    def __init__(self, maps: dict[str, Map], plan: ResourcePlan, write: Callable[[str], None],
                 format_map: MapFormatter = text.format_map, context: ValueContext = ValueContext(),
                 pending: PendingUpdates | None = None):  # fmt: skip
        self.maps = maps
        self.pending = pending
        self.plans = {map_plan.name: map_plan for map_plan in plan.maps}
        self.write = write
        self.format_map = format_map
        self.context = context

    def handle(self, event: EventPlan, record: bytes) -> None:
        plan = self.plans[event.map_name]
        map_ = self.maps[plan.symbol]
        if event.kind == PRINT_MAP:
            arguments = [wrap64(_WORD.unpack_from(record, field.offset)[0], True) for field in event.fields]
            top, div = (arguments + [0, 1][len(arguments):])[:2]
            self.write(self.format_map(read_map(map_, plan, self.context, self.pending), max(top, 0), div or 1))
            return
        cached = self.pending is not None and self.pending.cached(plan)
        pending_keys = self.pending.new_generation(plan) if cached else set()
        if event.kind == CLEAR:
            clear(map_, plan)
        elif event.kind == ZERO:
            zero(map_, plan, pending_keys)


def clear(map_: Map, plan: MapPlan) -> None:
    """Remove every entry; a key-less aggregation's value is unset on every
    CPU instead (its array entry cannot go)."""
    if plan.presence_word is not None:
        map_.update(_KEY_LESS, bytes(map_.value_size))
        return
    for key in list(map_.keys()):
        map_.delete(key)


def zero(map_: Map, plan: MapPlan, pending_keys: set[bytes] = frozenset()) -> None:
    """Every entry's value to zero; the entries stay (a key-less
    aggregation's stays set on every CPU, if it was set on any), and so do
    the keys that only had updates pending in the update cache."""
    if plan.presence_word is not None:
        if set_slots(plan, map_.lookup(_KEY_LESS)):
            map_.update(_KEY_LESS, bytes(8 * plan.presence_word) + _WORD.pack(1))
        return
    for key in set(map_.keys()) | pending_keys:
        map_.update(key, bytes(map_.value_size))
