"""Text output against real bpftrace output.

Each expected string was produced by running the bpftrace program quoted
above it, or above its sample in format_samples.py (BEGIN-only, so
deterministic), and is compared byte for byte with what
auger.runtime.format.text renders from the values the runtime would read
for the same program. "0.27.1" is bpftrace v0.27.1 (Debian sid);
"0.17" is Debian 12's bpftrace 0.17, used only where 0.27.1 is wrong.
"""

from hypothesis import given
from hypothesis import strategies as st

from auger.runtime.format import percpu, text
from auger.runtime.format.buckets import buckets, hist_bucket_index
from auger.runtime.format.values import Avg, Integer, Stack, StackFrame, Symbol
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
    hist,
    keyed,
    lhist,
    mid_run_output,
    scalar,
    top_and_div_output,
)


def test_compat_sample():
    assert text.format_maps_at_exit(COMPAT) == (
        "\n"
        "\n"
        "@a: 7\n"
        "@c[x]: 1\n"
        "@h:\n"
        "[4, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "\n"
        "@st: { .count = 3, .average = 20, .total = 60 }\n"
        "@t: (1, two)\n"
    )


def test_hist_negative_zero_one_and_suffixes():
    assert text.format_maps_at_exit(HIST_AROUND_ZERO) == (
        "\n"
        "\n"
        "@h:\n"
        "(..., 0)               2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "[0]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
        "[1]                    2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "[2, 4)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
        "[4, 8)                 0 |                                                    |\n"
        "[8, 16)                0 |                                                    |\n"
        "[16, 32)               0 |                                                    |\n"
        "[32, 64)               0 |                                                    |\n"
        "[64, 128)              0 |                                                    |\n"
        "[128, 256)             0 |                                                    |\n"
        "[256, 512)             0 |                                                    |\n"
        "[512, 1K)              0 |                                                    |\n"
        "[1K, 2K)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
        "[2K, 4K)               0 |                                                    |\n"
        "[4K, 8K)               0 |                                                    |\n"
        "[8K, 16K)              0 |                                                    |\n"
        "[16K, 32K)             0 |                                                    |\n"
        "[32K, 64K)             0 |                                                    |\n"
        "[64K, 128K)            0 |                                                    |\n"
        "[128K, 256K)           0 |                                                    |\n"
        "[256K, 512K)           0 |                                                    |\n"
        "[512K, 1M)             0 |                                                    |\n"
        "[1M, 2M)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
        "\n"
    )


