"""Decode ring buffer records by the compile-time event table, and values of
any type from their codegen/values.py layout into the output's value model:
printf/print/time/cat/system/join output goes to the output (text or JSON),
an exit record asks the session to stop, whole-map actions go to the session.

    EventDecoder(events, write, other, context, json, errors)   the ring buffer's consumer
    decode_value(type_, raw, context) -> format.values.Value     (map_reader uses it too)
    lost_events(map_) -> int                                     records the full ring buffer dropped
"""

from __future__ import annotations

import os
import pwd
import struct
import subprocess
import sys
import time
from itertools import chain
from typing import Callable

from auger.compiler.frozen import Value as FrozenValue, frozen
from auger.compiler.printf_format import Specifier, format_value
from auger.compiler.resources import (CAT, EXIT, JOIN, PRINT, PRINTF, SYSTEM, TIME, EventPlan,
                                      element_offsets, slot_size)
from auger.compiler.semantic.type_rules import as_integer
from auger.compiler.types import (ArrayType, BoolType, BufferType, IntType, NamedTupleType, SpecialType, StackType,
                                  StringType, TupleType, Type)

from .cgroups import cgroup_path
from .format import json as json_format
from .format import values
from .format.percpu import combine_sum, wrap64
from .format.text import format_value as text_of, print_value
from .ring_buffer import HEADER_SIZE, Run, record_bytes
from .symbols import kernel_symbol, stack_value, user_symbol

_WORD = struct.Struct("<Q")
_DECODED = (EXIT, PRINTF, PRINT, TIME, JOIN, CAT, SYSTEM)
_LENGTH_BITS = {"hh": 8, "h": 16}
_JSON_KINDS = {SYSTEM: "syscall"}


class EventDecoder:
    """The ring buffer's consumer (`consume`, a batch at a time; `handle`,
    one record). `write` takes the output: text, or with `json` one JSON
    object per line; `exit_code` is set once an exit() record arrived.
    Records of other kinds (the whole-map actions) go to
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
        # Once exit() arrived, what other probes sent after it is not shown
        # (as bpftrace); END's output is, after end_probes_run().
        self._after_exit = False
        # Per event id: how a printf record becomes its output, None for other kinds.
        self._printf = tuple(_Printf(event, self.context, json) if event.kind == PRINTF else None
                             for event in events)

    def consume(self, data: memoryview, runs: list[Run]) -> None:
        """A batch of records (ring_buffer.Consumer): printf's output goes
        out in one write per batch; any other record first writes what
        came before it, so that the order of all output stays the records'.
        A run of one printf's records is formatted as a whole (_Printf.run)."""
        printf = self._printf
        pending: list[str] = []
        try:
            for offset, count, stride in runs:
                if self._after_exit:
                    return
                if count > 1:
                    output = printf[_WORD.unpack_from(data, offset)[0]]
                    if output is not None and output.stride == stride:
                        records = data[offset - HEADER_SIZE:offset - HEADER_SIZE + count * stride]
                        if _one_event(records, stride):
                            pending.append(output.run(records))
                            continue
                for at in range(offset, offset + count * stride, stride):
                    output = printf[_WORD.unpack_from(data, at)[0]]
                    if output is not None:
                        pending.append(output.record(data, at))
                        continue
                    if pending:
                        self.write("".join(pending))
                        pending.clear()
                    self.handle(record_bytes(data, at))
                    if self._after_exit:
                        return
        finally:
            if pending:
                self.write("".join(pending))

    def end_probes_run(self) -> None:
        """END runs now: show its output (after an exit() too)."""
        self._after_exit = False

    def handle(self, record: bytes) -> None:
        """One record."""
        if self._after_exit:
            return
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
            self._after_exit = True
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


