"""Decode ring buffer records by the compile-time event table, and values of
any type from their codegen/values.py layout into the output's value model:
printf/print/time/cat/system/join output goes to the output (text or JSON),
an exit record asks the session to stop, whole-map actions go to the session.

    EventDecoder(events, write, other, context, json, errors)   the ring buffer callback
    decode_value(type_, raw, context) -> format.values.Value     (map_reader uses it too)
    lost_events(map_) -> int                                     records the full ring buffer dropped
"""

from __future__ import annotations

import bisect
import os
import pwd
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from auger.compiler.printf_format import Specifier, format_value
from auger.compiler.resources import (CAT, EXIT, JOIN, PRINT, PRINTF, SYSTEM, TIME, EventPlan,
                                      element_offsets, slot_size)
from auger.compiler.semantic.type_rules import as_integer
from auger.compiler.types import (ArrayType, BoolType, BufferType, NamedTupleType, SpecialType, StringType,
                                  TupleType, Type)
from auger.probes.elf_symbols import function_symbols

from .format import json as json_format
from .format import values
from .format.percpu import combine_sum, wrap64
from .format.text import format_value as text_of, print_value

_WORD = struct.Struct("<Q")
_KALLSYMS = "/proc/kallsyms"
_DECODED = (EXIT, PRINTF, PRINT, TIME, JOIN, CAT, SYSTEM)
_LENGTH_BITS = {"hh": 8, "h": 16}
_JSON_KINDS = {SYSTEM: "syscall"}


class EventDecoder:
    """The ring buffer callback. `write` takes the output: text, or with
    `json` one JSON object per line; `exit_code` is set once an exit()
    record arrived. Records of other kinds (the whole-map actions) go to
    `other(event, record)` (map_actions.MapActions.handle).
    `context` is what decoding needs beyond the bytes (ValueContext)."""

    def __init__(self, events: tuple[EventPlan, ...], write: Callable[[str], None],
                 other: Callable[[EventPlan, bytes], None] | None = None,
                 context: ValueContext | None = None, json: bool = False,
                 errors: Callable[[str], None] | None = None):  # fmt: skip
        self.events = events
        self.write = write
        self.errors = errors or sys.stderr.write
        self.other = other
        self.context = context or ValueContext()
        self.json = json
        self.exit_code: int | None = None

    def __call__(self, record: bytes) -> None:
        (event_id,) = _WORD.unpack_from(record)
        event = self.events[event_id]
        if event.kind not in _DECODED:
            if self.other is not None:
                self.other(event, record)
            return
        fields = [self.decode(field.type, record[field.offset:field.offset + slot_size(field.type)])
                  for field in event.fields]
        if event.kind == EXIT:
            if self.exit_code is None:
                self.exit_code = fields[0].value
        elif event.kind == PRINT:
            self.write(json_format.value_record(fields[0]) if self.json else print_value(fields[0]))
        elif event.kind == JOIN:
            joined = event.text.join(element.value for element in fields[0].elements if element.value)
            self.write(json_format.text_record(JOIN, joined) if self.json else joined + "\n")
        elif event.kind == CAT:
            self._cat(format_arguments(event, fields))
        elif event.kind == SYSTEM:
            self._text(SYSTEM, _command_output(format_arguments(event, fields)))
        elif event.kind == TIME:
            self._text(TIME, time.strftime(event.text, time.localtime()))
        else:
            self._text(PRINTF, format_arguments(event, fields))

    def _cat(self, path: str) -> None:
        """cat(): the file's contents; a file that cannot be read is an
        error message (bpftrace's words), not output."""
        try:
            with open(path, errors="replace") as file:
                self._text(CAT, file.read())
        except OSError as problem:
            self.errors(f"ERROR: failed to open file '{path}' ({problem.strerror})\n")

    def _text(self, kind: str, text: str) -> None:
        """Text output of a record kind; bpftrace ends system()'s output with
        one more newline in text mode."""
        if self.json:
            self.write(json_format.text_record(_JSON_KINDS.get(kind, kind), text))
        else:
            self.write(text + "\n" if kind == SYSTEM else text)

    def decode(self, type_: Type, raw: bytes) -> values.Value:
        return decode_value(type_, raw, self.context)


