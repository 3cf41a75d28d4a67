"""The same BEGIN programs through auger and through real bpftrace (0.17,
/usr/bin/bpftrace, and 0.27.1, /work/shared/tools/bpftrace-new, each where
installed): stdout must be equal once the documented differences are
normalized away.

Each difference is one named normalizer below, applied to bpftrace's
output, with why it exists (bpftrace-compat.md and docs/output.md list
them). Where bpftrace computes a wrong result, the case pins bpftrace's
exact wrong text and the right one (`known_wrong`), so the test still
checks that auger is right and that the difference is the one documented.
A case a tool cannot run at all says why in `skip`.
"""

import itertools
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[2]
BPFTRACE_017 = Path("/usr/bin/bpftrace")
BPFTRACE_NEW = Path("/work/shared/tools/bpftrace-new")
BPFTRACE_NEW_CHROOT = Path("/opt/btnew/sid/usr/bin/bpftrace")


# --- normalizers of bpftrace 0.17's output ---------------------------------

def drop_attaching_line(text: str) -> str:
    """0.17 announced `Attaching N probes...` on stdout; current bpftrace
    (and auger) print `Attached N probes` on stderr."""
    return re.sub(r"\AAttaching \d+ probes?\.\.\.\n", "", text)


def stats_in_braces(text: str) -> str:
    """0.17 printed a stats value as `count 3, average 20, total 60`;
    current bpftrace prints `{ .count = 3, .average = 20, .total = 60 }`."""
    return re.sub(r"^(@.*): count (-?\d+), average (-?\d+), total (-?\d+)$",
                  r"\1: { .count = \2, .average = \3, .total = \4 }", text, flags=re.MULTILINE)


def no_space_after_histogram_name(text: str) -> str:
    """0.17 printed `@h: ` (a trailing space) above a histogram."""
    return re.sub(r"^(@.*:) $", r"\1", text, flags=re.MULTILINE)


def single_percent(text: str) -> str:
    """0.17 printed `%%` in a printf format as `%%`; C and current bpftrace
    print `%`. (No case here prints a literal `%%` otherwise.)"""
    return text.replace("%%", "%")


def without_blank_lines(text: str) -> str:
    """0.17 put blank lines after more blocks than current bpftrace (after
    an avg or stats map at exit, after print() of a keyed map or a
    histogram). Blank lines are dropped on both sides: the exact layout is
    checked against 0.27.1, whose layout auger follows."""
    return "".join(line for line in text.splitlines(keepends=True) if line.strip("\n"))


# --- normalizers of bpftrace 0.27.1's output -------------------------------

_PLAIN_ENTRY = re.compile(r"(@\w*)\[.*\]: (-?\d+)")


def _entry_map(line: str) -> str | None:
    match = _PLAIN_ENTRY.fullmatch(line)
    return match.group(1) if match else None


def sort_plain_integer_maps(text: str) -> str:
    """0.27.1 prints a map of plain integers (not count/sum) in hash order,
    which changes between runs; auger sorts it by value as 0.17 did
    (docs/output.md). Used only by cases whose keyed maps all hold plain
    integers, with distinct values."""
    lines = []
    for name, group in itertools.groupby(text.split("\n"), key=_entry_map):
        group = list(group)
        if name:
            group.sort(key=lambda line: int(_PLAIN_ENTRY.fullmatch(line).group(2)))
        lines.extend(group)
    return "\n".join(lines)


@dataclass(frozen=True)
class Tool:
    name: str
    argv: tuple[str, ...]  # the program text is appended
    installed: bool
    normalizers: tuple = ()  # on bpftrace's output
    both_sides: tuple = ()  # on both outputs: what is compared loosely against this version


TOOLS = [
    Tool("bpftrace-0.17",
         # 0.17 warns about RLIMIT_MEMLOCK unless the limit is raised (allowed or not, it runs).
         ("bash", "-c", f'ulimit -l unlimited 2>/dev/null; exec {BPFTRACE_017} -e "$1"', "bpftrace"),
         BPFTRACE_017.exists(),
         (drop_attaching_line, stats_in_braces, no_space_after_histogram_name, single_percent),
         (without_blank_lines,)),
    Tool("bpftrace-0.27.1", (str(BPFTRACE_NEW), "-e"), BPFTRACE_NEW.exists() and BPFTRACE_NEW_CHROOT.exists()),
]