def test_hist_up_to_exa():
    assert text.format_maps_at_exit(HIST_UP_TO_EXA) == (
        "\n"
        "\n"
        "@h:\n"
        "[8, 16)                2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "[16, 32)               0 |                                                    |\n"
        "[32, 64)               0 |                                                    |\n"
        "[64, 128)              2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "[128, 256)             0 |                                                    |\n"
        "[256, 512)             0 |                                                    |\n"
        "[512, 1K)              0 |                                                    |\n"
        "[1K, 2K)               0 |                                                    |\n"
        "[2K, 4K)               0 |                                                    |\n"
        "[4K, 8K)               0 |                                                    |\n"
        "[8K, 16K)              0 |                                                    |\n"
        "[16K, 32K)             0 |                                                    |\n"
        "[32K, 64K)             0 |                                                    |\n"
        "[64K, 128K)            0 |                                                    |\n"
        "[128K, 256K)           0 |                                                    |\n"
        "[256K, 512K)           0 |                                                    |\n"
        "[512K, 1M)             0 |                                                    |\n"
        "[1M, 2M)               0 |                                                    |\n"
        "[2M, 4M)               0 |                                                    |\n"
        "[4M, 8M)               0 |                                                    |\n"
        "[8M, 16M)              0 |                                                    |\n"
        "[16M, 32M)             0 |                                                    |\n"
        "[32M, 64M)             0 |                                                    |\n"
        "[64M, 128M)            0 |                                                    |\n"
        "[128M, 256M)           0 |                                                    |\n"
        "[256M, 512M)           0 |                                                    |\n"
        "[512M, 1G)             0 |                                                    |\n"
        "[1G, 2G)               0 |                                                    |\n"
        "[2G, 4G)               0 |                                                    |\n"
        "[4G, 8G)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
        "[8G, 16G)              0 |                                                    |\n"
        "[16G, 32G)             0 |                                                    |\n"
        "[32G, 64G)             0 |                                                    |\n"
        "[64G, 128G)            0 |                                                    |\n"
        "[128G, 256G)           0 |                                                    |\n"
        "[256G, 512G)           0 |                                                    |\n"
        "[512G, 1T)             0 |                                                    |\n"
        "[1T, 2T)               0 |                                                    |\n"
        "[2T, 4T)               0 |                                                    |\n"
        "[4T, 8T)               0 |                                                    |\n"
        "[8T, 16T)              0 |                                                    |\n"
        "[16T, 32T)             0 |                                                    |\n"
        "[32T, 64T)             0 |                                                    |\n"
        "[64T, 128T)            0 |                                                    |\n"
        "[128T, 256T)           0 |                                                    |\n"
        "[256T, 512T)           0 |                                                    |\n"
        "[512T, 1P)             0 |                                                    |\n"
        "[1P, 2P)               0 |                                                    |\n"
        "[2P, 4P)               0 |                                                    |\n"
        "[4P, 8P)               0 |                                                    |\n"
        "[8P, 16P)              0 |                                                    |\n"
        "[16P, 32P)             0 |                                                    |\n"
        "[32P, 64P)             0 |                                                    |\n"
        "[64P, 128P)            0 |                                                    |\n"
        "[128P, 256P)           0 |                                                    |\n"
        "[256P, 512P)           0 |                                                    |\n"
        "[512P, 1E)             0 |                                                    |\n"
        "[1E, 2E)               0 |                                                    |\n"
        "[2E, 4E)               0 |                                                    |\n"
        "[4E, 8E)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
        "\n"
    )


def test_hist_one_bit_sub_buckets():
    # 0.27.1: BEGIN { $i = 0; while ($i < 20) { @h = hist($i, 1); $i++; }
    #   @h = hist(100, 1); @h = hist(1500, 1); exit(); }
    maps = [scalar("@h", hist(*range(20), 100, 1500, bits=1))]
    assert text.format_maps_at_exit(maps) == (
        "\n"
        "\n"
        "@h:\n"
        "[0]                    1 |@@@@@@@@@@@@@                                       |\n"
        "[1]                    1 |@@@@@@@@@@@@@                                       |\n"
        "[2]                    1 |@@@@@@@@@@@@@                                       |\n"
        "[3]                    1 |@@@@@@@@@@@@@                                       |\n"
        "[4, 6)                 2 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
        "[6, 8)                 2 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
        "[8, 12)                4 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "[12, 16)               4 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "[16, 24)               4 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "[24, 32)               0 |                                                    |\n"
        "[32, 48)               0 |                                                    |\n"
        "[48, 64)               0 |                                                    |\n"
        "[64, 96)               0 |                                                    |\n"
        "[96, 128)              1 |@@@@@@@@@@@@@                                       |\n"
        "[128, 192)             0 |                                                    |\n"
        "[192, 256)             0 |                                                    |\n"
        "[256, 384)             0 |                                                    |\n"
        "[384, 512)             0 |                                                    |\n"
        "[512, 768)             0 |                                                    |\n"
        "[768, 1024)            0 |                                                    |\n"
        "[1024, 1536)           1 |@@@@@@@@@@@@@                                       |\n"
        "\n"
    )


