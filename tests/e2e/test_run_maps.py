"""Maps, aggregations, map functions and loops, run in the real kernel
(BEGIN/END through BPF_PROG_TEST_RUN, so the output is exact).

"bpftrace 0.27.1 agrees" marks a program whose output was compared with
/work/shared/tools/bpftrace-new; where it differs, the comment says why
auger is right (docs/output.md lists the known differences).
"""

import io
from pathlib import Path

import pytest

from auger.compiler.codegen import compile_program
from auger.compiler.diagnostics import SourceFile
from auger.compiler.parser import parse
from auger.compiler.resources import bucket_count
from auger.compiler.semantic import analyse
from auger.compiler.types import AggregateType
from auger.runtime import loader
from auger.runtime.format.buckets import hist_bucket_index, hist_from_samples, lhist_from_samples
from auger.runtime.format.text import format_histogram
from auger.runtime.session import SessionOptions, run

pytestmark = pytest.mark.root

# The bodies of for loops are callbacks the loader appends to the program.
needs_callbacks = pytest.mark.skipif(
    "callback_section" not in Path(loader.__file__).read_text(),
    reason="the loader does not link for-loop callbacks (BTF func_info) yet")


def run_program(text: str) -> tuple[int, str, str]:
    source = SourceFile("stdin", text)
    analysis = analyse(parse(source), source)
    program = compile_program(analysis)
    output, errors = io.StringIO(), io.StringIO()
    status = run(analysis, program, SessionOptions(output=output, errors=errors))
    messages = [line for line in errors.getvalue().splitlines(True) if not line.startswith("Attached ")]
    return status, output.getvalue(), "".join(messages)


def output_of(text: str) -> str:
    status, output, errors = run_program(text)
    assert (status, errors) == (0, "")
    return output


def hist_text(name: str, samples: list[int], bits: int = 0) -> str:
    return f"{name}:\n" + format_histogram(hist_from_samples(samples, bits)) + "\n"


# bpftrace 0.27.1 agrees with every case here.
AGGREGATIONS = [
    pytest.param("BEGIN { @c = count(); @c = count(); @k[7] = count(); }", "@c: 2\n@k[7]: 1\n", id="count"),
    pytest.param("BEGIN { @s = sum(5); @s = sum(-12); @u = sum((uint8)200); @u = sum((uint8)100); }",
                 "@s: -7\n@u: 300\n", id="sum-signed-and-unsigned"),
    pytest.param("BEGIN { @m = min(-5); @m = min(3); @x = max(-5); @x = max(-9); @y = max((uint64)-1); }",
                 "@m: -5\n@x: -5\n@y: 18446744073709551615\n", id="min-max"),
    pytest.param("BEGIN { @a = avg(-10); @a = avg(3); @s = stats(-10); @s = stats(3); }",
                 "@a: -3\n@s: { .count = 2, .average = -3, .total = -7 }\n", id="avg-stats-negative"),
    pytest.param("BEGIN { @k[1] = sum(-3); @k[2] = sum(10); @k[3] = sum(-30); }",
                 "@k[3]: -30\n@k[1]: -3\n@k[2]: 10\n", id="keyed-sorted-by-signed-value"),
    pytest.param("BEGIN { @k[1, 2] = avg(10); @k[1, 2] = avg(20); @k[3, 4] = avg(5); }",
                 "@k[3, 4]: 5\n@k[1, 2]: 15\n", id="tuple-key-sorted-by-average"),
    pytest.param("BEGIN { @m[1] = min(4); @m[2] = min(-4); @m[3] = min(0); }",
                 "@m[2]: -4\n@m[3]: 0\n@m[1]: 4\n", id="min-keyed-signed-order"),
]


@pytest.mark.parametrize("text, maps", AGGREGATIONS)
def test_aggregations(text, maps):
    assert output_of(text) == "\n\n" + maps


