"""bpftrace's text output, byte for byte (as 0.27.1 prints it).

Every function returns exactly the text to write, newlines included, except
`format_value`, which is the bare rendering of one value (print(value) adds
a newline: `print_value`).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable

from .buckets import Bucket, buckets
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
    StackFrame,
    Stats,
    String,
    Symbol,
    Tuple,
    Value,
)

BAR_WIDTH = 52
_STACK_INDENT = " " * 8


def hex_address(address: int) -> str:
    # C++'s `std::showbase << std::hex` prints zero as a bare "0".
    return f"{address:#x}" if address else "0"


def _frame_symbol(frame: StackFrame) -> str:
    if frame.symbol is None:
        return hex_address(frame.address)
    return f"{frame.symbol}+{frame.offset}"


def format_stack(stack: Stack) -> str:
    """A stack as bpftrace prints it: a newline, then one line per frame."""
    lines = []
    for frame in stack.frames:
        if stack.mode == "raw":
            lines.append(f"{frame.address:x}")
        elif stack.mode == "perf":
            module = f" ({frame.module or '[unknown]'})" if stack.user else ""
            lines.append(f"\t{frame.address:x} {_frame_symbol(frame)}{module}")
        else:
            lines.append(_STACK_INDENT + _frame_symbol(frame))
    return "\n" + "".join(line + "\n" for line in lines)


def _float32(number: float) -> float:
    return struct.unpack("f", struct.pack("f", number))[0]


def bar_length(count: int, largest: int) -> int:
    """`int(count / max * 52)` computed in float, as bpftrace does; an all-zero
    histogram (possible after print's div) gets empty bars."""
    if not largest:
        return 0
    return int(_float32(_float32(_float32(count) / _float32(largest)) * BAR_WIDTH))


def bucket_label(bucket: Bucket) -> str:
    if bucket.lower is None:
        return f"(..., {bucket.upper.label})"
    if bucket.upper is None:
        return f"[{bucket.lower.label}, ...)"
    if bucket.single:
        return f"[{bucket.lower.label}]"
    return f"[{bucket.lower.label}, {bucket.upper.label})"


def format_histogram(histogram: Hist | LinearHist) -> str:
    """The rows of a hist/lhist, each ending in a newline."""
    rows = buckets(histogram)
    largest = max((row.count for row in rows), default=0)
    return "".join(
        f"{bucket_label(row):<16}{row.count:>8} |"
        f"{'@' * bar_length(row.count, largest):<{BAR_WIDTH}}|\n"
        for row in rows
    )


def format_value(value: Value) -> str:
    """One value as print(value) and map lines show it (no final newline,
    except that stacks and histograms are multi-line by nature)."""
    match value:
        case Integer(value=number):
            return str(number)
        case Bool(value=flag):
            return "true" if flag else "false"
        case String(value=text):
            return text
        case Tuple(elements=elements):
            return "(" + ", ".join(format_value(element) for element in elements) + ")"
        case Record(fields=fields):
            if not fields:
                return "{}"
            inner = ", ".join(f".{name} = {format_value(element)}" for name, element in fields)
            return "{ " + inner + " }"
        case Symbol(address=address, name=name):
            return name if name is not None else hex_address(address)
        case InetAddress(packed=packed):
            return str(ipaddress.ip_address(packed))
        case Stack():
            return format_stack(value)
        case Avg():
            return str(value.average)
        case Stats(count=count, total=total):
            return f"{{ .count = {count}, .average = {value.average}, .total = {total} }}"
        case Hist() | LinearHist():
            return format_histogram(value)
    raise TypeError(f"not a printable value: {value!r}")


def print_value(value: Value) -> str:
    """What print(value) writes for a non-map value."""
    return format_value(value) + "\n"


def format_key(key: Key) -> str:
    # A tuple key prints without its parentheses (only the outer ones).
    if isinstance(key, Tuple):
        return ", ".join(format_value(element) for element in key.elements)
    return format_value(key)


def _entry(name: str, key: Key | None, value: Value) -> str:
    head = name if key is None else f"{name}[{format_key(key)}]"
    if isinstance(value, (Hist, LinearHist)):
        return f"{head}:\n{format_histogram(value)}\n"
    return f"{head}: {format_value(value)}\n"


def format_map(map_: Map, top: int = 0, div: int = 1) -> str:
    """What print(@m, top, div) writes; an empty map writes nothing."""
    return "".join(
        _entry(map_.name, key, divide(value, div))
        for key, value in ordered_entries(map_, top)
    )


def format_maps_at_exit(maps: Iterable[Map]) -> str:
    """What auger prints on exit: a blank-line pair, then every non-empty
    map in alphabetical order of name."""
    return "\n\n" + "".join(format_map(map_) for map_ in sorted(maps, key=lambda m: m.name))


def attached_probes(count: int) -> str:
    """The start-up line (written to stderr)."""
    return f"Attached {count} probe{'' if count == 1 else 's'}\n"


def lost_events(count: int) -> str:
    return f"Lost {count} events\n"
