"""Valid programs: the types the analyser gives expressions, variables and maps."""

import pytest

from auger.compiler import ast
from auger.compiler.btf import kernel_types
from auger.compiler.semantic import ArgsType
from auger.compiler.types import (
    BOOL, INT64, UINT32, UINT64, AggregateType, ArrayType, BufferType, IntType, NamedTupleType,
    SpecialType, StackType, StringType, TupleType,
)
from auger.probes import tracefs
from test_semantic_support import analysed, errors


def value_of(text: str, **options):
    """The type of `$v` after `BEGIN { $v = EXPR; }`-style programs."""
    return analysed(text, **options).probes[0].variables["v"]


@pytest.mark.parametrize("expr, expected", [
    ("1", INT64),
    ("18446744073709551615", UINT64),
    ("(uint8)1 + (uint8)2", INT64),
    ("(uint64)1 + 1", UINT64),
    ("(uint32)1", UINT32),
    ("-(uint64)1", UINT64),
    ("1 << 63", INT64),
    ("1 < 2", BOOL),
    ("!0", BOOL),
    ("1 && 0", BOOL),
    ('"ab" == "cd"', BOOL),
    ('"hello"', StringType(6)),
    ("comm", StringType(16)),
    ("pid", UINT32),
    ("nsecs", UINT64),
    ("probe", SpecialType("probe")),
    ("kstack", StackType(False)),
    ("ustack(perf, 5)", StackType(True, "perf", 5)),
    ('(1, "a")', TupleType((INT64, StringType(2)))),
    ('(a = 1, b = "x")', NamedTupleType(("a", "b"), (INT64, StringType(2)))),
    ('(a = 1, b = "x").b', StringType(2)),
    ('(1, "a").1', StringType(2)),
    ('(1, "a")[0]', INT64),
    ("1 ? 2 : 3", INT64),
    ('1 ? "a" : "bcd"', StringType(4)),
    ("str(1)", StringType(64)),
    ("str(1, 8)", StringType(8)),
    ("buf(1, 8)", BufferType(8)),
    ("strftime(\"%H\", nsecs)", SpecialType("timestamp", 16)),
    ("strncmp(comm, \"x\", 1)", INT64),
    ("strcontains(comm, \"x\")", BOOL),
    ("sizeof(uint32)", UINT64),
    ("bswap((uint16)1)", IntType(16, False)),
    ("ntop(0)", SpecialType("inet", 24)),
    ('pton("127.0.0.1")', ArrayType(IntType(8, False), 4)),
    ('pton("::1")', ArrayType(IntType(8, False), 16)),
    ("ksym(0)", SpecialType("ksym")),
    ("usym(0)", SpecialType("usym", 16)),
    ('kaddr("jiffies")', UINT64),
    ('cgroupid("/sys/fs/cgroup")', UINT64),
    ("macaddr(0)", SpecialType("macaddr", 6)),
    ("(uint8[8])1", ArrayType(IntType(8, False), 8)),
])
def test_expression_types(expr, expected):
    assert value_of(f"BEGIN {{ $v = {expr}; }}") == expected


def test_map_types_and_aggregations():
    analysis = analysed(
        "BEGIN { @c = count(); @s[comm] = sum(pid); @h = hist(1, 2); @l = lhist(3, 0, 100, 10);"
        " @st = stats(1); @a = avg((uint32)1); @mn = min(1); @mx = max(1); @p[1, \"x\"] = 1; }")
    maps = analysis.maps
    assert maps["c"].value == AggregateType("count", signed=False) and maps["c"].key is None
    assert maps["s"].key == StringType(16) and maps["s"].value == AggregateType("sum", signed=False)
    assert maps["h"].value == AggregateType("hist", True, (2,))
    assert maps["l"].value == AggregateType("lhist", True, (0, 100, 10))
    assert maps["st"].value.kind == "stats" and maps["a"].value.kind == "avg"
    assert maps["p"].key == TupleType((INT64, StringType(2)))


def test_map_read_before_assignment_gets_its_type_by_fixpoint():
    analysis = analysed("BEGIN { @a = @b + 1; } END { @b = (uint64)2; }")
    assert analysis.maps["a"].value == UINT64
    assert analysis.maps["b"].value == UINT64


def test_map_types_widen_across_uses():
    analysis = analysed('BEGIN { @s = "a"; @s = "abcd"; @k[(uint32)1] = 1; @k[(uint64)2] = 2; }')
    assert analysis.maps["s"].value == StringType(5)
    assert analysis.maps["k"].key == UINT64


