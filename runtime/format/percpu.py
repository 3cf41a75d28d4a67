"""Combine the per-CPU copies of an aggregation into one value.

Aggregation maps are per-CPU (design.md); a lookup returns one slot per
possible CPU. These helpers take the decoded slots (plain ints, or
(value, is_set) pairs for min/max) and return the value model's types.
Sums wrap at 64 bits as the kernel's adds do.
"""

from __future__ import annotations

from collections.abc import Sequence

from .values import Avg, Integer, Stats

_MASK64 = (1 << 64) - 1


def wrap64(value: int, signed: bool) -> int:
    """`value` reduced to a 64-bit integer of the given signedness."""
    value &= _MASK64
    if signed and value >> 63:
        value -= 1 << 64
    return value


def combine_sum(slots: Sequence[int], signed: bool = True) -> Integer:
    """count() and sum(): the CPUs' values added."""
    return Integer(wrap64(sum(slots), signed), signed)


def combine_min(slots: Sequence[tuple[int, bool]], signed: bool = True) -> Integer | None:
    """min(): the smallest value among CPUs that have seen one; None if no
    CPU has (the entry then holds no value yet)."""
    seen = [wrap64(value, signed) for value, is_set in slots if is_set]
    return Integer(min(seen), signed) if seen else None


def combine_max(slots: Sequence[tuple[int, bool]], signed: bool = True) -> Integer | None:
    seen = [wrap64(value, signed) for value, is_set in slots if is_set]
    return Integer(max(seen), signed) if seen else None


def _count_and_total(slots: Sequence[tuple[int, int]], signed: bool) -> tuple[int, int]:
    count = wrap64(sum(count for count, _ in slots), False)
    total = wrap64(sum(total for _, total in slots), signed)
    return count, total


def combine_avg(slots: Sequence[tuple[int, int]], signed: bool = True) -> Avg:
    """avg(): slots are (count, total) per CPU."""
    return Avg(*_count_and_total(slots, signed), signed)


def combine_stats(slots: Sequence[tuple[int, int]], signed: bool = True) -> Stats:
    return Stats(*_count_and_total(slots, signed), signed)


def combine_buckets(slots: Sequence[Sequence[int]]) -> tuple[int, ...]:
    """hist()/lhist(): per-bucket counts added across CPUs (the slots may
    differ in length when trailing zero buckets were not read)."""
    width = max((len(counts) for counts in slots), default=0)
    return tuple(
        sum(counts[index] for counts in slots if index < len(counts)) for index in range(width)
    )
