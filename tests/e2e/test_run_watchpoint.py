"""Watchpoint probes run for real on the breakpoint PMU: a C program built
here (-no-pie, so `nm` gives the run-time addresses) writes a global
variable, or calls a function, exactly N times; auger counts each access in
the -c command or the -p process, then the session ends and frees
everything.

The variable is initialised (.data, not .bss): exec zeroes .bss from the
kernel, which a write watchpoint counts too (bpftrace alike)."""

import os
import platform
import subprocess
import sys

import pytest

from conftest import build_c, run_until_interrupted
from test_session_cleanup import _bpf_ids, _gone

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(not os.path.isdir("/sys/bus/event_source/devices/breakpoint"),
                       reason="no breakpoint PMU (/sys/bus/event_source/devices/breakpoint)"),
]  # fmt: skip

SOURCE = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

volatile long watched = 1;

__attribute__((noinline)) void touch(long value) { watched = value; }

int main(int argc, char **argv) {
    int times = atoi(argv[1]);
    if (argc > 2) {  /* wait for a line on stdin first (-p) */
        char line[16];
        if (!fgets(line, sizeof line, stdin))
            return 1;
    }
    for (int i = 0; i < times; i++)
        touch(i);
    return 0;
}
"""


@pytest.fixture(scope="module")
def workload(tmp_path_factory) -> tuple[str, dict[str, int]]:
    """The binary and the addresses of `watched` and `touch`."""
    binary = build_c(tmp_path_factory.mktemp("watchpoint"), "watched", SOURCE, "-O0", "-no-pie")
    symbols = subprocess.run(["nm", binary], capture_output=True, text=True, check=True).stdout
    addresses = {name: int(value, 16) for value, _, name in (line.split() for line in symbols.splitlines()
                                                            if len(line.split()) == 3)}  # fmt: skip
    return binary, addresses


def test_c_counts_every_write_and_names_the_probe(run_auger, workload):
    binary, addresses = workload
    address = addresses["watched"]
    result = run_auger("-c", f"{binary} 7", "-e", f"watchpoint:{address:#x}:8:w {{ @[probe] = count(); }}")
    assert result.returncode == 0, result.stderr
    assert result.stderr == "Attached 1 probe\n"
    assert result.stdout == f"\n\n@[watchpoint:{address}:8:w]: 7\n"


def test_rw_and_shorter_lengths(run_auger, workload):
    binary, addresses = workload
    program = f"w:{addresses['watched']:#x}:4:rw {{ @ = count(); }}"
    result = run_auger("-c", f"{binary} 5", "-e", program)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "\n\n@: 5\n"


def test_execute_watchpoint_sees_the_registers(run_auger, workload):
    binary, addresses = workload
    touch = addresses["touch"]
    program = f'watchpoint:{touch:#x}:8:x {{ @[reg("ip") == {touch}] = count(); }}'
    result = run_auger("-c", f"{binary} 3", "-e", program)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "\n\n@[true]: 3\n"


def test_p_watches_that_process_and_frees_everything(workload):
    binary, addresses = workload
    traced = subprocess.Popen([binary, "4", "wait"], stdin=subprocess.PIPE, text=True)
    program = f"watchpoint:{addresses['watched']:#x}:8:w {{ @ = count(); }}"
    auger = subprocess.Popen([sys.executable, "-m", "auger", "-p", str(traced.pid), "-e", program],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert auger.stderr.readline() == "Attached 1 probe\n"
        ids = _bpf_ids(auger.pid)
        traced.stdin.write("go\n")
        traced.stdin.close()
        traced.wait(timeout=30)
        output, errors = auger.communicate(timeout=30)  # ends with the process
    finally:
        for process in (traced, auger):
            process.kill()
            process.wait()
    assert auger.returncode == 0, errors
    assert output == "\n\n@: 4\n"
    assert ids and _gone(ids)


def test_without_a_process_it_watches_every_cpu(workload):
    binary, addresses = workload
    program = f"watchpoint:{addresses['watched']:#x}:8:w {{ @ = count(); }}"
    status, output, errors = run_until_interrupted(program, "Attached 1 probe\n",
                                                   lambda: subprocess.run([binary, "3"], check=True))
    assert status == 0, errors
    assert output.endswith("@: 3\n"), output


@pytest.mark.parametrize("attach_point, message", [
    ("watchpoint:0x1000:8:r", "invalid watchpoint mode: r"),
    ("watchpoint:0x1000:3:w", "watchpoint length must be one of (1,2,4,8)"),
    ("watchpoint:0x1000:8:wq", "watchpoint mode must be combination of (r,w,x)"),
    ("watchpoint:main+arg0:8:w", "watchpoint on a function argument (FUNC+argN) is not supported yet"),
])  # fmt: skip
def test_bad_attach_points_are_diagnostics(run_auger, attach_point, message):
    result = run_auger("-e", f"{attach_point} {{ @ = count(); }}")
    assert result.returncode != 0
    assert f"ERROR: {message}" in result.stderr.splitlines()[0]
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(platform.machine() != "x86_64", reason="x86-64 execute breakpoints only")
def test_an_execute_watchpoint_of_the_wrong_length_is_refused_at_attach(run_auger, workload):
    binary, addresses = workload
    result = run_auger("-c", f"{binary} 1", "-e", f"watchpoint:{addresses['touch']:#x}:4:x {{ @ = count(); }}")
    assert result.returncode != 0
    assert result.stderr == f"ERROR: attaching probe watchpoint:{addresses['touch']}:4:x: watchpoint mode x needs length 8 on x86_64\n"
