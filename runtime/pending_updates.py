"""The update cache's pending values (compiler/update_cache.py), added to a
cached map's entries when the map is read, and the generation that clear()
and zero() start.

    pending = PendingUpdates(loaded.maps, plan)
    pending.entries(map_plan, map_)         every (key, per-CPU slots), pending values added as more slots
    pending.new_generation(map_plan)        before clearing or zeroing the map: the keys it had
    pending.programs_stopped()              before the last reads: pending values a full map refuses count as lost
    pending.lost                            map name -> pending values lost so (for the map-full warning)
"""

from __future__ import annotations

import errno
import struct
from collections import defaultdict

from auger.compiler.resources import MapPlan, ResourcePlan

from .kernel import Map
from .libbcc import BpfError, UpdateFlag

_WORD = struct.Struct("<Q")
_INDEX = struct.Struct("<I")
# A read races with the programs' flushes (a pending value moving into the
# map): the entries are read before and after the map, and again if a flush
# happened meanwhile, this many times at most.
_READ_ATTEMPTS = 3

Entries = list[tuple[bytes, list[bytes]]]


class PendingUpdates:
    def __init__(self, maps: dict[str, Map], plan: ResourcePlan):
        self.cache = plan.update_cache
        self.entries_map = maps[plan.pending_updates.symbol] if self.cache else None
        self.generations = maps[plan.generations.symbol] if self.cache else None
        self.lost: dict[str, int] = {}
        self._final = False

    def cached(self, plan: MapPlan) -> bool:
        return self.cache is not None and self.cache.index(plan.name) is not None

    def entries(self, plan: MapPlan, map_: Map) -> Entries:
        """The entries of the cached map `plan`, each pending value of the
        current generation added as one more per-CPU slot. A key only a
        pending value has first gets an all-zero entry in the map, as the
        program's next flush would create it: a full map refuses it (after
        programs_stopped, its pending values count as lost), and an LRU map
        makes room by dropping its oldest entry."""
        for _ in range(_READ_ATTEMPTS):
            heads_before, pending = self._pending(plan)
            for key in pending:
                self._create(map_, key)
            entries = map_.items()
            heads_after, pending = self._pending(plan)
            if heads_before == heads_after:  # no flush meanwhile
                break
        merged = {key: list(slots) for key, slots in entries}
        for key, values in pending.items():
            if key in merged:
                merged[key].extend(values)
            elif self._final:
                self.lost[plan.name] = self.lost.get(plan.name, 0) + len(values)
        return list(merged.items())

    def programs_stopped(self) -> None:
        self._final = True

    @staticmethod
    def _create(map_: Map, key: bytes) -> None:
        try:
            map_.update(key, bytes(map_.value_size), UpdateFlag.NOEXIST)
        except BpfError as error:
            if error.errno not in (errno.EEXIST, errno.E2BIG, errno.ENOMEM):
                raise

    def new_generation(self, plan: MapPlan) -> set[bytes]:
        """The programs drop (instead of merging) every pending value of the
        map from now on; returns the keys that had pending values (zero()
        keeps them as entries)."""
        index = _INDEX.pack(self.cache.index(plan.name))
        _, pending = self._pending(plan)
        self.generations.update(index, _WORD.pack(self._generation(index) + 1))
        return set(pending)

    def _generation(self, index: bytes) -> int:
        return _WORD.unpack(self.generations.lookup(index))[0]

    def _pending(self, plan: MapPlan) -> tuple[list[bytes], dict[bytes, list[bytes]]]:
        """Every entry's tag and key, in order (they change with each
        flush), and key -> the pending values of the current generation
        (one per program and CPU whose entry holds that key)."""
        cached = self.cache.index(plan.name)
        tag = self._generation(_INDEX.pack(cached)) + 1
        key_at, value_at = self.cache.key_offset(), self.cache.value_offset(plan.key_size)
        heads, pending = [], defaultdict(list)
        for index, slots in self.entries_map.items():
            if _INDEX.unpack(index)[0] % len(self.cache.cached) != cached:
                continue
            for slot in slots:
                heads.append(slot[:value_at])
                if _WORD.unpack_from(slot)[0] == tag:
                    pending[slot[key_at:value_at]].append(slot[value_at:value_at + plan.value_size])
        return heads, pending
