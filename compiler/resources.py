"""Resource planning: every kernel object a program needs, decided before codegen.

From the Analysis this pass fixes each map's BPF map type and byte layout, and
numbers every event the program sends to userspace (printf, exit) with the
layout of its argument record. Codegen writes records by this plan and the
runtime reads them by the same plan, so the two cannot disagree.

Layouts: integers and bools take 8 bytes (sign- or zero-extended by their
type); strings take their buffer length rounded up to 8; a tuple key is its
elements one after another. A record starts with its 8-byte event id.
A kstack/ustack is the 64-bit hash of its frames, which the stack map of its
kind and frame limit holds, then (ustack) the pid that names its frames
(codegen/stacks.py).
Aggregations are per-CPU hashes whose values are aggregate_value_size long;
a key-less aggregation is a per-CPU array (one lookup the verifier inlines)
whose value ends with a presence word (MapPlan.presence_word), and a key-less
plain value a hash with the one 4-byte key 0: either can be deleted or
cleared. Every map holds max_map_keys entries.
"""

from __future__ import annotations

import os

from auger.compiler import ast
from auger.compiler.diagnostics import CompileError, Span, error
from auger.compiler.frozen import Value as FrozenValue, frozen
from auger.compiler.printf_format import FormatString, parse_format
from auger.compiler.semantic import Analysis
from auger.compiler.semantic.analysis import DEFAULT_STRING_LENGTH
from auger.compiler.semantic.literals import literal_string
from auger.compiler.semantic.type_rules import as_integer
from auger.compiler.types import (INT64, AggregateType, ArrayType, BoolType, BufferType, NamedTupleType,
                                  PointerType, SpecialType, StackType, StringType, TupleType, Type)
from auger.compiler.update_cache import UpdateCachePlan, plan_update_cache

DEFAULT_MAP_SIZE = 4096
RING_BUFFER_BYTES = 1 << 22
RING_BUFFER_SYMBOL = "auger_events"
SCRATCH_SYMBOL = "auger_scratch"
LOST_EVENTS_SYMBOL = "auger_lost"
# A per-CPU map value may not be larger (the kernel's PCPU_MIN_UNIT_SIZE).
SCRATCH_LIMIT = 32768
EVENT_ID_SIZE = 8

MAP_KEYS_ENVIRONMENT = ("AUGER_MAX_MAP_KEYS", "BPFTRACE_MAX_MAP_KEYS")
ZERO_SYMBOL = "auger_zero"
MAP_FULL_SYMBOL = "auger_map_full"
PENDING_UPDATES_SYMBOL = "auger_pending"
GENERATIONS_SYMBOL = "auger_generation"
PERF_EVENT_MAX_STACK = "/proc/sys/kernel/perf_event_max_stack"
DEFAULT_MAX_STACK = 127

PRINTF = "printf"
EXIT = "exit"
PRINT = "print"  # print(value) of a non-map value
TIME = "time"
CAT = "cat"
SYSTEM = "system"
JOIN = "join"
JOIN_ARGUMENTS = 16
# Calls whose record holds their arguments' values, formatted in userspace.
_VALUE_EVENTS = (PRINTF, PRINT, CAT, SYSTEM, JOIN)
# Whole-map actions userspace performs in order with the other records:
# print(@m[, top[, div]]) (its record holds top and div), clear(@m), zero(@m).
PRINT_MAP = "print_map"
CLEAR = "clear"
ZERO = "zero"


def unsupported(what: str, span: Span | None) -> CompileError:
    """The one error for a construct the code generator cannot lower yet."""
    return CompileError([error(f"not supported yet by the code generator: {what}", span)])


def slot_size(type_: Type) -> int:
    """Bytes a value takes in a map key, map value or event record: whole
    8-byte words, so every field of a record or tuple stays 8-aligned."""
    if isinstance(type_, (TupleType, NamedTupleType)):
        return sum(slot_size(element) for element in type_.elements)
    if isinstance(type_, BufferType):
        return 8 + _words(type_.length)  # the length, then the bytes
    if isinstance(type_, (StringType, ArrayType, SpecialType, StackType)):
        return _words(type_.size)
    return 8


def _words(size: int) -> int:
    return (size + 7) // 8 * 8


def element_offsets(type_: TupleType | NamedTupleType) -> tuple[int, ...]:
    """Where each element of a tuple or record starts inside its slot."""
    offsets, offset = [], 0
    for element in type_.elements:
        offsets.append(offset)
        offset += slot_size(element)
    return tuple(offsets)


