"""Shared pieces of the run-time benchmarks (kernel_cost, runtime_startup,
printf_throughput, wildcard_startup): the three tools compared, starting and
timing them, the BPF programs a process tree holds and their kernel-side run
statistics, a syscall workload, medians, the machine, and the report file.

These benchmarks load BPF programs, so they need root; they are run by hand,
never as tests.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import textwrap
import time
from pathlib import Path

import startup  # bench/startup.py, for its machine description

REPO = Path(__file__).resolve().parent.parent
REPORT = REPO / "docs" / "performance-runtime.md"
SCRATCH = Path("/tmp/bench")
BPFTRACE_017 = "/usr/bin/bpftrace"
BPFTRACE_NEW = "/work/shared/tools/bpftrace-new"
BPFTOOL = "/usr/sbin/bpftool"
STATS_SYSCTL = Path("/proc/sys/kernel/bpf_stats_enabled")
NOT_SUPPORTED = "auger: not supported yet"
SUMMARY_TITLE = "Targets at a glance"
REPORT_PREAMBLE = """# Performance at run time

Each section below is written by the script it names (run as root from the
checkout: `.venv/bin/python bench/SCRIPT.py`); re-run one to refresh it.
"""


@dataclasses.dataclass(frozen=True)
class Tool:
    name: str
    argv: tuple[str, ...]

    def command(self, program: str) -> list[str]:
        return [*self.argv, "-e", program]


def tools() -> list[Tool]:
    """bpftrace 0.17, bpftrace 0.27.1 (when its chroot is set up) and auger,
    in the order every benchmark runs them within a round."""
    found = [Tool("bpftrace 0.17", (BPFTRACE_017,))]
    if os.access(BPFTRACE_NEW, os.X_OK):
        found.append(Tool("bpftrace 0.27.1", (BPFTRACE_NEW,)))
    # The venv's Python directly, as the `auger` console script runs it; the
    # ./auger wrapper would add a bash start-up that is not auger's.
    found.append(Tool("auger", (str(REPO / ".venv" / "bin" / "python"), "-m", "auger")))
    return found


def raise_memlock() -> None:
    """Run in the child before exec: what `ulimit -l unlimited` does, when the
    hard limit allows it (bpftrace 0.17 warns, and nothing else, when not)."""
    try:
        resource.setrlimit(resource.RLIMIT_MEMLOCK, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except (ValueError, OSError):
        pass


def tool_env() -> dict[str, str]:
    # Measure what a user gets: auger's bytecode cached in __pycache__.
    return {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


class Running:
    """A tool started in the background, its stdout and stderr drained into
    memory by threads all along (a tool writing to a full pipe would stall
    and lose events, which is not the tool's fault)."""

    def __init__(self, command: list[str], keep_stdout: bool = True) -> None:
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if keep_stdout else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=raise_memlock,
            env=tool_env(),
            cwd=REPO,
        )
        self.pid = self.process.pid
        self.exited: tuple[int, object, float] | None = None
        self.chunks: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
        self.arrivals: list[tuple[float, bytes]] = []  # stdout: (s since start, chunk)
        self.readers = [
            threading.Thread(target=self._drain, args=(name, stream), daemon=True)
            for name, stream in (("stdout", self.process.stdout), ("stderr", self.process.stderr))
            if stream is not None
        ]
        for reader in self.readers:
            reader.start()

    def _drain(self, name: str, stream) -> None:
        while chunk := stream.read1(1 << 16):
            self.chunks[name].append(chunk)
            if name == "stdout":
                self.arrivals.append((time.perf_counter() - self.started, chunk))

    def first_output(self, marker: bytes) -> float | None:
        """Seconds from the start to the first stdout chunk holding `marker`."""
        return next((when for when, chunk in self.arrivals if marker in chunk), None)

    def text(self, name: str) -> str:
        return b"".join(self.chunks[name]).decode(errors="replace")

    def settle(self, quiet_s: float, limit_s: float = 60.0) -> None:
        """Wait until no output came for `quiet_s` seconds (a tool still
        printing what its buffers hold), or `limit_s` passed."""
        deadline = time.monotonic() + limit_s
        seen = -1
        while time.monotonic() < deadline and self.running():
            size = sum(len(chunk) for chunks in self.chunks.values() for chunk in chunks)
            if size == seen:
                return
            seen = size
            time.sleep(quiet_s)

    def running(self) -> bool:
        # WNOWAIT: leave the exit to `wait`, whose wait4 reports the rusage.
        if self.process.returncode is not None:
            return False
        return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None

    def wait(self, timeout: float) -> tuple[int, object, float]:
        """Wait for the exit (killing the tree after `timeout` s): the exit
        status, the rusage wait4 reports, the wall time since the start.
        Again after the exit: the same."""
        if self.exited is None:
            deadline = threading.Timer(timeout, lambda: kill_tree(self.pid))
            deadline.start()
            _, wait_status, usage = os.wait4(self.pid, 0)
            wall = time.perf_counter() - self.started
            deadline.cancel()
            self.process.returncode = os.waitstatus_to_exitcode(wait_status)
            for reader in self.readers:
                reader.join(timeout)  # a left-over child may hold the pipe open
            self.exited = (self.process.returncode, usage, wall)
        return self.exited

    def stop(self, timeout: float = 30.0) -> int:
        """SIGINT, as Ctrl-C ends a tracing run; the exit status once all
        output is read."""
        if self.running():
            # Not Popen.send_signal, which would reap an exited tool first.
            os.kill(self.pid, signal.SIGINT)
        return self.wait(timeout)[0]


