"""The per-event fast paths, run in the real kernel: key-less aggregations in
per-CPU arrays (presence word), keyed aggregations through the update cache
(compiler/update_cache.py), `comm` read from the task_struct, and probes
without the `-p` check. Each must give exactly what the slow path gave."""

import shutil
from pathlib import Path

import pytest

from auger.compiler.diagnostics import SourceFile
from auger.compiler.parser import parse
from auger.compiler.resources import plan_resources
from auger.compiler.semantic import analyse

from conftest import build_c
from test_run_maps import run_program

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def workload(tmp_path_factory) -> str:
    source = Path(__file__).with_name("workload.c").read_text()
    return build_c(tmp_path_factory.mktemp("workload"), "workload", source, "-O2")


def _cached(text: str) -> tuple[str, ...]:
    source = SourceFile("stdin", text)
    cache = plan_resources(analyse(parse(source), source)).update_cache
    return cache.cached if cache is not None else ()


# ------------------------------------------------------------ key-less maps


@pytest.mark.parametrize("program, expected", [
    ("BEGIN { @ = count(); clear(@); exit(); }", "\n\n"),
    ("BEGIN { @ = count(); delete(@); exit(); }", "\n\n"),
    ("BEGIN { @ = sum(0); exit(); }", "\n\n@: 0\n"),
    ("BEGIN { @ = count(); zero(@); exit(); }", "\n\n@: 0\n"),
    ("BEGIN { @ = max(5); delete(@); @x = 1; exit(); }", "\n\n@x: 1\n"),
    # delete() in BPF unsets the value on every CPU; the next update starts from zero.
    ("BEGIN { @c = count(); @c = count(); printf(\"%d \", @c); delete(@c); printf(\"%d \", @c); @c = count(); "
     "printf(\"%d\\n\", @c); exit(); }", "2 0 1\n\n\n@c: 1\n"),
    ("BEGIN { @a = avg(4); @a = avg(5); @m = min(-3); zero(@m); @s = stats(3); exit(); }",
     "\n\n@a: 4\n@m: 0\n@s: { .count = 1, .average = 3, .total = 3 }\n"),
])  # fmt: skip
def test_key_less_aggregations(program, expected):
    # bpftrace 0.27.1 agrees on each (0.17 still prints a cleared map as 0).
    assert run_program(program) == (0, expected, "")


def test_key_less_histogram_after_delete_starts_empty():
    status, output, _ = run_program("BEGIN { @h = hist(1000); delete(@h); @h = hist(1); exit(); }")
    assert status == 0
    assert output == "\n\n@h:\n[1]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\n"


# ------------------------------------------------------------ update cache


def test_which_maps_are_cached():
    assert _cached("BEGIN { @[1] = count(); @s[1, \"a\"] = sum(2); @m[1] = max(3); }") == ("@", "@m", "@s")
    # Read in BPF, a histogram, key-less: not cached.
    assert _cached("BEGIN { @x[1] = count(); if (@x[1] > 1) { } @h[1] = hist(2); @k = count(); }") == ()
    assert _cached("BEGIN { @x[1] = count(); delete(@x[1]); @y[1] = count(); print(@y[1]); }") == ()
    # Whole-map actions run in userspace: still cached.
    assert _cached("BEGIN { @x[1] = count(); print(@x); clear(@x); zero(@x); }") == ("@x",)


def test_flushes_on_every_key_switch_are_exact(run_auger, workload):
    """work_step(i) for i < 100: the key changes at every call (i % 3) or
    every 10 calls (i / 10), so pending values are merged into the map
    again and again; every aggregation must still be exact."""
    calls = 100
    program = (f"uprobe:{workload}:work_step {{ $k = arg0 % 3; @c[$k] = count(); @s[$k] = sum(arg0); "
               "@mx[$k] = max(arg0); @mn[$k] = min(arg0); @a[$k] = avg(arg0); @st[$k] = stats(arg0); "
               "@runs[arg0 / 10] = count(); }")
    result = run_auger("-c", f"{workload} {calls}", "-e", program)
    assert result.returncode == 0, result.stderr
    lines = set(result.stdout.splitlines())
    for key in range(3):
        values = [i for i in range(calls) if i % 3 == key]
        total = sum(values)
        assert f"@c[{key}]: {len(values)}" in lines
        assert f"@s[{key}]: {total}" in lines
        assert f"@mx[{key}]: {max(values)}" in lines
        assert f"@mn[{key}]: {min(values)}" in lines
        assert f"@a[{key}]: {total // len(values)}" in lines
        assert f"@st[{key}]: {{ .count = {len(values)}, .average = {total // len(values)}, .total = {total} }}" in lines
    assert all(f"@runs[{run}]: 10" in lines for run in range(10))


def test_counts_by_thread_are_exact(run_auger, workload):
    result = run_auger("-c", f"{workload} 5000", "-e",
                       "tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @[tid] = count(); @s[comm] = sum(2); }")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": 5000") == 1 and ": 10000" in result.stdout


def test_clear_drops_pending_updates():
    # END's update is the only one after clear(): BEGIN's stays pending in
    # BEGIN's cache entry, of the old generation.
    assert run_program("BEGIN { @[1] = count(); clear(@); } END { @[1] = count(); }") == (0, "\n\n@[1]: 1\n", "")


def test_zero_keeps_keys_that_were_only_pending():
    program = "BEGIN { @[1] = count(); @[1] = count(); @mx[3] = max(4); zero(@); zero(@mx); } END { @[2] = count(); }"
    assert run_program(program) == (0, "\n\n@[1]: 0\n@[2]: 1\n@mx[3]: 0\n", "")


def test_print_adds_pending_values():
    program = "BEGIN { @[1] = count(); @[1] = count(); @[2] = count(); print(@); exit(); }"
    assert run_program(program) == (0, "@[2]: 1\n@[1]: 2\n\n\n@[2]: 1\n@[1]: 2\n", "")


# ------------------------------------------------------------ comm, -p


@pytest.mark.parametrize("name", ["a", "abcdefg", "abcdefgh", "abcdefghi", "abcdefghijklmno", "abcdefghijklmnopqrst"])
def test_comm_of_every_length(run_auger, workload, tmp_path, name):
    """`comm` is read from the task_struct in two words, cut at the NUL."""
    command = tmp_path / name
    shutil.copy(workload, command)
    program = ("tracepoint:sched:sched_process_exit /pid == cpid/ { printf(\"%s|\\n\", comm); @[comm] = count(); "
               "@same = count(); if (comm == str(curtask->comm)) { @same = count(); } }")
    result = run_auger("-c", f"{command} 0", "-e", program)
    assert result.returncode == 0, result.stderr
    shown = name[:15]  # TASK_COMM_LEN - 1
    assert result.stdout.startswith(f"{shown}|\n")
    assert f"@[{shown}]: 1" in result.stdout and "@same: 2" in result.stdout


def test_probes_without_dash_p_do_not_ask_for_the_pid(run_auger):
    """Without -p, an empty probe is empty: no bpf_get_current_pid_tgid (helper 14)."""
    without = run_auger("--emit", "asm", "-e", "tracepoint:raw_syscalls:sys_enter { }")
    with_pid = run_auger("-p", "1", "--emit", "asm", "-e", "tracepoint:raw_syscalls:sys_enter { }")
    assert without.returncode == 0 and with_pid.returncode == 0
    assert "call 14" not in without.stdout and "call 14" in with_pid.stdout