class ScratchArea:
    """The per-CPU scratch map: one value of `size` bytes where codegen
    places values too wide for the 512-byte BPF stack. Its size is only
    known once every probe is lowered, so codegen grows it as it goes."""

    symbol = SCRATCH_SYMBOL

    def __init__(self) -> None:
        self.size = 8

    def grow_to(self, size: int) -> None:
        self.size = max(self.size, size)

    @property
    def map_plan(self) -> MapPlan:
        return MapPlan("", SCRATCH_SYMBOL, "percpu_array", None, None, 4, self.size, 1)


@frozen
class MapPlan(FrozenValue):
    """One BPF map. `map_type` is the kernel's name in lower case (`hash`,
    `percpu_array`, `ringbuf`); `key` is None for a key-less map (an array
    with the single index 0)."""

    name: str  # as the user wrote it, with the `@`; a stack map's stacks (`kstack(127)`)
    symbol: str  # the `.maps` global codegen refers to it by
    map_type: str
    key: Type | None
    value: Type | None
    key_size: int
    value_size: int
    max_entries: int

    @property
    def per_cpu(self) -> bool:
        return "percpu" in self.map_type

    @property
    def presence_word(self) -> int | None:
        """The word of a key-less aggregation's per-CPU value that is 1 when
        that CPU's value is set: an array entry always exists, so `delete`
        and `clear` unset it instead (the value is then not printed, as
        bpftrace). None for every other map."""
        if self.map_type == "percpu_array" and isinstance(self.value, AggregateType):
            return self.value_size // 8 - 1
        return None

    @property
    def kernel_name(self) -> str:
        """The name the kernel shows (15 characters of [A-Za-z0-9_])."""
        cleaned = "".join(ch if ch.isalnum() else "_" for ch in self.symbol)
        return cleaned[:15]


@frozen
class EventField(FrozenValue):
    offset: int
    type: Type


@frozen
class EventPlan(FrozenValue):
    """One call site that sends a record: `kind` is the call's name (PRINTF,
    EXIT, PRINT, TIME, CAT, SYSTEM, JOIN). `fields` are the values the
    record carries: printf/cat/system's arguments after the format, print's
    and join's one argument, exit's code; time's record has none."""

    id: int
    kind: str
    fields: tuple[EventField, ...]
    format: FormatString | None = None
    text: str | None = None  # time()'s strftime format; join()'s separator
    map_name: str | None = None  # the map (with its `@`) of PRINT_MAP, CLEAR, ZERO

    @property
    def size(self) -> int:
        if not self.fields:
            return EVENT_ID_SIZE
        last = self.fields[-1]
        return last.offset + slot_size(last.type)


@frozen
class ResourcePlan(FrozenValue):
    maps: tuple[MapPlan, ...]  # user maps, in name order
    ring_buffer: MapPlan
    events: tuple[EventPlan, ...]  # index == event id
    event_of_call: dict[int, EventPlan]  # id(ast.Call) -> its event
    scratch: ScratchArea
    lost_events: MapPlan  # per-CPU count of records the full ring buffer dropped
    zero: MapPlan  # one all-zero value: the first value of a new aggregation entry
    map_full: MapPlan  # per-CPU, per user map then per stack map: updates (captures) lost because the map was full
    strftime_formats: tuple[str, ...] = ()  # a strftime value holds its format's index here
    stack_maps: tuple[MapPlan, ...] = ()  # hash of the frames -> frames, one per stack kind and frame limit
    update_cache: UpdateCachePlan | None = None  # the keyed aggregations updated through a cache (update_cache.py)
    pending_updates: MapPlan | None = None  # per-CPU: the update cache's entries
    generations: MapPlan | None = None  # each cached map's generation
    cgroup_path_filters: tuple[str, ...] = ()  # a cgroup_path value holds its filter's index + 1 here (0: none)

    def map(self, name: str) -> MapPlan:
        """The plan of user map `name` (without the `@`)."""
        return next(plan for plan in self.maps if plan.name == "@" + name)

    def stack_map(self, stack: StackType) -> MapPlan:
        """The map holding the frames of `stack`'s values."""
        return next(plan for plan in self.stack_maps if plan.symbol == stack_map_symbol(stack))

    def map_full_slot(self, plan: MapPlan) -> int:
        """The slot of `map_full` counting what a user map or stack map lost."""
        return (self.maps + self.stack_maps).index(plan)

    def all_maps(self) -> tuple[MapPlan, ...]:
        cache = (self.pending_updates, self.generations) if self.update_cache is not None else ()
        return (self.maps + (self.ring_buffer, self.lost_events, self.scratch.map_plan, self.zero, self.map_full)
                + self.stack_maps + cache)