def test_hist_two_bit_sub_buckets():
    assert text.format_maps_at_exit(HIST_TWO_BIT) == (
        "\n"
        "\n"
        "@h:\n"
        "(..., 0)               1 |@@@@@@@@@@@@@@@@@                                   |\n"
        "[0]                    1 |@@@@@@@@@@@@@@@@@                                   |\n"
        "[1]                    0 |                                                    |\n"
        "[2]                    0 |                                                    |\n"
        "[3]                    1 |@@@@@@@@@@@@@@@@@                                   |\n"
        "[4]                    0 |                                                    |\n"
        "[5]                    0 |                                                    |\n"
        "[6]                    1 |@@@@@@@@@@@@@@@@@                                   |\n"
        "[7]                    0 |                                                    |\n"
        "[8, 10)                1 |@@@@@@@@@@@@@@@@@                                   |\n"
        "[10, 12)               0 |                                                    |\n"
        "[12, 14)               1 |@@@@@@@@@@@@@@@@@                                   |\n"
        "[14, 16)               1 |@@@@@@@@@@@@@@@@@                                   |\n"
        "[16, 20)               1 |@@@@@@@@@@@@@@@@@                                   |\n"
        "[20, 24)               1 |@@@@@@@@@@@@@@@@@                                   |\n"
        "[24, 28)               2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@                  |\n"
        "[28, 32)               1 |@@@@@@@@@@@@@@@@@                                   |\n"
        "[32, 40)               3 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "[40, 48)               0 |                                                    |\n"
        "[48, 56)               0 |                                                    |\n"
        "[56, 64)               0 |                                                    |\n"
        "[64, 80)               0 |                                                    |\n"
        "[80, 96)               0 |                                                    |\n"
        "[96, 112)              0 |                                                    |\n"
        "[112, 128)             0 |                                                    |\n"
        "[128, 160)             0 |                                                    |\n"
        "[160, 192)             0 |                                                    |\n"
        "[192, 224)             0 |                                                    |\n"
        "[224, 256)             1 |@@@@@@@@@@@@@@@@@                                   |\n"
        "[256, 320)             0 |                                                    |\n"
        "[320, 384)             0 |                                                    |\n"
        "[384, 448)             0 |                                                    |\n"
        "[448, 512)             0 |                                                    |\n"
        "[512, 640)             0 |                                                    |\n"
        "[640, 768)             0 |                                                    |\n"
        "[768, 896)             0 |                                                    |\n"
        "[896, 1024)            0 |                                                    |\n"
        "[1024, 1280)           0 |                                                    |\n"
        "[1280, 1536)           0 |                                                    |\n"
        "[1536, 1792)           0 |                                                    |\n"
        "[1792, 2048)           0 |                                                    |\n"
        "[2048, 2560)           0 |                                                    |\n"
        "[2560, 3072)           0 |                                                    |\n"
        "[3072, 3584)           0 |                                                    |\n"
        "[3584, 4K)             0 |                                                    |\n"
        "[4K, 5K)               1 |@@@@@@@@@@@@@@@@@                                   |\n"
        "\n"
    )


def test_lhist_underflow_and_overflow():
    assert text.format_maps_at_exit(LHIST_OUT_OF_RANGE) == (
        "\n"
        "\n"
        "@l:\n"
        "(..., 0)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
        "[0, 10)                1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
        "[10, 20)               0 |                                                    |\n"
        "[20, 30)               0 |                                                    |\n"
        "[30, 40)               0 |                                                    |\n"
        "[40, 50)               0 |                                                    |\n"
        "[50, 60)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
        "[60, 70)               0 |                                                    |\n"
        "[70, 80)               0 |                                                    |\n"
        "[80, 90)               0 |                                                    |\n"
        "[90, 100)              1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
        "[100, ...)             2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "\n"
    )


def test_lhist_step_one_suffixes_and_offset_min():
    assert text.format_maps_at_exit(LHIST_STEPS) == (
        "\n"
        "\n"
        "@j:\n"
        "[1K, 2K)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "[2K, 3K)               0 |                                                    |\n"
        "[3K, 4K)               0 |                                                    |\n"
        "[4K, 5K)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "\n"
        "@k:\n"
        "[0, 1M)                1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "[1M, 2M)               0 |                                                    |\n"
        "[2M, 3M)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "\n"
        "@l:\n"
        "[3]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "[4]                    0 |                                                    |\n"
        "[5]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "\n"
        "@m:\n"
        "[10, 15)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "[15, 20)               0 |                                                    |\n"
        "[20, 25)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "\n"
    )


