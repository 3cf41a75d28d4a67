"""`-f json` output against real bpftrace output.

Each expected string is what bpftrace v0.27.1 (Debian sid) printed with
`-f json` for the BEGIN-only program quoted above it (its first line,
attached_probes, is tested on its own); auger.runtime.format.json renders
the values the runtime would read for the same program.
"""

from auger.runtime.format import json
from auger.runtime.format.buckets import hist_from_samples, lhist_from_samples
from auger.runtime.format.values import (
    Avg,
    Bool,
    InetAddress,
    Integer,
    Map,
    Record,
    Stack,
    StackFrame,
    Stats,
    String,
    Symbol,
    Tuple,
)

scalar = Map.scalar


def keyed(name, *entries):
    return Map(name, entries)


def test_compat_sample_with_avg_and_printf():
    # 0.27.1: BEGIN { @a = 7; @c["x"] = count(); @h = hist(5); @st = stats(10);
    #   @st = stats(20); @st = stats(30); @t = (1, "two"); @av = avg(7);
    #   printf("hi\n"); exit(); }
    maps = [
        scalar("@t", Tuple((Integer(1), String("two")))),
        scalar("@a", Integer(7)),
        scalar("@av", Avg(1, 7)),
        keyed("@c", (String("x"), Integer(1, False))),
        scalar("@h", hist_from_samples([5])),
        scalar("@st", Stats(3, 60)),
    ]
    assert json.attached_probes(1) == '{"type": "attached_probes", "count": 1, "data": {"probes": 1}}\n'
    assert json.printf_record("hi\n") + json.maps_at_exit(maps) == (
        '{"type": "printf", "data": "hi\\n"}\n'
        '{"type": "map", "data": {"@a": 7}}\n'
        '{"type": "stats", "data": {"@av": 7}}\n'
        '{"type": "map", "data": {"@c": {"x": 1}}}\n'
        '{"type": "hist", "data": {"@h": [{"min": 4, "max": 7, "count": 1}]}}\n'
        '{"type": "stats", "data": {"@st": {"count": 3, "average": 20, "total": 60}}}\n'
        '{"type": "map", "data": {"@t": [1,"two"]}}\n'
    )


def test_hist_inclusive_max_and_negative_bucket():
    # 0.27.1: BEGIN { @h = hist(-5); @h = hist(-1); @h = hist(0); @h = hist(1);
    #   @h = hist(1); @h = hist(3); @h = hist(1500); @h = hist(2000000); exit(); }
    maps = [scalar("@h", hist_from_samples([-5, -1, 0, 1, 1, 3, 1500, 2000000]))]
    assert json.maps_at_exit(maps) == (
        "{\"type\": \"hist\", \"data\": {\"@h\": [{\"max\": -1, \"count\": 2},{\"min\": 0, \"max\": 0, \"count\": 1},{\"min\": 1, \"max\": 1, \"count\": 2},{\"min\": 2, \"max\": 3, \"count\": 1},{\"min\": 4, \"max\": 7, \"count\": 0},{\"min\": 8, \"max\": 15, \"count\": 0},{\"min\": 16, \"max\": 31, \"count\": 0},{\"min\": 32, \"max\": 63, \"count\": 0},{\"min\": 64, \"max\": 127, \"count\": 0},{\"min\": 128, \"max\": 255, \"count\": 0},{\"min\": 256, \"max\": 511, \"count\": 0},{\"min\": 512, \"max\": 1023, \"count\": 0},{\"min\": 1024, \"max\": 2047, \"count\": 1},{\"min\": 2048, \"max\": 4095, \"count\": 0},{\"min\": 4096, \"max\": 8191, \"count\": 0},{\"min\": 8192, \"max\": 16383, \"count\": 0},{\"min\": 16384, \"max\": 32767, \"count\": 0},{\"min\": 32768, \"max\": 65535, \"count\": 0},{\"min\": 65536, \"max\": 131071, \"count\": 0},{\"min\": 131072, \"max\": 262143, \"count\": 0},{\"min\": 262144, \"max\": 524287, \"count\": 0},{\"min\": 524288, \"max\": 1048575, \"count\": 0},{\"min\": 1048576, \"max\": 2097151, \"count\": 1}]}}\n"
    )


