"""Resource planning: every kernel object a program needs, decided before codegen.

From the Analysis this pass fixes each map's BPF map type and byte layout, and
numbers every event the program sends to userspace (printf, exit) with the
layout of its argument record. Codegen writes records by this plan and the
runtime reads them by the same plan, so the two cannot disagree.

Layouts: integers and bools take 8 bytes (sign- or zero-extended by their
type); strings take their buffer length rounded up to 8; a tuple key is its
elements one after another. A record starts with its 8-byte event id.
"""

from __future__ import annotations

from dataclasses import dataclass

from auger.compiler import ast
from auger.compiler.diagnostics import CompileError, Span, error
from auger.compiler.printf_format import FormatString, parse_format
from auger.compiler.semantic import Analysis
from auger.compiler.semantic.type_rules import as_integer
from auger.compiler.types import INT64, AggregateType, BoolType, StringType, TupleType, Type

DEFAULT_MAP_SIZE = 4096
RING_BUFFER_BYTES = 1 << 18
RING_BUFFER_SYMBOL = "auger_events"
EVENT_ID_SIZE = 8

# Aggregations the code generator can lower so far.
SUPPORTED_AGGREGATES = ("count", "sum")

PRINTF = "printf"
EXIT = "exit"


def unsupported(what: str, span: Span | None) -> CompileError:
    """The one error for a construct the code generator cannot lower yet."""
    return CompileError([error(f"not supported yet by the code generator: {what}", span)])


def slot_size(type_: Type) -> int:
    """Bytes a value takes in a map key, map value or event record."""
    if isinstance(type_, StringType):
        return (type_.length + 7) // 8 * 8
    return 8


@dataclass(frozen=True)
class MapPlan:
    """One BPF map. `map_type` is the kernel's name in lower case (`hash`,
    `percpu_array`, `ringbuf`); `key` is None for a key-less map (an array
    with the single index 0)."""

    name: str  # as the user wrote it, with the `@`
    symbol: str  # the `.maps` global codegen refers to it by
    map_type: str
    key: Type | None
    value: Type | None
    key_size: int
    value_size: int
    max_entries: int

    @property
    def per_cpu(self) -> bool:
        return self.map_type.startswith("percpu")

    @property
    def kernel_name(self) -> str:
        """The name the kernel shows (15 characters of [A-Za-z0-9_])."""
        cleaned = "".join(ch if ch.isalnum() else "_" for ch in self.symbol)
        return cleaned[:15]


@dataclass(frozen=True)
class EventField:
    offset: int
    type: Type


@dataclass(frozen=True)
class EventPlan:
    """One call site that sends a record: `kind` is PRINTF or EXIT. A printf
    record holds its arguments in `fields`; an exit record its exit code."""

    id: int
    kind: str
    fields: tuple[EventField, ...]
    format: FormatString | None = None

    @property
    def size(self) -> int:
        if not self.fields:
            return EVENT_ID_SIZE
        last = self.fields[-1]
        return last.offset + slot_size(last.type)


@dataclass(frozen=True)
class ResourcePlan:
    maps: tuple[MapPlan, ...]  # user maps, in name order
    ring_buffer: MapPlan
    events: tuple[EventPlan, ...]  # index == event id
    event_of_call: dict[int, EventPlan]  # id(ast.Call) -> its event

    def map(self, name: str) -> MapPlan:
        """The plan of user map `name` (without the `@`)."""
        return next(plan for plan in self.maps if plan.name == "@" + name)

    def all_maps(self) -> tuple[MapPlan, ...]:
        return self.maps + (self.ring_buffer,)


def plan_resources(analysis: Analysis) -> ResourcePlan:
    """Raises CompileError for maps or events the code generator cannot lower."""
    map_size = int(analysis.config.get("max_map_keys", DEFAULT_MAP_SIZE))
    first_use = {}
    for node in analysis.program.walk():
        if isinstance(node, ast.MapRef):
            first_use.setdefault(node.name, node.span)
    maps = tuple(_plan_map(info, map_size, first_use.get(name)) for name, info in sorted(analysis.maps.items()))
    events: list[EventPlan] = []
    event_of_call: dict[int, EventPlan] = {}
    for probe in analysis.probes:
        for node in probe.probe.walk():
            if isinstance(node, ast.Call) and node.name in (PRINTF, EXIT):
                plan = _plan_event(node, len(events), analysis)
                events.append(plan)
                event_of_call[id(node)] = plan
    ring_buffer = MapPlan("", RING_BUFFER_SYMBOL, "ringbuf", None, None, 0, 0, RING_BUFFER_BYTES)
    return ResourcePlan(maps, ring_buffer, tuple(events), event_of_call)


def _plan_map(info, map_size: int, span: Span | None) -> MapPlan:
    name = "@" + info.name
    value = info.value
    if isinstance(value, AggregateType):
        if value.kind not in SUPPORTED_AGGREGATES:
            raise unsupported(f"{value.kind}() in map {name}", span)
        per_cpu = True
    elif as_integer(value) is not None or isinstance(value, BoolType):
        per_cpu = False
    else:
        raise unsupported(f"map values of type {value} (map {name})", span)
    if info.kind != "hash":
        raise unsupported(f"{info.kind} maps ({name})", span)
    symbol = "map_" + (info.name or "anonymous")
    if info.key is None:
        map_type = "percpu_array" if per_cpu else "array"
        return MapPlan(name, symbol, map_type, None, value, 4, 8, 1)
    _check_key(info.key, name, span)
    map_type = "percpu_hash" if per_cpu else "hash"
    key_size = sum(slot_size(t) for t in _key_elements(info.key))
    return MapPlan(name, symbol, map_type, info.key, value, key_size, 8, info.size or map_size)


def _key_elements(key: Type) -> tuple[Type, ...]:
    return key.elements if isinstance(key, TupleType) else (key,)


def _check_key(key: Type, name: str, span: Span | None) -> None:
    for element in _key_elements(key):
        if as_integer(element) is None:
            raise unsupported(f"map keys of type {element} (map {name})", span)


def _plan_event(call: ast.Call, event_id: int, analysis: Analysis) -> EventPlan:
    if call.name == EXIT:
        return EventPlan(event_id, EXIT, (EventField(EVENT_ID_SIZE, INT64),))
    fmt = parse_format(call.args[0].value)
    fields = []
    offset = EVENT_ID_SIZE
    for argument in call.args[1:]:
        type_ = analysis.type_of(argument)
        if isinstance(type_, StringType):
            if not isinstance(argument, ast.StringLiteral):
                raise unsupported("printf of a string that is not a literal", argument.span)
        elif as_integer(type_) is None:
            raise unsupported(f"printf of a value of type {type_}", argument.span)
        fields.append(EventField(offset, type_))
        offset += slot_size(type_)
    return EventPlan(event_id, PRINTF, tuple(fields), fmt)