def test_lhist_range_not_a_multiple_of_step():
    # 0.27.1: BEGIN { @o = lhist(5, 0, 25, 10); @o = lhist(30, 0, 25, 10);
    #   @o = lhist(22, 0, 25, 10); exit(); }
    maps = [scalar("@o", lhist(5, 30, 22, bounds=(0, 25, 10)))]
    assert text.format_maps_at_exit(maps) == (
        "\n"
        "\n"
        "@o:\n"
        "[0, 10)                1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
        "[10, 20)               0 |                                                    |\n"
        "[20, ...)              2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "\n"
    )


def test_aggregations_scalar_and_keyed():
    assert text.format_maps_at_exit(AGGREGATIONS) == (
        "\n"
        "\n"
        "@ak[b]: -10\n"
        "@ak[c]: 1\n"
        "@ak[a]: 5\n"
        "@avg: 15\n"
        "@cnt: 1\n"
        "@mn: -3\n"
        "@mx: 5\n"
        "@s: -5\n"
        "@sk[3]: { .count = 1, .average = -8, .total = -8 }\n"
        "@sk[1]: { .count = 1, .average = 3, .total = 3 }\n"
        "@sk[2]: { .count = 1, .average = 100, .total = 100 }\n"
        "@st: { .count = 2, .average = 1, .total = 3 }\n"
    )


def test_keyed_sort_orders():
    # KEYED_SORT's program with @i[5] = 1; @i[-2] = 7; @i[3] = -4;
    #   @u[(uint32)7] = (uint32)3; @u[(uint32)1] = (uint32)4000000000; added.
    # 0.27.1 printed all of it except @i and @u, which it leaves in hash order
    # (it changes from run to run); their lines are in 0.17's order, by value.
    # 0.17 itself sorts @str's keys as unsigned, 0.27.1 (followed) as signed.
    maps = [
        *KEYED_SORT,
        keyed("@i", (Integer(5), Integer(1)), (Integer(-2), Integer(7)), (Integer(3), Integer(-4))),
        keyed("@u", (Integer(7, False), Integer(3, False)),
              (Integer(1, False), Integer(4000000000, False))),
    ]
    assert text.format_maps_at_exit(maps) == (
        "\n"
        "\n"
        "@i[3]: -4\n"
        "@i[5]: 1\n"
        "@i[-2]: 7\n"
        "@s[d]: -20\n"
        "@s[b]: -5\n"
        "@s[c]: 3\n"
        "@s[a]: 10\n"
        "@str[-3]: zzz\n"
        "@str[1]: hello\n"
        "@str[2]: abc\n"
        "@t[x, 1]: 1\n"
        "@t[x, 2]: 2\n"
        "@t[y, -1]: 3\n"
        "@u[7]: 3\n"
        "@u[1]: 4000000000\n"
    )


def test_min_max_sort_signed():
    # MIN_BY_KEY's program with @mx[1] = max(-5); @mx[2] = max(3);
    #   @mx[3] = max(-1); @mx[4] = max(10); added (sorted the same way).
    maps = [
        MIN_BY_KEY,
        keyed("@mx", (Integer(1), Integer(-5)), (Integer(2), Integer(3)),
              (Integer(3), Integer(-1)), (Integer(4), Integer(10))),
    ]
    assert text.format_maps_at_exit(maps) == (
        "\n\n"
        "@mn[2]: -3\n"
        "@mn[3]: 0\n"
        "@mn[1]: 5\n"
        "@mx[1]: -5\n"
        "@mx[3]: -1\n"
        "@mx[2]: 3\n"
        "@mx[4]: 10\n"
    )