def test_hist_large_bounds_become_strings():
    # 0.27.1: BEGIN { @h = hist(8); @h = hist(9); @h = hist(100); @h=hist(100);
    #   @h = hist(5000000000); @h = hist(1 << 62); exit(); }
    maps = [scalar("@h", hist_from_samples([8, 9, 100, 100, 5000000000, 1 << 62]))]
    assert json.maps_at_exit(maps) == (
        "{\"type\": \"hist\", \"data\": {\"@h\": [{\"min\": 8, \"max\": 15, \"count\": 2},{\"min\": 16, \"max\": 31, \"count\": 0},{\"min\": 32, \"max\": 63, \"count\": 0},{\"min\": 64, \"max\": 127, \"count\": 2},{\"min\": 128, \"max\": 255, \"count\": 0},{\"min\": 256, \"max\": 511, \"count\": 0},{\"min\": 512, \"max\": 1023, \"count\": 0},{\"min\": 1024, \"max\": 2047, \"count\": 0},{\"min\": 2048, \"max\": 4095, \"count\": 0},{\"min\": 4096, \"max\": 8191, \"count\": 0},{\"min\": 8192, \"max\": 16383, \"count\": 0},{\"min\": 16384, \"max\": 32767, \"count\": 0},{\"min\": 32768, \"max\": 65535, \"count\": 0},{\"min\": 65536, \"max\": 131071, \"count\": 0},{\"min\": 131072, \"max\": 262143, \"count\": 0},{\"min\": 262144, \"max\": 524287, \"count\": 0},{\"min\": 524288, \"max\": 1048575, \"count\": 0},{\"min\": 1048576, \"max\": 2097151, \"count\": 0},{\"min\": 2097152, \"max\": 4194303, \"count\": 0},{\"min\": 4194304, \"max\": 8388607, \"count\": 0},{\"min\": 8388608, \"max\": 16777215, \"count\": 0},{\"min\": 16777216, \"max\": 33554431, \"count\": 0},{\"min\": 33554432, \"max\": 67108863, \"count\": 0},{\"min\": 67108864, \"max\": 134217727, \"count\": 0},{\"min\": 134217728, \"max\": 268435455, \"count\": 0},{\"min\": 268435456, \"max\": 536870911, \"count\": 0},{\"min\": 536870912, \"max\": 1073741823, \"count\": 0},{\"min\": 1073741824, \"max\": 2147483647, \"count\": 0},{\"min\": 2147483648, \"max\": 4294967295, \"count\": 0},{\"min\": 4294967296, \"max\": 8589934591, \"count\": 1},{\"min\": 8589934592, \"max\": 17179869183, \"count\": 0},{\"min\": 17179869184, \"max\": 34359738367, \"count\": 0},{\"min\": 34359738368, \"max\": 68719476735, \"count\": 0},{\"min\": 68719476736, \"max\": 137438953471, \"count\": 0},{\"min\": 137438953472, \"max\": 274877906943, \"count\": 0},{\"min\": 274877906944, \"max\": 549755813887, \"count\": 0},{\"min\": 549755813888, \"max\": 1099511627775, \"count\": 0},{\"min\": 1099511627776, \"max\": 2199023255551, \"count\": 0},{\"min\": 2199023255552, \"max\": 4398046511103, \"count\": 0},{\"min\": 4398046511104, \"max\": 8796093022207, \"count\": 0},{\"min\": 8796093022208, \"max\": 17592186044415, \"count\": 0},{\"min\": 17592186044416, \"max\": 35184372088831, \"count\": 0},{\"min\": 35184372088832, \"max\": 70368744177663, \"count\": 0},{\"min\": 70368744177664, \"max\": 140737488355327, \"count\": 0},{\"min\": 140737488355328, \"max\": 281474976710655, \"count\": 0},{\"min\": 281474976710656, \"max\": 562949953421311, \"count\": 0},{\"min\": 562949953421312, \"max\": 1125899906842623, \"count\": 0},{\"min\": 1125899906842624, \"max\": 2251799813685247, \"count\": 0},{\"min\": 2251799813685248, \"max\": 4503599627370495, \"count\": 0},{\"min\": 4503599627370496, \"max\": 9007199254740991, \"count\": 0},{\"min\": 9007199254740992, \"max\": \"18014398509481983\", \"count\": 0},{\"min\": 18014398509481984, \"max\": \"36028797018963967\", \"count\": 0},{\"min\": 36028797018963968, \"max\": \"72057594037927935\", \"count\": 0},{\"min\": 72057594037927936, \"max\": \"144115188075855871\", \"count\": 0},{\"min\": 144115188075855872, \"max\": \"288230376151711743\", \"count\": 0},{\"min\": 288230376151711744, \"max\": \"576460752303423487\", \"count\": 0},{\"min\": 576460752303423488, \"max\": \"1152921504606846975\", \"count\": 0},{\"min\": 1152921504606846976, \"max\": \"2305843009213693951\", \"count\": 0},{\"min\": 2305843009213693952, \"max\": \"4611686018427387903\", \"count\": 0},{\"min\": 4611686018427387904, \"max\": \"9223372036854775807\", \"count\": 1}]}}\n"
    )


