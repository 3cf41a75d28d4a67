"""Which entries of a map print, in which order, with which values.

Shared by the text and JSON emitters (print(@m, top, div) and the maps
printed at exit):
- integer values (count, sum, min, max, plain integers) sort by value,
  signed as declared;
- avg and stats sort by their average, hist and lhist by their total count;
- any other value sorts by key.
Ties keep key order, so output is deterministic (bpftrace leaves ties in
hash order). Where bpftrace 0.27.1 differs it is wrong and we are not:
it compares min/max as unsigned (negatives sort last) and leaves plain
integer maps unsorted.
`top` keeps the last `top` entries after sorting; `div` divides the values
after sorting (see `divide`).
"""

from __future__ import annotations

from dataclasses import replace

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
    truncating_divide,
)


def key_order(key: Key | None) -> tuple:
    """A sort key for map keys of one type."""
    match key:
        case None:
            return ()
        case Integer(value=value) | Bool(value=value):
            return (value,)
        case String(value=value):
            # bpftrace compares the raw buffers: bytewise, as UTF-8 encodes.
            return (value.encode("utf-8", "surrogateescape"),)
        case Tuple(elements=elements):
            return tuple(key_order(element) for element in elements)
        case Record(fields=fields):
            return tuple(key_order(element) for _, element in fields)
        case Symbol(address=address):
            return (address,)
        case InetAddress(packed=packed):
            return (packed,)
        case Stack(frames=frames):
            return tuple(frame.address for frame in frames)
    raise TypeError(f"not a map key: {key!r}")


def _value_order(value: Value) -> int | None:
    match value:
        case Integer(value=number):
            return number
        case Avg() | Stats():
            return value.average
        case Hist() | LinearHist():
            return value.total
    return None


def ordered_entries(map_: Map, top: int = 0) -> list[tuple[Key | None, Value]]:
    """The map's entries in print order, cut to the last `top` if top > 0."""
    entries = sorted(map_.entries, key=lambda entry: key_order(entry[0]))
    if entries and _value_order(entries[0][1]) is not None:
        entries.sort(key=lambda entry: _value_order(entry[1]))
    if top and len(entries) > top:
        entries = entries[len(entries) - top:]
    return entries


def divide(value: Value, div: int) -> Value:
    """`value` with print's `div` applied, as bpftrace does: integers and
    averages are divided (toward zero), stats keep count and total undivided,
    hist divides its printed counts (but not which rows print), lhist
    ignores it, tuples and records divide their integer members."""
    if div in (0, 1):
        return value
    match value:
        case Integer(value=number, signed=signed):
            return Integer(truncating_divide(number, div), signed)
        case Avg() | Stats() | Hist():
            return replace(value, divisor=div)
        case Tuple(elements=elements):
            return Tuple(tuple(divide(element, div) for element in elements))
        case Record(fields=fields):
            return Record(tuple((name, divide(element, div)) for name, element in fields))
    return value