def test_functions_without_value():
    analysis = analysed(
        'BEGIN { @m[1] = 1; printf("%s %d %x %-5s %p %c\\n", comm, pid, 1, "a", 0, 65); print(@m); print(@m, 2, 1);'
        ' print(1); time("%H"); join(0, ","); clear(@m); zero(@m); delete(@m[1]); delete(@m, 1);'
        ' cat("/etc/%s", "x"); exit(); exit(1); @n = len(@m); @h = has_key(@m, 1); }')
    assert analysis.maps["n"].value == INT64
    assert analysis.maps["h"].value == BOOL


def test_unsafe_functions_with_flag():
    analysed('BEGIN { system("echo %d", 1); } kprobe:vfs_read { signal("KILL"); override(1); }', unsafe=True)


def test_loops_and_scopes():
    analysis = analysed(
        "BEGIN { @m[\"k\"] = count(); } END { for ($kv : @m) { $k = $kv.0; $n = $kv.1; }"
        " for ($i : 0..10) { if ($i == 5) { continue; } $j = $i; }"
        " $w = 0; while ($w < 3) { $w++; if ($w > 10) { break; } }"
        " unroll(3) { $w += 1; } let $d: uint32 = 5; let $e; $e = 1; }")
    variables = analysis.probes[1].variables
    assert variables["kv"] == TupleType((StringType(2), UINT64))
    assert variables["k"] == StringType(2) and variables["n"] == UINT64
    assert variables["i"] == INT64 and variables["d"] == UINT32 and variables["e"] == INT64


def test_expression_types_are_recorded_for_codegen():
    analysis = analysed("BEGIN { @x = pid + 1; }")
    assignment = analysis.program.probes[0].body.statements[0]
    assert analysis.type_of(assignment.value) == INT64
    assert analysis.type_of(assignment.value.left) == UINT32


def test_positional_parameters():
    analysis = analysed('BEGIN { @n = $1 + $#; @s = str($2); @t = $2; @z = $3; }', positional=("5", "abc"))
    assert analysis.maps["n"].value == INT64
    assert analysis.maps["s"].value == StringType(4)
    assert analysis.maps["t"].value == StringType(4)
    assert analysis.maps["z"].value == INT64  # a missing parameter is 0


def test_cpid_with_child():
    assert value_of("BEGIN { $v = cpid; }", has_child=True) == UINT32


def test_config_values():
    analysis = analysed("config = { max_strlen = 16; stack_mode = perf; print_maps_on_exit = false } BEGIN { $v = str(0); @k = kstack; }")
    assert analysis.config == {"max_strlen": 16, "stack_mode": "perf", "print_maps_on_exit": False}
    assert analysis.probes[0].variables["v"] == StringType(16)
    assert analysis.maps["k"].value == StackType(False, "perf")


def test_macros_expand_with_parameters_of_each_kind():
    analysis = analysed(
        "macro add_to($x, @m, k) { $t = $x + k; @m[k] = $t; $t }"
        " BEGIN { $t = \"caller's\"; $v = add_to(1, @totals, 2); add_to(pid, @totals, 3); }")
    variables = analysis.probes[0].variables
    assert variables["t"] == StringType(9)  # the macro's own $t is renamed apart
    assert variables["v"] == INT64
    assert analysis.maps["totals"].key == INT64
    assert analysis.program.macros == ()


def test_script_structs_and_enums():
    analysis = analysed(
        "struct point { int x; int y; }; enum color { RED, GREEN = 5 };"
        " BEGIN { $p = (struct point *)0; $v = $p->y; $w = $p.x; @c = GREEN; }")
    assert analysis.probes[0].variables["v"] == IntType(32, True)
    assert analysis.maps["c"].value.name == "color"


@pytest.mark.skipif(kernel_types() is None, reason="no kernel BTF at /sys/kernel/btf/vmlinux")
def test_casts_to_kernel_structs_via_btf():
    analysis = analysed(
        "BEGIN { $v = ((struct task_struct *)curtask)->pid; $c = curtask->comm;"
        " $p = curtask->real_parent->tgid; }")
    variables = analysis.probes[0].variables
    assert variables["v"] == IntType(32, True)
    assert variables["c"] == ArrayType(IntType(8, True), 16)
    assert variables["p"] == IntType(32, True)


@pytest.mark.skipif(not tracefs.accessible(), reason="tracefs is not accessible (needs root)")
def test_tracepoint_args_and_wildcards():
    analysis = analysed(
        "tracepoint:syscalls:sys_enter_openat { @[str(args.filename)] = count(); $v = args->flags; }"
        " tracepoint:syscalls:sys_enter_open* { @n = count(); }")
    first, second = analysis.probes
    assert first.variables["v"] == IntType(32, True)  # `int flags`, kept in an 8-byte slot
    assert isinstance(analysis.type_of(_args_node(first.probe)), ArgsType)
    assert len(second.specs) > 1 and len(second.contexts) == len(second.specs)
    assert analysis.maps[""].key == StringType(64)