def test_hist_two_bit_sub_buckets():
    # 0.27.1: BEGIN { @h = hist(-3, 2); $i = 0; while ($i < 40) { @h = hist($i, 2);
    #   $i += 3; } @h = hist(224, 2); @h = hist(5000, 2); exit(); }
    maps = [scalar("@h", hist_from_samples([-3, *range(0, 40, 3), 224, 5000], 2))]
    assert json.maps_at_exit(maps) == (
        "{\"type\": \"hist\", \"data\": {\"@h\": [{\"max\": -1, \"count\": 1},{\"min\": 0, \"max\": 0, \"count\": 1},{\"min\": 1, \"max\": 1, \"count\": 0},{\"min\": 2, \"max\": 2, \"count\": 0},{\"min\": 3, \"max\": 3, \"count\": 1},{\"min\": 4, \"max\": 4, \"count\": 0},{\"min\": 5, \"max\": 5, \"count\": 0},{\"min\": 6, \"max\": 6, \"count\": 1},{\"min\": 7, \"max\": 7, \"count\": 0},{\"min\": 8, \"max\": 9, \"count\": 1},{\"min\": 10, \"max\": 11, \"count\": 0},{\"min\": 12, \"max\": 13, \"count\": 1},{\"min\": 14, \"max\": 15, \"count\": 1},{\"min\": 16, \"max\": 19, \"count\": 1},{\"min\": 20, \"max\": 23, \"count\": 1},{\"min\": 24, \"max\": 27, \"count\": 2},{\"min\": 28, \"max\": 31, \"count\": 1},{\"min\": 32, \"max\": 39, \"count\": 3},{\"min\": 40, \"max\": 47, \"count\": 0},{\"min\": 48, \"max\": 55, \"count\": 0},{\"min\": 56, \"max\": 63, \"count\": 0},{\"min\": 64, \"max\": 79, \"count\": 0},{\"min\": 80, \"max\": 95, \"count\": 0},{\"min\": 96, \"max\": 111, \"count\": 0},{\"min\": 112, \"max\": 127, \"count\": 0},{\"min\": 128, \"max\": 159, \"count\": 0},{\"min\": 160, \"max\": 191, \"count\": 0},{\"min\": 192, \"max\": 223, \"count\": 0},{\"min\": 224, \"max\": 255, \"count\": 1},{\"min\": 256, \"max\": 319, \"count\": 0},{\"min\": 320, \"max\": 383, \"count\": 0},{\"min\": 384, \"max\": 447, \"count\": 0},{\"min\": 448, \"max\": 511, \"count\": 0},{\"min\": 512, \"max\": 639, \"count\": 0},{\"min\": 640, \"max\": 767, \"count\": 0},{\"min\": 768, \"max\": 895, \"count\": 0},{\"min\": 896, \"max\": 1023, \"count\": 0},{\"min\": 1024, \"max\": 1279, \"count\": 0},{\"min\": 1280, \"max\": 1535, \"count\": 0},{\"min\": 1536, \"max\": 1791, \"count\": 0},{\"min\": 1792, \"max\": 2047, \"count\": 0},{\"min\": 2048, \"max\": 2559, \"count\": 0},{\"min\": 2560, \"max\": 3071, \"count\": 0},{\"min\": 3072, \"max\": 3583, \"count\": 0},{\"min\": 3584, \"max\": 4095, \"count\": 0},{\"min\": 4096, \"max\": 5119, \"count\": 1}]}}\n"
    )