def test_print_with_top_and_div():
    printed = top_and_div_output(text.format_map, text.format_maps_at_exit)
    assert printed == (
        "@c[2]: 200\n"
        "@c[4]: 4000\n"
        "@c[1]: 1\n"
        "@c[3]: 3\n"
        "@c[2]: 20\n"
        "@c[4]: 400\n"
        "@c[3]: 0\n"
        "@c[2]: 2\n"
        "@c[4]: 40\n"
        "@h[3]:\n"
        "[4, 8)                 2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "\n"
        "@h[2]:\n"
        "[64, 128)              2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "[128, 256)             1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
        "\n"
        "@h[1]:\n"
        "[2, 4)                 0 |                                                    |\n"
        "\n"
        "@h[3]:\n"
        "[4, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "\n"
        "@h[2]:\n"
        "[64, 128)              1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "[128, 256)             0 |                                                    |\n"
        "\n"
        "@st: { .count = 2, .average = 7, .total = 151 }\n"
        "@a: 14\n"
        "@l:\n"
        "[5]                    2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "\n"
        "\n"
        "\n"
    )


def test_print_mid_run_then_exit():
    # Text mode writes printf's text as it is, so `str` is its printf record.
    printed = mid_run_output(text.format_map, str, text.format_maps_at_exit)
    assert printed == (
        "@h:\n"
        "[2, 4)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "\n"
        "@a: 5\n"
        "after\n"
        "\n"
        "\n"
        "@a: 5\n"
        "@x: 1\n"
    )


def test_no_maps_still_prints_blank_pair():
    # 0.27.1: BEGIN { printf("x\n"); exit(); }
    assert "x\n" + text.format_maps_at_exit([]) == (
        "x\n"
        "\n"
        "\n"
    )


def test_bools_tuples_records_strings_and_print_value():
    printed = bools_tuples_records_output(text.print_value, text.format_map, str, text.format_maps_at_exit)
    assert printed == (
        "1\n"
        "str\n"
        "(1, a)\n"
        "@b: true\n"
        "1 0\n"
        "\n"
        "\n"
        "@b: true\n"
        "@bf: false\n"
        "@bk[true]: 1\n"
        "@bk[false]: 2\n"
        "@e[]: 1\n"
        "@q: quo\"te\\back\ttab\n"
        "@r: { .a = 1, .b = x }\n"
        "@t: (1, two, (3, four), true)\n"
        "@tk[(1, a), 2]: 5\n"
    )


def test_spaces_inet_and_64_bit_extremes():
    # 0.27.1 ran SPACED_KEYS' and EXTREME_VALUES' programs as one BEGIN.
    assert text.format_maps_at_exit(SPACED_KEYS + EXTREME_VALUES) == (
        "\n"
        "\n"
        "@big: 18446744073709551615\n"
        "@big2: -9007199254740993\n"
        "@c: a\u0001b\n"
        "@ip: 127.0.0.1\n"
        "@ip6: fe80::1\n"
        "@m[a b, 1]: 1\n"
        "@n[x y]: 2\n"
        "@neg[-5]: 1\n"
        "@z: 0x100622000\n"
    )


def test_kernel_stacks_in_every_mode():
    # 0.27.1: tracepoint:raw_syscalls:sys_enter { @[kstack(3)] = count();
    #   @p[kstack(perf, 3)] = count(); @r[kstack(raw,3)] = count(); exit(); }
    maps = [
        keyed("@", (Stack(KERNEL_FRAMES), Integer(15, False))),
        keyed("@p", (Stack(KERNEL_FRAMES, "perf"), Integer(15, False))),
        keyed("@r", (Stack(KERNEL_FRAMES, "raw"), Integer(15, False))),
    ]
    assert text.format_maps_at_exit(maps) == (
        "\n"
        "\n"
        "@[\n"
        "        syscall_trace_enter+384\n"
        "        do_syscall_64+506\n"
        "        entry_SYSCALL_64_after_hwframe+118\n"
        "]: 15\n"
        "@p[\n"
        "\tffffffff81417d70 syscall_trace_enter+384\n"
        "\tffffffff821ef81a do_syscall_64+506\n"
        "\tffffffff81000130 entry_SYSCALL_64_after_hwframe+118\n"
        "]: 15\n"
        "@r[\n"
        "ffffffff81417d70\n"
        "ffffffff821ef81a\n"
        "ffffffff81000130\n"
        "]: 15\n"
    )


