"""Value-model samples shared by the text and JSON output tests.

Each sample is what the runtime would read for the BEGIN-only bpftrace
program quoted above it. test_format_text.py and test_format_json.py render
it with their emitter and compare the result with what bpftrace v0.27.1
(Debian sid) printed for that program, in text and in `-f json` mode.
Values are frozen, so a sample of the maps at exit is a plain constant; a
program that also prints mid-run is a `*_output` function that writes its
output in order with the emitter functions the test passes in (`printf`
turns printf's text into the emitter's record of it).
"""

from auger.runtime.format.buckets import hist_from_samples, lhist_from_samples
from auger.runtime.format.values import (
    Avg,
    Bool,
    InetAddress,
    Integer,
    Map,
    Record,
    StackFrame,
    Stats,
    String,
    Symbol,
    Tuple,
)

scalar = Map.scalar


def keyed(name, *entries):
    return Map(name, entries)


def hist(*samples, bits=0):
    return hist_from_samples(samples, bits)


def lhist(*samples, bounds):
    return lhist_from_samples(samples, *bounds)


# 0.27.1: BEGIN { @a = 7; @c["x"] = count(); @h = hist(5); @st = stats(10);
#   @st = stats(20); @st = stats(30); @t = (1, "two"); exit(); }
COMPAT = [
    scalar("@t", Tuple((Integer(1), String("two")))),
    scalar("@a", Integer(7)),
    keyed("@c", (String("x"), Integer(1, False))),
    scalar("@h", hist(5)),
    scalar("@st", Stats(3, 60)),
]

# 0.27.1: BEGIN { @h = hist(-5); @h = hist(-1); @h = hist(0); @h = hist(1);
#   @h = hist(1); @h = hist(3); @h = hist(1500); @h = hist(2000000); exit(); }
HIST_AROUND_ZERO = [scalar("@h", hist(-5, -1, 0, 1, 1, 3, 1500, 2000000))]

# 0.27.1: BEGIN { @h = hist(8); @h = hist(9); @h = hist(100); @h=hist(100);
#   @h = hist(5000000000); @h = hist(1 << 62); exit(); }
HIST_UP_TO_EXA = [scalar("@h", hist(8, 9, 100, 100, 5000000000, 1 << 62))]

# 0.27.1: BEGIN { @h = hist(-3, 2); $i = 0; while ($i < 40) { @h = hist($i, 2);
#   $i += 3; } @h = hist(224, 2); @h = hist(5000, 2); exit(); }
HIST_TWO_BIT = [scalar("@h", hist(-3, *range(0, 40, 3), 224, 5000, bits=2))]

# 0.27.1: BEGIN { @l = lhist(-1, 0, 100, 10); @l = lhist(5, 0, 100, 10);
#   @l = lhist(55, 0, 100, 10); @l = lhist(100, 0, 100, 10);
#   @l = lhist(250, 0, 100, 10); @l = lhist(99, 0, 100, 10); exit(); }
LHIST_OUT_OF_RANGE = [scalar("@l", lhist(-1, 5, 55, 100, 250, 99, bounds=(0, 100, 10)))]

# 0.27.1: BEGIN { @l = lhist(3, 0, 10, 1); @l = lhist(5, 0, 10, 1);
#   @k = lhist(2048, 0, 4194304, 1048576); @k = lhist(3000000, 0, 4194304, 1048576);
#   @j = lhist(1024, 0, 8192, 1024); @j = lhist(5000, 0, 8192, 1024);
#   @m = lhist(20, 10, 30, 5); @m = lhist(12, 10, 30, 5); exit(); }
LHIST_STEPS = [
    scalar("@l", lhist(3, 5, bounds=(0, 10, 1))),
    scalar("@k", lhist(2048, 3000000, bounds=(0, 4194304, 1048576))),
    scalar("@j", lhist(1024, 5000, bounds=(0, 8192, 1024))),
    scalar("@m", lhist(20, 12, bounds=(10, 30, 5))),
]

