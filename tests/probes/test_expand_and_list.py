"""Wildcard expansion and `-l` listing against the running system."""

import subprocess
import sys

import pytest

from auger.probes.base import MissingProbe, ProbeError
from auger.probes.registry import expand, list_probes, parse_attach_point


def expanded(text):
    return [spec.name for spec in expand(parse_attach_point(text))]


def test_syscall_tracepoints(tracing):
    names = expanded("tracepoint:syscalls:sys_enter_*")
    assert len(names) > 300
    assert "tracepoint:syscalls:sys_enter_read" in names


def test_no_match_errors(tracing):
    with pytest.raises(ProbeError, match=r"^tracepoints not found: syscalls:nope\*$"):
        expand(parse_attach_point("tracepoint:syscalls:nope*"))
    with pytest.raises(ProbeError, match=r"^tracepoint not found: syscalls:nope$"):
        expand(parse_attach_point("tracepoint:syscalls:nope"))


def test_uprobe_expansion():
    names = expanded("uprobe:/bin/bash:readline*")
    assert "uprobe:/bin/bash:readline" in names and len(names) > 1
    assert expanded("uprobe:/bin/bash:readline") == ["uprobe:/bin/bash:readline"]
    with pytest.raises(MissingProbe, match="^No matches for uprobe /bin/bash:nope\\.$"):
        expand(parse_attach_point("uprobe:/bin/bash:nope"))


def test_usdt_expansion_fills_in_the_provider():
    assert expanded("usdt:/usr/bin/python3:line") == ["usdt:/usr/bin/python3:python:line"]


def test_rawtracepoint_expansion_names_the_module():
    names = expanded("rawtracepoint:sched_switch")
    assert names in (["rawtracepoint:vmlinux:sched_switch"], ["rawtracepoint:sched_switch"])


def test_list_tracepoint_category(tracing):
    names = list(list_probes("tracepoint:sched:*"))
    assert "tracepoint:sched:sched_switch" in names
    assert all(name.startswith("tracepoint:sched:") for name in names)
    assert names == sorted(names)


def test_list_uprobes_of_bash():
    names = list(list_probes("uprobe:/bin/bash:*"))
    assert "uprobe:/bin/bash:readline" in names


def test_list_usdt():
    assert "usdt:/usr/bin/python3:python:function__entry" in list(list_probes("usdt:/usr/bin/python3:*"))


def test_timer_period():
    from auger.probes.registry import context

    assert context(parse_attach_point("profile:hz:99")).extra == {"period_ns": 10101010}
    assert context(parse_attach_point("interval:ms:100")).extra == {"period_ns": 100_000_000}
    assert context(parse_attach_point("interval:1s")).extra == {"period_ns": 1_000_000_000}


def test_list_perf_events():
    assert "software:cpu-clock:" in list(list_probes("software:*"))
    assert "hardware:cpu-cycles:" in list(list_probes("hardware:*"))


def test_list_without_provider(tracing):
    assert "tracepoint:sched:sched_switch" in list(list_probes("sched_switch"))
    assert "tracepoint:sched:sched_switch" in list(list_probes("*sched_sw*"))


def test_list_with_wildcard_provider_skips_kinds_that_do_not_fit(tracing):
    assert "tracepoint:sched:sched_switch" in list(list_probes("*:sched:sched_switch"))


def test_list_unknown_provider():
    with pytest.raises(ProbeError, match="^Invalid probe type: nope$"):
        list(list_probes("nope:*"))


def test_listing_matches_bpftrace(tracing):
    try:
        expected = subprocess.run(
            ["bpftrace", "-l", "tracepoint:sched:*"], capture_output=True, text=True, timeout=30
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        pytest.skip("bpftrace is not installed")
    assert list(list_probes("tracepoint:sched:*")) == expected


MOUNT_TEST = """
import subprocess
from auger.probes import tracefs
from auger.probes.registry import expand, list_probes, parse_attach_point
for mountpoint in reversed(tracefs.TRACEFS_MOUNTPOINTS):
    subprocess.run(["umount", str(mountpoint)], capture_output=True)
assert tracefs.root(mount=False) is None, "still mounted"
for text in ("BEGIN", "interval:s:1", "uprobe:/bin/bash:readline", "software:faults"):
    expand(parse_attach_point(text))
assert tracefs.root(mount=False) is None, "mounted for a probe that does not need tracefs"
assert "tracepoint:sched:sched_switch" in list(list_probes("tracepoint:sched:sched_switch"))
assert tracefs.root(mount=False) == tracefs.TRACEFS_MOUNTPOINTS[0], "not mounted"
expand(parse_attach_point("tracepoint:sched:sched_wakeup"))
assert tracefs._mount_once.cache_info().misses == 1, "mounted more than once"
print("ok")
"""


def test_tracefs_is_mounted_on_demand_once(tracing):
    # Listing a tracepoint mounts it; probes that do not need it do not.
    # In a private mount namespace, so that unmounting tracefs does not
    # disturb anything else tracing on this machine.
    try:
        result = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", sys.executable, "-c", MOUNT_TEST],
            capture_output=True, text=True, timeout=60,
        )
    except OSError:
        pytest.skip("unshare is not available")
    if "unshare failed" in result.stderr:
        pytest.skip("cannot create a mount namespace here")
    assert result.stdout.strip() == "ok", result.stderr
