"""Decode ring buffer records by the compile-time event table: printf text
goes to the output, an exit record asks the session to stop."""

from __future__ import annotations

import struct
from typing import Callable

from auger.compiler.printf_format import format_value
from auger.compiler.resources import EXIT, PRINTF, EventField, EventPlan
from auger.compiler.semantic.type_rules import as_integer
from auger.compiler.types import StringType

from .format.percpu import wrap64

_WORD = struct.Struct("<Q")

class EventDecoder:
    """The ring buffer callback. `write` takes printf's text; `exit_code`
    is set once an exit() record arrived."""

    def __init__(self, events: tuple[EventPlan, ...], write: Callable[[str], None]):
        self.events = events
        self.write = write
        self.exit_code: int | None = None

    def __call__(self, record: bytes) -> None:
        (event_id,) = _WORD.unpack_from(record)
        event = self.events[event_id]
        if event.kind == PRINTF:
            self.write(self._printf(event, record))
        elif event.kind == EXIT:
            if self.exit_code is None:
                self.exit_code = _field_value(event.fields[0], record)

    @staticmethod
    def _printf(event: EventPlan, record: bytes) -> str:
        values = iter(_field_value(field, record) for field in event.fields)
        return "".join(
            piece if isinstance(piece, str) else format_value(piece, next(values))
            for piece in event.format.pieces
        )


def _field_value(field: EventField, record: bytes) -> int | str:
    if isinstance(field.type, StringType):
        raw = record[field.offset : field.offset + field.type.length]
        return raw.split(b"\0", 1)[0].decode("utf-8", "replace")
    (word,) = _WORD.unpack_from(record, field.offset)
    return wrap64(word, as_integer(field.type).signed)
