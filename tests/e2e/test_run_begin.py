"""BEGIN/END programs compiled and run in the real kernel: exact output.

Each program goes through the parser, the analyser, codegen and a session
(`auger.runtime.session.run`) in-process; BEGIN and END run with
BPF_PROG_TEST_RUN, so the output is deterministic.
"""

import dataclasses
import io
import os

import llvmlite.ir as ir
import pytest

from auger.compiler.codegen import compile_program, target
from auger.compiler.diagnostics import CompileError, SourceFile
from auger.compiler.parser import parse
from auger.compiler.semantic import analyse
from auger.runtime.session import SessionOptions, run

pytestmark = pytest.mark.root


def compiled(text: str):
    source = SourceFile("stdin", text)
    analysis = analyse(parse(source), source)
    return analysis, compile_program(analysis)


def run_program(text: str) -> tuple[int, str, str]:
    analysis, program = compiled(text)
    output, errors = io.StringIO(), io.StringIO()
    status = run(analysis, program, SessionOptions(output=output, errors=errors))
    return status, output.getvalue(), errors.getvalue()


CASES = [
    pytest.param('BEGIN { printf("%d %d\\n", 1 + 2 * 3, (1 + 2) * 3); }', "7 9\n\n\n", id="precedence"),
    pytest.param('BEGIN { printf("%d %d %d %d\\n", -10 / 3, -10 % 3, 10 / -3, 10 % -3); }',
                 "-3 -1 -3 1\n\n\n", id="signed-division-literals"),
    pytest.param('BEGIN { $a = 1; printf("%d %u %x\\n", $a << 63, $a << 63, $a << 63); }',
                 "-9223372036854775808 9223372036854775808 8000000000000000\n\n\n", id="shift-63"),
    pytest.param('BEGIN { $a = -16; printf("%d %d %d %d %d\\n", $a >> 2, 6 & 3, 6 | 3, 6 ^ 3, ~5); }',
                 "-4 2 7 5 -6\n\n\n", id="bitwise"),
    pytest.param('BEGIN { printf("%d %d %d %d\\n", 1 < 2, 2 <= 1, -1 < 0, !0); }', "1 0 1 1\n\n\n", id="comparisons"),
    pytest.param('BEGIN { @x = 1; if (0 && @x++) {} if (1 || @x++) {} printf("%d\\n", @x); }',
                 "1\n\n\n@x: 1\n", id="short-circuit"),
    pytest.param('BEGIN { $v = 5; printf("%d %d\\n", $v > 3 ? 10 : 20, $v > 7 ? 10 : 20); }',
                 "10 20\n\n\n", id="ternary"),
    pytest.param('BEGIN { $v = 5; if ($v == 4) { printf("four\\n"); } else if ($v == 5) { printf("five\\n"); } '
                 'else { printf("other\\n"); } }', "five\n\n\n", id="if-else"),
    pytest.param('BEGIN { printf("%s has %d%% of %x, %u\\n", "x", 50, 255, -1); }',
                 "x has 50% of ff, 18446744073709551615\n\n\n", id="printf"),
    pytest.param('BEGIN { @b = 2; @a = 1 + 1; @c[1] = 3; @c[2] = 1; @t[1, 2] = 7; @flag = 1 < 2; }',
                 "\n\n@a: 2\n@b: 2\n@c[2]: 1\n@c[1]: 3\n@flag: true\n@t[1, 2]: 7\n", id="maps-at-exit"),
    pytest.param('BEGIN { @n = count(); @n = count(); @s = sum(5); @s = sum(-7); @k[3] = count(); @k[3] = count(); }',
                 "\n\n@k[3]: 2\n@n: 2\n@s: -2\n", id="count-sum"),
    pytest.param('BEGIN { $i = 1; $i += 4; $i *= 3; $i++; @m[$i] = $i; }', "\n\n@m[16]: 16\n", id="compound"),
    pytest.param('BEGIN { printf("begin\\n"); exit(); printf("not reached\\n"); } END { printf("end\\n"); }',
                 "begin\nend\n\n\n", id="exit-then-end"),
    pytest.param('BEGIN { @x = 1; } END { printf("end sees %d\\n", @x); @x = 2; }',
                 "end sees 1\n\n\n@x: 2\n", id="end-after-begin"),
    pytest.param('BEGIN { printf("%d %d\\n", (uint8)257, (int8)255); }', "1 -1\n\n\n", id="casts"),
    pytest.param('BEGIN { unroll(3) { @a = count(); } printf("x\\n"); return; printf("y\\n"); }',
                 "x\n\n\n@a: 3\n", id="unroll-return"),
]


