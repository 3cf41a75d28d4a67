"""Attach point parsing: every form and alias, canonical names, and errors
with bpftrace's wording."""

import pytest

from auger.probes.base import ProbeError
from auger.probes.registry import parse_attach_point, provider

CANONICAL_NAMES = [
    ("BEGIN", "BEGIN"),
    ("begin", "BEGIN"),
    ("END", "END"),
    ("end", "END"),
    ("tracepoint:syscalls:sys_enter_read", "tracepoint:syscalls:sys_enter_read"),
    ("t:syscalls:sys_enter_read", "tracepoint:syscalls:sys_enter_read"),
    ("Tracepoint:sched:sched_switch", "tracepoint:sched:sched_switch"),
    ("rawtracepoint:sched_switch", "rawtracepoint:sched_switch"),
    ("rt:vmlinux:sched_switch", "rawtracepoint:vmlinux:sched_switch"),
    ("kprobe:vfs_read", "kprobe:vfs_read"),
    ("k:vfs_read+8", "kprobe:vfs_read+8"),
    ("k:vfs_read+0x10", "kprobe:vfs_read+16"),
    ("kprobe:nf_tables:nft_do_chain", "kprobe:nf_tables:nft_do_chain"),
    ("kr:vfs_read", "kretprobe:vfs_read"),
    ("uprobe:/bin/bash:readline", "uprobe:/bin/bash:readline"),
    ("u:/bin/bash:readline+4", "uprobe:/bin/bash:readline+4"),
    ("uprobe:/bin/bash:0x4000", "uprobe:/bin/bash:16384"),
    ("ur:/bin/bash:readline", "uretprobe:/bin/bash:readline"),
    ('uprobe:"/bin/bash":"readline"', "uprobe:/bin/bash:readline"),
    ("usdt:/usr/bin/python3:python:line", "usdt:/usr/bin/python3:python:line"),
    ("U:/usr/bin/python3:line", "usdt:/usr/bin/python3:line"),
    ("profile:hz:99", "profile:hz:99"),
    ("p:ms:10", "profile:ms:10"),
    ("interval:s:1", "interval:s:1"),
    ("i:ms:100", "interval:ms:100"),
    ("interval:1s", "interval:us:1000000"),
    ("interval:100ms", "interval:us:100000"),
    ("profile:1000", "profile:us:1"),
    ("software:faults", "software:faults"),
    ("s:cpu-clock:1000000", "software:cpu-clock:1000000"),
    ("hardware:cache-misses:1000000", "hardware:cache-misses:1000000"),
    ("h:cycles", "hardware:cycles"),
    ("watchpoint:0x1000:8:w", "watchpoint:4096:8:w"),
    ("w:0x1000:4:wr", "watchpoint:4096:4:rw"),
    ("aw:0x1000:1:x", "asyncwatchpoint:4096:1:x"),
    ("fentry:vfs_read", "fentry:vfs_read"),
    ("kfunc:vfs_read", "fentry:vfs_read"),
    ("f:ext4:ext4_file_open", "fentry:ext4:ext4_file_open"),
    ("fexit:vfs_read", "fexit:vfs_read"),
    ("kretfunc:vfs_read", "fexit:vfs_read"),
    ("fr:vfs_read", "fexit:vfs_read"),
]


@pytest.mark.parametrize("text, name", CANONICAL_NAMES)
def test_canonical_name(text, name):
    assert parse_attach_point(text).name == name


def test_library_and_path_targets_resolve():
    libc = parse_attach_point("uprobe:libc:malloc")
    assert libc.target.startswith("/") and "libc.so" in libc.target
    assert libc.name == f"uprobe:{libc.target}:malloc"
    assert parse_attach_point("uprobe:bash:readline").target.endswith("/bash")


def test_spec_fields():
    spec = parse_attach_point("uprobe:/bin/bash:readline+4")
    assert (spec.provider, spec.target, spec.function, spec.offset) == ("uprobe", "/bin/bash", "readline", 4)
    assert parse_attach_point("uprobe:/bin/bash:0x4000").address == 0x4000
    timer = parse_attach_point("profile:hz:99")
    assert (timer.unit, timer.rate) == ("hz", 99)
    watch = parse_attach_point("watchpoint:0x1000:8:w")
    assert (watch.address, watch.length, watch.mode) == (0x1000, 8, "w")
    usdt = parse_attach_point("usdt:/usr/bin/python3:python:line")
    assert (usdt.usdt_provider, usdt.function) == ("python", "line")


