"""Nothing stays loaded: after SIGINT, SIGTERM and SIGKILL of an auger
process, after an attach error and a failed start, every program and map it
held is gone and no fd of the session stays open.

A subprocess's own BPF objects are found through /proc/PID/fdinfo (prog_id,
map_id), so other sessions running on the machine at the same time do not
matter."""

import io
import os
import signal
import subprocess
import sys
import time

import pytest

from auger.compiler.codegen import compile_program
from auger.compiler.diagnostics import SourceFile
from auger.compiler.parser import parse
from auger.compiler.semantic import analyse
from auger.runtime.session import SessionOptions, run

pytestmark = pytest.mark.root

PROGRAM = "tracepoint:syscalls:sys_enter_getppid { @ = count(); } END { @end = 1; }"


def _bpf_ids(pid: int) -> set[tuple[str, int]]:
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            text = open(f"/proc/{pid}/fdinfo/{fd}").read()
        except OSError:
            continue
        for line in text.splitlines():
            key, _, value = line.partition(":")
            if key in ("prog_id", "map_id"):
                ids.add((key, int(value)))
    return ids


def _exists(kind: str, object_id: int) -> bool:
    which = "prog" if kind == "prog_id" else "map"
    found = subprocess.run(["bpftool", which, "show", "id", str(object_id)], capture_output=True)
    return found.returncode == 0


def _start(*args: str) -> tuple[subprocess.Popen, set]:
    process = subprocess.Popen([sys.executable, "-m", "auger", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    line = process.stderr.readline()  # "Attached N probes": everything is loaded and attached
    assert line.startswith("Attached"), line + process.stderr.read()
    ids = _bpf_ids(process.pid)
    assert any(kind == "prog_id" for kind, _ in ids)
    return process, ids


def _gone(ids: set, wait: float = 45.0) -> bool:
    # Detaching waits for the kernel's tracing mutex, which other tracers
    # on the machine may hold for a while.
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if not any(_exists(kind, object_id) for kind, object_id in ids):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_stop_signal_runs_end_prints_maps_and_frees_everything(signal_number):
    process, ids = _start("-e", PROGRAM)
    os.getppid()
    process.send_signal(signal_number)
    stdout, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "@end: 1\n" in stdout
    assert _gone(ids)


def test_sigkill_leaves_nothing_loaded():
    process, ids = _start("-e", PROGRAM)
    process.kill()
    process.wait(timeout=10)
    assert _gone(ids)
    for events in ("/sys/kernel/tracing/kprobe_events", "/sys/kernel/tracing/uprobe_events"):
        if os.path.exists(events):
            assert "auger" not in open(events).read()


def _fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def _run_in_process(text: str, **options) -> tuple[int, str]:
    source = SourceFile("stdin", text)
    analysis = analyse(parse(source), source)
    errors = io.StringIO()
    compiled = compile_program(analysis, filter_pid="pid" in options)
    status = run(analysis, compiled, SessionOptions(output=io.StringIO(), errors=errors, **options))
    return status, errors.getvalue()


def test_attach_error_halfway_closes_every_fd():
    if os.path.exists("/sys/bus/event_source/devices/kprobe"):
        pytest.skip("this kernel has kprobes")
    before = _fds()
    status, errors = _run_in_process(f"{PROGRAM} kprobe:vfs_read {{ @k = count(); }}")
    assert status == 1
    assert "no kprobes (CONFIG_KPROBES)" in errors
    assert _fds() == before


def test_failed_start_closes_every_fd():
    before = _fds()
    status, errors = _run_in_process(PROGRAM, pid=999999999)
    assert status == 1 and "does not exist" in errors
    status, errors = _run_in_process(PROGRAM, command="/nonexistent/command")
    assert status == 1 and "not found" in errors
    assert _fds() == before


def _rejected_program(text: str):
    """`text` compiled, then its program replaced by one the verifier
    rejects: a tracepoint program loading the record's first bytes directly."""
    import dataclasses

    import llvmlite.ir as ir

    from auger.compiler.codegen import target

    source = SourceFile("stdin", text)
    analysis = analyse(parse(source), source)
    compiled = compile_program(analysis)
    module = ir.Module("rejected")
    module.triple, module.data_layout = target.TRIPLE, target.data_layout()
    i64 = ir.IntType(64)
    function = ir.Function(module, ir.FunctionType(i64, [ir.IntType(8).as_pointer()]), compiled.probes[0].name)
    function.section = compiled.probes[0].section
    builder = ir.IRBuilder(function.append_basic_block())
    builder.ret(builder.zext(builder.load(builder.bitcast(function.args[0], ir.IntType(16).as_pointer())), i64))
    return analysis, dataclasses.replace(compiled, object_code=target.emit_object(str(module)))


@pytest.mark.parametrize("verbose", [False, True])
def test_verifier_rejection_names_the_probe_and_frees_everything(verbose):
    analysis, compiled = _rejected_program("tracepoint:syscalls:sys_enter_getppid { @ = count(); }")
    before = _fds()
    errors = io.StringIO()
    status = run(analysis, compiled, SessionOptions(output=io.StringIO(), errors=errors, verbose=verbose))
    assert status == 1
    message = errors.getvalue()
    assert message.startswith("ERROR: the kernel rejected the program of probe tracepoint:syscalls:sys_enter_getppid: ")
    assert "invalid bpf_context access" in message
    if verbose:
        assert "verifier log:\n0: " in message and "HINT" not in message
    else:
        assert "verifier log (last lines):" in message and "\nHINT: " in message
    assert _fds() == before
