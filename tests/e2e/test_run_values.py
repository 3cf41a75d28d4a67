"""Wide values in the real kernel: strings, tuples, records, buffers, printf
of every specifier, print(value), the value builtins and functions, lost
ring-buffer records, and the BPF stack staying small.

Expected output comes from bpftrace 0.27.1 runs of the same program (quoted
where auger differs on purpose: C's printf where bpftrace ignores a flag).
"""

import dataclasses
import io
import os
import pathlib
import pwd
import re
import time

import pytest

from auger.compiler.codegen import compile_program, target
from auger.compiler.diagnostics import SourceFile
from auger.compiler.parser import parse
from auger.compiler.semantic import AnalysisOptions, analyse
from auger.runtime.session import SessionOptions, run

pytestmark = pytest.mark.root

COMM = open("/proc/self/comm").read().strip()


def compiled(text: str, unsafe: bool = False, has_child: bool = False):
    source = SourceFile("stdin", text)
    analysis = analyse(parse(source), source, AnalysisOptions(unsafe=unsafe, has_child=has_child))
    return analysis, compile_program(analysis)


def run_program(text: str, unsafe: bool = False) -> tuple[int, str, str]:
    analysis, program = compiled(text, unsafe)
    output, errors = io.StringIO(), io.StringIO()
    status = run(analysis, program, SessionOptions(output=output, errors=errors, quiet=True))
    return status, output.getvalue(), errors.getvalue()


def output_of(text: str, unsafe: bool = False) -> str:
    status, output, errors = run_program(text, unsafe)
    assert (status, errors) == (0, "")
    return output