@dataclass(frozen=True)
class Case:
    id: str
    program: str
    skip: dict = field(default_factory=dict)  # tool name -> why it cannot run the case
    # tool name -> (its exact text where it is wrong or differs on purpose, auger's text)
    known_wrong: dict = field(default_factory=dict)
    normalizers: tuple = ()  # extra, for this case only, on bpftrace's output


CURRENT_SYNTAX = {"bpftrace-0.17": "current bpftrace's syntax, which 0.17 did not have"}
NO_BOOL_017 = {"bpftrace-0.17": "0.17 has no bool type: comparisons print as 1/0"}
# bpftrace types small integer literals as 32-bit: constant arithmetic
# wraps at 32 bits and %u/%x of a negative literal shows 32 bits. auger's
# literals are int64 (docs/language.md).
LITERALS_32_BIT = ("-727379968 11", "1000000000000 11")

CASES = [
    # every aggregation, scalar
    Case("count", "BEGIN { @c = count(); @c = count(); @c = count(); exit(); }"),
    Case("sum", "BEGIN { @s = sum(5); @s = sum(-12); @s = sum(100); exit(); }"),
    Case("min-max", "BEGIN { @lo = min(7); @lo = min(-3); @lo = min(9); @hi = max(7); @hi = max(-3); @hi = max(9); exit(); }"),
    Case("avg", "BEGIN { @a = avg(10); @a = avg(20); @a = avg(33); exit(); }"),
    Case("stats", "BEGIN { @st = stats(10); @st = stats(20); @st = stats(30); exit(); }"),
    Case("negative-avg-stats", "BEGIN { @s = stats(-5); @s = stats(-15); @a = avg(-4); @a = avg(-8); exit(); }"),
    Case("hist", "BEGIN { @h = hist(0); @h = hist(1); @h = hist(5); @h = hist(1000); @h = hist(1048576); exit(); }"),
    Case("hist-negative", "BEGIN { @h = hist(-5); @h = hist(3); exit(); }"),
    Case("hist-1k-boundary", "BEGIN { @h = hist(1023); @h = hist(1024); @h = hist(1025); exit(); }"),
    Case("hist-bits", "BEGIN { @h = hist(0, 2); @h = hist(5, 2); @h = hist(9, 2); exit(); }",
         skip={"bpftrace-0.17": "0.17's hist() takes one argument"}),
    Case("lhist", "BEGIN { @l = lhist(5, 0, 100, 10); @l = lhist(55, 0, 100, 10); @l = lhist(100, 0, 100, 10); "
                  "@l = lhist(-1, 0, 100, 10); exit(); }"),
    Case("lhist-overflow", "BEGIN { @l = lhist(1500, 0, 1000, 250); @l = lhist(300, 0, 1000, 250); exit(); }"),
    # keyed maps and their order at exit
    Case("keyed-count", "BEGIN { @k[1] = count(); @k[2] = count(); @k[2] = count(); @k[3] = count(); "
                        "@k[3] = count(); @k[3] = count(); exit(); }"),
    Case("keyed-sum-by-value", 'BEGIN { @k["b"] = sum(30); @k["a"] = sum(10); @k["c"] = sum(20); exit(); }'),
    Case("keyed-avg", 'BEGIN { @a["x"] = avg(10); @a["y"] = avg(2); @a["z"] = avg(30); exit(); }'),
    Case("keyed-stats", 'BEGIN { @s["x"] = stats(10); @s["y"] = stats(2); exit(); }'),
    Case("keyed-min-max", 'BEGIN { @lo["a"] = min(5); @lo["b"] = min(2); @lo["c"] = min(9); '
                          '@hi["a"] = max(5); @hi["b"] = max(2); @hi["c"] = max(9); exit(); }'),
    Case("keyed-hist", "BEGIN { @h[1] = hist(10); @h[1] = hist(11); @h[2] = hist(1000); exit(); }"),
    Case("keyed-lhist", 'BEGIN { @l["a"] = lhist(3, 0, 10, 2); @l["b"] = lhist(7, 0, 10, 2); '
                        '@l["b"] = lhist(8, 0, 10, 2); exit(); }'),
    Case("plain-integers-by-value", "BEGIN { @n[1] = 10; @n[2] = 30; @n[3] = 20; exit(); }",
         normalizers=(sort_plain_integer_maps,)),
    Case("map-reads", 'BEGIN { @m[1] = 1; @m[2] = 2; printf("%d\\n", @m[2] + @m[1]); exit(); }',
         normalizers=(sort_plain_integer_maps,)),
    Case("tuple-keys", 'BEGIN { @t["x", 1] = count(); @t["y", 2] = count(); @t["y", 2] = count(); '
                       '@m["k1", 2, "k3"] = sum(7); exit(); }'),
    Case("delete", "BEGIN { @m[1] = count(); @m[2] = count(); delete(@m[1]); exit(); }"),
    Case("clear", "BEGIN { @c = count(); clear(@c); @d = 1; delete(@d); @e = 5; exit(); }",
         skip={"bpftrace-0.17": "0.17 still prints a cleared map at exit, as `@c: 0` (compat.md)"}),
    # values: tuples, strings, bools, integers
    Case("tuple-values", 'BEGIN { @v = (1, "two"); @w = (1, (2, "three"), "four"); exit(); }'),
    Case("tuple-fields", 'BEGIN { $t = (1, "a", -3); printf("%d %s %d\\n", $t.0, $t.1, $t.2); exit(); }'),
    Case("strings", 'BEGIN { @str = "hello"; @strs[1] = "one"; @strs[2] = "two"; $s = "abc"; '
                    'printf("%s %d\\n", $s, $s == "abc"); exit(); }'),
    Case("bools", "BEGIN { @b = 1 < 2; @f = 2 < 1; @k[1 < 2] = count(); exit(); }", skip=NO_BOOL_017),
    Case("integers", 'BEGIN { @x = -5; @y = 18446744073709551615; printf("%d %u %x\\n", @x, @x, @x); exit(); }',
         known_wrong={
             # 0.17 printed every integer map value as signed.
             "bpftrace-0.17": ("-5 4294967291 fffffffb\n\n\n@x: -5\n@y: -1\n",
                               "-5 18446744073709551611 fffffffffffffffb\n\n\n@x: -5\n@y: 18446744073709551615\n"),
             "bpftrace-0.27.1": ("-5 4294967291 fffffffb", "-5 18446744073709551611 fffffffffffffffb"),
         }),
    Case("integer-arithmetic", 'BEGIN { printf("%d %d\\n", 1000000 * 1000000, 7 & 3 | 8 ^ 1); exit(); }',
         known_wrong={"bpftrace-0.17": LITERALS_32_BIT, "bpftrace-0.27.1": LITERALS_32_BIT}),
    Case("variables-arithmetic", 'BEGIN { $x = 10; $y = 3; printf("%d %d %d %d %d\\n", $x / $y, $x % $y, '
                                 '$x * $y, $x - $y, $x << 2); exit(); }'),
    # Signed division and modulo of negatives: both bpftraces divide unsigned (compat.md).
    Case("signed-division", 'BEGIN { $a = -10; $b = 3; printf("%d %d\\n", $a / $b, $a % $b); exit(); }',
         known_wrong={"bpftrace-0.17": ("1431655762 0", "-3 -1"), "bpftrace-0.27.1": ("1431655762 0", "-3 -1")}),
    Case("signed-division-literals", 'BEGIN { printf("%d %d\\n", -10 / 3, -10 % 3); exit(); }',
         known_wrong={"bpftrace-0.17": ("1431655762 0", "-3 -1")}),
    # `1 << 63` in a variable: 0 in both bpftraces (compat.md).
    Case("shift-63", 'BEGIN { $a = 1; printf("%d %u\\n", $a << 63, $a << 63); exit(); }',
         known_wrong={"bpftrace-0.17": ("0 0", "-9223372036854775808 9223372036854775808"),
                      "bpftrace-0.27.1": ("0 0", "-9223372036854775808 9223372036854775808")}),
    # printf
    Case("printf-integers", 'BEGIN { printf("%d %i %u %x %X %o %c|\\n", -42, 7, 42, 255, 255, 8, 65); exit(); }',
         skip={"bpftrace-0.17": "0.17 does not know %i"}),
    Case("printf-chars", 'BEGIN { printf("%c%c%c\\n", 104, 105, 33); exit(); }'),
    Case("printf-padding", 'BEGIN { printf("%s|%-8s|%8s|\\n", "x", "yy", "zzz"); printf("%3d|%-3d|%03d\\n", -1, -1, -1); exit(); }',
         # C and 0.17 pad after the sign (`-01`); 0.27.1 pads before it.
         known_wrong={"bpftrace-0.27.1": ("|0-1\n", "|-01\n")}),
    # A value of 32 bits or fewer is promoted to C's int and printed at 32
    # bits, by both bpftraces and auger.
    Case("printf-narrow-integers", 'BEGIN { $x = (uint32)4294967295; printf("%d %u\\n", $x, $x); '
                                   '$y = (int16)-2; printf("%d %u\\n", $y, $y); exit(); }'),
    Case("printf-widths", 'BEGIN { printf("[%5d] [%-5d] [%05d] [%5s] [%-5s]\\n", 42, 42, 42, "ab", "ab"); '
                          'printf("%-10s|%10s|\\n", "left", "right"); exit(); }'),
    Case("printf-string-precision", 'BEGIN { printf("[%.2s]\\n", "abcdef"); exit(); }',
         # C and 0.17 cut the string at the precision; 0.27.1 ignores it.
         known_wrong={"bpftrace-0.27.1": ("[abcdef]", "[ab]")}),
    Case("printf-length-modifiers", 'BEGIN { printf("%s and %s, %lu %llu %ld %lld %hd\\n", '
                                    '"one", "two", 1, 2, -3, -4, 5); exit(); }'),
    Case("printf-percent", 'BEGIN { printf("100%% sure\\n"); exit(); }'),
    Case("printf-escapes", 'BEGIN { printf("tab\\there \\"quoted\\" back\\\\slash\\n"); exit(); }'),
    # control flow
    Case("while", 'BEGIN { $i = 0; while ($i < 3) { printf("i=%d\\n", $i); $i++; } exit(); }'),
    Case("ternary-strings", 'BEGIN { $v = 5; $s = $v > 3 ? "big" : "small"; printf("%s\\n", $s); exit(); }'),
    Case("range-loop", 'BEGIN { for ($i : 0..4) { if ($i == 1) { continue; } if ($i == 3) { break; } '
                       'printf("%d\\n", $i); } exit(); }', skip=CURRENT_SYNTAX),
    # current bpftrace's language
    Case("len-has-key", 'BEGIN { @m[1] = 5; @m[2] = 7; printf("%d %d %d\\n", len(@m), has_key(@m, 1), has_key(@m, 3)); '
                        'exit(); }', skip=CURRENT_SYNTAX, normalizers=(sort_plain_integer_maps,)),
    Case("records", 'BEGIN { $r = (a=1, b="x"); printf("%d %s\\n", $r.a, $r.b); print($r); exit(); }',
         skip=CURRENT_SYNTAX),
    Case("literal-forms", 'BEGIN { printf("%d %d %d\\n", 1_000, 1ms, 1e3); exit(); }', skip=CURRENT_SYNTAX),
    Case("string-functions", 'BEGIN { $s = "hello world"; printf("%d %d\\n", strncmp($s, "hello", 5), '
                             'strcontains($s, "wor")); exit(); }'),
    Case("zero", "BEGIN { @a = 1; zero(@a); @b[1] = count(); zero(@b); @z = 0; @zz[0] = 0; exit(); }"),
    Case("map-values", 'BEGIN { @x = "a"; @x = "bcd"; @y[1, "a"] = (1, "z"); @t = (1, 2); @t = (3, 4); $t = @t; '
                       'printf("%d %d\\n", $t.0, $t.1); exit(); }'),
    Case("small-signed-keys", "BEGIN { @c[(int8)-1] = count(); @c[(int8)5] = count(); @c[(int8)5] = count(); exit(); }"),
    Case("clear-then-set", "BEGIN { @a[1] = 1; @a[2] = 2; clear(@a); @a[3] = 3; exit(); }"),
    # print()
    Case("print-top", "BEGIN { @m[1] = count(); @m[2] = count(); @m[2] = count(); @m[3] = count(); "
                      "@m[3] = count(); @m[3] = count(); print(@m, 2); clear(@m); exit(); }"),
    Case("print-div", 'BEGIN { @m["a"] = sum(1000); @m["b"] = sum(2500); print(@m, 0, 100); clear(@m); exit(); }'),
    Case("print-avg-top", "BEGIN { @a[1] = avg(10); @a[2] = avg(40); @a[3] = avg(20); print(@a, 2); clear(@a); exit(); }"),
    Case("print-hist", "BEGIN { @h = hist(10); @h = hist(20); print(@h); clear(@h); exit(); }"),
    Case("print-scalars", "BEGIN { @x = 5; @y = 7; print(@x); print(@y); exit(); }"),
    Case("print-values", 'BEGIN { print((1, "two", 3)); print("str"); print(42); exit(); }'),
    Case("print-hist-div-and-stats", "BEGIN { @h = hist(100); @h = hist(200); print(@h, 0, 1); @s = stats(4); print(@s); "
                                     "clear(@h); exit(); }"),
    Case("print-strings-top", 'BEGIN { @s[1] = "x"; @s[2] = "y"; print(@s, 1); clear(@s); exit(); }'),
]


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def outputs() -> dict[tuple[str, str], subprocess.CompletedProcess]:
    """Every run, keyed by (tool name or "auger", case id); a few at a time,
    as most of each run is start-up."""
    runs = {("auger", case.id): [str(REPO / "auger"), "-e", case.program] for case in CASES}
    for tool in TOOLS:
        if tool.installed:
            runs.update({(tool.name, case.id): [*tool.argv, case.program]
                         for case in CASES if tool.name not in case.skip})
    with ThreadPoolExecutor(max_workers=6) as pool:
        return dict(zip(runs, pool.map(_run, runs.values())))