def _args_node(probe):
    return next(node for node in probe.walk() if isinstance(node, ast.Identifier) and node.name == "args")


def test_printf_accepts_every_integer_like_value():
    analysed('BEGIN { printf("%d %u %d %s %s\\n", 1 < 2, (uint8)1, (int16)-1, 1, ksym(0)); }')


def test_probe_analysis_lists_specs_and_contexts():
    analysis = analysed("BEGIN { } END { }")
    assert [spec.provider for probe in analysis.probes for spec in probe.specs] == ["BEGIN", "END"]
    assert all(len(probe.contexts) == 1 for probe in analysis.probes)


# ---------------------------------------------------------------- preprocessor and headers

HAVE_BTF_BLOCKS = """
#ifndef BPFTRACE_HAVE_BTF
struct pick { int without_btf; };
#define WHICH 1
#else
struct pick { long with_btf; };
#define WHICH 2
#endif
#if defined(BPFTRACE_HAVE_BTF) && WHICH == 2 && !defined(NOT_THERE)
#define BOTH 3
#endif
BEGIN { $v = ((struct pick *)0)->%s; $w = WHICH + BOTH; }
"""


@pytest.mark.skipif(kernel_types() is None, reason="no kernel BTF at /sys/kernel/btf/vmlinux")
def test_btf_present_skips_ifndef_have_btf_blocks():
    analysis = analysed(HAVE_BTF_BLOCKS % "with_btf")
    assert analysis.probes[0].variables["v"] == INT64
    assert "does not contain a field named 'without_btf'" in errors(HAVE_BTF_BLOCKS % "without_btf")


@pytest.mark.skipif(kernel_types() is None, reason="no kernel BTF at /sys/kernel/btf/vmlinux")
def test_kernel_struct_wins_over_fallback_definition():
    program = """
#ifndef BPFTRACE_HAVE_BTF
struct task_struct { int fallback_only; };
#endif
BEGIN { $v = curtask->%s; }
"""
    assert value_of(program % "pid") == IntType(32, True)
    assert "fallback_only" in errors(program % "fallback_only")


@pytest.mark.parametrize("header, name, value", [
    ("linux/sched.h", "TASK_RUNNING", 0),
    ("linux/sched.h", "TASK_UNINTERRUPTIBLE", 2),
    ("linux/sched.h", "CLONE_THREAD", 0x10000),
    ("sys/socket.h", "AF_INET", 2),
    ("linux/socket.h", "AF_INET6", 10),
    ("net/sock.h", "AF_UNIX", 1),
])
def test_included_header_macros_are_known(header, name, value):
    analysis = analysed(f"#include <{header}>\nBEGIN {{ $v = {name}; @m[{name}] = 1; }}")
    assert analysis.probes[0].variables["v"] == INT64


def test_header_macros_need_their_include():
    assert "Unknown identifier: 'AF_INET'" in errors("#include <linux/sched.h>\nBEGIN { $v = AF_INET; }")


def test_script_define_can_use_header_macro():
    assert value_of("#include <sys/socket.h>\n#define FAMILY AF_INET6 + 0\nBEGIN { $v = FAMILY; }") == INT64


@pytest.mark.skipif(not tracefs.accessible(), reason="tracefs is not accessible (needs root)")
def test_tracepoint_struct_pointer_resolves_from_btf():
    # The format file says `struct __kernel_timespec * rqtp` and no layout.
    analysis = analysed("tracepoint:syscalls:sys_enter_nanosleep { $v = args->rqtp->tv_nsec; }")
    assert isinstance(analysis.probes[0].variables["v"], IntType)


# ---------------------------------------------------------------- 0.17's probe-wide variables

def test_variable_assigned_in_both_branches_is_readable_after():
    program = 'BEGIN { if (pid) { $a = "x"; } else { $a = "yy"; } $v = $a; }'
    assert isinstance(value_of(program), StringType)


def test_sibling_blocks_may_still_use_a_name_with_other_types():
    analysis = analysed('BEGIN { if (pid) { $a = 1; } else { $a = "s"; } }')
    assert analysis.probes


def test_variable_read_before_any_assignment_is_still_an_error():
    assert "Undefined or undeclared variable: $a" in errors("BEGIN { $v = $a; if (pid) { $a = 1; } }")