def _one_event(records: memoryview, stride: int) -> bool:
    """Every record of a run (headers included, one each `stride` bytes)
    has the first one's event id."""
    ids = records.cast("Q")[HEADER_SIZE // 8::stride // 8].tolist()
    return ids.count(ids[0]) == len(ids)


class _Printf:
    """A printf event's output from its records, made once per event: one
    struct unpacks all its fields, one %-format lays out the text. Integer
    and string arguments are formatted by Python's `%`, which gives
    printf_format.format_value's text for every specifier used that way
    (tests/runtime/test_events.py checks); other arguments go through
    format_value. `stride` is the distance between two of its records in
    the ring buffer."""

    def __init__(self, event: EventPlan, context: ValueContext, json: bool):
        codes, template, self.conversions = ["<"], [], []
        position = 0
        remaining = iter(event.fields)
        for piece in event.format.pieces:
            if isinstance(piece, str):
                template.append(piece.replace("%", "%%"))
                continue
            field = next(remaining)
            code, python, convert = _argument_format(piece, field.type, context)
            codes.append(f"{field.offset - position}x{code}")
            position = field.offset + slot_size(field.type)
            template.append(python)
            if convert is not None:
                self.conversions.append((len(codes) - 2, convert))
        self.text = "".join(template)
        self.json = json
        self.stride = (event.size + HEADER_SIZE + 7) // 8 * 8
        self.unpack = struct.Struct("".join(codes)).unpack_from
        # A run's records one after another: the header, the fields, the padding.
        self.rows = struct.Struct(f"<{HEADER_SIZE}x" + "".join(codes[1:]) + f"{self.stride - HEADER_SIZE - position}x")

    def record(self, data, offset: int) -> str:
        arguments = self.unpack(data, offset)
        if self.conversions:
            arguments = list(arguments)
            for index, convert in self.conversions:
                arguments[index] = convert(arguments[index])
            arguments = tuple(arguments)
        text = self.text % arguments
        return json_format.text_record(PRINTF, text) if self.json else text

    def run(self, records: memoryview) -> str:
        """The output of a run of records (headers included, one every
        `stride` bytes), its arguments converted column by column and
        formatted by one `%`."""
        if self.json:
            return "".join(self.record(records, offset) for offset in range(HEADER_SIZE, len(records), self.stride))
        rows = self.rows.iter_unpack(records)
        if not self.conversions:
            arguments = tuple(chain.from_iterable(rows))
        else:
            columns = list(zip(*rows))
            for index, convert in self.conversions:
                columns[index] = convert.column(columns[index])
            arguments = tuple(chain.from_iterable(zip(*columns)))
        return (self.text * (len(records) // self.stride)) % arguments


# Integer arguments Python's `%` formats as format_value does: everything
# but a precision (C's minimum digit count) and `%#o` (C's single 0 prefix).
_PYTHON_INTEGERS = {"d": "d", "i": "d", "u": "d", "x": "x", "X": "X", "o": "o"}
_STRUCT_INTEGERS = {8: "b", 16: "h", 32: "i", 64: "q"}


def _argument_format(specifier: Specifier, type_: Type, context: ValueContext) -> tuple[str, str, object]:
    """How one printf argument is read and formatted: its struct code, its
    %-format, and what turns the unpacked value into what that takes (None:
    nothing; else a _Text or _Formatted). An integer is read at the width
    C's conversion cuts it to (_printf_argument), with the sign the
    conversion gives it."""
    conversion, flags = specifier.conversion, specifier.flags
    width = "" if specifier.width is None else str(specifier.width)
    slot = slot_size(type_)
    if (type(type_) is IntType and type_.size <= 8 and conversion in _PYTHON_INTEGERS and specifier.precision is None
            and not (conversion == "o" and "#" in flags)):
        bits = _LENGTH_BITS.get(specifier.length)
        if bits is None:
            bits = 32 if not specifier.length and type_.size <= 4 else 64
        signed = conversion in "di" and (bits < 64 or type_.signed)
        code = _STRUCT_INTEGERS[bits] if signed else _STRUCT_INTEGERS[bits].upper()
        return f"{code}{slot - bits // 8}x", f"%{flags}{width}{_PYTHON_INTEGERS[conversion]}", None
    if type(type_) is StringType and conversion == "s":
        precision = "" if specifier.precision is None else f".{specifier.precision}"
        return f"{type_.length}s{slot - type_.length}x", f"%{flags}{width}{precision}s", _Text(context.truncated_trailer)
    return f"{slot}s", "%s", _Formatted(specifier, type_, context)


class _Text:
    """A string argument's text from all its bytes, as decode_value reads
    it, remembered: the same few strings (comm, literals) come again and
    again. At most LIMIT are kept."""

    LIMIT = 4096

    def __init__(self, trailer: str):
        self.trailer = trailer
        self.known: dict[bytes, str] = {}

    def text(self, raw: bytes) -> str:
        end = raw.find(0)
        if end < 0:
            return raw.decode("utf-8", "replace") + self.trailer
        return raw[:end].decode("utf-8", "replace")

    def __call__(self, raw: bytes) -> str:
        found = self.known.get(raw)
        if found is None:
            if len(self.known) >= self.LIMIT:
                self.known.clear()
            found = self.known[raw] = self.text(raw)
        return found

    def column(self, raws: tuple[bytes, ...]) -> list[str]:
        known = self.known
        missing = set(raws).difference(known)
        if missing:
            if len(known) + len(missing) > self.LIMIT:
                known.clear()
                missing = set(raws)
            for raw in missing:
                known[raw] = self.text(raw)
        return list(map(known.__getitem__, raws))


class _Formatted:
    """Any other argument: decoded, then formatted by format_value."""

    def __init__(self, specifier: Specifier, type_: Type, context: ValueContext):
        self.specifier, self.type, self.context = specifier, type_, context

    def __call__(self, raw: bytes) -> str:
        value = decode_value(self.type, raw, self.context)
        return format_value(self.specifier, _printf_argument(self.specifier, value, self.type))

    def column(self, raws: tuple[bytes, ...]) -> list[str]:
        return list(map(self, raws))


def format_arguments(event: EventPlan, arguments: list[values.Value]) -> str:
    """printf's text: each specifier formats its argument as C would."""
    remaining = iter(zip(arguments, event.fields))
    pieces = []
    for piece in event.format.pieces:
        if isinstance(piece, str):
            pieces.append(piece)
            continue
        value, field = next(remaining)
        pieces.append(format_value(piece, _printf_argument(piece, value, field.type)))
    return "".join(pieces)


def _printf_argument(specifier: Specifier, value: values.Value, type_: Type) -> int | str | bytes:
    """What printf_format.format_value takes for this specifier: an int, text,
    or bytes. An integer is cut as C's conversion does: to the hh/h length
    modifier's width, and an argument of 32 bits or fewer, promoted to C's
    int, to 32 bits (`(uint32)4294967295` with %d is -1, as in C and
    bpftrace); a 64-bit argument keeps all its bits."""
    kind = specifier.kind
    if kind == "buffer":
        return value.data if isinstance(value, Buffer) else text_of(value).encode()
    if kind == "string" or not isinstance(value, (values.Integer, values.Bool, values.Symbol)):
        return text_of(value)
    number = int(value.value) if not isinstance(value, values.Symbol) else value.address
    bits = _LENGTH_BITS.get(specifier.length)
    if bits is None and not specifier.length and isinstance(type_, (IntType, BoolType)) and type_.size <= 4:
        bits = 32
    if bits is not None:
        signed = specifier.conversion in "di"
        number &= (1 << bits) - 1
        if signed and number >> (bits - 1):
            number -= 1 << bits
    return number


@frozen
class Buffer(values.String):
    """buf()'s bytes: `value` is the text bpftrace shows (print, maps, %s:
    hex-escaped), `data` what %r/%rx/%rh format."""

    data: bytes = b""

    @classmethod
    def of(cls, data: bytes) -> Buffer:
        return cls("".join(chr(byte) if 32 <= byte < 127 else f"\\x{byte:02x}" for byte in data), data)


@frozen
class ValueContext(FrozenValue):
    """What decoding some values needs beyond their bytes: strftime's
    formats (ResourcePlan.strftime_formats), the name of a `probe`
    value (the session knows its attach points), the frames of a stack
    value (map_reader.StackTraces reads the stack maps), and cgroup_path's
    hierarchy filters."""

    strftime_formats: tuple[str, ...] = ()
    probe_name: Callable[[int], str] | None = None
    stack_addresses: Callable[[StackType, int], tuple[int, ...]] | None = None
    truncated_trailer: str = ".."  # after a string that fills its type (config str_trunc_trailer)
    cgroup_path_filters: tuple[str, ...] = ()  # ResourcePlan.cgroup_path_filters


def decode_value(type_: Type, raw: bytes, context: ValueContext = ValueContext()) -> values.Value:
    """A value of `type_` from its bytes in the values.py layout."""
    if isinstance(type_, (TupleType, NamedTupleType)):
        elements = tuple(decode_value(element, raw[offset:], context)
                         for element, offset in zip(type_.elements, element_offsets(type_)))
        if isinstance(type_, NamedTupleType):
            return values.Record(tuple(zip(type_.names, elements)))
        return values.Tuple(elements)
    if isinstance(type_, StringType):
        # No NUL in all its bytes: str() cut it (bpftrace 0.27's heuristic).
        cut = b"\0" not in raw[:type_.length]
        return values.String(_text(raw[:type_.length]) + (context.truncated_trailer if cut else ""))
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
    if isinstance(type_, StackType):
        stack_hash, pid = struct.unpack_from("<QQ", raw)
        addresses = context.stack_addresses(type_, stack_hash) if context.stack_addresses is not None else ()
        return stack_value(type_, addresses, pid)
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
    if kind in ("ksym", "usym"):
        found = kernel_symbol(words[0]) if kind == "ksym" else user_symbol(words[1], words[0])
        return values.Symbol(words[0], found.name if found is not None else None)  # the name only, as bpftrace
    if kind == "username":
        return values.String(_user_name(words[0]))
    if kind == "strerror":
        return values.String(os.strerror(words[0]))
    if kind == "cgroup_path":
        pattern = context.cgroup_path_filters[words[1] - 1] if words[1] else "*"
        return values.String(cgroup_path(words[0], pattern))
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