def test_user_stacks_unresolved_frames_and_modules():
    # 0.27.1, same run: @u[ustack(3)] = count(); @up[ustack(perf, 3)] = count();
    # (one entry each; an unresolved frame prints its address, 0 as "0")
    libc = "/usr/lib/x86_64-linux-gnu/libc.so.6"
    frames = (
        StackFrame(0x7F503A518F5B, "ioctl", 59, libc),
        StackFrame(0x55F1260A3BC0),
        StackFrame(0),
    )
    maps = [
        keyed("@u", (Stack(frames, user=True), Integer(1, False))),
        keyed("@up", (Stack(frames, "perf", user=True), Integer(1, False))),
    ]
    assert text.format_maps_at_exit(maps) == (
        "\n"
        "\n"
        "@u[\n"
        "        ioctl+59\n"
        "        0x55f1260a3bc0\n"
        "        0\n"
        "]: 1\n"
        "@up[\n"
        "\t7f503a518f5b ioctl+59 (/usr/lib/x86_64-linux-gnu/libc.so.6)\n"
        "\t55f1260a3bc0 0x55f1260a3bc0 ([unknown])\n"
        "\t0 0 ([unknown])\n"
        "]: 1\n"
    )


def test_stack_as_scalar_value():
    # 0.27.1: tracepoint:raw_syscalls:sys_enter { @s = kstack(2); exit(); }
    maps = [scalar("@s", Stack(KERNEL_FRAMES[:2]))]
    assert text.format_maps_at_exit(maps) == (
        "\n\n@s: \n        syscall_trace_enter+384\n        do_syscall_64+506\n\n"
    )


def test_attached_and_lost_lines():
    # 0.27.1 writes "Attached 1 probe" to stderr; plural for more.
    assert text.attached_probes(1) == "Attached 1 probe\n"
    assert text.attached_probes(3) == "Attached 3 probes\n"
    assert text.lost_events(4) == "Lost 4 events\n"


def test_symbols_resolved_and_not():
    assert text.format_value(Symbol(0xFFFFFFFF81417D70, "syscall_trace_enter")) == "syscall_trace_enter"
    assert text.format_value(Symbol(0x7F00DEAD)) == "0x7f00dead"


def test_bar_rounding_uses_float():
    # 1/3 and 2/3 of 52 truncate to 17 and 34 (bpftrace, k=2 sample above).
    assert text.bar_length(1, 3) == 17
    assert text.bar_length(2, 3) == 34
    assert text.bar_length(0, 0) == 0


# The value model's helpers that the runtime uses before printing.

def test_per_cpu_combining():
    assert percpu.combine_sum([3, 4, 0]) == Integer(7)
    assert percpu.combine_sum([1 << 63, 1 << 63], signed=False) == Integer(0, False)
    assert percpu.combine_sum([-1 & ((1 << 64) - 1), 0]) == Integer(-1)
    assert percpu.combine_min([(9, True), (0, False), (-4, True)]) == Integer(-4)
    assert percpu.combine_max([(9, True), (100, False), (-4, True)]) == Integer(9)
    assert percpu.combine_max([(0, False)]) is None
    assert percpu.combine_avg([(2, 10), (1, -31)]) == Avg(3, -21)
    assert percpu.combine_avg([(2, 10), (1, -31)]).average == -7
    assert percpu.combine_stats([(1, -7), (1, 0)]).average == -3  # C division
    assert percpu.combine_buckets([(1, 2), (0, 1, 5)]) == (1, 3, 5)


@given(st.integers(-(1 << 63), (1 << 63) - 1), st.integers(0, 5))
def test_every_sample_lands_in_the_bucket_that_names_it(sample, bits):
    (row,) = [row for row in buckets(hist(sample, bits=bits)) if row.count]
    assert row.lower is None or row.lower.value <= sample
    assert row.upper is None or sample < row.upper.value
    assert hist_bucket_index(sample, bits) == len(hist(sample, bits=bits).counts) - 1