def test_lhist_overflow_has_only_min():
    # 0.27.1: BEGIN { @l = lhist(-1, 0, 100, 10); @l = lhist(5, 0, 100, 10);
    #   @l = lhist(55, 0, 100, 10); @l = lhist(100, 0, 100, 10);
    #   @l = lhist(250, 0, 100, 10); @l = lhist(99, 0, 100, 10); exit(); }
    maps = [scalar("@l", lhist_from_samples([-1, 5, 55, 100, 250, 99], 0, 100, 10))]
    assert json.maps_at_exit(maps) == (
        "{\"type\": \"hist\", \"data\": {\"@l\": [{\"max\": -1, \"count\": 1},{\"min\": 0, \"max\": 9, \"count\": 1},{\"min\": 10, \"max\": 19, \"count\": 0},{\"min\": 20, \"max\": 29, \"count\": 0},{\"min\": 30, \"max\": 39, \"count\": 0},{\"min\": 40, \"max\": 49, \"count\": 0},{\"min\": 50, \"max\": 59, \"count\": 1},{\"min\": 60, \"max\": 69, \"count\": 0},{\"min\": 70, \"max\": 79, \"count\": 0},{\"min\": 80, \"max\": 89, \"count\": 0},{\"min\": 90, \"max\": 99, \"count\": 1},{\"min\": 100, \"count\": 2}]}}\n"
    )


def test_lhist_suffix_labels_are_plain_numbers():
    # 0.27.1: BEGIN { @l = lhist(3, 0, 10, 1); @l = lhist(5, 0, 10, 1);
    #   @k = lhist(2048, 0, 4194304, 1048576); @k = lhist(3000000, 0, 4194304, 1048576);
    #   @j = lhist(1024, 0, 8192, 1024); @j = lhist(5000, 0, 8192, 1024);
    #   @m = lhist(20, 10, 30, 5); @m = lhist(12, 10, 30, 5); exit(); }
    maps = [
        scalar("@l", lhist_from_samples([3, 5], 0, 10, 1)),
        scalar("@k", lhist_from_samples([2048, 3000000], 0, 4194304, 1048576)),
        scalar("@j", lhist_from_samples([1024, 5000], 0, 8192, 1024)),
        scalar("@m", lhist_from_samples([20, 12], 10, 30, 5)),
    ]
    assert json.maps_at_exit(maps) == (
        "{\"type\": \"hist\", \"data\": {\"@j\": [{\"min\": 1024, \"max\": 2047, \"count\": 1},{\"min\": 2048, \"max\": 3071, \"count\": 0},{\"min\": 3072, \"max\": 4095, \"count\": 0},{\"min\": 4096, \"max\": 5119, \"count\": 1}]}}\n"
        "{\"type\": \"hist\", \"data\": {\"@k\": [{\"min\": 0, \"max\": 1048575, \"count\": 1},{\"min\": 1048576, \"max\": 2097151, \"count\": 0},{\"min\": 2097152, \"max\": 3145727, \"count\": 1}]}}\n"
        "{\"type\": \"hist\", \"data\": {\"@l\": [{\"min\": 3, \"max\": 3, \"count\": 1},{\"min\": 4, \"max\": 4, \"count\": 0},{\"min\": 5, \"max\": 5, \"count\": 1}]}}\n"
        "{\"type\": \"hist\", \"data\": {\"@m\": [{\"min\": 10, \"max\": 14, \"count\": 1},{\"min\": 15, \"max\": 19, \"count\": 0},{\"min\": 20, \"max\": 24, \"count\": 1}]}}\n"
    )