def plan_resources(analysis: Analysis) -> ResourcePlan:
    """Raises CompileError for maps or events the code generator cannot lower."""
    map_size = max_map_keys(analysis.config)
    first_use = {}
    for node in analysis.program.walk():
        if isinstance(node, ast.MapRef):
            first_use.setdefault(node.name, node.span)
    maps = tuple(_plan_map(info, map_size, first_use.get(name)) for name, info in sorted(analysis.maps.items()))
    events: list[EventPlan] = []
    event_of_call: dict[int, EventPlan] = {}
    for probe in analysis.probes:
        for node in probe.probe.walk():
            if isinstance(node, ast.Call) and _sends_event(node):
                plan = _plan_event(node, len(events), analysis)
                events.append(plan)
                event_of_call[id(node)] = plan
    ring_buffer = MapPlan("", RING_BUFFER_SYMBOL, "ringbuf", None, None, 0, 0, RING_BUFFER_BYTES)
    lost_events = MapPlan("", LOST_EVENTS_SYMBOL, "percpu_array", None, None, 4, 8, 1)
    zero = MapPlan("", ZERO_SYMBOL, "array", None, None, 4, max(plan.value_size for plan in maps + (lost_events,)), 1)
    stack_maps = _plan_stack_maps(analysis, map_size)
    map_full = MapPlan("", MAP_FULL_SYMBOL, "percpu_array", None, None, 4, 8, max(len(maps) + len(stack_maps), 1))
    strftime_formats = tuple(sorted({node.args[0].value for node in analysis.program.walk()
                                     if isinstance(node, ast.Call) and node.name == "strftime"}))
    cgroup_path_filters = tuple(sorted({literal_string(node.args[1]) for node in analysis.program.walk()
                                        if isinstance(node, ast.Call) and node.name == "cgroup_path"
                                        and len(node.args) == 2 and literal_string(node.args[1]) is not None}))
    cache = plan_update_cache(analysis, maps)
    pending = generations = None
    if cache is not None:
        pending = MapPlan("", PENDING_UPDATES_SYMBOL, "percpu_array", None, None, 4, cache.entries_size,
                          len(cache.cached) * cache.programs)
        generations = MapPlan("", GENERATIONS_SYMBOL, "array", None, None, 4, 8, len(cache.cached))
    return ResourcePlan(maps, ring_buffer, tuple(events), event_of_call, ScratchArea(), lost_events, zero, map_full,
                        strftime_formats, stack_maps, cache, pending, generations, cgroup_path_filters)


def stack_map_symbol(stack: StackType) -> str:
    """Stacks of one kind and frame limit share a map, whatever their mode
    (the mode only changes how userspace prints them)."""
    return f"auger_{'u' if stack.user else 'k'}stack{stack.limit}"


def _plan_stack_maps(analysis: Analysis, map_size: int) -> tuple[MapPlan, ...]:
    """A hash map (u64 hash of the frames -> the frames' addresses, zero
    after the last) per kind and limit of kstack/ustack. Its value holds at
    most the kernel's perf_event_max_stack frames: bpf_get_stack never
    records more."""
    stacks = {(type_.user, type_.limit): type_ for node in analysis.program.walk()
              if isinstance(type_ := analysis.type_of(node), StackType)}
    frames_limit = _perf_event_max_stack()
    return tuple(MapPlan(f"{stack}({stack.limit})", stack_map_symbol(stack), "hash", None, None, 8,
                         8 * min(stack.limit, frames_limit), map_size)
                 for _, stack in sorted(stacks.items()))


def _perf_event_max_stack() -> int:
    try:
        with open(PERF_EVENT_MAX_STACK) as setting:
            return int(setting.read())
    except (OSError, ValueError):
        return DEFAULT_MAX_STACK


def max_map_keys(config) -> int:
    """Every map's size: the config block, else the environment (as
    bpftrace reads BPFTRACE_MAX_MAP_KEYS), else 4096."""
    if "max_map_keys" in config:
        return int(config["max_map_keys"])
    for variable in MAP_KEYS_ENVIRONMENT:
        text = os.environ.get(variable, "")
        if text.isdigit() and int(text) > 0:
            return int(text)
    return DEFAULT_MAP_SIZE


def aggregate_value_size(value: AggregateType) -> int:
    """count/sum: the total; min/max: (value, is_set); avg/stats: (count,
    total); hist/lhist: one count per bucket."""
    if value.kind in ("hist", "lhist"):
        return 8 * bucket_count(value)
    return 8 if value.kind in ("count", "sum") else 16


