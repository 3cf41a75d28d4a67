"""Records to userspace through the ring buffer: reserve, fill, submit.

A record is the event id (8 bytes) then the argument slots the resource plan
laid out. Arguments are computed before the reservation, so nothing between
reserve and submit can branch away and leave the reservation open (which the
verifier rejects). A full ring buffer drops the record.
"""

from __future__ import annotations

import llvmlite.ir as ir

from auger.compiler.resources import EventPlan, slot_size

from .function import ProbeFunction
from .helpers import BYTE_POINTER, I32, I64, RINGBUF_RESERVE, RINGBUF_SUBMIT, call_helper


def emit_event(fn: ProbeFunction, event: EventPlan, arguments: list[ir.Value | bytes]) -> None:
    """`arguments` match event.fields: an i64 value, or the bytes of a
    string known at compile time (NUL-padded to its slot)."""
    builder = fn.builder
    ring_buffer = fn.map_pointer(fn.plan.ring_buffer)
    record = call_helper(builder, RINGBUF_RESERVE, ring_buffer, ir.Constant(I64, event.size), ir.Constant(I64, 0))
    reserved = builder.icmp_unsigned("!=", record, ir.Constant(BYTE_POINTER, None))
    fill, done = fn.block("event_fill"), fn.block("event_done")
    builder.cbranch(reserved, fill, done)
    builder.position_at_end(fill)
    _store_word(builder, record, 0, ir.Constant(I64, event.id))
    for field, argument in zip(event.fields, arguments):
        if isinstance(argument, bytes):
            padded = argument.ljust(slot_size(field.type), b"\0")
            for at in range(0, len(padded), 8):
                word = int.from_bytes(padded[at : at + 8], "little", signed=True)
                _store_word(builder, record, field.offset + at, ir.Constant(I64, word))
        else:
            _store_word(builder, record, field.offset, argument)
    call_helper(builder, RINGBUF_SUBMIT, record, ir.Constant(I64, 0))
    builder.branch(done)
    builder.position_at_end(done)


def _store_word(builder: ir.IRBuilder, record: ir.Value, offset: int, value: ir.Value) -> None:
    address = builder.gep(record, [ir.Constant(I32, offset)])
    builder.store(value, builder.bitcast(address, I64.as_pointer()))