# 0.27.1: BEGIN { @avg = avg(10); @avg = avg(21); @mn = min(5); @mn = min(-3);
#   @mx = max(5); @mx = max(-3); @s = sum(-7); @s = sum(2); @cnt = count();
#   @st = stats(-4); @st = stats(7); @sk[1] = stats(3); @sk[2] = stats(100);
#   @sk[3] = stats(-8); @ak["a"] = avg(5); @ak["b"] = avg(-10); @ak["c"] = avg(1); exit(); }
AGGREGATIONS = [
    scalar("@avg", Avg(2, 31)),
    scalar("@mn", Integer(-3)),
    scalar("@mx", Integer(5)),
    scalar("@s", Integer(-5)),
    scalar("@cnt", Integer(1, False)),
    scalar("@st", Stats(2, 3)),
    keyed("@sk", (Integer(1), Stats(1, 3)), (Integer(2), Stats(1, 100)), (Integer(3), Stats(1, -8))),
    keyed("@ak", (String("a"), Avg(1, 5)), (String("b"), Avg(1, -10)), (String("c"), Avg(1, 1))),
]

# 0.27.1: BEGIN { @s["b"] = sum(-5); @s["a"] = sum(10); @s["c"] = sum(3); @s["d"] = sum(-20);
#   @t["x", 1] = count(); @t["x", 2] = count(); @t["x", 2] = count();
#   @t["y", -1] = count(); @t["y", -1] = count(); @t["y", -1] = count();
#   @str[1] = "hello"; @str[2] = "abc"; @str[-3] = "zzz"; exit(); }
# (both tests ran these statements together with maps of their own)
KEYED_SORT = [
    keyed("@s", (String("b"), Integer(-5)), (String("a"), Integer(10)),
          (String("c"), Integer(3)), (String("d"), Integer(-20))),
    keyed("@t", (Tuple((String("x"), Integer(1))), Integer(1, False)),
          (Tuple((String("x"), Integer(2))), Integer(2, False)),
          (Tuple((String("y"), Integer(-1))), Integer(3, False))),
    keyed("@str", (Integer(1), String("hello")), (Integer(2), String("abc")),
          (Integer(-3), String("zzz"))),
]

# BEGIN { @mn[1] = min(5); @mn[2] = min(-3); @mn[3] = min(0); exit(); }
# 0.27.1 sorts min/max as unsigned, so it printed -3 after 5; auger sorts by
# the signed value (compat.md: "min/max by their value").
MIN_BY_KEY = keyed("@mn", (Integer(1), Integer(5)), (Integer(2), Integer(-3)), (Integer(3), Integer(0)))


# 0.27.1: BEGIN { @c[1] = sum(10); @c[2] = sum(200); @c[3] = sum(35); @c[4] = sum(4000);
#   print(@c, 2); print(@c, 0, 10); print(@c, 3, 100); @h[1] = hist(3); @h[2] = hist(100);
#   @h[2] = hist(100); @h[2]=hist(200); @h[3]=hist(5); @h[3]=hist(5); print(@h, 2);
#   print(@h, 0, 2); @st = stats(100); @st = stats(51); print(@st, 0, 10); @a = avg(100);
#   print(@a, 0, 7); @l = lhist(5, 0, 10, 1); @l = lhist(5, 0, 10, 1); print(@l, 0, 2);
#   clear(@c); clear(@h); clear(@st); clear(@a); clear(@l); exit(); }
def top_and_div_output(print_map, maps_at_exit):
    sums = keyed("@c", *((Integer(k), Integer(v)) for k, v in ((1, 10), (2, 200), (3, 35), (4, 4000))))
    hists = keyed("@h", (Integer(1), hist(3)), (Integer(2), hist(100, 100, 200)), (Integer(3), hist(5, 5)))
    prints = [
        (sums, 2, 1),
        (sums, 0, 10),
        (sums, 3, 100),
        (hists, 2, 1),
        (hists, 0, 2),
        (scalar("@st", Stats(2, 151)), 0, 10),
        (scalar("@a", Avg(1, 100)), 0, 7),
        (scalar("@l", lhist(5, 5, bounds=(0, 10, 1))), 0, 2),
    ]
    cleared = [Map("@c"), Map("@h"), Map("@st"), Map("@a"), Map("@l")]
    return "".join(print_map(map_, top, div) for map_, top, div in prints) + maps_at_exit(cleared)