def bucket_count(value: AggregateType) -> int:
    """Buckets of a hist/lhist value (runtime/format/buckets numbers them):
    hist(n, k) reaches index (65 - k) * 2^k for n = 2^64 - 1."""
    if value.kind == "hist":
        (bits,) = value.parameters
        return (65 - bits) * (1 << bits) + 1
    low, high, step = value.parameters
    return (high - low) // step + 2


def _plan_map(info, map_size: int, span: Span | None) -> MapPlan:
    name = "@" + info.name
    value = info.value
    if isinstance(value, AggregateType):
        value_size = aggregate_value_size(value)
        if info.key is None:
            value_size += 8  # the presence word
        if value_size > SCRATCH_LIMIT:
            raise CompileError([error(f"{value.kind}() in map {name} has too many buckets "
                                      f"({bucket_count(value)}; at most {SCRATCH_LIMIT // 8})", span)])
        per_cpu = True
    elif storable(value):
        value_size = slot_size(value)
        per_cpu = False
    else:
        raise unsupported(f"map values of type {value} (map {name})", span)
    if info.kind.startswith("percpu") and not per_cpu:
        raise unsupported(f"plain values in the {info.kind} map {name}", span)
    symbol = "map_" + (info.name or "anonymous")
    lru = "lru_" if info.kind in ("lruhash", "percpulruhash") else ""  # full: the oldest entry goes
    map_type = lru + ("percpu_hash" if per_cpu else "hash")
    if info.key is None and per_cpu:
        return MapPlan(name, symbol, "percpu_array", None, value, 4, value_size, 1)
    if info.key is None:
        # A hash with the one key 0, not an array: delete and clear must
        # remove the value so that it is not printed (as bpftrace).
        return MapPlan(name, symbol, map_type, None, value, 4, value_size, 1)
    _check_key(info.key, name, span)
    key_size = slot_size(info.key)
    return MapPlan(name, symbol, map_type, info.key, value, key_size, value_size, info.size or map_size)


def _check_key(key: Type, name: str, span: Span | None) -> None:
    if not storable(key):
        raise unsupported(f"map keys of type {key} (map {name})", span)


def storable(type_: Type | None) -> bool:
    """Codegen can store a value of this type in a map, variable or record."""
    if isinstance(type_, (TupleType, NamedTupleType)):
        return all(storable(element) for element in type_.elements)
    return as_integer(type_) is not None or isinstance(
        type_, (BoolType, PointerType, StringType, BufferType, SpecialType, ArrayType, StackType))


def _sends_event(call: ast.Call) -> bool:
    return call.name in (EXIT, TIME, CLEAR, ZERO) + _VALUE_EVENTS


def acts_on_map(call: ast.Call) -> bool:
    """print(@m), clear(@m), zero(@m): a whole map, acted on in userspace."""
    target = call.args[0] if call.args else None
    return call.name in (PRINT, CLEAR, ZERO) and isinstance(target, ast.MapRef) and not target.keys


def _plan_event(call: ast.Call, event_id: int, analysis: Analysis) -> EventPlan:
    if acts_on_map(call):
        kind = PRINT_MAP if call.name == PRINT else call.name
        fields = tuple(EventField(EVENT_ID_SIZE + 8 * index, INT64) for index in range(len(call.args) - 1))
        return EventPlan(event_id, kind, fields, map_name="@" + call.args[0].name)
    if call.name == EXIT:
        return EventPlan(event_id, EXIT, (EventField(EVENT_ID_SIZE, INT64),))
    if call.name == TIME:
        text = call.args[0].value if call.args else "%H:%M:%S\n"
        return EventPlan(event_id, TIME, (), text=text)
    if call.name == JOIN:
        # The strings of argv, up to the first NULL pointer (as bpftrace).
        length = int(analysis.config.get("max_strlen", DEFAULT_STRING_LENGTH))
        strings = TupleType((StringType(length),) * JOIN_ARGUMENTS)
        separator = call.args[1].value if len(call.args) > 1 else " "
        return EventPlan(event_id, JOIN, (EventField(EVENT_ID_SIZE, strings),), text=separator)
    formatted = call.name in (PRINTF, CAT, SYSTEM)
    fmt = parse_format(call.args[0].value) if formatted else None
    fields = []
    offset = EVENT_ID_SIZE
    for argument in call.args[1:] if formatted else call.args[:1]:
        type_ = analysis.type_of(argument)
        fields.append(EventField(offset, type_))
        offset += slot_size(type_)
    return EventPlan(event_id, call.name, tuple(fields), fmt)

