"""`-f json`: one JSON object per line, shaped and spaced as bpftrace 0.27.1
writes them (objects spaced `{"a": 1, "b": 2}`, arrays not `[1,2]`).

Every function returns one complete line, newline included.
Deliberate differences from bpftrace, where it loses data:
- a map key keeps the spaces inside its strings (bpftrace deletes every
  space from a key: `"a b"` became `"ab"`); only the separators we add are
  unspaced (`"x,1"`);
- non-ASCII text is written as UTF-8 (bpftrace writes broken `\\uffffffc3`).
"""

from __future__ import annotations

from . import text
from .buckets import buckets
from .ordering import divide, ordered_entries
from .values import (
    Avg,
    Bool,
    Hist,
    InetAddress,
    Integer,
    Key,
    LinearHist,
    Map,
    Record,
    Stack,
    Stats,
    String,
    Symbol,
    Tuple,
    Value,
)

TEXT_KINDS = ("printf", "time", "cat", "join", "syscall")

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def json_string(value: str) -> str:
    return '"' + "".join(_escape(character) for character in value) + '"'


def _escape(character: str) -> str:
    if character in _ESCAPES:
        return _ESCAPES[character]
    if character < "\x20":
        return f"\\u{ord(character):04x}"
    return character


def json_number(value: int) -> str:
    """An integer, quoted when a double (all JSON numbers are, RFC 8259)
    cannot hold it exactly."""
    return str(value) if int(float(value)) == value else f'"{value}"'


def _object(members: list[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{json_string(name)}: {member}" for name, member in members) + "}"


def _histogram(histogram: Hist | LinearHist) -> str:
    rows = []
    for bucket in buckets(histogram):
        # bpftrace's JSON bounds are inclusive: max is one below the text's.
        members = []
        if bucket.lower is not None:
            members.append(f'"min": {json_number(bucket.lower.value)}')
        if bucket.upper is not None:
            members.append(f'"max": {json_number(bucket.upper.value - 1)}')
        members.append(f'"count": {bucket.count}')
        rows.append("{" + ", ".join(members) + "}")
    return "[" + ",".join(rows) + "]"


def json_value(value: Value) -> str:
    match value:
        case Integer(value=number):
            return json_number(number)
        case Bool(value=flag):
            return "true" if flag else "false"
        case String(value=string):
            return json_string(string)
        case Tuple(elements=elements):
            return "[" + ",".join(json_value(element) for element in elements) + "]"
        case Record(fields=fields):
            return _object([(name, json_value(element)) for name, element in fields])
        case Symbol() | InetAddress() | Stack():
            return json_string(text.format_value(value))
        case Avg():
            return json_number(value.average)
        case Stats(count=count, total=total):
            return _object(
                [
                    ("count", json_number(count)),
                    ("average", json_number(value.average)),
                    ("total", json_number(total)),
                ]
            )
        case Hist() | LinearHist():
            return _histogram(value)
    raise TypeError(f"not a printable value: {value!r}")


def key_string(key: Key, outermost: bool = True) -> str:
    """A map key as a JSON object member name: unspaced separators, and a
    tuple key without its outer parentheses (`"x,1"`, `"(1,a),2"`)."""
    match key:
        case Tuple(elements=elements):
            inner = ",".join(key_string(element, False) for element in elements)
            return inner if outermost else f"({inner})"
        case Record(fields=fields):
            return "{" + ",".join(f".{name}={key_string(element, False)}" for name, element in fields) + "}"
        case Stack(mode="bpftrace"):
            return "\n" + "".join(line.strip() + "\n" for line in text.format_stack(key).splitlines()[1:])
    return text.format_value(key)


def _message(kind: str, data: str) -> str:
    return f'{{"type": "{kind}", "data": {data}}}\n'


def map_type(map_: Map) -> str:
    first = map_.entries[0][1] if map_.entries else None
    if isinstance(first, (Avg, Stats)):
        return "stats"
    if isinstance(first, (Hist, LinearHist)):
        return "hist"
    return "map"


def map_record(map_: Map, top: int = 0, div: int = 1) -> str:
    """What print(@m, top, div) writes (an empty map prints as `{}`)."""
    entries = [(key, divide(value, div)) for key, value in ordered_entries(map_, top)]
    if not map_.keyed:
        data = json_value(entries[0][1])
    else:
        data = _object([(key_string(key), json_value(value)) for key, value in entries])
    return _message(map_type(map_), _object([(map_.name, data)]))


def maps_at_exit(maps: list[Map]) -> str:
    """Every non-empty map, in alphabetical order of name."""
    return "".join(map_record(map_) for map_ in sorted(maps, key=lambda m: m.name) if map_.entries)


def value_record(value: Value) -> str:
    """What print(value) writes for a non-map value."""
    return _message("value", json_value(value))


def text_record(kind: str, data: str) -> str:
    """printf/time/cat/join/syscall output: `{"type": kind, "data": "..."}`."""
    if kind not in TEXT_KINDS:
        raise ValueError(f"not a text record kind: {kind!r}")
    return _message(kind, json_string(data))


def printf_record(data: str) -> str:
    return text_record("printf", data)


def attached_probes(count: int) -> str:
    return f'{{"type": "attached_probes", "count": {count}, "data": {{"probes": {count}}}}}\n'


def lost_events(count: int) -> str:
    return _message("lost_events", f'{{"events": {count}}}')