def process_tree(pid: int) -> list[int]:
    """`pid` and all its live descendants."""
    tree, index = [pid], 0
    while index < len(tree):
        for task in Path(f"/proc/{tree[index]}/task").glob("*"):
            try:
                tree.extend(int(child) for child in (task / "children").read_text().split())
            except (OSError, ValueError):
                pass
        index += 1
    return list(dict.fromkeys(tree))


def tree_rss_kb(pid: int) -> int:
    total = 0
    for member in process_tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError):
            pass
    return total


@dataclasses.dataclass
class Finished:
    wall_s: float
    status: int
    stdout: str
    stderr: str
    max_rss_kb: int  # the largest single process of the tree (wait4)
    tree_peak_kb: int  # the whole tree's RSS summed, sampled every few ms
    maps_printed_s: float | None  # when the first map line ("@...") came out

    @property
    def peak_kb(self) -> int:
        return max(self.max_rss_kb, self.tree_peak_kb)


def run_measured(command: list[str], timeout: float = 300.0) -> Finished:
    """Run `command` to its exit: wall time, exit status, output, and peak
    RSS, both as wait4 reports it (the largest process that ran) and as the
    sum over the live process tree sampled every 5 ms."""
    running = Running(command)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss_kb(running.pid))
            done.wait(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    status, usage, wall = running.wait(timeout)
    done.set()
    sampler.join()
    return Finished(
        wall,
        status,
        running.text("stdout"),
        running.text("stderr"),
        usage.ru_maxrss,
        peak[0],
        running.first_output(b"@"),
    )


def wait_for_processes_named(comm: str, limit_s: float = 300.0) -> float:
    """Wait until no process has the command name `comm` (a tool's helper
    that outlives it, outside its process tree): the seconds waited."""
    began = time.perf_counter()
    while time.perf_counter() - began < limit_s:
        names = []
        for status in Path("/proc").glob("[0-9]*/comm"):
            try:
                names.append(status.read_text().strip())
            except OSError:
                pass
        if comm not in names:
            break
        time.sleep(0.05)
    return time.perf_counter() - began


def kill_tree(pid: int) -> None:
    for member in reversed(process_tree(pid)):
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass


# --- BPF programs and their kernel-side statistics -------------------------


@dataclasses.dataclass(frozen=True)
class ProgStats:
    prog_id: int
    prog_type: int
    run_time_ns: int
    run_cnt: int


def bpf_programs(pid: int) -> dict[int, ProgStats]:
    """The BPF programs the process tree of `pid` holds file descriptors for,
    by id, with the kernel's run statistics. A program fd's
    /proc/PID/fdinfo/FD has prog_id, run_time_ns and run_cnt; a bpf_link fd's
    has the prog_id only (a tool may close the program fd once linked), so
    those programs are asked of bpftool."""
    found: dict[int, ProgStats] = {}
    linked: set[int] = set()
    for member in process_tree(pid):
        for info in Path(f"/proc/{member}/fdinfo").glob("*"):
            try:
                text = info.read_text()
            except OSError:
                continue
            if "prog_id:" not in text:
                continue
            fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
            prog_id = int(fields["prog_id"])
            if "run_cnt" not in fields:
                linked.add(prog_id)
                continue
            found[prog_id] = ProgStats(
                prog_id, int(fields["prog_type"]), int(fields["run_time_ns"]), int(fields["run_cnt"])
            )
    for prog_id in linked - found.keys():
        command = [BPFTOOL, "prog", "show", "id", str(prog_id), "-j"]
        shown = subprocess.run(command, capture_output=True, text=True)
        if shown.returncode == 0:
            fields = json.loads(shown.stdout)
            found[prog_id] = ProgStats(prog_id, -1, fields.get("run_time_ns", 0), fields.get("run_cnt", 0))
    return found


def run_totals(pid: int) -> tuple[int, int]:
    """Summed run_time_ns and run_cnt of the programs of `pid`'s tree."""
    programs = bpf_programs(pid).values()
    return sum(p.run_time_ns for p in programs), sum(p.run_cnt for p in programs)


class BpfStats:
    """`sysctl kernel.bpf_stats_enabled=1` for the duration of a `with`
    block, restoring the previous value."""

    def __enter__(self) -> "BpfStats":
        self.previous = STATS_SYSCTL.read_text().strip()
        STATS_SYSCTL.write_text("1\n")
        return self

    def __exit__(self, *_: object) -> None:
        STATS_SYSCTL.write_text(self.previous + "\n")


# --- workload ---------------------------------------------------------------

WORKLOAD_SOURCE = r"""
/* getppid_loop N [RATE]: N getppid() system calls, flat out or paced at RATE
 * calls per second (checked every 256 calls); prints the elapsed ns. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
    long long n = argc > 1 ? atoll(argv[1]) : 1000000;
    double rate = argc > 2 ? atof(argv[2]) : 0;
    long long start = now_ns();
    for (long long i = 0; i < n; i++) {
        syscall(SYS_getppid);
        if (rate > 0 && (i & 255) == 255) {
            long long due = start + (long long)((i + 1) * 1e9 / rate);
            long long late = due - now_ns();
            if (late > 0) {
                struct timespec t = {late / 1000000000LL, late % 1000000000LL};
                nanosleep(&t, NULL);
            }
        }
    }
    printf("%lld\n", now_ns() - start);
    return 0;
}
"""


def workload_binary() -> Path:
    """The getppid workload, compiled with gcc into the scratch directory
    (again only when the source changed)."""
    SCRATCH.mkdir(parents=True, exist_ok=True)
    source = SCRATCH / "getppid_loop.c"
    binary = SCRATCH / "getppid_loop"
    if not binary.exists() or not source.exists() or source.read_text() != WORKLOAD_SOURCE:
        source.write_text(WORKLOAD_SOURCE)
        subprocess.run(["gcc", "-O2", "-o", str(binary), str(source)], check=True)
    return binary


def run_workload(calls: int, rate: float = 0) -> tuple[int, float]:
    """Run the workload to its end: its pid and the seconds it took."""
    process = subprocess.Popen(
        [str(workload_binary()), str(calls), str(rate)], stdout=subprocess.PIPE, text=True
    )
    out, _ = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"workload failed with exit status {process.returncode}")
    return process.pid, int(out) / 1e9