def test_hist_edges():
    # bpftrace 0.27.1 agrees.
    samples = [0, 1, -5, 5, 1000000, 1 << 40]
    program = "BEGIN { " + " ".join(f"@h = hist({value});" for value in samples) + " }"
    assert output_of(program) == "\n\n" + hist_text("@h", samples)


@pytest.mark.parametrize("bits", [1, 2, 5])
def test_hist_sub_buckets(bits):
    # bpftrace 0.27.1 agrees (k=2 and k=3 compared).
    samples = [1, 2, 3, 7, 8, 9, 100, 1023, 1024, 5000, 123456789]
    program = "BEGIN { " + " ".join(f"@h = hist({value}, {bits});" for value in samples) + " }"
    assert output_of(program) == "\n\n" + hist_text("@h", samples, bits)


@pytest.mark.parametrize("bits", [0, 2, 5])
def test_hist_of_runtime_values(bits):
    """Every power of two and its neighbours, computed in BPF from a map
    value (nothing for LLVM to fold), against buckets.hist_bucket_index."""
    samples = [value for power in range(63) for value in ((1 << power) - 1, 1 << power, (1 << power) + 1)]
    # The loop's end comes from a map, so that LLVM does not unroll it.
    program = (f"BEGIN {{ @p = 1; @n = 63; $i = 0; while ($i < @n && $i < 63) {{ $p = @p; "
               f"@h = hist($p - 1, {bits}); @h = hist($p, {bits}); @h = hist($p + 1, {bits}); @p = $p * 2; $i++; }} "
               f"delete(@p); delete(@n); }}")
    assert output_of(program) == "\n\n" + hist_text("@h", samples, bits)


def test_hist_of_the_largest_unsigned_value():
    # bpftrace 0.27.1 files 2^64 - 1 under (..., 0): it takes every value as
    # signed. An unsigned value is never negative.
    assert output_of("BEGIN { @h = hist((uint64)-1); }") == "\n\n@h:\n[8E, 16E)              1 |" + "@" * 52 + "|\n\n"


def test_hist_bucket_count_covers_the_largest_index():
    for bits in range(6):
        value = AggregateType("hist", False, (bits,))
        assert bucket_count(value) == hist_bucket_index((1 << 64) - 1, bits) + 1


def test_lhist_under_and_overflow():
    # bpftrace 0.27.1 agrees.
    samples = [-1, 5, 100, 55, 99, 250]
    program = "BEGIN { " + " ".join(f"@l = lhist({value}, 0, 100, 10);" for value in samples) + " }"
    expected = format_histogram(lhist_from_samples(samples, 0, 100, 10))
    assert output_of(program) == "\n\n@l:\n" + expected + "\n"


def test_lhist_of_runtime_values():
    program = ("BEGIN { @n = 40; $i = 0; while ($i < @n && $i < 40) { @l = lhist($i * 3, 10, 100, 7); $i++; } "
               "delete(@n); }")
    expected = format_histogram(lhist_from_samples([i * 3 for i in range(40)], 10, 100, 7))
    assert output_of(program) == "\n\n@l:\n" + expected + "\n"


def test_keyed_hists_sort_by_total_count():
    expected = "".join(hist_text(f"@k[{key}]", samples) for key, samples in ((2, [4]), (1, [1, 2, 3])))
    assert output_of("BEGIN { @k[1] = hist(1); @k[1] = hist(2); @k[1] = hist(3); @k[2] = hist(4); }") == (
        "\n\n" + expected)


def test_aggregations_read_as_values():
    # bpftrace 0.27.1 agrees: the CPUs combined; avg is total / count
    # toward zero; a missing key reads 0.
    program = ("BEGIN { @x = count(); @x = count(); @a = avg(10); @a = avg(21); @n = avg(-7); @n = avg(0); "
               "@m = min(-4); @k[1] = sum(-3); $x = @x; $a = @a; $n = @n; $m = @m; $k = @k[1]; $z = @k[2]; "
               'printf("%d %d %d %d %d %d\\n", $x, $a, $n, $m, $k, $z); }')
    assert output_of(program).startswith("2 15 -3 -4 -3 0\n")