def format_arguments(event: EventPlan, arguments: list[values.Value]) -> str:
    """printf's text: each specifier formats its argument as C would."""
    remaining = iter(arguments)
    return "".join(
        piece if isinstance(piece, str) else format_value(piece, _printf_argument(piece, next(remaining)))
        for piece in event.format.pieces
    )


def _printf_argument(specifier: Specifier, value: values.Value) -> int | str | bytes:
    """What printf_format.format_value takes for this specifier: an int
    (hh/h length modifiers cut it as C's conversion does), text, or bytes."""
    kind = specifier.kind
    if kind == "buffer":
        return value.data if isinstance(value, Buffer) else text_of(value).encode()
    if kind == "string" or not isinstance(value, (values.Integer, values.Bool, values.Symbol)):
        return text_of(value)
    number = int(value.value) if not isinstance(value, values.Symbol) else value.address
    bits = _LENGTH_BITS.get(specifier.length)
    if bits is not None:
        signed = specifier.conversion in "di"
        number &= (1 << bits) - 1
        if signed and number >> (bits - 1):
            number -= 1 << bits
    return number


@dataclass(frozen=True)
class Buffer(values.String):
    """buf()'s bytes: `value` is the text bpftrace shows (print, maps, %s:
    hex-escaped), `data` what %r/%rx/%rh format."""

    data: bytes = b""

    @classmethod
    def of(cls, data: bytes) -> Buffer:
        return cls("".join(chr(byte) if 32 <= byte < 127 else f"\\x{byte:02x}" for byte in data), data)


@dataclass(frozen=True)
class ValueContext:
    """What decoding some values needs beyond their bytes: strftime's
    formats (ResourcePlan.strftime_formats), and the name of a `probe`
    value (the session knows its attach points)."""

    strftime_formats: tuple[str, ...] = ()
    probe_name: Callable[[int], str] | None = None


def decode_value(type_: Type, raw: bytes, context: ValueContext = ValueContext()) -> values.Value:
    """A value of `type_` from its bytes in the values.py layout."""
    if isinstance(type_, (TupleType, NamedTupleType)):
        elements = tuple(decode_value(element, raw[offset:], context)
                         for element, offset in zip(type_.elements, element_offsets(type_)))
        if isinstance(type_, NamedTupleType):
            return values.Record(tuple(zip(type_.names, elements)))
        return values.Tuple(elements)
    if isinstance(type_, StringType):
        return values.String(_text(raw[:type_.length]))
    if isinstance(type_, BufferType):
        (length,) = _WORD.unpack_from(raw)
        return Buffer.of(bytes(raw[8:8 + min(length, type_.length)]))
    if isinstance(type_, ArrayType):
        # The C array's own bytes: elements packed at their size.
        if type_.element.size == 1:
            return values.String(_text(raw[:type_.size]))
        size, integer = type_.element.size, as_integer(type_.element)
        signed = integer is not None and integer.signed
        return values.Tuple(tuple(
            values.Integer(int.from_bytes(raw[index * size:(index + 1) * size], "little", signed=signed), signed)
            for index in range(type_.length)))
    if isinstance(type_, SpecialType):
        return _special(type_, raw, context)
    (word,) = _WORD.unpack_from(raw)
    if isinstance(type_, BoolType):
        return values.Bool(bool(word))
    integer = as_integer(type_)
    signed = integer.signed if integer is not None else False
    return values.Integer(wrap64(word, signed), signed)


def _text(raw: bytes) -> str:
    return bytes(raw).split(b"\0", 1)[0].decode("utf-8", "replace")


