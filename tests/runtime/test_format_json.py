"""`-f json` output against real bpftrace output.

Each expected string is what bpftrace v0.27.1 (Debian sid) printed with
`-f json` for the BEGIN-only program quoted above it, or above its sample
in format_samples.py (its first line, attached_probes, is tested on its
own); auger.runtime.format.json renders the values the runtime would read
for the same program.
"""

from auger.runtime.format import json
from auger.runtime.format.values import Avg, Integer, Map, Stack
from format_samples import (
    AGGREGATIONS,
    COMPAT,
    EXTREME_VALUES,
    HIST_AROUND_ZERO,
    HIST_TWO_BIT,
    HIST_UP_TO_EXA,
    KERNEL_FRAMES,
    KEYED_SORT,
    LHIST_OUT_OF_RANGE,
    LHIST_STEPS,
    MIN_BY_KEY,
    SPACED_KEYS,
    bools_tuples_records_output,
    keyed,
    mid_run_output,
    scalar,
    top_and_div_output,
)


def test_compat_sample_with_avg_and_printf():
    # 0.27.1: COMPAT's program with @av = avg(7); printf("hi\n"); added.
    maps = [*COMPAT, scalar("@av", Avg(1, 7))]
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
    assert json.maps_at_exit(HIST_AROUND_ZERO) == (
        "{\"type\": \"hist\", \"data\": {\"@h\": [{\"max\": -1, \"count\": 2},{\"min\": 0, \"max\": 0, \"count\": 1},{\"min\": 1, \"max\": 1, \"count\": 2},{\"min\": 2, \"max\": 3, \"count\": 1},{\"min\": 4, \"max\": 7, \"count\": 0},{\"min\": 8, \"max\": 15, \"count\": 0},{\"min\": 16, \"max\": 31, \"count\": 0},{\"min\": 32, \"max\": 63, \"count\": 0},{\"min\": 64, \"max\": 127, \"count\": 0},{\"min\": 128, \"max\": 255, \"count\": 0},{\"min\": 256, \"max\": 511, \"count\": 0},{\"min\": 512, \"max\": 1023, \"count\": 0},{\"min\": 1024, \"max\": 2047, \"count\": 1},{\"min\": 2048, \"max\": 4095, \"count\": 0},{\"min\": 4096, \"max\": 8191, \"count\": 0},{\"min\": 8192, \"max\": 16383, \"count\": 0},{\"min\": 16384, \"max\": 32767, \"count\": 0},{\"min\": 32768, \"max\": 65535, \"count\": 0},{\"min\": 65536, \"max\": 131071, \"count\": 0},{\"min\": 131072, \"max\": 262143, \"count\": 0},{\"min\": 262144, \"max\": 524287, \"count\": 0},{\"min\": 524288, \"max\": 1048575, \"count\": 0},{\"min\": 1048576, \"max\": 2097151, \"count\": 1}]}}\n"
    )


