"""Regression tests for the second front-end review: argument checks of buf,
pton and reg, map declarations, nsecs modes, literal indices out of range,
script typedef names in casts and sizeof."""

import platform

import pytest

from test_semantic_support import analysed, errors, warnings


def test_buf_negative_length():
    assert "ERROR: buf cannot use negative length (-5)" in errors('BEGIN { @ = buf("a", -5); }')


@pytest.mark.parametrize("text, message", [
    ("garbage", "pton() expects an string argument of an IPv4/IPv6 address, got garbage"),
    ("1.2.3", "pton() expects a valid IPv4/IPv6 address, got 1.2.3"),
    ("1::2::3", "pton() expects a valid IPv4/IPv6 address, got 1::2::3"),
])
def test_pton_rejects_malformed_addresses(text, message):
    assert message in errors(f'BEGIN {{ @ = pton("{text}"); }}')


@pytest.mark.parametrize("text, length", [("127.0.0.1", 4), ("fe80::1", 16)])
def test_pton_sizes(text, length):
    assert str(analysed(f'BEGIN {{ @ = pton("{text}"); }}').maps[""].value) == f"uint8[{length}]"


X86_64 = pytest.mark.skipif(platform.machine() != "x86_64", reason="register names are x86-64's")


@X86_64
def test_reg_unknown_register():
    assert "'nosuch' is not a valid register on this architecture (x86_64)" in errors(
        'profile:hz:99 { @ = reg("nosuch"); }')


@pytest.mark.parametrize("probe, provider", [("BEGIN", "begin"), ("tracepoint:sched:sched_switch", "tracepoint")])
def test_reg_needs_registers(probe, provider):
    assert f'reg can not be used with "{provider}" probes' in errors(f'{probe} {{ @ = reg("ip"); }}')


@X86_64
def test_reg_in_profile_probe():
    assert str(analysed('profile:hz:99 { @ = reg("ip"); }').maps[""].value) == "uint64"


def test_unknown_map_kind_lists_the_valid_ones():
    assert errors("let @m = nosuch(10); BEGIN { @m[1] = 1; }") == (
        "stdin:1:1-21: ERROR: Invalid bpf map type: nosuch\n"
        "let @m = nosuch(10); BEGIN { @m[1] = 1; }\n"
        "~~~~~~~~~~~~~~~~~~~~\n"
        "HINT: Valid map types: percpulruhash, percpuhash, lruhash, hash"
    )


def test_map_size_must_be_positive():
    assert "Map size of @m must be between 1 and 4294967295 (0 given)" in errors(
        "let @m = hash(0); BEGIN { @m[1] = 1; }")


def test_map_declared_twice():
    assert "1:20-37: ERROR: Map @m is already declared" in errors(
        "let @m = hash(10); let @m = hash(5); BEGIN { @m[1] = 1; }")


@pytest.mark.parametrize("kind, value, needed", [
    ("percpuhash", "1", "hash"), ("hash", "count()", "percpuhash"), ("lruhash", "hist(1)", "percpuhash"),
])
def test_declared_kind_must_suit_the_value(kind, value, needed):
    assert (f"1:{24 + len(kind)}-{26 + len(kind)}: ERROR: Incompatible map types. Type from declaration: {kind}. "
            f"Type from value/key type: {needed}") in errors(f"let @m = {kind}(10); BEGIN {{ @m[1] = {value}; }}")


@pytest.mark.parametrize("kind, value", [("lruhash", "1"), ("percpulruhash", "sum(1)"), ("percpuhash", "count()")])
def test_declared_kind_and_size_reach_map_info(kind, value):
    info = analysed(f"let @m = {kind}(10); BEGIN {{ @m[1] = {value}; }}").maps["m"]
    assert (info.kind, info.size) == (kind, 10)


def test_declared_map_is_still_undefined_until_written():
    assert "ERROR: Undefined map: @m" in errors("let @m = hash(10); BEGIN { print(@m); }")


def test_unused_declared_map_warns():
    assert "1:1-19: WARNING: Unused map: @m" in warnings("let @m = hash(10); BEGIN { @x = 1; }")


def test_bool_cast():
    assert str(analysed("BEGIN { @ = (bool)1; }").maps[""].value) == "bool"


@pytest.mark.parametrize("mode", ["", "monotonic", "boot", "tai", "sw_tai"])
def test_nsecs_clock_modes(mode):
    assert str(analysed(f"BEGIN {{ @ = nsecs({mode}); }}").maps[""].value) == "uint64"


def test_nsecs_unknown_mode():
    assert "1:19-22: ERROR: Invalid timestamp mode: foo" in errors("BEGIN { @ = nsecs(foo); }")


def test_nsecs_mode_must_be_a_name():
    assert "nsecs() only supports timestamp_mode arguments (integer provided)" in errors("BEGIN { @ = nsecs(1); }")


@pytest.mark.parametrize("index, message", [
    ("-1", "The array index operator [] only accepts non-negative integer indices. Got: int8"),
    ("-1000", "The array index operator [] only accepts non-negative integer indices. Got: int16"),
    ("4", "the index 4 is out of bounds for array of size 4"),
    ("100", "the index 100 is out of bounds for array of size 4"),
])
def test_literal_string_index_out_of_range(index, message):
    assert message in errors(f'BEGIN {{ $s = "abc"; @ = $s[{index}]; }}')


def test_literal_array_index_out_of_range():
    assert "the index 4 is out of bounds for array of size 4" in errors(
        "struct F { int a[4]; } BEGIN { $p = (struct F *)0; @ = $p->a[4]; }")
    assert "Got: int8" in errors("struct F { int a[4]; } BEGIN { $p = (struct F *)0; @ = $p->a[-1]; }")


def test_last_string_index_is_fine():
    assert str(analysed('BEGIN { $s = "abc"; @ = $s[3]; }').maps[""].value) == "int8"


def test_cast_to_script_typedef_name():
    analysis = analysed("typedef short T; BEGIN { $y = 2; @a = (T)1; @b = (T)$y; @c = (T)(5); @d = (T)!$y; }")
    assert {name: str(info.value) for name, info in analysis.maps.items()} == {
        "a": "int16", "b": "int16", "c": "int16", "d": "int16"}


def test_sizeof_and_offsetof_script_typedef():
    analysed("struct S { int a; long b; } typedef struct S ST; BEGIN { @s = sizeof(ST); @o = offsetof(ST, b); }")


def test_parenthesised_name_is_still_an_expression():
    analysis = analysed("BEGIN { @a = (pid) + 1; if (pid) { } @b = (pid); @c = (pid) - 1; }")
    assert str(analysis.maps["b"].value) == "uint32"


def test_cast_to_unknown_name():
    assert 'Cannot resolve unknown type "nosuch"' in errors("BEGIN { @ = (nosuch)1; }")


def test_unnecessary_cast_warns_as_bpftrace_does():
    text = "BEGIN { $x = (uint64)1; @ = (uint64)$x; @b = (int32)$x; @c = (uint64)2; }"
    assert warnings(text) == (
        "stdin:1:29-37: WARNING: Unnecessary cast: expression is already of type uint64\n"
        f"{text}\n"
        + " " * 28 + "~~~~~~~~"
    )