def test_positional_parameters():
    assert parse_attach_point("uprobe:$1:$2", ["/bin/bash", "readline"]).name == "uprobe:/bin/bash:readline"
    assert parse_attach_point("interval:s:$1", ["5"]).name == "interval:s:5"


def test_provider_lookup():
    assert provider("t").name == "tracepoint"
    assert provider("U").name == "usdt"
    assert provider("u").name == "uprobe"
    assert provider("KPROBE").name == "kprobe"


ERRORS = [
    ("foo:bar", "Invalid probe type: foo", None),
    ("tracepint:a:b", "Invalid probe type: tracepint", "did you mean tracepoint?"),
    (":x", "Invalid attachpoint definition", None),
    ("BEGIN:x", "BEGIN probe type requires 0 arguments, found 1", None),
    ("tracepoint:a", "tracepoint probe type requires 2 arguments, found 1", None),
    ("tracepoint:a:b:c", "tracepoint probe type requires 2 arguments, found 3", None),
    ("kprobe:a:b:c", "kprobe probe type requires 1 or 2 arguments, found 3", None),
    ("kretprobe:vfs_read+8", "Offset not allowed", None),
    ("k:f+1+2", "Cannot take more than one offset", None),
    ("k:f+x", "Invalid offset: 'x' is not a valid unsigned integer", None),
    ("uprobe:/bin/bash", "uprobe probe type requires 2 arguments, found 1", None),
    ("uprobe:/nonexistent/bin:x", "uprobe target file '/nonexistent/bin' does not exist or is not executable", None),
    ("uprobe:libnopenope:x", "uprobe target file 'libnopenope' does not exist or is not executable", None),
    ("uretprobe:/bin/bash:readline+1", "Offset not allowed", None),
    ("uprobe:/bin/*:0x10", "Cannot use wildcards with absolute address", None),
    ("usdt:a", "usdt probe type requires 2 or 3 arguments, found 1", None),
    ("interval:xs:1", "xs is not an accepted unit of time", "valid units: hz, s, ms, us"),
    ("profile:xs:99", "xs is not an accepted unit of time", "valid units: hz, s, ms, us"),
    ("interval:s:0", "interval frequency should be a positive integer", None),
    ("interval:s:x", "interval probe must have an integer frequency", None),
    ("interval:a:b:c", "interval probe type requires 1 or 2 arguments, found 3", None),
    ("profile:99", "Invalid rate of profile probe. Minimum is 1000 or 1us. Found: 99 nanoseconds", None),
    ("interval:soon", "Invalid rate of interval probe: 'soon' is not a valid duration", None),
    ("software:foo", "foo is not a software probe", None),
    ("software:cpu-clok", "cpu-clok is not a software probe", "did you mean cpu-clock?"),
    ("software:cpu-clock:abc", "software probe can only have an integer count", None),
    ("software:*", "wildcards are not allowed for software probe type", None),
    ("hardware:foo", "foo is not a hardware probe", None),
    ("watchpoint:0x1000:8:q", "watchpoint mode must be combination of (r,w,x)", None),
    ("watchpoint:0x1000:8:ww", "watchpoint modes may not be duplicated", None),
    ("watchpoint:0x1000:3:w", "watchpoint length must be one of (1,2,4,8)", None),
    ("watchpoint:0:8:w", "watchpoint must be attached to a non-zero address", None),
    ("watchpoint:zz:8:w", "Invalid function/address argument: 'zz' is not a valid unsigned integer", None),
    ("watchpoint:0x1000:8", "watchpoint probe type requires 3 arguments, found 2", None),
    ("rt:a:b:c", "rawtracepoint probe type requires 1 or 2 arguments, found 3", None),
    ("fentry:a:b:c", "fentry probe type requires 1 or 2 arguments, found 3", None),
    ("k:$x", 'invalid trailing character for positional param: x. Try quoting this entire part if this is intentional e.g. "$x".', None),
]


@pytest.mark.parametrize("text, message, hint", ERRORS)
def test_error(text, message, hint):
    with pytest.raises(ProbeError) as raised:
        parse_attach_point(text)
    assert str(raised.value) == message
    assert raised.value.hint == hint


def test_x86_watchpoint_modes():
    import platform

    if platform.machine() != "x86_64":
        pytest.skip("x86-64 debug registers only")
    with pytest.raises(ProbeError) as raised:
        parse_attach_point("watchpoint:0x1000:8:r")
    assert (str(raised.value), raised.value.hint) == ("invalid watchpoint mode: r", "supported modes: rw,w,x")
