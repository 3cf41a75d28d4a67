"""Splitting attach point text, numbers and durations."""

import pytest

from auger.probes.attach_point import parse_uint, split_attach_point
from auger.probes.base import ProbeError
from auger.probes.registry import parse_attach_point
from auger.probes.elf_symbols import function_symbols, usdt_notes


def test_split_honours_quotes_and_escapes():
    assert split_attach_point('uprobe:"/a:b":f') == ["uprobe", "/a:b", "f"]
    assert split_attach_point('uprobe:"a\\"b":f') == ["uprobe", 'a"b', "f"]
    assert split_attach_point("software:faults:") == ["software", "faults", ""]


def test_positional_parameters_missing_are_empty():
    assert split_attach_point("t:$1:$2", ["a"]) == ["t", "a", ""]
    assert split_attach_point('t:"$1"') == ["t", "$1"]


@pytest.mark.parametrize("text, value", [
    ("42", 42), ("0x1f", 31), ("017", 15), ("0b101", 5), ("1_000", 1000), ("1e6", 1000000), ("x", None), ("-1", None),
    ("18446744073709551615", 2**64 - 1), ("1s", 10**9), ("100ms", 10**8), ("5us", 5000), ("2m", 120 * 10**9), ("s", None),
])  # fmt: skip
def test_parse_uint(text, value):
    assert parse_uint(text, "what") == value


OVERFLOW = "overflow error, maximum value is 18446744073709551615"


@pytest.mark.parametrize("attach_point, message", [
    ("interval:s:99999999999999999999999", f"Invalid rate of interval probe: {OVERFLOW}: 99999999999999999999999"),
    ("interval:s:18446744073709551616", f"Invalid rate of interval probe: {OVERFLOW}: 18446744073709551616"),
    ("interval:s:1e9999999", f"Invalid rate of interval probe: {OVERFLOW}: 1e9999999"),
    ("interval:1e30", f"Invalid rate of interval probe: {OVERFLOW}: 1e30"),
    ("profile:99999999999999999999999us", f"Invalid rate of profile probe: {OVERFLOW}: 99999999999999999999999us"),
    ("software:cpu-clock:1e30", f"Invalid count for software probe: {OVERFLOW}: 1e30"),
    ("uprobe:/bin/bash:readline+99999999999999999999", f"Invalid offset: {OVERFLOW}: 99999999999999999999"),
    ("uprobe:/bin/bash:0x1000000000000000000000000", f"Invalid function/address argument: {OVERFLOW}: 0x1000000000000000000000000"),
    ("watchpoint:0xffffffffffffffffffffffff:8:w", f"Invalid function/address argument: {OVERFLOW}: 0xffffffffffffffffffffffff"),
    ("watchpoint:0x10:99999999999999999999999:w", f"Invalid length argument: {OVERFLOW}: 99999999999999999999999"),
])  # fmt: skip
def test_numbers_beyond_64_bits_are_errors(attach_point, message):
    with pytest.raises(ProbeError) as raised:
        parse_attach_point(attach_point)
    assert str(raised.value) == message


def test_elf_reading():
    assert "readline" in function_symbols("/bin/bash")
    assert function_symbols("/etc/hostname") == {}
    notes = usdt_notes("/usr/bin/python3")
    assert any((note.provider, note.name) == ("python", "function__entry") for note in notes)
