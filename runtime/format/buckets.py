"""Histogram bucket layout and labels, shared by the text and JSON emitters.

Bucket indexes follow bpftrace so that its maps and ours agree:

hist(n, k), N = 2**k buckets per power of two:
  index 0               n < 0
  index 1 .. 2N         one value each: n = index - 1 (0 .. 2N-1)
  index > 2N            [lower, upper) ranges, N of them per power of two

lhist(n, min, max, step):
  index 0               n < min
  index 1 ..            [min + (i-1)*step, min + i*step)
  last index            n >= max  ((max - min) // step + 1)

A bucket's upper bound is the boundary label of its own index and its
lower bound is that of the index before it (bpftrace's `labels`), which is
why one label function per kind describes every row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from auger.compiler.frozen import Value as FrozenValue, frozen

from .values import Hist, LinearHist

_SUFFIXES = ("", "K", "M", "G", "T", "P", "E")


@frozen
class Bound(FrozenValue):
    """A bucket boundary: its number, and how text prints it. `plain`
    boundaries print as bare integers; only two adjacent plain boundaries
    make a one-value bucket `[n]` (bpftrace compares integer labels only)."""

    value: int
    label: str
    plain: bool


@frozen
class Bucket(FrozenValue):
    """One printed row: `lower` None is the open-ended underflow bucket,
    `upper` None the open-ended overflow bucket; `upper` is exclusive."""

    lower: Bound | None
    upper: Bound | None
    count: int

    @property
    def single(self) -> bool:
        return (
            self.lower is not None
            and self.upper is not None
            and self.lower.plain
            and self.upper.plain
            and self.upper.value == self.lower.value + 1
        )


def hist_bucket_index(value: int, bits: int = 0) -> int:
    """The bucket index of `value` in hist(value, bits)."""
    if value < 0:
        return 0
    per_power = 1 << bits
    if value < 2 * per_power:
        return value + 1
    power = value.bit_length() - 1
    sub_bucket = (value >> (power - bits)) & (per_power - 1)
    return (power - bits + 1) * per_power + sub_bucket + 1


def lhist_bucket_index(value: int, minimum: int, maximum: int, step: int) -> int:
    if value < minimum:
        return 0
    if value >= maximum:
        return (maximum - minimum) // step + 1
    return (value - minimum) // step + 1


def hist_from_samples(samples: Iterable[int], bits: int = 0) -> Hist:
    """What a hist(n, bits) map holds once `samples` were recorded: the
    reference for the bucket index computed in BPF."""
    counts = Counter(hist_bucket_index(sample, bits) for sample in samples)
    return Hist(bits, tuple(counts[index] for index in range(max(counts, default=-1) + 1)))


def lhist_from_samples(samples: Iterable[int], minimum: int, maximum: int, step: int) -> LinearHist:
    counts = Counter(lhist_bucket_index(sample, minimum, maximum, step) for sample in samples)
    width = (maximum - minimum) // step + 2
    return LinearHist(minimum, maximum, step, tuple(counts[index] for index in range(width)))


def hist_boundary(index: int, bits: int) -> Bound:
    """The exclusive upper bound of hist bucket `index`."""
    per_power = 1 << bits
    if index <= 2 * per_power:
        return Bound(index, str(index), True)
    power = (index >> bits) - 1
    mantissa = per_power + (index & (per_power - 1))
    # The suffix follows the power alone, so [3584, 4K) is possible with k>0.
    decade = power // 10
    label = f"{(1 << (power - 10 * decade)) * mantissa}{_SUFFIXES[decade]}"
    return Bound((1 << power) * mantissa, label, False)


def lhist_boundary(index: int, histogram: LinearHist) -> Bound | None:
    """The exclusive upper bound of lhist bucket `index`; None for the
    overflow bucket."""
    value = histogram.min + index * histogram.step
    if value > histogram.max:
        return None
    if histogram.step % 1024:
        return Bound(value, str(value), True)
    if value and value % (1 << 20) == 0:
        label = f"{value >> 20}M"
    elif value and value % 1024 == 0:
        label = f"{value >> 10}K"
    else:
        label = str(value)
    return Bound(value, label, False)


def buckets(histogram: Hist | LinearHist) -> list[Bucket]:
    """The rows to print: from the lowest to the highest non-empty bucket,
    zero rows between included (counts before a hist's divisor decide)."""
    used = [index for index, count in enumerate(histogram.counts) if count]
    if not used:
        return []
    if isinstance(histogram, Hist):
        def boundary(index: int) -> Bound | None:
            return hist_boundary(index, histogram.bits)
        divisor = histogram.divisor or 1
    else:
        def boundary(index: int) -> Bound | None:
            return lhist_boundary(index, histogram)
        divisor = 1
    return [
        Bucket(
            boundary(index - 1) if index else None,
            boundary(index),
            histogram.counts[index] // divisor,
        )
        for index in range(used[0], used[-1] + 1)
    ]
