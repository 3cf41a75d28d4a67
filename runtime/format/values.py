"""The values the output side renders, independent of the kernel.

The runtime decodes map entries and event records into these plain
dataclasses (summing the per-CPU copies with `percpu`); the text and JSON
emitters render them. Nothing here knows about byte layouts or file
descriptors, so tests build values by hand exactly as the runtime would.

Integers carry their signedness because sorting and division follow it.
Aggregations that print as a plain integer (count, sum, min, max) are
`Integer`s once their CPUs are combined; avg and stats keep count and total
because their line shape and JSON type differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from auger.compiler.frozen import Value as FrozenValue, frozen


@frozen
class Integer(FrozenValue):
    value: int
    signed: bool = True


@frozen
class Bool(FrozenValue):
    value: bool


@frozen
class String(FrozenValue):
    """Already decoded text (the runtime cuts at the NUL and adds any
    truncation trailer)."""

    value: str


@frozen
class Tuple(FrozenValue):
    elements: tuple[Value, ...]


@frozen
class Record(FrozenValue):
    """A named tuple `(a = 1, b = "x")`; fields keep declaration order."""

    fields: tuple[tuple[str, Value], ...]


@frozen
class Symbol(FrozenValue):
    """ksym()/usym(): the resolved name, or None when unresolved."""

    address: int
    name: str | None = None


@frozen
class InetAddress(FrozenValue):
    """ntop(): 4 bytes for AF_INET, 16 for AF_INET6."""

    packed: bytes


@frozen
class StackFrame(FrozenValue):
    address: int
    symbol: str | None = None  # None: unresolved, printed as its address
    offset: int = 0
    module: str | None = None  # user stacks in perf mode print it


STACK_MODES = ("bpftrace", "perf", "raw")


@dataclass(frozen=True)
class Stack:
    """kstack/ustack, innermost frame first."""

    frames: tuple[StackFrame, ...]
    mode: str = "bpftrace"
    user: bool = False

    def __post_init__(self) -> None:
        if self.mode not in STACK_MODES:
            raise ValueError(f"unknown stack mode {self.mode!r}")


@frozen
class _Mean(FrozenValue):
    count: int
    total: int
    signed: bool = True
    divisor: int = 1  # print's `div`: divides the printed average only

    @property
    def average(self) -> int:
        return truncating_divide(average(self.total, self.count), self.divisor)


@frozen
class Avg(_Mean):
    """avg(): prints its average."""


@frozen
class Stats(_Mean):
    """stats(): prints count, average and total."""


@frozen
class Hist(FrozenValue):
    """hist(n, k): `counts[i]` is the count of bucket index i in bpftrace's
    layout (see buckets.hist_bucket_index); trailing zeros may be omitted."""

    bits: int
    counts: tuple[int, ...]
    divisor: int = 1  # print's `div`: divides the printed counts only

    @property
    def total(self) -> int:
        return sum(self.counts)


@frozen
class LinearHist(FrozenValue):
    """lhist(v, min, max, step): index 0 is below min, the last index is
    max and above (see buckets.lhist_bucket_index)."""

    min: int
    max: int
    step: int
    counts: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.counts)


Value = Union[
    Integer, Bool, String, Tuple, Record, Symbol, InetAddress, Stack, Avg, Stats, Hist, LinearHist
]
Key = Union[Integer, Bool, String, Tuple, Record, Symbol, InetAddress, Stack]


@frozen
class Map(FrozenValue):
    """A map as read at print time: `name` includes the `@`. A key-less map
    has one entry whose key is None; an empty map has no entries (cleared,
    or never written)."""

    name: str
    entries: tuple[tuple[Key | None, Value], ...] = ()

    @classmethod
    def scalar(cls, name: str, value: Value) -> Map:
        """A key-less map holding `value`."""
        return cls(name, ((None, value),))

    @property
    def keyed(self) -> bool:
        return not (len(self.entries) == 1 and self.entries[0][0] is None)


def truncating_divide(numerator: int, denominator: int) -> int:
    """C division (toward zero), which bpftrace's averages and `div` use."""
    quotient = abs(numerator) // abs(denominator)
    return quotient if (numerator < 0) == (denominator < 0) else -quotient


def average(total: int, count: int) -> int:
    return truncating_divide(total, count) if count else 0