def test_delete_both_syntaxes_and_has_key():
    # bpftrace 0.27.1 agrees (it prints plain maps in hash order).
    program = ("BEGIN { @a[1] = 1; @a[2] = 2; @a[3] = 3; delete(@a[1]); delete(@a, 2); "
               'printf("%d %d\\n", has_key(@a, 3), has_key(@a, 1)); '
               "@t[1, 2] = 5; @t[3, 4] = 6; delete(@t, (1, 2)); "
               'printf("%d\\n", has_key(@t, (3, 4))); @s = 5; delete(@s); @c = count(); delete(@c); }')
    assert output_of(program) == "1 0\n1\n\n\n@a[3]: 3\n@t[3, 4]: 6\n"


def test_string_and_tuple_keys():
    # bpftrace 0.27.1 agrees.
    program = ('BEGIN { @s["a"] = 1; @s["bc"] = 2; delete(@s, "a"); printf("%d %d\\n", has_key(@s, "bc"), '
               'has_key(@s, "a")); @c["x", 1] = count(); @c["x", 1] = count(); @c["y", 2] = count(); '
               'delete(@c, ("x", 1)); @t[1, "z"] = min(3); @t[2, "q"] = min(-3); delete(@t[1, "z"]); '
               '@h["k"] = hist(3); }')
    assert output_of(program) == (
        "1 0\n\n\n@c[y, 2]: 1\n@h[k]:\n[2, 4)                 1 |" + "@" * 52 + "|\n\n"
        "@s[bc]: 2\n@t[2, q]: -3\n")


def test_declared_map_kinds():
    # bpftrace 0.27.1 agrees: a full LRU map drops its oldest entry.
    program = ("let @l = lruhash(2); let @p = percpulruhash(2); let @q = percpuhash(10); "
               "BEGIN { @l[1] = 1; @l[2] = 2; @l[3] = 3; @p[1] = count(); @p[2] = count(); @p[3] = count(); "
               "@q[5] = sum(5); }")
    assert output_of(program) == "\n\n@l[2]: 2\n@l[3]: 3\n@p[2]: 1\n@p[3]: 1\n@q[5]: 5\n"


def test_an_unassigned_map_is_not_printed():
    # bpftrace 0.27.1 agrees.
    assert output_of("BEGIN { if (0) { @a = count(); @m[1] = 2; } @b = 1; }") == "\n\n@b: 1\n"


def test_clear_before_exit_is_not_printed():
    # bpftrace 0.27.1 agrees (0.17 printed `@a: 0`).
    assert output_of("BEGIN { @a = count(); clear(@a); @m[1] = 1; @m[2] = 2; clear(@m); @k = 1; }") == (
        "\n\n@k: 1\n")


def test_zero():
    # bpftrace 0.27.1 agrees.
    program = ("BEGIN { @a = count(); zero(@a); @m = min(5); zero(@m); @h = hist(3); zero(@h); "
               "@s = stats(4); zero(@s); @z[1] = count(); @z[2] = count(); zero(@z); }")
    assert output_of(program) == (
        "\n\n@a: 0\n@h:\n\n@m: 0\n@s: { .count = 0, .average = 0, .total = 0 }\n@z[1]: 0\n@z[2]: 0\n")


def test_print_in_order_with_printf_top_and_div():
    # bpftrace 0.27.1 agrees but for the order of the plain map's entries,
    # which it leaves in hash order.
    program = ("BEGIN { @p[1] = 10; @p[2] = 30; @p[3] = 20; print(@p, 2, 10); printf(\"after\\n\"); "
               "@c = count(); print(@c); @p[4] = 1; print(@p); }")
    assert output_of(program) == (
        "@p[3]: 2\n@p[2]: 3\nafter\n@c: 1\n@p[4]: 1\n@p[1]: 10\n@p[3]: 20\n@p[2]: 30\n"
        "\n\n@c: 1\n@p[4]: 1\n@p[1]: 10\n@p[3]: 20\n@p[2]: 30\n")