def test_aggregations():
    # 0.27.1: BEGIN { @avg = avg(10); @avg = avg(21); @mn = min(5); @mn = min(-3);
    #   @mx = max(5); @mx = max(-3); @s = sum(-7); @s = sum(2); @cnt = count();
    #   @st = stats(-4); @st = stats(7); @sk[1] = stats(3); @sk[2] = stats(100);
    #   @sk[3] = stats(-8); @ak["a"] = avg(5); @ak["b"] = avg(-10); @ak["c"] = avg(1); exit(); }
    maps = [
        scalar("@avg", Avg(2, 31)),
        scalar("@mn", Integer(-3)),
        scalar("@mx", Integer(5)),
        scalar("@s", Integer(-5)),
        scalar("@cnt", Integer(1, False)),
        scalar("@st", Stats(2, 3)),
        keyed("@sk", (Integer(1), Stats(1, 3)), (Integer(2), Stats(1, 100)), (Integer(3), Stats(1, -8))),
        keyed("@ak", (String("a"), Avg(1, 5)), (String("b"), Avg(1, -10)), (String("c"), Avg(1, 1))),
    ]
    assert json.maps_at_exit(maps) == (
        "{\"type\": \"stats\", \"data\": {\"@ak\": {\"b\": -10, \"c\": 1, \"a\": 5}}}\n"
        "{\"type\": \"stats\", \"data\": {\"@avg\": 15}}\n"
        "{\"type\": \"map\", \"data\": {\"@cnt\": 1}}\n"
        "{\"type\": \"map\", \"data\": {\"@mn\": -3}}\n"
        "{\"type\": \"map\", \"data\": {\"@mx\": 5}}\n"
        "{\"type\": \"map\", \"data\": {\"@s\": -5}}\n"
        "{\"type\": \"stats\", \"data\": {\"@sk\": {\"3\": {\"count\": 1, \"average\": -8, \"total\": -8}, \"1\": {\"count\": 1, \"average\": 3, \"total\": 3}, \"2\": {\"count\": 1, \"average\": 100, \"total\": 100}}}}\n"
        "{\"type\": \"stats\", \"data\": {\"@st\": {\"count\": 2, \"average\": 1, \"total\": 3}}}\n"
    )


def test_keyed_sort_orders():
    # BEGIN { @s["b"] = sum(-5); @s["a"] = sum(10); @s["c"] = sum(3); @s["d"] = sum(-20);
    #   @t["x", 1] = count(); @t["x", 2] = count(); @t["x", 2] = count();
    #   @t["y", -1] = count(); @t["y", -1] = count(); @t["y", -1] = count();
    #   @str[1] = "hello"; @str[2] = "abc"; @str[-3] = "zzz"; @mn[1] = min(5);
    #   @mn[2] = min(-3); @mn[3] = min(0); exit(); }
    # 0.27.1 printed these lines; @mn's members are reordered by signed value
    # (0.27.1 compares min/max as unsigned: {"3": 0, "1": 5, "2": -3}).
    maps = [
        keyed("@s", (String("b"), Integer(-5)), (String("a"), Integer(10)),
              (String("c"), Integer(3)), (String("d"), Integer(-20))),
        keyed("@t", (Tuple((String("x"), Integer(1))), Integer(1, False)),
              (Tuple((String("x"), Integer(2))), Integer(2, False)),
              (Tuple((String("y"), Integer(-1))), Integer(3, False))),
        keyed("@str", (Integer(1), String("hello")), (Integer(2), String("abc")),
              (Integer(-3), String("zzz"))),
        keyed("@mn", (Integer(1), Integer(5)), (Integer(2), Integer(-3)), (Integer(3), Integer(0))),
    ]
    assert json.maps_at_exit(maps) == (
        '{"type": "map", "data": {"@mn": {"2": -3, "3": 0, "1": 5}}}\n'
        '{"type": "map", "data": {"@s": {"d": -20, "b": -5, "c": 3, "a": 10}}}\n'
        '{"type": "map", "data": {"@str": {"-3": "zzz", "1": "hello", "2": "abc"}}}\n'
        '{"type": "map", "data": {"@t": {"x,1": 1, "x,2": 2, "y,-1": 3}}}\n'
    )