def test_hist_large_bounds_become_strings():
    assert json.maps_at_exit(HIST_UP_TO_EXA) == (
        "{\"type\": \"hist\", \"data\": {\"@h\": [{\"min\": 8, \"max\": 15, \"count\": 2},{\"min\": 16, \"max\": 31, \"count\": 0},{\"min\": 32, \"max\": 63, \"count\": 0},{\"min\": 64, \"max\": 127, \"count\": 2},{\"min\": 128, \"max\": 255, \"count\": 0},{\"min\": 256, \"max\": 511, \"count\": 0},{\"min\": 512, \"max\": 1023, \"count\": 0},{\"min\": 1024, \"max\": 2047, \"count\": 0},{\"min\": 2048, \"max\": 4095, \"count\": 0},{\"min\": 4096, \"max\": 8191, \"count\": 0},{\"min\": 8192, \"max\": 16383, \"count\": 0},{\"min\": 16384, \"max\": 32767, \"count\": 0},{\"min\": 32768, \"max\": 65535, \"count\": 0},{\"min\": 65536, \"max\": 131071, \"count\": 0},{\"min\": 131072, \"max\": 262143, \"count\": 0},{\"min\": 262144, \"max\": 524287, \"count\": 0},{\"min\": 524288, \"max\": 1048575, \"count\": 0},{\"min\": 1048576, \"max\": 2097151, \"count\": 0},{\"min\": 2097152, \"max\": 4194303, \"count\": 0},{\"min\": 4194304, \"max\": 8388607, \"count\": 0},{\"min\": 8388608, \"max\": 16777215, \"count\": 0},{\"min\": 16777216, \"max\": 33554431, \"count\": 0},{\"min\": 33554432, \"max\": 67108863, \"count\": 0},{\"min\": 67108864, \"max\": 134217727, \"count\": 0},{\"min\": 134217728, \"max\": 268435455, \"count\": 0},{\"min\": 268435456, \"max\": 536870911, \"count\": 0},{\"min\": 536870912, \"max\": 1073741823, \"count\": 0},{\"min\": 1073741824, \"max\": 2147483647, \"count\": 0},{\"min\": 2147483648, \"max\": 4294967295, \"count\": 0},{\"min\": 4294967296, \"max\": 8589934591, \"count\": 1},{\"min\": 8589934592, \"max\": 17179869183, \"count\": 0},{\"min\": 17179869184, \"max\": 34359738367, \"count\": 0},{\"min\": 34359738368, \"max\": 68719476735, \"count\": 0},{\"min\": 68719476736, \"max\": 137438953471, \"count\": 0},{\"min\": 137438953472, \"max\": 274877906943, \"count\": 0},{\"min\": 274877906944, \"max\": 549755813887, \"count\": 0},{\"min\": 549755813888, \"max\": 1099511627775, \"count\": 0},{\"min\": 1099511627776, \"max\": 2199023255551, \"count\": 0},{\"min\": 2199023255552, \"max\": 4398046511103, \"count\": 0},{\"min\": 4398046511104, \"max\": 8796093022207, \"count\": 0},{\"min\": 8796093022208, \"max\": 17592186044415, \"count\": 0},{\"min\": 17592186044416, \"max\": 35184372088831, \"count\": 0},{\"min\": 35184372088832, \"max\": 70368744177663, \"count\": 0},{\"min\": 70368744177664, \"max\": 140737488355327, \"count\": 0},{\"min\": 140737488355328, \"max\": 281474976710655, \"count\": 0},{\"min\": 281474976710656, \"max\": 562949953421311, \"count\": 0},{\"min\": 562949953421312, \"max\": 1125899906842623, \"count\": 0},{\"min\": 1125899906842624, \"max\": 2251799813685247, \"count\": 0},{\"min\": 2251799813685248, \"max\": 4503599627370495, \"count\": 0},{\"min\": 4503599627370496, \"max\": 9007199254740991, \"count\": 0},{\"min\": 9007199254740992, \"max\": \"18014398509481983\", \"count\": 0},{\"min\": 18014398509481984, \"max\": \"36028797018963967\", \"count\": 0},{\"min\": 36028797018963968, \"max\": \"72057594037927935\", \"count\": 0},{\"min\": 72057594037927936, \"max\": \"144115188075855871\", \"count\": 0},{\"min\": 144115188075855872, \"max\": \"288230376151711743\", \"count\": 0},{\"min\": 288230376151711744, \"max\": \"576460752303423487\", \"count\": 0},{\"min\": 576460752303423488, \"max\": \"1152921504606846975\", \"count\": 0},{\"min\": 1152921504606846976, \"max\": \"2305843009213693951\", \"count\": 0},{\"min\": 2305843009213693952, \"max\": \"4611686018427387903\", \"count\": 0},{\"min\": 4611686018427387904, \"max\": \"9223372036854775807\", \"count\": 1}]}}\n"
    )