CASES = [
    pytest.param('BEGIN { printf("[%5d][%-5d][%05d][%-10s][%10s][%c][%x][%X][%o][%p][%i][%%]\\n", '
                 '42, 42, 42, "ab", "ab", 65, 255, 255, 8, 4096, 3); }',
                 "[   42][42   ][00042][ab        ][        ab][A][ff][FF][10][0x1000][3][%]\n", id="printf-flags"),
    pytest.param('BEGIN { printf("[%hhd][%hx][%hhu][%lld][%lu][%ld][%llu][%+d][%#x][%#o]\\n", '
                 '300, 65537, 257, -5, 7, -9, 18446744073709551615, 5, 255, 8); }',
                 "[44][1][1][-5][7][-9][18446744073709551615][+5][0xff][010]\n", id="printf-length-modifiers"),
    # bpftrace 0.27.1 ignores the space flag and integer precision ("5", "42"); C does not.
    pytest.param('BEGIN { printf("[% d][%.5d][%.3s]\\n", 5, 42, "abcdef"); }', "[ 5][00042][abc]\n", id="printf-c-precision"),
    pytest.param('BEGIN { printf("%d %d %s %s\\n", true, false, true, 5); }', "1 0 true 5\n", id="printf-bool"),
    pytest.param('BEGIN { printf("%s %d\\n", (1, "a"), 1 < 2); $r = (a = 1, b = "x"); printf("%s\\n", $r); }',
                 "(1, a) 1\n{ .a = 1, .b = x }\n", id="printf-tuple-record"),
    pytest.param('BEGIN { printf("%r|%rh\\n", buf("ab\\x01c", 4), buf("abc", 2)); print(buf("xy\\n", 3)); }',
                 "ab\\x01c|61 62\nxy\\x0a\n", id="buf"),
    pytest.param('BEGIN { print("x"); print(1); print((1, "a")); $r = (a = 1, b = "x"); print($r); print(1 < 2); }',
                 "x\n1\n(1, a)\n{ .a = 1, .b = x }\ntrue\n", id="print-value"),
    pytest.param('BEGIN { $s = "abc"; $t = $s; $s = "longer string"; printf("%s %s\\n", $s, $t); }',
                 "longer string abc\n", id="string-variables"),
    pytest.param('BEGIN { $x = 0; $s = $x ? "a" : "longer"; $t = !$x ? "a" : "longer"; printf("%s %s\\n", $s, $t); }',
                 "longer a\n", id="string-ternary"),
    pytest.param('BEGIN { printf("%d %d %d %d %d\\n", "abc" == "abc", "ab" != "abc", "ab" == "abc", '
                 '"abc" == "abd", "" == ""); }', "1 1 0 0 1\n", id="string-compare"),
    pytest.param('BEGIN { printf("%d %d %d %d\\n", strncmp("abc", "abd", 2), strncmp("abc", "abd", 3), '
                 'strncmp("abd", "abc", 3), strncmp("ab", "abc", 5)); }', "0 1 1 1\n", id="strncmp"),
    pytest.param('BEGIN { $h = "hello world"; printf("%d %d %d %d %d\\n", strcontains($h, "o w"), strcontains($h, "xyz"), '
                 'strcontains($h, ""), strcontains("", "a"), strcontains($h, "world")); }', "1 0 1 0 1\n", id="strcontains"),
    pytest.param('BEGIN { $t = (1, "a"); $u = $t; printf("%d %s %s\\n", $u.0, $u.1, $t); $r = (a = 2, b = "y"); '
                 'printf("%d %s\\n", $r.a, $r.b); }', "1 a (1, a)\n2 y\n", id="tuple-record-fields"),
    pytest.param('BEGIN { $s = "abc"; @m[$s] = "hello"; @m["x"] = "a longer value"; @t = (1, "two"); '
                 '@u[1, "a"] = (2, "b"); @r = (a = 1, b = "zz"); printf("%s|%s\\n", @m["abc"], @m["none"]); }',
                 "hello|\n\n\n@m[abc]: hello\n@m[x]: a longer value\n@r: { .a = 1, .b = zz }\n@t: (1, two)\n"
                 "@u[1, a]: (2, b)\n", id="string-maps"),
    pytest.param('BEGIN { @x = ("a", 2); $v = @x; print($v); printf("%s\\n", 1 ? "yes" : "no-no"); }',
                 "(a, 2)\nyes\n\n\n@x: (a, 2)\n", id="tuple-map-to-variable"),
    pytest.param('BEGIN { printf("%x %x %x\\n", bswap((uint16)0x1234), bswap((uint32)0x12345678), bswap((uint8)7)); }',
                 "3412 78563412 7\n", id="bswap"),
    pytest.param('BEGIN { printf("%s %s %s %s\\n", ntop(0x0100007f), ntop(pton("::1")), ntop(pton("10.1.2.3")), '
                 'ntop(10, pton("fe80::1"))); }', "127.0.0.1 ::1 10.1.2.3 fe80::1\n", id="ntop-pton"),
    pytest.param('BEGIN { print(macaddr(pton("fe80::1:2:3:4"))); }', "FE:80:00:00:00:00\n", id="macaddr"),
    pytest.param('BEGIN { printf("%d %d %d\\n", sizeof(uint32), sizeof(struct list_head), offsetof(struct list_head, prev)); }',
                 "4 16 8\n", id="sizeof-offsetof"),
    pytest.param('BEGIN { printf("%s %s\\n", ksym(kaddr("vfs_read")), ksym(kaddr("vfs_read") + 1)); }',
                 "vfs_read vfs_read\n", id="kaddr-ksym"),
    pytest.param('BEGIN { printf("%d %d %d %d %d\\n", ncpus, rand >= 0, cgroup > 0, jiffies > 0, curtask > 0); }',
                 f"{os.sysconf('SC_NPROCESSORS_ONLN')} 1 1 1 1\n", id="builtins"),
]


@pytest.mark.parametrize("text, expected", CASES)
def test_value_output(text, expected):
    # A program without maps ends with just the blank pair printed at exit.
    assert output_of(text) == (expected if "@" in expected else expected + "\n\n")


def test_comm_and_identity():
    output = output_of('BEGIN { printf("%s|%d|%d|%s\\n", comm, uid, gid, username); @c[comm] = 1; }')
    user = pwd.getpwuid(os.getuid()).pw_name
    assert output == f"{COMM}|{os.getuid()}|{os.getgid()}|{user}\n\n\n@c[{COMM}]: 1\n"