def test_print_with_top_and_div():
    # 0.27.1: same program as test_format_text.test_print_with_top_and_div; the
    # two empty `{}` stats records bpftrace printed at exit for cleared @a and
    # @st are left out (auger prints no empty map at exit, as text mode does).
    sums = keyed("@c", *((Integer(k), Integer(v)) for k, v in ((1, 10), (2, 200), (3, 35), (4, 4000))))
    hists = keyed("@h", (Integer(1), hist_from_samples([3])),
                  (Integer(2), hist_from_samples([100, 100, 200])),
                  (Integer(3), hist_from_samples([5, 5])))
    printed = (
        json.map_record(sums, 2)
        + json.map_record(sums, 0, 10)
        + json.map_record(sums, 3, 100)
        + json.map_record(hists, 2)
        + json.map_record(hists, 0, 2)
        + json.map_record(scalar("@st", Stats(2, 151)), 0, 10)
        + json.map_record(scalar("@a", Avg(1, 100)), 0, 7)
        + json.map_record(scalar("@l", lhist_from_samples([5, 5], 0, 10, 1)), 0, 2)
        + json.maps_at_exit([Map("@c"), Map("@h"), Map("@st"), Map("@a"), Map("@l")])
    )
    expected = (
        "{\"type\": \"map\", \"data\": {\"@c\": {\"2\": 200, \"4\": 4000}}}\n"
        "{\"type\": \"map\", \"data\": {\"@c\": {\"1\": 1, \"3\": 3, \"2\": 20, \"4\": 400}}}\n"
        "{\"type\": \"map\", \"data\": {\"@c\": {\"3\": 0, \"2\": 2, \"4\": 40}}}\n"
        "{\"type\": \"hist\", \"data\": {\"@h\": {\"3\": [{\"min\": 4, \"max\": 7, \"count\": 2}], \"2\": [{\"min\": 64, \"max\": 127, \"count\": 2},{\"min\": 128, \"max\": 255, \"count\": 1}]}}}\n"
        "{\"type\": \"hist\", \"data\": {\"@h\": {\"1\": [{\"min\": 2, \"max\": 3, \"count\": 0}], \"3\": [{\"min\": 4, \"max\": 7, \"count\": 1}], \"2\": [{\"min\": 64, \"max\": 127, \"count\": 1},{\"min\": 128, \"max\": 255, \"count\": 0}]}}}\n"
        "{\"type\": \"stats\", \"data\": {\"@st\": {\"count\": 2, \"average\": 7, \"total\": 151}}}\n"
        "{\"type\": \"stats\", \"data\": {\"@a\": 14}}\n"
        "{\"type\": \"hist\", \"data\": {\"@l\": [{\"min\": 5, \"max\": 5, \"count\": 2}]}}\n"
        "{\"type\": \"stats\", \"data\": {\"@a\": {}}}\n"
        "{\"type\": \"stats\", \"data\": {\"@st\": {}}}\n"
    )
    assert printed == expected.replace(
        '{"type": "stats", "data": {"@a": {}}}\n{"type": "stats", "data": {"@st": {}}}\n', ""
    )


def test_print_mid_run_then_exit():
    # 0.27.1: BEGIN { @h = hist(3); print(@h); @a = 5; print(@a); @x = 1;
    #   printf("after\n"); clear(@h); exit(); }
    printed = (
        json.map_record(scalar("@h", hist_from_samples([3])))
        + json.map_record(scalar("@a", Integer(5)))
        + json.printf_record("after\n")
        + json.maps_at_exit([Map("@h"), scalar("@a", Integer(5)), scalar("@x", Integer(1))])
    )
    assert printed == (
        "{\"type\": \"hist\", \"data\": {\"@h\": [{\"min\": 2, \"max\": 3, \"count\": 1}]}}\n"
        "{\"type\": \"map\", \"data\": {\"@a\": 5}}\n"
        "{\"type\": \"printf\", \"data\": \"after\\n\"}\n"
        "{\"type\": \"map\", \"data\": {\"@a\": 5}}\n"
        "{\"type\": \"map\", \"data\": {\"@x\": 1}}\n"
    )


def test_values_bools_tuples_records_escapes():
    # 0.27.1: BEGIN { @b = 1 < 2; @bf = 1 > 2; @bk[1 < 2] = count(); @bk[2 < 1] = count();
    #   @bk[2 < 1] = count(); @t = (1, "two", (3, "four"), true); @tk[(1, "a"), 2] = 5;
    #   @r = (a=1, b="x"); @e[""] = 1; @q = "quo\"te\\back\ttab"; print(1); print("str");
    #   print((1, "a")); print(@b); printf("%d %d\n", 1 < 2, 2 < 1); exit(); }
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
    printed = (
        json.value_record(Integer(1))
        + json.value_record(String("str"))
        + json.value_record(Tuple((Integer(1), String("a"))))
        + json.map_record(maps[0])
        + json.printf_record("1 0\n")
        + json.maps_at_exit(maps)
    )
    assert printed == (
        "{\"type\": \"value\", \"data\": 1}\n"
        "{\"type\": \"value\", \"data\": \"str\"}\n"
        "{\"type\": \"value\", \"data\": [1,\"a\"]}\n"
        "{\"type\": \"map\", \"data\": {\"@b\": true}}\n"
        "{\"type\": \"printf\", \"data\": \"1 0\\n\"}\n"
        "{\"type\": \"map\", \"data\": {\"@b\": true}}\n"
        "{\"type\": \"map\", \"data\": {\"@bf\": false}}\n"
        "{\"type\": \"map\", \"data\": {\"@bk\": {\"true\": 1, \"false\": 2}}}\n"
        "{\"type\": \"map\", \"data\": {\"@e\": {\"\": 1}}}\n"
        "{\"type\": \"map\", \"data\": {\"@q\": \"quo\\\"te\\\\back\\ttab\"}}\n"
        "{\"type\": \"map\", \"data\": {\"@r\": {\"a\": 1, \"b\": \"x\"}}}\n"
        "{\"type\": \"map\", \"data\": {\"@t\": [1,\"two\",[3,\"four\"],true]}}\n"
        "{\"type\": \"map\", \"data\": {\"@tk\": {\"(1,a),2\": 5}}}\n"
    )


