"""Probes attached in the real kernel, run through the CLI against a
workload the test controls (tests/e2e/workload.c, compiled with gcc): exact
counts where the workload fixes them, rates within a tolerance."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auger.runtime.attach import DETACHER_NAME
from auger.runtime.kernel import online_cpus

from conftest import build_c

pytestmark = pytest.mark.root

GETPPID = "tracepoint:syscalls:sys_enter_getppid"
O_RDONLY_NOCTTY_CLOEXEC = 0o400 | 0o2000000  # O_NOCTTY | O_CLOEXEC (O_RDONLY is 0)


@pytest.fixture(scope="session")
def workload(tmp_path_factory) -> str:
    source = Path(__file__).with_name("workload.c").read_text()
    return build_c(tmp_path_factory.mktemp("workload"), "workload", source, "-O2")


def test_tracepoint_counts_child_calls_exactly(run_auger, workload):
    result = run_auger("-c", f"{workload} 1234", "-e", f"{GETPPID} /pid == cpid/ {{ @ = count(); }}")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "\n\n@: 1234\n"
    assert result.stderr == "Attached 1 probe\n"


def test_tracepoint_args_fields(run_auger, workload):
    program = "tracepoint:syscalls:sys_enter_openat /pid == cpid/ { @[args.flags] = count(); }"
    result = run_auger("-c", f"{workload} 0 /etc/hostname", "-e", program)
    assert result.returncode == 0, result.stderr
    assert f"@[{O_RDONLY_NOCTTY_CLOEXEC}]: 1\n" in result.stdout


def test_dereference_reads_user_memory_in_syscall_tracepoints(run_auger, workload):
    program = ("tracepoint:syscalls:sys_enter_openat /pid == cpid && args.flags == "
               f'{O_RDONLY_NOCTTY_CLOEXEC}/ {{ printf("%c%c\\n", *(uint8 *)args.filename, *(args.filename + 1)); }}')
    result = run_auger("-c", f"{workload} 0 /etc/hostname", "-e", program)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("/e\n")


def test_predicate_and_exit_code(run_auger, workload):
    program = f"{GETPPID} /pid == cpid/ {{ @n++; if (@n == 3) {{ exit(7); }} }}"
    result = run_auger("-c", f"{workload} 10", "-e", program)
    assert result.returncode == 7, result.stderr
    # exit() stops the session; the probe may fire a few more times before it detaches.
    assert 3 <= int(result.stdout.split("@n: ")[1]) <= 10


def test_rawtracepoint_arguments(run_auger, workload):
    # sys_enter(struct pt_regs *regs, long id): arg1 is the syscall number (getppid: 110 on x86-64).
    if os.uname().machine != "x86_64":
        pytest.skip("syscall numbers here are x86-64's")
    program = "rawtracepoint:sys_enter /pid == cpid && arg1 == 110/ { @ = count(); }"
    result = run_auger("-c", f"{workload} 321", "-e", program)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "\n\n@: 321\n"


def test_uprobe_arguments_and_uretprobe_return_values(run_auger, workload):
    # work_step(i) returns 2 * i, for i = 0..9.
    program = (f"uprobe:{workload}:work_step {{ @args = sum(arg0); @calls = count(); }} "
               f"uretprobe:{workload}:work_step {{ @returned = sum(retval); }}")
    result = run_auger("-c", f"{workload} 10", "-e", program)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "\n\n@args: 45\n@calls: 10\n@returned: 90\n"


def test_pid_filter(run_auger, workload):
    child = subprocess.Popen([workload, "55", "", "1000"])
    try:
        # Tracing stops when the process ends.
        result = run_auger("-p", str(child.pid), "-e", f"{GETPPID} {{ @ = count(); }}")
    finally:
        child.wait()
    assert result.returncode == 0, result.stderr
    assert result.stdout == "\n\n@: 55\n"


def test_pid_that_does_not_exist(run_auger):
    result = run_auger("-p", "999999999", "-e", f"{GETPPID} {{ @ = count(); }}")
    assert result.returncode == 1
    assert "does not exist" in result.stderr


def test_interval_rate(run_auger):
    started = time.monotonic()
    result = run_auger("-q", "-e", "interval:ms:100 { @n++; if (@n == 5) { exit(); } }")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert result.stdout == "\n\n@n: 5\n"
    assert result.stderr == ""  # -q: no Attached line
    assert 0.45 < elapsed < 3


def test_profile_fires_on_every_cpu(run_auger):
    """99 Hz on each CPU; cpu-clock does not tick on an idle CPU (bpftrace
    counts the same), so a spinner keeps each CPU busy meanwhile."""
    cpus = online_cpus()
    spin = "import os, sys\nos.sched_setaffinity(0, {int(sys.argv[1])})\nwhile True: pass"
    spinners = [subprocess.Popen([sys.executable, "-c", spin, str(cpu)]) for cpu in cpus]
    try:
        result = run_auger("-e", "profile:hz:99 { @[cpu] = count(); } interval:s:1 { exit(); }")
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("@[")]
    counts = {int(line[2:line.index("]")]): int(line.split(": ")[1]) for line in lines}
    assert set(counts) == set(cpus)
    assert all(0.6 * 99 <= count <= 1.3 * 99 for count in counts.values()), counts
    assert result.stderr == "Attached 2 probes\n"


def test_software_cpu_clock(run_auger):
    result = run_auger("-e", "software:cpu-clock:1000000 { @ = count(); } interval:ms:300 { exit(); }")
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split("@: ")[1]) > 0


def test_hardware_without_pmu_is_a_clear_error(run_auger):
    if os.path.exists("/sys/bus/event_source/devices/cpu"):
        pytest.skip("this machine has a hardware PMU")
    result = run_auger("-e", "hardware:cpu-cycles:1000000 { @ = count(); }")
    assert result.returncode == 1
    assert "ERROR: attaching probe hardware:cpu-cycles:1000000: hardware perf events are not available" in result.stderr
    assert "Traceback" not in result.stderr


def test_kprobe_without_kprobes_is_a_clear_error(run_auger):
    if os.path.exists("/sys/bus/event_source/devices/kprobe"):
        pytest.skip("this kernel has kprobes")
    result = run_auger("-e", "BEGIN { @b = 1; } kprobe:vfs_read { @ = count(); } END { @e = 1; }")
    assert result.returncode == 1
    assert result.stderr == "ERROR: attaching probe kprobe:vfs_read: this kernel has no kprobes (CONFIG_KPROBES)\n"
    assert result.stdout == ""


def test_output_file_and_json(run_auger, workload, tmp_path):
    out = tmp_path / "out.json"
    program = f'{GETPPID} /pid == cpid/ {{ @ = count(); printf("hit\\n"); }}'
    result = run_auger("-f", "json", "-o", str(out), "-c", f"{workload} 2", "-e", program)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records == [
        {"type": "attached_probes", "count": 1, "data": {"probes": 1}},
        {"type": "printf", "data": "hit\n"},
        {"type": "printf", "data": "hit\n"},
        {"type": "map", "data": {"@": 2}},
    ]


def test_wildcard_tracepoints_share_one_program(run_auger, workload):
    """`syscalls:sys_enter_*` (over 300 tracepoints): one program, attached
    everywhere; bpftrace 0.17 needs 27 s here, the target is a tenth.
    The kernel detaches them in the background afterwards (~30 s, holding
    its tracing mutex): wait for an earlier run's detacher first."""
    _wait_for_background_detachers()
    started = time.monotonic()
    result = run_auger("-c", f"{workload} 5", "-e", "tracepoint:syscalls:sys_enter_* /pid == cpid/ { @ = count(); }")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    attached = int(result.stderr.split()[1])
    assert attached > 300
    assert int(result.stdout.split("@: ")[1]) >= 5
    # 0.5-0.7 s measured alone. Other tracers detaching tracepoints at the
    # same time (other test runs, bpftrace) hold the kernel's tracing mutex
    # for up to 30 s, so only a gross regression fails here.
    assert elapsed < 60, f"{elapsed:.2f} s"