def test_comm_comparison():
    assert output_of(f'BEGIN {{ if (comm == "{COMM}") {{ printf("me\\n"); }} }}') == "me\n\n\n"


COMM_ADDRESS = "$a = (uint64)curtask + offsetof(struct task_struct, comm);"


def test_str_reads_kernel_memory():
    program = 'BEGIN { ' + COMM_ADDRESS + ' $n = 2; printf("%s|%s|%s|%s\\n", str($a), str($a, 3), str($a, $n), str($a, 0)); }'
    assert output_of(program) == f"{COMM}|{COMM[:2]}|{COMM[:1]}|\n\n\n"  # str(p, n): n bytes with the NUL


def test_max_strlen_config_cuts_strings():
    program = 'config = { max_strlen = 4 } BEGIN { ' + COMM_ADDRESS + ' $s = str($a); printf("%s|%s\\n", $s, str($a, 2)); }'
    assert output_of(program) == f"{COMM[:4]}..|{COMM[:1]}\n\n\n"  # all 4 bytes used: `..`, as bpftrace 0.27


def test_time_and_strftime_shapes():
    output = output_of('BEGIN { time("%H:%M:%S\\n"); time(); printf("%s\\n", strftime("%Y-%m-%d %H:%M", nsecs)); }')
    lines = output.split("\n")
    assert re.fullmatch(r"\d\d:\d\d:\d\d", lines[0]) and re.fullmatch(r"\d\d:\d\d:\d\d", lines[1])
    assert lines[2] == time.strftime("%Y-%m-%d %H:%M") or re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", lines[2])