def normalized(tool: Tool, case: Case, text: str) -> str:
    for normalize in tool.normalizers + case.normalizers:
        text = normalize(text)
    if tool.name in case.known_wrong:
        wrong, right = case.known_wrong[tool.name]
        assert wrong in text, f"{tool.name} no longer prints the documented wrong {wrong!r}: {text!r}"
        text = text.replace(wrong, right)
    return text


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
@pytest.mark.parametrize("tool", TOOLS, ids=lambda tool: tool.name)
def test_same_output_as_bpftrace(tool, case, outputs):
    if not tool.installed:
        pytest.skip(f"{tool.name} is not installed")
    if tool.name in case.skip:
        pytest.skip(case.skip[tool.name])
    ours, theirs = outputs["auger", case.id], outputs[tool.name, case.id]
    assert ours.returncode == 0, ours.stderr
    assert ours.stderr == "Attached 1 probe\n"
    assert theirs.returncode == 0, theirs.stderr
    expected, got = normalized(tool, case, theirs.stdout), ours.stdout
    for normalize in tool.both_sides:
        expected, got = normalize(expected), normalize(got)
    assert got == expected


def test_case_ids_are_unique():
    assert len({case.id for case in CASES}) == len(CASES)


def test_sort_plain_integer_maps():
    text = "3\n\n\n@m[2]: 30\n@m[1]: 10\n@n: 4\n"
    assert sort_plain_integer_maps(text) == "3\n\n\n@m[1]: 10\n@m[2]: 30\n@n: 4\n"