def _wait_for_background_detachers(limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        names = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                names.append(Path(f"/proc/{pid}/comm").read_text().strip())
            except OSError:
                pass
        if DETACHER_NAME not in names:
            return
        time.sleep(0.5)


def test_curtask_is_kernel_memory_in_syscall_tracepoints(run_auger, workload):
    """A syscall tracepoint's pointers are user memory, but what curtask
    reaches is the kernel's (as bpftrace 0.27)."""
    program = f"{GETPPID} /pid == cpid/ {{ @[curtask->comm, str(curtask->comm), curtask->tgid - pid] = count(); }}"
    result = run_auger("-c", f"{workload} 3", "-e", program)
    assert result.returncode == 0, result.stderr
    name = Path(workload).name[:15]
    assert f"@[{name}, {name}, 0]: 3" in result.stdout


def test_nothing_after_exit_is_shown_but_end(run_auger, workload):
    """Events other probes sent after exit() are not shown (as bpftrace:
    the child makes 1000 calls, only the first one prints); END's are."""
    program = f'{GETPPID} /pid == cpid/ {{ printf("x\\n"); exit(); }} END {{ printf("end\\n"); }}'
    result = run_auger("-c", f"{workload} 1000", "-e", program)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "x\nend\n\n\n"  # the two blank lines before the (no) maps, as bpftrace


def test_indexing_a_pointer_and_an_array(run_auger, workload):
    """`args.argv[i]` reads the i-th pointer (`*(argv + i)`); a constant
    index into a `char[16]` field is a byte of it."""
    program = ("tracepoint:syscalls:sys_enter_execve /pid == cpid/ "
               '{ printf("%s %s|", str(args.argv[1]), str(args.argv[2])); } '
               'tracepoint:sched:sched_process_exit /pid == cpid/ { printf("%c%c\\n", args.comm[0], args.comm[1]); }')
    result = run_auger("-c", f"{workload} 0 /etc/hostname", "-e", program)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"0 /etc/hostname|{Path(workload).name[:2]}\n")