@needs_callbacks
def test_loops():
    # bpftrace 0.27.1 agrees (ties of @n are in hash order there).
    program = ('BEGIN { for ($i : 2..5) { printf("%d ", $i); } printf("\\n"); $j = 0; '
               'while ($j < 10) { $j++; if ($j == 3) { continue; } if ($j == 8) { break; } printf("%d ", $j); } '
               'printf("\\n"); for ($k : 0..3) { for ($m : 0..3) { if ($m > $k) { break; } @n[$k, $m] = count(); } } '
               'for ($e : 5..5) { printf("never\\n"); } }')
    assert output_of(program) == (
        "2 3 4 \n1 2 4 5 6 7 \n\n\n@n[0, 0]: 1\n@n[1, 0]: 1\n@n[1, 1]: 1\n@n[2, 0]: 1\n@n[2, 1]: 1\n@n[2, 2]: 1\n")


def test_a_loop_the_verifier_cannot_see_end_is_a_load_error():
    # bpftrace 0.27.1 fails to load it as well.
    status, output, errors = run_program("BEGIN { $i = 0; while (1) { $i++; } }")
    assert (status, output) == (1, "")
    assert errors.startswith("ERROR: ") and "BEGIN" in errors


@needs_callbacks
def test_loop_bounds_are_evaluated_once():
    assert output_of('BEGIN { $n = 3; for ($i : 0..$n) { $n = 10; @c = count(); } printf("%d\\n", $n); }') == (
        "10\n\n\n@c: 3\n")


@needs_callbacks
def test_range_loops():
    # bpftrace 0.27.1 agrees (it runs ranges with bpf_loop too); the counter
    # is the loop's, assigning to it does not change the iterations.
    program = ('BEGIN { for ($i : 0..100000) { @c = count(); } for ($i : 5..1) { printf("never\\n"); } '
               'for ($i : 0..3) { printf("%d ", $i); $i = 10; } printf("\\n"); '
               '$t = 0; for ($i : 0..10) { if ($i % 2) { continue; } if ($i == 8) { break; } $t += $i; } '
               'printf("%d\\n", $t); }')
    assert output_of(program) == "0 1 2 \n12\n\n\n@c: 100000\n"


def test_return_inside_a_loop_ends_the_probe():
    assert output_of('BEGIN { while (1) { @c = count(); return; } printf("not reached\\n"); }') == "\n\n@c: 1\n"


def test_a_full_map_is_reported_once_per_map():
    # bpftrace 0.27.1 drops the same updates and warns once per failing
    # update site, as the updates happen, with the same advice.
    status, output, errors = run_program(
        "config = { max_map_keys = 2 } BEGIN { @a[1] = 1; @a[2] = 2; @a[3] = 3; "
        "@c[1] = count(); @c[2] = count(); @c[3] = count(); @c[4] = count(); @s = count(); }")
    assert status == 0
    assert output == "\n\n@a[1]: 1\n@a[2]: 2\n@c[1]: 1\n@c[2]: 1\n@s: 1\n"
    advice = ("WARNING: Map full; can't update element. Try increasing max_map_keys config or manually setting "
              "the max entries in a map declaration e.g. `let {} = hash(5000)`\n")
    assert errors == (advice.format("@a") + "Additional Info - map: @a, updates lost: 1\n"
                      + advice.format("@c") + "Additional Info - map: @c, updates lost: 2\n")


def test_max_map_keys_from_the_environment(monkeypatch):
    monkeypatch.setenv("BPFTRACE_MAX_MAP_KEYS", "1")
    status, output, errors = run_program("BEGIN { @a[1] = 1; @a[2] = 2; }")
    assert output == "\n\n@a[1]: 1\n"
    assert "Map full" in errors
    monkeypatch.setenv("AUGER_MAX_MAP_KEYS", "2")
    assert run_program("BEGIN { @a[1] = 1; @a[2] = 2; }")[1:] == ("\n\n@a[1]: 1\n@a[2]: 2\n", "")