# --- figures and the report -------------------------------------------------


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def fmt(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def machine() -> str:
    """bench/startup.py's description of the machine, plus memory and load."""
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, ValueError, IndexError):
        pass
    load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"{startup.machine()}{memory}; load average {load} at the start (a shared machine)"


def tool_versions() -> str:
    versions = []
    for tool in tools():
        command = [*tool.argv, "-V"] if tool.name == "auger" else [*tool.argv, "--version"]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=tool_env())
            versions.append(f"{tool.name}: `{(done.stdout or done.stderr).strip().splitlines()[0]}`")
        except (OSError, subprocess.TimeoutExpired, IndexError):
            versions.append(f"{tool.name}: version unknown")
    return "; ".join(versions)


def header(script: str, method: str) -> list[str]:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    return [
        f"Measured {now} UTC with `bench/{script}`",
        f"on {machine()}.",
        f"Tools: {tool_versions()}.",
        "",
        *(reflow(paragraph) + "\n" for paragraph in method.strip().split("\n\n")),
    ]


def reflow(paragraph: str) -> str:
    """A paragraph filled to 78 columns (the methods are f-strings, whose
    substitutions leave ragged lines), never breaking inside a word."""
    return textwrap.fill(" ".join(paragraph.split()), 78, break_long_words=False, break_on_hyphens=False)


