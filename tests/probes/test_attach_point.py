"""Splitting attach point text, numbers and durations."""

import pytest

from auger.probes.attach_point import parse_duration_ns, parse_uint, split_attach_point
from auger.probes.elf_symbols import function_symbols, usdt_notes


def test_split_honours_quotes_and_escapes():
    assert split_attach_point('uprobe:"/a:b":f') == ["uprobe", "/a:b", "f"]
    assert split_attach_point('uprobe:"a\\"b":f') == ["uprobe", 'a"b', "f"]
    assert split_attach_point("software:faults:") == ["software", "faults", ""]


def test_positional_parameters_missing_are_empty():
    assert split_attach_point("t:$1:$2", ["a"]) == ["t", "a", ""]
    assert split_attach_point('t:"$1"') == ["t", "$1"]


@pytest.mark.parametrize("text, value", [("42", 42), ("0x1f", 31), ("017", 15), ("1_000", 1000), ("1e6", 1000000), ("x", None), ("-1", None)])
def test_parse_uint(text, value):
    assert parse_uint(text) == value


@pytest.mark.parametrize("text, value", [("1s", 10**9), ("100ms", 10**8), ("5us", 5000), ("7", 7), ("2m", 120 * 10**9), ("s", None)])
def test_parse_duration(text, value):
    assert parse_duration_ns(text) == value


def test_elf_reading():
    assert "readline" in function_symbols("/bin/bash")
    assert function_symbols("/etc/hostname") == {}
    notes = usdt_notes("/usr/bin/python3")
    assert any((note.provider, note.name) == ("python", "function__entry") for note in notes)