def test_big_numbers_inet_symbols_and_control_characters():
    # 0.27.1: BEGIN { @z = ksym(0); @c = "a\x01b"; @neg[-5] = count();
    #   @big = (uint64)18446744073709551615; @big2 = -9007199254740993;
    #   @ip = ntop(2, 0x0100007f); @ip6 = ntop(10, pton("fe80::1")); exit(); }
    maps = [
        scalar("@z", Symbol(0x100622000)),
        scalar("@c", String("a\x01b")),
        keyed("@neg", (Integer(-5), Integer(1, False))),
        scalar("@big", Integer(18446744073709551615, False)),
        scalar("@big2", Integer(-9007199254740993)),
        scalar("@ip", InetAddress(bytes([127, 0, 0, 1]))),
        scalar("@ip6", InetAddress(bytes.fromhex("fe800000000000000000000000000001"))),
    ]
    assert json.maps_at_exit(maps) == (
        '{"type": "map", "data": {"@big": "18446744073709551615"}}\n'
        '{"type": "map", "data": {"@big2": "-9007199254740993"}}\n'
        '{"type": "map", "data": {"@c": "a\\u0001b"}}\n'
        '{"type": "map", "data": {"@ip": "127.0.0.1"}}\n'
        '{"type": "map", "data": {"@ip6": "fe80::1"}}\n'
        '{"type": "map", "data": {"@neg": {"-5": 1}}}\n'
        '{"type": "map", "data": {"@z": "0x100622000"}}\n'
    )


def test_key_spaces_are_kept():
    # 0.27.1 printed {"@m": {"ab,1": 1}} and {"@n": {"xy": 2}} for
    # @m["a b", 1] = 1; @n["x y"] = 2: it deletes every space of a key. We keep
    # the string's own spaces and unspace only the separators.
    maps = [
        keyed("@m", (Tuple((String("a b"), Integer(1))), Integer(1))),
        keyed("@n", (String("x y"), Integer(2))),
    ]
    assert json.maps_at_exit(maps) == (
        '{"type": "map", "data": {"@m": {"a b,1": 1}}}\n'
        '{"type": "map", "data": {"@n": {"x y": 2}}}\n'
    )


def test_stack_keys_and_values():
    # 0.27.1: tracepoint:raw_syscalls:sys_enter { @[kstack(2)] = count();
    #   @s = kstack(2); exit(); }
    frames = (
        StackFrame(0xFFFFFFFF81417D70, "syscall_trace_enter", 384),
        StackFrame(0xFFFFFFFF821EF81A, "do_syscall_64", 506),
    )
    maps = [keyed("@", (Stack(frames), Integer(21, False))), scalar("@s", Stack(frames))]
    assert json.maps_at_exit(maps) == (
        '{"type": "map", "data": {"@": {"\\nsyscall_trace_enter+384\\ndo_syscall_64+506\\n": 21}}}\n'
        '{"type": "map", "data": {"@s": "\\n        syscall_trace_enter+384\\n        do_syscall_64+506\\n"}}\n'
    )


def test_text_and_event_records():
    # compat.md: lost_events shape; text records share printf's shape.
    assert json.lost_events(3) == '{"type": "lost_events", "data": {"events": 3}}\n'
    assert json.text_record("time", "10:00:00\n") == '{"type": "time", "data": "10:00:00\\n"}\n'
    assert json.map_record(Map("@empty")) == '{"type": "map", "data": {"@empty": {}}}\n'
