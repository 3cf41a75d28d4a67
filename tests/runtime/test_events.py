"""The printf fast path of runtime/events.py (one struct and one %-format
per event) against the generic path (decode_value, then
printf_format.format_value per argument), which is the reference: the
same bytes for every specifier, argument type and value."""

import itertools
import struct

import pytest

from auger.compiler.printf_format import parse_format
from auger.compiler.resources import PRINT, PRINTF, EventField, EventPlan, slot_size
from auger.compiler.types import INT64, BoolType, IntType, StringType
from auger.runtime.events import EventDecoder, ValueContext, decode_value, format_arguments
from auger.runtime.format import json as json_format

FLAGS = ("", "-", "+", " ", "#", "0", "-0", "+0", " 0", "#0", "-#", "+-", "0-")
WIDTHS = ("", "1", "6")
PRECISIONS = ("", ".", ".0", ".3")
INTEGER_TYPES = [IntType(bits, signed) for bits in (8, 16, 32, 64) for signed in (True, False)] + [BoolType()]


def record(event, fields):
    """A record as codegen lays it out: the event id, then each field's slot."""
    data = struct.pack("<Q", event.id)
    for field, raw in zip(event.fields, fields):
        data = data.ljust(field.offset, b"\0") + raw.ljust(slot_size(field.type), b"\0")
    return data


def integer_slot(type_, value):
    bits = getattr(type_, "bits", 8)
    value &= (1 << bits) - 1
    if getattr(type_, "signed", False) and value >> (bits - 1):
        value -= 1 << bits
    return struct.pack("<Q", value & (1 << 64) - 1)


def framed(records):
    """Records as the ring buffer holds them: each after its 8-byte header
    (its length), padded to 8; and the runs that hand them all over one by
    one, or as one run when they all have the same size."""
    data, runs = b"", []
    for raw in records:
        stride = (len(raw) + 15) // 8 * 8
        runs.append((len(data) + 8, 1, stride))
        data += struct.pack("<II", len(raw), 0) + raw.ljust(stride - 8, b"\0")
    if len({len(raw) for raw in records}) == 1:
        return data, runs, [(8, len(records), runs[0][2])]
    return data, runs, None


def both_paths(text, types, slots, context=ValueContext(), json=False):
    """The fast path's output for a record (alone, and three in a run), and the generic path's."""
    fields, offset = [], 8
    for type_ in types:
        fields.append(EventField(offset, type_))
        offset += slot_size(type_)
    event = EventPlan(0, PRINTF, tuple(fields), parse_format(text))
    raw = record(event, slots)
    alone, run = [], []
    data, _, runs = framed([raw] * 3)
    EventDecoder((event,), alone.append, context=context, json=json).consume(memoryview(data), [(8, 1, runs[0][2])])
    EventDecoder((event,), run.append, context=context, json=json).consume(memoryview(data), runs)
    assert run == ["".join(alone) * 3]
    values = [decode_value(field.type, raw[field.offset:field.offset + slot_size(field.type)], context)
              for field in fields]
    return "".join(alone), format_arguments(event, values)


@pytest.mark.parametrize("conversion", "diuxXoc")
@pytest.mark.parametrize("length", ("", "hh", "h", "l", "ll"))
def test_integer_specifiers_print_as_the_generic_path(conversion, length):
    values = (0, 1, -1, 65, 127, -128, 255, 65535, -32769, 2**31 - 1, -2**31, 2**32 - 1, 2**63 - 1, -2**63)
    for flags, width, precision, type_ in itertools.product(FLAGS, ("", "6"), ("", ".3"), INTEGER_TYPES):
        text = f"<%{flags}{width}{precision}{length}{conversion}>"
        for value in values:
            fast, generic = both_paths(text, [type_], [integer_slot(type_, value)])
            assert fast == generic, (text, type_, value)


def test_string_specifiers_print_as_the_generic_path():
    strings = (b"", b"a", b"hello", b"h\xc3\xa9llo", b"\xff\xfe", b"12345678", b"1234567")
    trailers = (ValueContext(), ValueContext(truncated_trailer=""))
    for flags, width, precision, raw, context in itertools.product(FLAGS, WIDTHS, PRECISIONS, strings, trailers):
        text = f"<%{flags}{width}{precision}s>"
        fast, generic = both_paths(text, [StringType(8)], [raw], context)
        assert fast == generic, (text, raw)


def test_mixed_arguments_literal_percent_and_json():
    types = [IntType(32, False), StringType(16), INT64, StringType(3), INT64]
    slots = [integer_slot(types[0], 4242), b"python", integer_slot(INT64, -5), b"ab", integer_slot(INT64, 10)]
    for json in (False, True):
        fast, generic = both_paths("%d %s 100%% %5d|%-4s|%p\n", types, slots, json=json)
        expected = json_format.text_record(PRINTF, generic) if json else generic
        assert fast == expected


def test_a_batch_writes_once_and_keeps_other_records_in_order():
    """print(3) between printfs of the same size: the run is decoded record by record."""
    printf = EventPlan(0, PRINTF, (EventField(8, INT64),), parse_format("%d\n"))
    shown = EventPlan(1, PRINT, (EventField(8, INT64),))
    records = [record(event, [integer_slot(INT64, value)]) for event, value in
               ((printf, 1), (printf, 2), (shown, 3), (printf, 4), (printf, 5))]
    data, one_by_one, run = framed(records)
    for runs in (one_by_one, run):
        output = []
        EventDecoder((printf, shown), output.append).consume(memoryview(data), runs)
        assert output == ["1\n2\n", "3\n", "4\n5\n"]