@pytest.mark.parametrize("text, expected", CASES)
def test_program_output(text, expected):
    status, output, errors = run_program(text)
    assert (status, errors) == (0, "")
    assert output == expected


def test_signed_division_of_runtime_values():
    status, output, _ = run_program('BEGIN { @a = -10; @b = 3; printf("%d %d\\n", @a / @b, @a % @b); }')
    assert status == 0
    assert output == "-3 -1\n\n\n@a: -10\n@b: 3\n"


def test_exit_code_is_the_exit_status():
    assert run_program("BEGIN { exit(3); }")[:2] == (3, "\n\n")


def test_builtins_are_this_process():
    status, output, _ = run_program('BEGIN { printf("%d %d %d\\n", pid, tid, nsecs > 0); }')
    assert output == f"{os.getpid()} {os.getpid()} 1\n\n\n"
    status, output, _ = run_program('BEGIN { printf("%d\\n", cpu < 4096); }')
    assert output == "1\n\n\n"


@pytest.mark.parametrize("text, what", [
    ('BEGIN { $f = "unified"; printf("%s\\n", cgroup_path(1, $f)); }', "cgroup_path() with a filter that is not"),
    ('BEGIN { printf("%s\\n", path(1)); }', "path() as a value"),
])
def test_unsupported_constructs_are_compile_errors(text, what):
    with pytest.raises(CompileError) as raised:
        compiled(text)
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.message.startswith("not supported yet by the code generator: " + what)


def _object_reading_past_the_context(section: str) -> bytes:
    """A program that reads 8 bytes at offset 4096 of its raw_tracepoint context."""
    i64 = ir.IntType(64)
    module = ir.Module("bad")
    module.triple, module.data_layout = target.TRIPLE, target.data_layout()
    function = ir.Function(module, ir.FunctionType(i64, [i64.as_pointer()]), "bad")
    function.section = section
    builder = ir.IRBuilder(function.append_basic_block())
    builder.ret(builder.load(builder.gep(function.args[0], [ir.Constant(i64, 512)])))
    return target.emit_object(str(module))


def test_verifier_rejection_names_the_probe_and_shows_the_log():
    analysis, program = compiled("BEGIN { @x = 1; }")
    section = program.probes[0].section
    bad = dataclasses.replace(program, object_code=_object_reading_past_the_context(section))
    output, errors = io.StringIO(), io.StringIO()
    assert run(analysis, bad, SessionOptions(output=output, errors=errors)) == 1
    message = errors.getvalue()
    assert message.startswith("ERROR: the kernel rejected the program of probe BEGIN: ")
    assert "verifier log (last lines):" in message
    assert "invalid bpf_context access" in message
    assert output.getvalue() == ""


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_nothing_of_ours_remains_after_a_run():
    analysis, program = compiled('BEGIN { @c = count(); @m[1] = 2; printf("x\\n"); } END { @c = count(); }')
    before = _open_fds()
    run(analysis, program, SessionOptions(output=io.StringIO(), errors=io.StringIO()))
    assert _open_fds() == before


def test_begin_runs_in_the_process_named_auger(run_auger):
    # As bpftrace's BEGIN reads "bpftrace": `comm` in BEGIN/END is the tool's.
    result = run_auger("-e", 'BEGIN { printf("%s\\n", comm); exit(); }')
    assert (result.returncode, result.stdout.splitlines()[0]) == (0, "auger")