# The walk's order is the hash map's, which changes from map to map (the
# kernel seeds each map's hash at random): these programs do not depend on it.
FOR_MAP = [
    pytest.param('BEGIN { @m[1] = 5; @m[2] = 7; @m[3] = 9; $t = 0; for ($kv : @m) { $t += $kv.1 * $kv.0; } '
                 'printf("%d\\n", $t); }', "46\n", id="plain-values-and-keys"),
    pytest.param('BEGIN { @c["a"] = count(); @c["a"] = count(); @c["b"] = count(); @n = 0; '
                 'for ($kv : @c) { @n += $kv.1; if ($kv.0 == "a") { printf("a %d\\n", $kv.1); } } }',
                 "a 2\n", id="count-values-string-keys"),
    pytest.param('BEGIN { @s[1, 2] = 5; for ($e : @s) { printf("%d %d %d\\n", $e.0.0, $e.0.1, $e.1); } }',
                 "1 2 5\n", id="tuple-key"),
    pytest.param('BEGIN { @a[1] = avg(10); @a[1] = avg(21); @x[1] = min(-3); for ($kv : @a) { $v = $kv.1; } '
                 'for ($kv : @x) { printf("%d %d\\n", $v, $kv.1); } }', "15 -3\n", id="avg-min-values"),
    pytest.param('BEGIN { @c[1] = 1; @c[2] = 2; @c[3] = 3; for ($kv : @c) { if ($kv.0 == 2) { continue; } '
                 '@seen[$kv.0] = 1; } for ($kv : @c) { printf("once\\n"); break; } }', "once\n", id="break-continue"),
    pytest.param('BEGIN { @c["k"] = 1; for ($kv : @c) { for ($j : 0..3) { printf("%s%d ", $kv.0, $j); } } '
                 'printf("\\n"); }', "k0 k1 k2 \n", id="range-loop-inside"),
    pytest.param('BEGIN { @c[1] = 1; for ($kv : @c) { return; } printf("not reached\\n"); }', "", id="return"),
    pytest.param('BEGIN { @m[1] = 2; $s = "hello"; $t = (1, "x"); for ($kv : @m) { printf("%s %d %s %d\\n", $s, '
                 '$t.0, $t.1, $kv.1); $n = $kv.1; $s = "bye"; } printf("%s %d\\n", $s, $n); }', "hello 1 x 2\nbye 2\n",
                 id="probe-variables-in-and-out"),
    pytest.param('BEGIN { @c[1] = 1; for ($kv : @c) { printf("in\\n"); exit(); } printf("not reached\\n"); } '
                 'END { printf("end\\n"); }', "in\nend\n", id="exit"),
]


@needs_callbacks
@pytest.mark.parametrize("text, printed", FOR_MAP)
def test_for_over_a_map(text, printed):
    # bpftrace 0.27.1 agrees but where it refuses: exit() in a for loop, and
    # printf("%d") of a count() value.
    assert output_of(text).startswith(printed + "\n\n")


@needs_callbacks
def test_for_over_a_map_sees_every_entry():
    assert output_of('BEGIN { for ($i : 0..100) { @m[$i] = $i; } for ($kv : @m) { @sum = sum($kv.1); '
                     '@n = count(); } clear(@m); }') == "\n\n@n: 100\n@sum: 4950\n"


@needs_callbacks
def test_len():
    # bpftrace 0.27.1 agrees.
    program = ('BEGIN { @a[1] = 1; @a[2] = 2; @c[1] = count(); printf("%d %d %d\\n", len(@a), len(@c), len(@e)); '
               'delete(@a, 1); printf("%d\\n", len(@a)); if (0) { @e[1] = 1; } }')
    assert output_of(program) == "2 1 0\n1\n\n\n@a[2]: 2\n@c[1]: 1\n"
