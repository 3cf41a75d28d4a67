"""Property-based fuzzing of the front end: whatever text a user writes,
`auger --dry-run` answers with exit status 0 (the program is fine) or 1 (with
a diagnostic), never with a Python traceback or an internal error.

Two sources of input:
- a grammar-aware generator that composes probes, predicates, statements,
  expressions, literals, maps, calls, casts, C definitions, config blocks and
  macros into programs that are valid or nearly so (they reach the analyser);
- random mutations of valid programs (the examples and the seed programs
  below): characters and tokens deleted, duplicated or swapped, and stray
  punctuation, keywords, unicode and NUL inserted (they stress the parser's
  error paths).

The runs are derandomized, so CI sees the same inputs every time. Programs
only use probes that need nothing beyond reading tracefs and BTF.
"""

import contextlib
import io
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auger.cli import main

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"

# A diagnostic as the renderer prints it: with a location (`stdin:1:5-9:`),
# with only the file name (`stdin:`), or bare.
DIAGNOSTIC_LINE = re.compile(r"^(stdin(:\d+:\d+(-\d+)?)?: )?ERROR: ", re.MULTILINE)

FUZZ_SETTINGS = settings(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def check_dry_run(program: str) -> None:
    """The property: exit 0, or exit 1 with a diagnostic; never a crash."""
    # A program starting with `-` would read as an option after a separate -e.
    argv = ["--dry-run", "-e" + program] if program.startswith("-") else ["--dry-run", "-e", program]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    stderr = err.getvalue()
    report = f"{stderr}\nfor the program {program!r}"
    assert "Traceback (most recent call last)" not in stderr, report
    assert "internal error" not in stderr, report
    assert status in (0, 1), f"exit status {status}: {report}"
    if status == 1:
        assert DIAGNOSTIC_LINE.search(stderr), f"exit 1 without a diagnostic: {report}"


# ---------------------------------------------------------------- generation

ATTACH_POINTS = (
    "BEGIN",
    "END",
    "begin",
    "end",
    "interval:s:1",
    "interval:ms:100",
    "interval:1s",
    "i:s:2",
    "profile:hz:99",
    "profile:ms:10",
    "p:hz:49",
    "software:cpu-clock:1000000",
    "s:page-faults:1",
    "tracepoint:syscalls:sys_enter_read",
    "tracepoint:syscalls:sys_exit_read",
    "tracepoint:syscalls:sys_enter_openat",
    "t:syscalls:sys_exit_write",
    "tracepoint:sched:sched_switch",
    "tracepoint:sched:sched_process_exec",
    "tracepoint:raw_syscalls:sys_enter",
    "tracepoint:syscalls:sys_enter_getpp*",
    "rawtracepoint:sys_enter",
    "rt:sched_switch",
    "tracepoint:no_such_group:no_such_event",
)
BUILTINS = (
    "pid", "tid", "uid", "gid", "nsecs", "elapsed", "cpu", "comm", "probe",
    "curtask", "rand", "cgroup", "kstack", "ustack", "func", "retval", "ncpus",
    "arg0", "arg1", "args", "$#", "numcpus", "jiffies", "username", "nosuch",
)
FIELDS = ("ret", "count", "fd", "filename", "prev_comm", "next_pid", "id", "0", "1", "pid", "nosuch")
TYPE_NAMES = (
    "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
    "int", "unsigned int", "long", "char", "bool", "void *", "struct task_struct *",
    "struct fuzz_rec *", "string", "uint8[4]", "int32 *",
)
BINARY_OPERATORS = (
    "+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^",
    "==", "!=", "<", "<=", ">", ">=", "&&", "||",
)
UNARY_OPERATORS = ("-", "+", "!", "~", "*", "&")
COMPOUND_ASSIGNMENTS = ("=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=")
DURATION_UNITS = ("ns", "us", "ms", "s", "m", "h", "d")
VARIABLES = ("$x", "$y", "$i", "$kv", "$s", "$t", "$1", "$2")
MAP_NAMES = ("@", "@a", "@b", "@counts", "@h", "@start")
STRING_PIECES = ("a", "hi", " ", "%d", "%s", "%-8s", "%llu", "%%", "%x", "\\n", "\\t", "\\\\", '\\"', "\\x41", "\\101", "é")

names = st.sampled_from


@st.composite
def integer_literals(draw) -> str:
    value = draw(st.integers(min_value=0, max_value=2**64 + 5))
    form = draw(st.sampled_from(("dec", "hex", "underscore", "duration", "exponent", "octal")))
    if form == "hex":
        return hex(value)
    if form == "underscore":
        return f"{value:_}"
    if form == "duration":
        return f"{value % 10_000}{draw(names(DURATION_UNITS))}"
    if form == "exponent":
        return f"{value % 10}e{draw(st.integers(0, 20))}"
    if form == "octal":
        return "0" + oct(value)[2:]
    return str(value)


@st.composite
def string_literals(draw) -> str:
    return '"' + "".join(draw(st.lists(names(STRING_PIECES), max_size=5))) + '"'


literals = st.one_of(
    integer_literals(),
    string_literals(),
    names(("true", "false")),
)


@st.composite
def map_refs(draw, keys) -> str:
    name = draw(names(MAP_NAMES))
    key_list = draw(st.lists(keys, max_size=3))
    return f"{name}[{', '.join(key_list)}]" if key_list else name


def extend_expressions(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    call_names = names((
        "str", "buf", "ksym", "usym", "kaddr", "ntop", "reg", "sizeof", "strncmp",
        "macro_add", "count", "sum", "hist", "lhist", "has_key", "len", "nosuch_function",
        "bswap", "pton", "strcontains", "percpu_kaddr", "macro_inc",
    ))
    return st.one_of(
        st.builds(lambda l, op, r: f"{l} {op} {r}", children, names(BINARY_OPERATORS), children),
        st.builds(lambda op, e: f"{op}{e}", names(UNARY_OPERATORS), children),
        st.builds(lambda e: f"({e})", children),
        st.builds(lambda c, a, b: f"{c} ? {a} : {b}", children, children, children),
        st.builds(lambda f, a: f"{f}({', '.join(a)})", call_names, st.lists(children, max_size=4)),
        st.builds(lambda t, e: f"({t}){e}", names(TYPE_NAMES), children),
        st.builds(lambda e, arrow, f: f"{e}{arrow}{f}", children, names((".", "->")), names(FIELDS)),
        st.builds(lambda e, i: f"{e}[{i}]", children, children),
        st.builds(lambda items: f"({', '.join(items)},)" if len(items) == 1 else f"({', '.join(items)})",
                  st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda n1, v1, n2, v2: f"({n1} = {v1}, {n2} = {v2})",
                  names(("a", "b")), children, names(("c", "d")), children),
        map_refs(children),
        st.builds(lambda v, op, prefix: f"{op}{v}" if prefix else f"{v}{op}",
                  names(VARIABLES[:3] + MAP_NAMES[1:3]), names(("++", "--")), st.booleans()),
    )


expressions = st.recursive(
    st.one_of(literals, names(BUILTINS), names(VARIABLES), names(MAP_NAMES)),
    extend_expressions,
    max_leaves=8,
)


def extend_statements(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    blocks = st.lists(children, min_size=0, max_size=3).map(lambda body: "{ " + " ".join(body) + " }")
    return st.one_of(
        st.builds(lambda c, b: f"if ({c}) {b}", expressions, blocks),
        st.builds(lambda c, b: f"if {c} {b}", expressions, blocks),
        st.builds(lambda c, a, b: f"if ({c}) {a} else {b}", expressions, blocks, blocks),
        st.builds(lambda c, a, d, b: f"if ({c}) {a} else if ({d}) {b}", expressions, blocks, expressions, blocks),
        st.builds(lambda n, b: f"unroll({n}) {b}", names(("1", "3", "0", "200", "$x")), blocks),
        st.builds(lambda c, b: f"while ({c}) {b}", expressions, blocks),
        st.builds(lambda v, m, b: f"for ({v} : {m}) {b}", names(VARIABLES[:4]), names(MAP_NAMES), blocks),
        st.builds(lambda v, a, z, b: f"for ({v} : {a}..{z}) {b}", names(VARIABLES[:4]), expressions, expressions, blocks),
        blocks,
    )


simple_statements = st.one_of(
    st.builds(lambda t, op, v: f"{t} {op} {v};", st.one_of(names(VARIABLES), map_refs(expressions)),
              names(COMPOUND_ASSIGNMENTS), expressions),
    st.builds(lambda e: f"{e};", expressions),
    st.builds(lambda f, a: f'printf({f}{"".join(", " + x for x in a)});', string_literals(), st.lists(expressions, max_size=3)),
    st.builds(lambda m: f"print({m});", map_refs(expressions)),
    st.builds(lambda m, n: f"print({m}, {n});", names(MAP_NAMES), integer_literals()),
    st.builds(lambda m: f"clear({m});", names(MAP_NAMES)),
    st.builds(lambda m: f"zero({m});", names(MAP_NAMES)),
    st.builds(lambda m, k: f"delete({m}, {k});", names(MAP_NAMES), expressions),
    st.builds(lambda m: f"delete({m});", map_refs(expressions)),
    st.builds(lambda m, e: f"{m} = count();" if e is None else f"{m} = hist({e});", map_refs(expressions), st.none() | expressions),
    st.builds(lambda m, e: f"{m} = lhist({e}, 0, 100, 10);", map_refs(expressions), expressions),
    st.builds(lambda m, f, e: f"{m} = {f}({e});", map_refs(expressions), names(("sum", "min", "max", "avg", "stats")), expressions),
    st.builds(lambda v, t, e: f"let {v}{t} = {e};", names(VARIABLES[:3]), names(("", ": uint32", ": int64", ": string")), expressions),
    st.builds(lambda v: f"let {v};", names(VARIABLES[:3])),
    st.builds(lambda f: f'time("{f}");', names(("%H:%M:%S\\n", ""))),
    names(("exit();", "exit(1);", "return;", "break;", "continue;", 'cat("/etc/hostname");', 'join(args.argv);', "printf(\"%s\\n\", kstack);")),
)

statements = st.recursive(simple_statements, extend_statements, max_leaves=6)


# Declares most of VARIABLES, so that more bodies get past name lookup into
# type checking.
VARIABLE_PRELUDE = '$x = 1; $y = -2; $i = 0; $s = "s"; $t = (1, "two"); '


@st.composite
def probes(draw) -> str:
    attach = ", ".join(draw(st.lists(names(ATTACH_POINTS), min_size=1, max_size=2)))
    predicate = draw(st.none() | expressions)
    body = " ".join(draw(st.lists(statements, max_size=4)))
    if draw(st.booleans()):
        body = VARIABLE_PRELUDE + body
    guard = f"/{predicate}/ " if predicate is not None else ""
    return f"{attach} {guard}{{ {body} }}"


c_definitions = names((
    "struct fuzz_rec { int a; char name[16]; unsigned long *next; };",
    "union fuzz_u { int i; char c[4]; };",
    "struct fuzz_rec { struct fuzz_rec *self; uint64_t x; }",
    "enum fuzz_e { A, B = 5, C };",
    "typedef unsigned int fuzz_t;",
    "#include <linux/types.h>",
    "#define FUZZ_MAX 10",
))
config_blocks = st.lists(
    st.builds(lambda k, v: f"{k} = {v};",
              names(("max_strlen", "stack_mode", "max_map_keys", "missing_probes", "print_maps_on_exit", "nosuch")),
              names(("64", "128", "perf", "raw", "bpftrace", "warn", "true", "0", '"x"'))),
    max_size=3,
).map(lambda entries: "config = { " + " ".join(entries) + " }")
macros = names((
    "macro macro_add($a, $b) { $a + $b }",
    "macro macro_inc(@m) { @m += 1; }",
    "macro macro_inc($x) { $x + 1 }",
    "macro macro_bad(a, $b) { a }",
    "macro macro_add() { }",
))
map_declarations = names(("let @a = lruhash(100);", "let @b = hash(10);", "let @h = percpulruhash(8);"))


@st.composite
def programs(draw) -> str:
    parts = draw(st.lists(c_definitions, max_size=2))
    if draw(st.booleans()):
        parts.append(draw(config_blocks))
    parts += draw(st.lists(map_declarations, max_size=1))
    parts += draw(st.lists(macros, max_size=2))
    parts += draw(st.lists(probes(), min_size=1, max_size=3))
    return "\n".join(parts)


@settings(FUZZ_SETTINGS, max_examples=1000)
@given(programs())
def test_generated_programs_never_crash(program):
    check_dry_run(program)


# ---------------------------------------------------------------- mutation

SEED_PROGRAMS = (
    'BEGIN { printf("hello, %s %d\\n", "world", 42); exit(); }',
    "BEGIN { @a = 1; @b[1, \"x\"] = 2; @c = (1, \"two\"); $t = @c; printf(\"%d\\n\", $t.0); }",
    "BEGIN { $x = -10 / 3; $y = -10 % 3; $z = 1 << 63; printf(\"%d %d %u\\n\", $x, $y, $z); }",
    "tracepoint:syscalls:sys_enter_read /pid > 1/ { @reads[comm] = count(); }",
    "tracepoint:syscalls:sys_exit_read /args->ret > 0/ { @bytes = hist(args->ret); @s = stats(args.ret); }",
    "t:syscalls:sys_enter_openat { printf(\"%s %s\\n\", comm, str(args.filename)); }",
    "t:syscalls:sys_enter_write { @x[comm] = count(); }\ninterval:s:1 { print(@x, 10, 2); clear(@x); } END { clear(@x); }",
    "profile:hz:99 { @[kstack, ustack, comm] = count(); }",
    "BEGIN { for ($i : 0..10) { if ($i == 5) { break; } @m[$i] = $i * 2; } for ($kv : @m) { printf(\"%d=%d\\n\", $kv.0, $kv.1); } }",
    "config = { max_strlen = 128; stack_mode = perf; }\nBEGIN { let $x: uint32 = 1_000; @d = 1ms; @e = 1e6; @t = true; }",
    "macro twice($a) { $a * 2 }\nBEGIN { $v = 21; @v[1] = twice($v); delete(@v, 1); delete(@v[2]); }",
    "struct point { int x; int y; };\nBEGIN { $p = (struct point *)0; @s = sizeof(struct point); }",
    "BEGIN { $r = (a = 1, b = \"x\"); printf(\"%d %s\\n\", $r.a, $r.b); @l = lhist(5, 0, 100, 10); @a = avg(3); @mm = max(4); @mi = min(-1); @su = sum(2); }",
    "tracepoint:sched:sched_switch { @[args.prev_comm] = count(); } interval:1s { exit(); }",
    "BEGIN { @k = has_key(@m, 1); @n = len(@m); @m[1] = 1; unroll(3) { @u++; } if (@n > 0) { @w += 1; } }",
    "BEGIN { printf(\"100%%\\n\"); printf(\"%5s|%-5d|%x\\n\", \"ab\", 3, 255); time(); }",
    "#define N 4\nBEGIN { @x = N; }",
)

EXAMPLE_PROGRAMS = tuple(path.read_text() for path in sorted(EXAMPLES_DIR.glob("*.bt")))
MUTATION_BASES = SEED_PROGRAMS + EXAMPLE_PROGRAMS

TOKEN = re.compile(r"[A-Za-z_$@][A-Za-z_0-9]*|\d+|\"(?:\\.|[^\"\\])*\"|\S")
INSERTIONS = (
    "{", "}", "(", ")", "[", "]", ";", ",", ":", "/", "?", ".", "->", "..", "$", "@", "#", "\\", '"', "'",
    "=", "==", "<<=", "&&", "++", "*", "\n", " ", "\t",
    "if", "else", "for", "while", "unroll", "return", "let", "macro", "config", "struct", "union",
    "enum", "BEGIN", "END", "tracepoint:", "uprobe:", "interval:", "count()", "args", "@x[", "$x",
    "\x00", "é", "→", "\U0001f600", "\u200b", "\ufeff", "\r", "0x", "1e", "99999999999999999999999",
)


@st.composite
def mutated_programs(draw) -> str:
    text = draw(names(MUTATION_BASES))
    for _ in range(draw(st.integers(1, 4))):
        text = draw(mutations(text))
    return text


@st.composite
def mutations(draw, text: str) -> str:
    kind = draw(names(("delete_char", "duplicate_chars", "swap_chars", "delete_token",
                       "duplicate_token", "swap_tokens", "insert", "truncate")))
    if not text:
        kind = "insert"
    position = draw(st.integers(0, max(len(text) - 1, 0)))
    if kind == "delete_char":
        return text[:position] + text[position + 1 :]
    if kind == "duplicate_chars":
        end = min(len(text), position + draw(st.integers(1, 8)))
        return text[:end] + text[position:end] + text[end:]
    if kind == "swap_chars":
        other = draw(st.integers(0, len(text) - 1))
        chars = list(text)
        chars[position], chars[other] = chars[other], chars[position]
        return "".join(chars)
    if kind == "insert":
        piece = draw(names(INSERTIONS) | st.text(max_size=3))
        return text[:position] + piece + text[position:]
    if kind == "truncate":
        return text[:position]
    tokens = [match.span() for match in TOKEN.finditer(text)]
    if not tokens:
        return text
    start, end = tokens[draw(st.integers(0, len(tokens) - 1))]
    if kind == "delete_token":
        return text[:start] + text[end:]
    if kind == "duplicate_token":
        return text[:end] + " " + text[start:end] + text[end:]
    other_start, other_end = tokens[draw(st.integers(0, len(tokens) - 1))]
    if (other_start, other_end) == (start, end):
        return text
    (first_start, first_end), (second_start, second_end) = sorted([(start, end), (other_start, other_end)])
    return (
        text[:first_start]
        + text[second_start:second_end]
        + text[first_end:second_start]
        + text[first_start:first_end]
        + text[second_end:]
    )


@settings(FUZZ_SETTINGS, max_examples=2000)
@given(mutated_programs())
def test_mutated_programs_never_crash(program):
    check_dry_run(program)


def test_seed_programs_are_worth_mutating():
    """The seeds exercise the front end as valid programs; a seed the parser
    rejects would only fuzz one error path."""
    for program in SEED_PROGRAMS:
        check_dry_run(program)
        argv = ["--dry-run", "-e", program]
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            assert main(argv) == 0, f"{program!r}:\n{err.getvalue()}"
