"""Per-CPU scratch space for values wider than a register.

Strings, tuples, records, buffers and event records would soon fill the
512-byte BPF stack, so each probe places them in the one value of a
PERCPU_ARRAY map instead (`ResourcePlan.scratch`). The probe looks that
value up once, in its entry block; every wide value then has a fixed
offset in it, given out at compile time:

- a wide variable keeps its region for the whole probe;
- temporaries (a string literal, a tuple being built, an event record) take
  the next free bytes, and code that has consumed them gives them back with
  `temporaries()`.

The region is per CPU and a BPF program runs to its end on one CPU, so two
probes never share it at once (except a probe interrupting another on the
same CPU, which bpftrace's scratch maps share the same way).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator
from weakref import WeakKeyDictionary

import llvmlite.ir as ir

from auger.compiler.resources import SCRATCH_LIMIT, unsupported

from .function import ProbeFunction
from .helpers import BYTE_POINTER, I32, I64, MAP_LOOKUP_ELEM, call_helper

_SPACES: WeakKeyDictionary[ProbeFunction, ScratchSpace] = WeakKeyDictionary()


def scratch_space(fn: ProbeFunction) -> ScratchSpace:
    """The probe's scratch space (made on first use)."""
    if fn not in _SPACES:
        _SPACES[fn] = ScratchSpace(fn)
    return _SPACES[fn]


class ScratchSpace:
    def __init__(self, fn: ProbeFunction) -> None:
        self.fn = fn
        self.next_free = 0
        self._base: ir.Value | None = None
        self._zero_key: ir.Value | None = None

    def allocate(self, size: int, span=None) -> ir.Value:
        """An i8* to `size` fresh bytes (8-aligned) of this CPU's scratch."""
        offset = self.next_free
        self.next_free += (size + 7) // 8 * 8
        if self.next_free > SCRATCH_LIMIT:
            raise unsupported(f"more than {SCRATCH_LIMIT} bytes of strings, tuples and records in one probe", span)
        self.fn.plan.scratch.grow_to(self.next_free)
        return self.fn.builder.gep(self.base, [ir.Constant(I32, offset)])

    @contextmanager
    def temporaries(self) -> Iterator[None]:
        """Space allocated inside the block is free again after it: use it
        around code whose wide intermediate values are dead once it ends."""
        mark = self.next_free
        yield
        self.next_free = mark

    @property
    def base(self) -> ir.Value:
        """The scratch value's address, looked up once at the probe's entry
        (a missing value cannot happen for an array index 0; the verifier
        still wants the check, which returns from the probe)."""
        if self._base is None:
            self._base = self._look_up()
        return self._base

    @property
    def zero_key(self) -> ir.Value:
        """An i8* to a u32 0 on the stack, set once at entry: the key of every
        one-entry array (scratch, counters). One slot for all of them, so
        many call sites do not each take stack."""
        if self._zero_key is None:
            self.base
        return self._zero_key

    def _look_up(self) -> ir.Value:
        fn = self.fn
        entry = fn.entry_builder
        body_branch = entry.block.terminator
        entry.position_before(body_branch)
        key = entry.alloca(I32, name="zero_key")
        entry.store(ir.Constant(I32, 0), key)
        self._zero_key = entry.bitcast(key, BYTE_POINTER)
        map_pointer = entry.bitcast(fn.map_symbols[fn.plan.scratch.symbol], BYTE_POINTER)
        base = call_helper(entry, MAP_LOOKUP_ELEM, map_pointer, self._zero_key)
        missing = entry.icmp_unsigned("==", base, ir.Constant(BYTE_POINTER, None))
        stop = fn.block("no_scratch")
        ir.IRBuilder(stop).ret(ir.Constant(I64, 0))
        body = body_branch.operands[0]
        entry.block.instructions.remove(body_branch)
        entry.block.terminator = None
        entry.position_at_end(entry.block)
        entry.cbranch(missing, stop, body)
        # Later stack slots still go before the branch.
        entry.position_before(entry.block.terminator)
        return base