# 0.27.1: BEGIN { @h = hist(3); print(@h); @a = 5; print(@a); @x = 1;
#   printf("after\n"); clear(@h); exit(); }
def mid_run_output(print_map, printf, maps_at_exit):
    return (
        print_map(scalar("@h", hist(3)))
        + print_map(scalar("@a", Integer(5)))
        + printf("after\n")
        + maps_at_exit([Map("@h"), scalar("@a", Integer(5)), scalar("@x", Integer(1))])
    )


# 0.27.1: BEGIN { @b = 1 < 2; @bf = 1 > 2; @bk[1 < 2] = count(); @bk[2 < 1] = count();
#   @bk[2 < 1] = count(); @t = (1, "two", (3, "four"), true); @tk[(1, "a"), 2] = 5;
#   @r = (a=1, b="x"); @e[""] = 1; @q = "quo\"te\\back\ttab"; print(1); print("str");
#   print((1, "a")); print(@b); printf("%d %d\n", 1 < 2, 2 < 1); exit(); }
def bools_tuples_records_output(print_value, print_map, printf, maps_at_exit):
    maps = [
        scalar("@b", Bool(True)),
        scalar("@bf", Bool(False)),
        keyed("@bk", (Bool(True), Integer(1, False)), (Bool(False), Integer(2, False))),
        scalar("@t", Tuple((Integer(1), String("two"), Tuple((Integer(3), String("four"))), Bool(True)))),
        keyed("@tk", (Tuple((Tuple((Integer(1), String("a"))), Integer(2))), Integer(5))),
        scalar("@r", Record((("a", Integer(1)), ("b", String("x"))))),
        keyed("@e", (String(""), Integer(1))),
        scalar("@q", String('quo"te\\back\ttab')),
    ]
    return (
        print_value(Integer(1))
        + print_value(String("str"))
        + print_value(Tuple((Integer(1), String("a"))))
        + print_map(maps[0])
        + printf("1 0\n")
        + maps_at_exit(maps)
    )


# 0.27.1: BEGIN { @m["a b", 1] = 1; @n["x y"] = 2; exit(); }
SPACED_KEYS = [
    keyed("@m", (Tuple((String("a b"), Integer(1))), Integer(1))),
    keyed("@n", (String("x y"), Integer(2))),
]

# 0.27.1: BEGIN { @z = ksym(0); @c = "a\x01b"; @neg[-5] = count();
#   @big = (uint64)18446744073709551615; @big2 = -9007199254740993;
#   @ip = ntop(2, 0x0100007f); @ip6 = ntop(10, pton("fe80::1")); exit(); }
EXTREME_VALUES = [
    scalar("@z", Symbol(0x100622000)),
    scalar("@c", String("a\x01b")),
    keyed("@neg", (Integer(-5), Integer(1, False))),
    scalar("@big", Integer(18446744073709551615, False)),
    scalar("@big2", Integer(-9007199254740993)),
    scalar("@ip", InetAddress(bytes([127, 0, 0, 1]))),
    scalar("@ip6", InetAddress(bytes.fromhex("fe800000000000000000000000000001"))),
]

# The kernel frames 0.27.1 resolved for kstack() in both tests' runs of
# `tracepoint:raw_syscalls:sys_enter { ...; exit(); }` (kstack(2): the first two).
KERNEL_FRAMES = (
    StackFrame(0xFFFFFFFF81417D70, "syscall_trace_enter", 384),
    StackFrame(0xFFFFFFFF821EF81A, "do_syscall_64", 506),
    StackFrame(0xFFFFFFFF81000130, "entry_SYSCALL_64_after_hwframe", 118),
)