def test_cat_and_system(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("hello file\n")
    program = f'BEGIN {{ cat("{path}"); cat("{tmp_path}/%s.txt", "f"); system("echo %d-%s", 7, "x"); }}'
    assert output_of(program, unsafe=True) == "hello file\nhello file\n7-x\n\n\n\n"


def test_many_wide_values_keep_the_stack_small():
    """Strings and tuples live in scratch space: a probe full of them still
    uses a few bytes of the 512-byte BPF stack and passes the verifier."""
    body = " ".join(f'$s{i} = "string number {i}"; @m{i}[$s{i}, {i}] = ($s{i}, comm, {i});'
                    f' printf("%s %s %d\\n", $s{i}, comm, {i});' for i in range(12))
    analysis, program = compiled("BEGIN { " + body + " }")
    assembly = target.emit_assembly(program.ir_text)
    stack_offsets = [int(offset) for offset in re.findall(r"r10 - (\d+)", assembly)]
    assert max(stack_offsets, default=0) < 128
    assert program.resources.scratch.size > 512  # what would not fit on the stack
    status, output, errors = run_program("BEGIN { " + body + " }")
    assert (status, errors) == (0, "")
    assert output.startswith("string number 0 " + COMM + " 0\n")


def test_lost_events_are_counted():
    """A one-page ring buffer flooded from one BEGIN run drops records; the
    session says how many were lost."""
    analysis, program = compiled('BEGIN { unroll(100) { printf("%s %d\\n", "abc", 7); } unroll(100) { printf("%s %d\\n", "abc", 7); } }')
    resources = program.resources
    small = dataclasses.replace(resources, ring_buffer=dataclasses.replace(resources.ring_buffer, max_entries=4096))
    output, errors = io.StringIO(), io.StringIO()
    status = run(analysis, dataclasses.replace(program, resources=small), SessionOptions(output=output, errors=errors, quiet=True))
    printed = output.getvalue().count("abc 7\n")
    lost = int(re.fullmatch(r"Lost (\d+) events\n", errors.getvalue()).group(1))
    assert status == 0
    assert printed + lost == 200 and lost > 0


def run_with_child(text: str, command: str) -> str:
    analysis, program = compiled(text, has_child=True)
    output, errors = io.StringIO(), io.StringIO()
    status = run(analysis, program, SessionOptions(output=output, errors=errors, quiet=True, command=command))
    assert (status, errors.getvalue()) == (0, "")
    return output.getvalue()


@pytest.fixture
def short_path():
    """A file whose path fits in max_strlen (pytest's tmp_path does not)."""
    path = pathlib.Path(f"/tmp/auger-values-{os.getpid()}")
    path.write_text("x")
    yield path
    path.unlink()


def test_tracepoint_strings(short_path):
    """__data_loc strings, char[N] fields, user-memory strings and join() in
    tracepoints of a child the test runs."""
    path = short_path
    program = (
        'tracepoint:sched:sched_process_exec /pid == cpid/ { printf("exec %s|%s|%d\\n", str(args.filename), comm, '
        'strcontains(str(args.filename), "cat")); } '
        'tracepoint:syscalls:sys_enter_execve /pid == cpid/ { join(args.argv); join(args.argv, ","); } '
        f'tracepoint:syscalls:sys_enter_openat /pid == cpid && strcontains(str(args.filename), "{path.name}")/ '
        '{ printf("open %s\\n", str(args.filename)); } '
        'tracepoint:sched:sched_process_exit /pid == cpid/ { printf("exit %s %d\\n", args.comm, args.comm == "cat"); '
        '@[args.comm] = 1; }'
    )
    output = run_with_child(program, f"/bin/cat {path}")
    assert output == (f"/bin/cat {path}\n/bin/cat,{path}\nexec /bin/cat|cat|1\nopen {path}\nexit cat 1\n"
                      "\n\n@[cat]: 1\n")


def test_elapsed_counts_from_the_session_start():
    output = output_of('BEGIN { $a = elapsed; $b = elapsed; printf("%d %d\\n", $a > 0 && $a < 10000000000, $b >= $a); }')
    assert output == "1 1\n\n\n"


def test_signal_reaches_the_current_task(capfd):
    """signal() sends to the task that hit the probe: a shell waiting for
    its child gets SIGUSR1 and runs its trap."""
    program = 'tracepoint:syscalls:sys_enter_wait4 /pid == cpid/ { signal("SIGUSR1"); }'
    analysis, compiled_program = compiled(program, unsafe=True, has_child=True)
    command = "/bin/sh -c 'trap \"echo got-usr1; exit 0\" USR1; /bin/sleep 3 & wait'"
    output, errors = io.StringIO(), io.StringIO()
    started = time.monotonic()
    status = run(analysis, compiled_program, SessionOptions(output=output, errors=errors, quiet=True, command=command))
    assert (status, errors.getvalue()) == (0, "")
    assert "got-usr1" in capfd.readouterr().out
    assert time.monotonic() - started < 2.5


def test_json_records_of_values():
    """Same lines as bpftrace 0.27.1 -f json."""
    analysis, program = compiled('BEGIN { printf("a %d\\n", 1); print((1, "x")); print("s"); time("%Y\\n"); }')
    output, errors = io.StringIO(), io.StringIO()
    status = run(analysis, program, SessionOptions(output=output, errors=errors, quiet=True, output_format="json"))
    assert status == 0
    assert output.getvalue() == (
        '{"type": "printf", "data": "a 1\\n"}\n{"type": "value", "data": [1,"x"]}\n{"type": "value", "data": "s"}\n'
        f'{{"type": "time", "data": "{time.strftime("%Y")}\\n"}}\n'
    )


def test_cat_of_a_missing_file_is_an_error_message(capsys):
    assert output_of('BEGIN { cat("/nonexistent/file"); printf("after\\n"); }') == "after\n\n\n"
    assert capsys.readouterr().err == "ERROR: failed to open file '/nonexistent/file' (No such file or directory)\n"


def test_kernel_struct_members():
    """curtask->... chains read only the member at their end (BTF offsets)."""
    program = ('BEGIN { $t = curtask; printf("%s %d %d %s\\n", curtask->comm, curtask->pid == pid, '
               '$t->real_parent->pid > 0, $t->group_leader->comm); }')
    assert output_of(program) == f"{COMM} 1 1 {COMM}\n\n\n"
