"""print(@m, top, div), clear(@m) and zero(@m) as the session meets their
ring buffer records, so they take effect in order with printf's output.

    actions = MapActions(loaded.maps, plan, write, format_map=text.format_map, context=ValueContext(...))
    if event.kind in MAP_ACTIONS: actions.handle(event, record)
"""

from __future__ import annotations

import struct
from typing import Callable

from auger.compiler.resources import CLEAR, PRINT_MAP, ZERO, EventPlan, ResourcePlan

from .events import ValueContext
from .format import text, values
from .format.percpu import wrap64
from .kernel import Map
from .map_reader import read_map

MAP_ACTIONS = (PRINT_MAP, CLEAR, ZERO)

_WORD = struct.Struct("<Q")

MapFormatter = Callable[[values.Map, int, int], str]


class MapActions:
    """`maps` are the loaded maps by symbol; `write` takes the output text;
    `format_map(map, top, div)` renders print's map (text or JSON);
    `context` decodes its keys and values (map_reader.read_map)."""

    def __init__(self, maps: dict[str, Map], plan: ResourcePlan, write: Callable[[str], None],
                 format_map: MapFormatter = text.format_map, context: ValueContext = ValueContext()):  # fmt: skip
        self.maps = maps
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
            self.write(self.format_map(read_map(map_, plan, self.context), max(top, 0), div or 1))
        elif event.kind == CLEAR:
            for key in list(map_.keys()):
                map_.delete(key)
        elif event.kind == ZERO:
            zero = bytes(map_.value_size)
            for key in list(map_.keys()):
                map_.update(key, zero)
