"""Records to userspace through the ring buffer.

A record is the event id (8 bytes) then the fields the resource plan laid
out (values.py layouts). It is built in scratch space and copied into the
ring buffer with one bpf_ringbuf_output, so nothing is ever reserved while
arguments are still being computed (a reservation left open on some branch
is a verifier error). When the ring buffer is full the record is dropped
and this CPU's slot of the lost-events counter grows by one; the session
reports the total (runtime/events.py: lost_events).
"""

from __future__ import annotations

from typing import Sequence

import llvmlite.ir as ir

from auger.compiler.resources import EventPlan
from auger.compiler.types import UINT64

from .function import ProbeFunction
from .helpers import BYTE_POINTER, I64, MAP_LOOKUP_ELEM, RINGBUF_OUTPUT, call_helper
from .scratch import scratch_space
from .values import at, store


def emit_event(fn: ProbeFunction, event: EventPlan, arguments: Sequence[ir.Value | bytes]) -> None:
    """Send one record of `event`. `arguments` match event.fields: an i64,
    the i8* of a wide value in its layout, or the bytes of a string known
    at compile time."""
    space = scratch_space(fn)
    with space.temporaries():
        record = space.allocate(event.size)
        store(fn, UINT64, record, ir.Constant(I64, event.id))
        for field, argument in zip(event.fields, arguments):
            store(fn, field.type, at(fn.builder, record, field.offset), argument)
        builder = fn.builder
        ring_buffer = fn.map_pointer(fn.plan.ring_buffer)
        status = call_helper(builder, RINGBUF_OUTPUT, ring_buffer, record, ir.Constant(I64, event.size), ir.Constant(I64, 0))
        with builder.if_then(builder.icmp_signed("!=", status, ir.Constant(I64, 0))):
            _count_lost(fn)


def _count_lost(fn: ProbeFunction) -> None:
    builder = fn.builder
    counter = call_helper(builder, MAP_LOOKUP_ELEM, fn.map_pointer(fn.plan.lost_events), scratch_space(fn).zero_key)
    with builder.if_then(builder.icmp_unsigned("!=", counter, ir.Constant(BYTE_POINTER, None))):
        slot = builder.bitcast(counter, I64.as_pointer())
        # Per-CPU: no other program writes this slot meanwhile.
        builder.store(builder.add(builder.load(slot), ir.Constant(I64, 1)), slot)