def test_hist_two_bit_sub_buckets():
    assert json.maps_at_exit(HIST_TWO_BIT) == (
        "{\"type\": \"hist\", \"data\": {\"@h\": [{\"max\": -1, \"count\": 1},{\"min\": 0, \"max\": 0, \"count\": 1},{\"min\": 1, \"max\": 1, \"count\": 0},{\"min\": 2, \"max\": 2, \"count\": 0},{\"min\": 3, \"max\": 3, \"count\": 1},{\"min\": 4, \"max\": 4, \"count\": 0},{\"min\": 5, \"max\": 5, \"count\": 0},{\"min\": 6, \"max\": 6, \"count\": 1},{\"min\": 7, \"max\": 7, \"count\": 0},{\"min\": 8, \"max\": 9, \"count\": 1},{\"min\": 10, \"max\": 11, \"count\": 0},{\"min\": 12, \"max\": 13, \"count\": 1},{\"min\": 14, \"max\": 15, \"count\": 1},{\"min\": 16, \"max\": 19, \"count\": 1},{\"min\": 20, \"max\": 23, \"count\": 1},{\"min\": 24, \"max\": 27, \"count\": 2},{\"min\": 28, \"max\": 31, \"count\": 1},{\"min\": 32, \"max\": 39, \"count\": 3},{\"min\": 40, \"max\": 47, \"count\": 0},{\"min\": 48, \"max\": 55, \"count\": 0},{\"min\": 56, \"max\": 63, \"count\": 0},{\"min\": 64, \"max\": 79, \"count\": 0},{\"min\": 80, \"max\": 95, \"count\": 0},{\"min\": 96, \"max\": 111, \"count\": 0},{\"min\": 112, \"max\": 127, \"count\": 0},{\"min\": 128, \"max\": 159, \"count\": 0},{\"min\": 160, \"max\": 191, \"count\": 0},{\"min\": 192, \"max\": 223, \"count\": 0},{\"min\": 224, \"max\": 255, \"count\": 1},{\"min\": 256, \"max\": 319, \"count\": 0},{\"min\": 320, \"max\": 383, \"count\": 0},{\"min\": 384, \"max\": 447, \"count\": 0},{\"min\": 448, \"max\": 511, \"count\": 0},{\"min\": 512, \"max\": 639, \"count\": 0},{\"min\": 640, \"max\": 767, \"count\": 0},{\"min\": 768, \"max\": 895, \"count\": 0},{\"min\": 896, \"max\": 1023, \"count\": 0},{\"min\": 1024, \"max\": 1279, \"count\": 0},{\"min\": 1280, \"max\": 1535, \"count\": 0},{\"min\": 1536, \"max\": 1791, \"count\": 0},{\"min\": 1792, \"max\": 2047, \"count\": 0},{\"min\": 2048, \"max\": 2559, \"count\": 0},{\"min\": 2560, \"max\": 3071, \"count\": 0},{\"min\": 3072, \"max\": 3583, \"count\": 0},{\"min\": 3584, \"max\": 4095, \"count\": 0},{\"min\": 4096, \"max\": 5119, \"count\": 1}]}}\n"
    )


def test_lhist_overflow_has_only_min():
    assert json.maps_at_exit(LHIST_OUT_OF_RANGE) == (
        "{\"type\": \"hist\", \"data\": {\"@l\": [{\"max\": -1, \"count\": 1},{\"min\": 0, \"max\": 9, \"count\": 1},{\"min\": 10, \"max\": 19, \"count\": 0},{\"min\": 20, \"max\": 29, \"count\": 0},{\"min\": 30, \"max\": 39, \"count\": 0},{\"min\": 40, \"max\": 49, \"count\": 0},{\"min\": 50, \"max\": 59, \"count\": 1},{\"min\": 60, \"max\": 69, \"count\": 0},{\"min\": 70, \"max\": 79, \"count\": 0},{\"min\": 80, \"max\": 89, \"count\": 0},{\"min\": 90, \"max\": 99, \"count\": 1},{\"min\": 100, \"count\": 2}]}}\n"
    )


