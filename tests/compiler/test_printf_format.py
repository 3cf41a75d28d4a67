"""printf format strings: parsing into specifiers, and formatting values as C does."""

import pytest

from auger.compiler.printf_format import (
    BUFFER, INTEGER, MAX_WIDTH, POINTER, STRING, FormatError, Specifier, format_value, parse_format,
)


def specifier(text: str) -> Specifier:
    (found,) = parse_format(text).specifiers
    return found


def test_pieces_alternate_text_and_specifiers():
    parsed = parse_format("pid %d: %s 100%%\n")
    assert [p if isinstance(p, str) else p.text for p in parsed.pieces] == ["pid ", "%d", ": ", "%s", " 100%\n"]


@pytest.mark.parametrize("text, flags, width, precision, length, conversion, kind", [
    ("%d", "", None, None, "", "d", INTEGER),
    ("%-20s", "-", 20, None, "", "s", STRING),
    ("%08.3lx", "0", 8, 3, "l", "x", INTEGER),
    ("%llu", "", None, None, "ll", "u", INTEGER),
    ("%hhX", "", None, None, "hh", "X", INTEGER),
    ("%p", "", None, None, "", "p", POINTER),
    ("%rx", "", None, None, "", "rx", BUFFER),
    ("%rh", "", None, None, "", "rh", BUFFER),
    ("%r", "", None, None, "", "r", BUFFER),
    ("%c", "", None, None, "", "c", INTEGER),
])
def test_specifier_parts(text, flags, width, precision, length, conversion, kind):
    found = specifier(text)
    assert (found.flags, found.width, found.precision, found.length, found.conversion, found.kind) == (
        flags, width, precision, length, conversion, kind)
    assert (found.start, found.end) == (0, len(text))


@pytest.mark.parametrize("text, message", [
    ("%f", "unsupported format specifier: f"),
    ("%q", "unsupported format specifier: q"),
    ("abc %", "incomplete format specifier at the end: '%'"),
])
def test_bad_formats(text, message):
    with pytest.raises(FormatError, match=message):
        parse_format(text)


@pytest.mark.parametrize("text, value, expected", [
    ("%d", -3, "-3"),
    ("%5d", 42, "   42"),
    ("%-5d", 42, "42   "),
    ("%05d", -42, "-0042"),
    ("%+d", 7, "+7"),
    ("%u", -1, "18446744073709551615"),
    ("%x", 255, "ff"),
    ("%#x", 255, "0xff"),
    ("%X", 255, "FF"),
    ("%o", 8, "10"),
    ("%#o", 8, "010"),
    ("%.3d", 7, "007"),
    ("%c", 65, "A"),
    ("%s", "abc", "abc"),
    ("%.2s", "abc", "ab"),
    ("%5s", "ab", "   ab"),
    ("%-5s", "ab", "ab   "),
    ("%p", 4096, "0x1000"),
    ("%r", b"a\x01", "a\\x01"),
    ("%rx", b"\x01\xab", "\\x01\\xab"),
    ("%rh", b"\x01\xab", "01 ab"),
])
def test_format_value(text, value, expected):
    assert format_value(specifier(text), value) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("%99999999999999999999d", "the width in '%99999999999999999999d' is above the limit of 4096"),
        ("%.99999d", "the precision in '%.99999d' is above the limit of 4096"),
        ("%999999999999s", "the width in '%999999999999s' is above the limit of 4096"),
    ],
)
def test_huge_width_or_precision_is_rejected(text, message):
    with pytest.raises(FormatError, match=message):
        parse_format(text)


def test_width_at_the_limit_is_accepted():
    (spec,) = parse_format(f"%{MAX_WIDTH}.{MAX_WIDTH}d").specifiers
    assert len(format_value(spec, 1)) == MAX_WIDTH