def rejected(tool: Tool, status: int, stderr: str) -> str:
    """Why a run failed, for the table: auger rejecting a program is the
    "not supported yet" the issue asks to record; bpftrace failing is a
    failure of the measurement itself."""
    lines = [line for line in stderr.splitlines() if line.strip() and "RLIMIT_MEMLOCK" not in line]
    first = next((line for line in lines if "ERROR" in line or "error" in line), lines[0] if lines else "")
    first = first.replace("|", "\\|")[:120]
    if tool.name == "auger":
        return f"{NOT_SUPPORTED} (exit {status}: `{first}`)"
    return f"failed (exit {status}: `{first}`)"


def write_result(title: str, body: str, benchmark: str, target: str, outcome: str) -> None:
    """Write a benchmark's section, and its row of the "Targets at a
    glance" table (the row whose first cell is `benchmark`), so the summary
    is as fresh as the sections it sums up."""
    text = replace_section(read_report(), title, body)
    rows = dict(re.findall(r"^\| (\([a-d]\)[^|]*?) \|(.*)$", section_text(text, SUMMARY_TITLE), re.MULTILINE))
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    rows[benchmark] = f" {target} | {outcome} | {now} |"
    table = [
        "| benchmark | target | auger now | measured (UTC) |",
        "| --- | --- | --- | --- |",
        *(f"| {name} |{cells}" for name, cells in sorted(rows.items())),
    ]
    REPORT.write_text(replace_section(text, SUMMARY_TITLE, "\n".join(table) + "\n", first=True))


def read_report() -> str:
    return REPORT.read_text() if REPORT.exists() else REPORT_PREAMBLE


def section_pattern(title: str) -> re.Pattern:
    return re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)


def section_text(text: str, title: str) -> str:
    match = section_pattern(title).search(text)
    return match.group(0) if match else ""


def replace_section(text: str, title: str, body: str, first: bool = False) -> str:
    """`text` with its `## title` section replaced by `body`, or with the
    section added: at the end, or before every other section if `first`."""
    section = f"## {title}\n\n{body.rstrip()}\n"
    pattern = section_pattern(title)
    if pattern.search(text):
        return pattern.sub(lambda _: section + "\n", text, count=1).rstrip("\n") + "\n"
    if first and (start := re.search(r"^## ", text, re.MULTILINE)):
        return text[: start.start()] + section + "\n" + text[start.start() :]
    return text.rstrip("\n") + "\n\n" + section


def require_root() -> None:
    if os.geteuid() != 0:
        sys.exit("these benchmarks load BPF programs: run them as root")
    if shutil.which("gcc") is None:
        sys.exit("gcc is needed to build the syscall workload")