def test_lhist_suffix_labels_are_plain_numbers():
    assert json.maps_at_exit(LHIST_STEPS) == (
        "{\"type\": \"hist\", \"data\": {\"@j\": [{\"min\": 1024, \"max\": 2047, \"count\": 1},{\"min\": 2048, \"max\": 3071, \"count\": 0},{\"min\": 3072, \"max\": 4095, \"count\": 0},{\"min\": 4096, \"max\": 5119, \"count\": 1}]}}\n"
        "{\"type\": \"hist\", \"data\": {\"@k\": [{\"min\": 0, \"max\": 1048575, \"count\": 1},{\"min\": 1048576, \"max\": 2097151, \"count\": 0},{\"min\": 2097152, \"max\": 3145727, \"count\": 1}]}}\n"
        "{\"type\": \"hist\", \"data\": {\"@l\": [{\"min\": 3, \"max\": 3, \"count\": 1},{\"min\": 4, \"max\": 4, \"count\": 0},{\"min\": 5, \"max\": 5, \"count\": 1}]}}\n"
        "{\"type\": \"hist\", \"data\": {\"@m\": [{\"min\": 10, \"max\": 14, \"count\": 1},{\"min\": 15, \"max\": 19, \"count\": 0},{\"min\": 20, \"max\": 24, \"count\": 1}]}}\n"
    )


def test_aggregations():
    assert json.maps_at_exit(AGGREGATIONS) == (
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
    # KEYED_SORT's and MIN_BY_KEY's programs as one BEGIN. 0.27.1 printed
    # these lines, but @mn's members in unsigned order: {"3": 0, "1": 5, "2": -3}.
    assert json.maps_at_exit([*KEYED_SORT, MIN_BY_KEY]) == (
        '{"type": "map", "data": {"@mn": {"2": -3, "3": 0, "1": 5}}}\n'
        '{"type": "map", "data": {"@s": {"d": -20, "b": -5, "c": 3, "a": 10}}}\n'
        '{"type": "map", "data": {"@str": {"-3": "zzz", "1": "hello", "2": "abc"}}}\n'
        '{"type": "map", "data": {"@t": {"x,1": 1, "x,2": 2, "y,-1": 3}}}\n'
    )


def test_print_with_top_and_div():
    # 0.27.1: top_and_div_output's program; the two empty `{}` stats records
    # bpftrace printed at exit for cleared @a and @st are left out (auger
    # prints no empty map at exit, as text mode does).
    printed = top_and_div_output(json.map_record, json.maps_at_exit)
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
    printed = mid_run_output(json.map_record, json.printf_record, json.maps_at_exit)
    assert printed == (
        "{\"type\": \"hist\", \"data\": {\"@h\": [{\"min\": 2, \"max\": 3, \"count\": 1}]}}\n"
        "{\"type\": \"map\", \"data\": {\"@a\": 5}}\n"
        "{\"type\": \"printf\", \"data\": \"after\\n\"}\n"
        "{\"type\": \"map\", \"data\": {\"@a\": 5}}\n"
        "{\"type\": \"map\", \"data\": {\"@x\": 1}}\n"
    )


def test_values_bools_tuples_records_escapes():
    printed = bools_tuples_records_output(json.value_record, json.map_record, json.printf_record, json.maps_at_exit)
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
    assert json.maps_at_exit(EXTREME_VALUES) == (
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
    # SPACED_KEYS' program: it deletes every space of a key. We keep the
    # string's own spaces and unspace only the separators.
    assert json.maps_at_exit(SPACED_KEYS) == (
        '{"type": "map", "data": {"@m": {"a b,1": 1}}}\n'
        '{"type": "map", "data": {"@n": {"x y": 2}}}\n'
    )


def test_stack_keys_and_values():
    # 0.27.1: tracepoint:raw_syscalls:sys_enter { @[kstack(2)] = count();
    #   @s = kstack(2); exit(); }
    frames = KERNEL_FRAMES[:2]
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