def _special(type_: SpecialType, raw: bytes, context: ValueContext) -> values.Value:
    words = struct.unpack_from(f"<{len(raw[:slot_size(type_)]) // 8}Q", raw)
    kind = type_.kind
    if kind == "ksym":
        return values.Symbol(words[0], kernel_symbol(words[0]))
    if kind == "usym":
        return values.Symbol(words[0], user_symbol(words[1], words[0]))
    if kind == "username":
        return values.String(_user_name(words[0]))
    if kind == "strerror":
        return values.String(os.strerror(words[0]))
    if kind == "inet":
        family, address = words[0], bytes(raw[8:24])
        return values.InetAddress(address[:4] if family == 2 else address)
    if kind == "macaddr":
        return values.String(":".join(f"{byte:02X}" for byte in raw[:6]))
    if kind == "timestamp":
        return values.String(_strftime(context.strftime_formats[words[1]], words[0]))
    if kind == "probe" and context.probe_name is not None:
        return values.String(context.probe_name(words[0]))
    return values.Integer(words[0], False)


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _strftime(text: str, nanoseconds: int) -> str:
    """strftime(fmt, ns): `ns` counts from boot (nsecs), as bpftrace reads it;
    `%f` is bpftrace's microseconds."""
    boot = time.clock_gettime_ns(time.CLOCK_REALTIME) - time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    moment = boot + nanoseconds
    text = text.replace("%f", f"{moment // 1000 % 1_000_000:06d}")
    return time.strftime(text, time.localtime(moment // 1_000_000_000))


@lru_cache(maxsize=1)
def _kernel_symbols() -> tuple[list[int], list[str]]:
    entries = []
    try:
        with open(_KALLSYMS) as symbols:
            for line in symbols:
                address, _kind, name = line.split()[:3]
                entries.append((int(address, 16), name))
    except OSError:
        pass
    entries.sort()
    return [address for address, _ in entries], [name for _, name in entries]


def kernel_symbol(address: int) -> str | None:
    """The kernel symbol an address lies in (bpftrace's ksym: the name only)."""
    addresses, names = _kernel_symbols()
    index = bisect.bisect_right(addresses, address) - 1
    if index < 0 or addresses[index] == 0:
        return None
    return names[index]


def user_symbol(pid: int, address: int) -> str | None:
    """The function of process `pid` that `address` lies in, from the
    process's memory map and the mapped file's ELF symbols (None when the
    process is gone or the file has no symbol below the address). The file
    offset is taken as the ELF address, as it is for the text of binaries
    and libraries that linkers lay out today."""
    try:
        with open(f"/proc/{pid}/maps") as maps:
            lines = maps.readlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) < 6 or not fields[5].startswith("/"):
            continue
        start, end = (int(part, 16) for part in fields[0].split("-"))
        if start <= address < end:
            return _nearest_symbol(fields[5], address - start + int(fields[2], 16))
    return None


def _nearest_symbol(path: str, offset: int) -> str | None:
    addresses, names = _file_symbols(path)
    index = bisect.bisect_right(addresses, offset) - 1
    return names[index] if index >= 0 else None


@lru_cache(maxsize=32)
def _file_symbols(path: str) -> tuple[list[int], list[str]]:
    entries = sorted((address, name) for name, address in function_symbols(path).items() if address)
    return [address for address, _ in entries], [name for _, name in entries]


def _command_output(command: str) -> str:
    """system(): the command's standard output, run by the shell."""
    completed = subprocess.run(command, shell=True, stdout=subprocess.PIPE, check=False)
    return completed.stdout.decode("utf-8", "replace")


def lost_events(map_) -> int:
    """The records the full ring buffer dropped: the per-CPU counter summed
    (the session reports it as `Lost N events`)."""
    slots = map_.lookup(struct.pack("<I", 0))
    if slots is None:
        return 0
    return combine_sum([_WORD.unpack_from(slot)[0] for slot in slots], False).value
