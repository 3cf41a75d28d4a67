"""Start-up benchmark: wall time from process start to the end of `--dry-run`.

    .venv/bin/python bench/startup.py [--runs N] [--no-write]

Times, as the median of N runs of a fresh process each (after one warm-up run
that also fills the parser and object caches), wall and CPU:
  - `python -c pass` and `python -c "import lark"`: the floor under any run;
  - `auger -V`: the CLI without the compiler;
  - `auger --dry-run -e ONE_LINER`;
  - `auger --dry-run TOOL`, TOOL being the largest /usr/sbin/*.bt (bpftrace's
    tools) that uses no kprobes, which this project's kernels may lack.
A dry run compiles to the BPF object, so each dry run is timed twice: with
auger's object cache warm (the object of the warm-up run is found, LLVM is
not loaded) and cold (AUGER_NO_CACHE=1: LLVM compiles in every run).
Then it rewrites the "Start-up" section of docs/performance.md (the rest of
the file is kept). A command that fails is still timed, and its exit status
and first error line are shown in the table.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REPORT = REPO / "docs" / "performance.md"
ONE_LINER = "tracepoint:syscalls:sys_enter_read { @[comm] = count(); }"
TOOLS = Path("/usr/sbin")
# Any kprobe-family attach point, long or short form (`k:`, `kr:`, `f:`, `fr:`).
KPROBE_LIKE = re.compile(
    r"\b(kprobe|kretprobe|kfunc|kretfunc|fentry|fexit)\s*:|(^|[\s,])(k|kr|f|fr):", re.MULTILINE
)
SECTION_TITLE = "## Start-up"


def largest_tool_without_kprobes() -> Path | None:
    tools = [path for path in TOOLS.glob("*.bt") if not KPROBE_LIKE.search(path.read_text(errors="replace"))]
    return max(tools, key=lambda path: path.stat().st_size, default=None)


def time_commands(
    commands: list[tuple[list[str], dict[str, str]]], runs: int
) -> list[tuple[list[float], list[float], int, str]]:
    """For each command (and the environment variables it adds): its wall
    times and CPU times (user + system) in ms over `runs` rounds (each round
    runs every command once, so a load that comes and goes hits them all
    alike), after one warm-up run; the exit
    status and first stderr line of its last run. CPU time leaves out the
    waits wall time includes: on a busy machine, reading a tracepoint's
    format file can wait tens of ms for the kernel's event lock."""
    # Measure what a user gets: bytecode cached in __pycache__, which a
    # developer's PYTHONDONTWRITEBYTECODE would otherwise prevent.
    # AUGER_NO_CACHE only where a case adds it.
    env = {name: value for name, value in os.environ.items()
           if name not in ("PYTHONDONTWRITEBYTECODE", "AUGER_NO_CACHE")}
    for command, added in commands:
        subprocess.run(command, capture_output=True, env={**env, **added})
    times: list[list[float]] = [[] for _ in commands]
    cpu_times: list[list[float]] = [[] for _ in commands]
    last: list[subprocess.CompletedProcess | None] = [None] * len(commands)
    for _ in range(runs):
        for index, (command, added) in enumerate(commands):
            cpu_before = _children_cpu()
            start = time.perf_counter()
            last[index] = subprocess.run(command, capture_output=True, text=True, env={**env, **added})
            times[index].append((time.perf_counter() - start) * 1000)
            cpu_times[index].append((_children_cpu() - cpu_before) * 1000)
    return [
        (samples, cpu, done.returncode, done.stderr.splitlines()[0] if done.stderr else "")
        for samples, cpu, done in zip(times, cpu_times, last)
    ]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({model}), Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


COLD = {"AUGER_NO_CACHE": "1"}


def benchmarks() -> list[tuple[str, list[str], dict[str, str]]]:
    """Each case: its name, the command, the environment variables it adds."""
    python = sys.executable
    auger = [python, "-m", "auger"]
    cases = [
        ("Python start-up (floor)", [python, "-c", "pass"], {}),
        ("Python + import lark", [python, "-c", "import lark"], {}),
        ("auger -V (CLI only)", [*auger, "-V"], {}),
    ]
    dry_runs = [("one-liner", [*auger, "--dry-run", "-e", ONE_LINER])]
    tool = largest_tool_without_kprobes()
    if tool is not None:
        dry_runs.append((str(tool), [*auger, "--dry-run", str(tool)]))
    for name, command in dry_runs:
        cases.append((f"auger --dry-run {name}, object cache warm", command, {}))
        cases.append((f"auger --dry-run {name}, cold (AUGER_NO_CACHE=1)", command, COLD))
    return cases


def report(rows: list[tuple[str, list[float], list[float], int, str]], runs: int) -> str:
    lines = [
        SECTION_TITLE,
        "",
        f"Measured {datetime.date.today().isoformat()} on {machine()} with `bench/startup.py`:",
        f"wall time from process start to exit, median (and minimum) of {runs} runs, each",
        "a fresh process started by `subprocess.run`, the cases taking turns, after one",
        "warm-up run, so the caches a first run fills (Python bytecode, the pickled",
        "parser, the BTF index) are warm, as after any first use. A dry run compiles",
        "the program to its BPF object: \"object cache warm\" finds the object the",
        "warm-up run stored in auger's compiled-object cache (as for any program",
        "checked or run before), so LLVM is not even loaded; \"cold\" runs with",
        "AUGER_NO_CACHE=1, so LLVM compiles the program in every run (as for a",
        "program auger has not seen). CPU is the process's user + system time: it",
        "leaves out waits in the kernel (on a machine that is tracing, reading a",
        "tracepoint's format file can wait for the event lock).",
        f"The one-liner is `{ONE_LINER}`.",
        "",
        "| what | median ms | min ms | CPU median ms | exit |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for name, times, cpu_times, status, first_error in rows:
        outcome = str(status) if status == 0 else f"{status}: `{first_error}`"
        lines.append(
            f"| {name} | {statistics.median(times):.1f} | {min(times):.1f} "
            f"| {statistics.median(cpu_times):.1f} | {outcome} |"
        )
    return "\n".join(lines) + "\n"


def write_section(section: str) -> None:
    """Replace the Start-up section of the report (up to the next `## `), or
    append it; create the report if there is none."""
    text = REPORT.read_text() if REPORT.exists() else "# Performance\n"
    pattern = re.compile(rf"^{re.escape(SECTION_TITLE)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + section
    REPORT.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    options = parser.parse_args()
    cases = benchmarks()
    measured = time_commands([(command, added) for _, command, added in cases], options.runs)
    rows = [(name, *result) for (name, _, _), result in zip(cases, measured)]
    section = report(rows, options.runs)
    print(section)
    if not options.no_write:
        write_section(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
