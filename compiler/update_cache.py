"""The update cache: which keyed aggregations a program updates through a
per-CPU write-back cache, and the cache's layout (codegen/update_cache.py
writes it, runtime/pending_updates.py reads it).

A keyed aggregation costs a hash lookup per event (~50 ns here), most of the
cost of `@[tid] = count()`. Yet on one CPU, event after event usually has the
same key (a thread making system calls). Each program keeps, per CPU and per
cached map, the last key it updated and the updates not yet in the map (the
pending value, laid out as the map's value). An event with the same key only
updates the pending value; another key first merges the pending value into
the map (a flush), then starts over with the new key. Userspace adds the
pending values to the map's when it reads the map: each is one more per-CPU
slot, combined as the CPUs' slots are.

An entry is a tag word, the key, then the pending value. The tag is the
map's generation plus one (0: empty): clear() and zero() start a new
generation instead of writing the entries (a program may be updating one
at that moment), so a program drops a pending value of an older generation
instead of flushing it.

Only maps the program never reads in BPF are cached (what BPF reads must
already be in the map): their only uses are aggregation updates and the
whole-map actions userspace carries out (print, clear, zero). Only the
aggregations whose value is a word or two (not hist/lhist, whose flush would
merge every bucket).
"""

from __future__ import annotations


from auger.compiler import ast
from auger.compiler.frozen import Value as FrozenValue, frozen
from auger.compiler.semantic import Analysis
from auger.compiler.semantic.aggregations import AGGREGATIONS
from auger.compiler.types import AggregateType

CACHED_KINDS = ("count", "sum", "min", "max", "avg", "stats")
MAX_CACHED_KEY_SIZE = 64  # the key comparison is one load and compare per word
TAG_SIZE = 8


@frozen
class UpdateCachePlan(FrozenValue):
    """`cached` are the names (with `@`) of the cached maps. The entries are
    a per-CPU array (resources.ResourcePlan.pending_updates), `len(cached)`
    of them per program: program `p`'s for cached map `m` is
    `p * len(cached) + m`. The generations are an array
    (ResourcePlan.generations), one u64 per cached map, in `cached` order."""

    cached: tuple[str, ...]
    entries_size: int  # bytes of the largest entry
    programs: int  # at most this many programs (an upper bound: attach points)

    def index(self, map_name: str) -> int | None:
        return self.cached.index(map_name) if map_name in self.cached else None

    def entry(self, program: int, map_name: str) -> int:
        return program * len(self.cached) + self.cached.index(map_name)

    @staticmethod
    def key_offset() -> int:
        return TAG_SIZE

    @staticmethod
    def value_offset(key_size: int) -> int:
        return TAG_SIZE + key_size


def plan_update_cache(analysis: Analysis, maps) -> UpdateCachePlan | None:
    """The cache for `maps` (resources.MapPlan, the user maps), None when
    no map qualifies."""
    read = _read_in_bpf(analysis)
    cached = tuple(plan for plan in maps if _qualifies(plan) and plan.name not in read)
    if not cached:
        return None
    size = max(TAG_SIZE + plan.key_size + plan.value_size for plan in cached)
    programs = sum(len(probe.specs) for probe in analysis.probes)
    return UpdateCachePlan(tuple(plan.name for plan in cached), size, programs)


def _qualifies(plan) -> bool:
    return (plan.key is not None and plan.per_cpu and isinstance(plan.value, AggregateType)
            and plan.value.kind in CACHED_KINDS and plan.key_size % 8 == 0
            and plan.key_size <= MAX_CACHED_KEY_SIZE)  # fmt: skip


def _read_in_bpf(analysis: Analysis) -> set[str]:
    """Names (with `@`) of the maps some BPF code reads: every use of a map
    but an aggregation's target and the map of print/clear/zero."""
    writes = set()
    for node in analysis.program.walk():
        if isinstance(node, ast.Assignment) and isinstance(node.target, ast.MapRef) \
                and isinstance(node.value, ast.Call) and node.value.name in AGGREGATIONS:
            writes.add(id(node.target))
        elif isinstance(node, ast.Call) and node.name in ("print", "clear", "zero") and node.args \
                and isinstance(node.args[0], ast.MapRef) and not node.args[0].keys:
            writes.add(id(node.args[0]))
    return {"@" + node.name for node in analysis.program.walk()
            if isinstance(node, ast.MapRef) and id(node) not in writes}
