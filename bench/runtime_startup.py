"""Run-time start-up: from process start to the first probe attached, then
exit, with peak memory.

    .venv/bin/python bench/runtime_startup.py [--runs N] [--no-write]

Runs `BEGIN { exit(); }` plus one tracepoint probe with each tool (bpftrace
0.17, bpftrace 0.27.1, auger), the tools taking turns, after one warm-up run
each; BEGIN fires once every probe is attached, so the wall time to exit
covers loading and attaching. Also `BEGIN { exit(); }` alone, for reference.
auger runs twice in each round: cold (AUGER_NO_CACHE=1: LLVM compiles the
program every run) and warm (the compiled object comes from auger's object
cache, filled by the warm-up run). Peak RSS is the larger of wait4's (the
largest process of the tree) and the tree's summed RSS sampled every 5 ms.
Writes the "Start-up to first probe" section of docs/performance-runtime.md
and its row of the summary table.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

import common

from auger.runtime.attach import DETACHER_NAME as DETACHER

PROGRAMS = [
    ("BEGIN + one tracepoint", "tracepoint:syscalls:sys_enter_getppid { @ = count(); } BEGIN { exit(); }"),
    ("BEGIN only", "BEGIN { exit(); }"),
]
WALL_TARGET = 0.5
RSS_TARGET_MB = 89.0  # bpftrace 0.17's peak, as the issue measured it


AUGER_COLD = "auger, cold"
AUGER_WARM = "auger, warm cache"
# The environment each of auger's rows runs with (None: variable unset).
AUGER_CACHE_STATES = {AUGER_COLD: {"AUGER_NO_CACHE": "1"}, AUGER_WARM: {"AUGER_NO_CACHE": None}}


def rows() -> list[tuple[str, common.Tool, dict[str, str | None]]]:
    """Each row of the tables: its name, the tool, the environment it needs."""
    found = []
    for tool in common.tools():
        states = AUGER_CACHE_STATES if tool.name == "auger" else {tool.name: {}}
        found += [(name, tool, environment) for name, environment in states.items()]
    return found


@contextlib.contextmanager
def environment(changes: dict[str, str | None]):
    """os.environ with `changes` (common.tool_env passes it to the tool)."""
    saved = {name: os.environ.get(name) for name in changes}
    _apply(changes)
    try:
        yield
    finally:
        _apply(saved)


def _apply(changes: dict[str, str | None]) -> None:
    for name, value in changes.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def run_once(tool: common.Tool, program: str, changes: dict[str, str | None]) -> common.Finished:
    with environment(changes):
        finished = common.run_measured(tool.command(program))
    # auger leaves closing its perf events to a background process, which
    # holds the kernel's event lock for a while: let it end before the next
    # run, whichever tool that is.
    common.wait_for_processes_named(DETACHER)
    return finished


def collect(runs: int) -> dict[tuple[str, str], list[common.Finished] | str]:
    results: dict[tuple[str, str], list[common.Finished] | str] = {}
    cases = [(row, tool, changes, name, program) for name, program in PROGRAMS for row, tool, changes in rows()]
    # warm-up: page cache, bytecode, BTF, and auger's object cache
    for row, tool, changes, name, program in cases:
        finished = run_once(tool, program, changes)
        if finished.status != 0:
            results[(row, name)] = common.rejected(tool, finished.status, finished.stderr)
    for round_number in range(runs):
        for row, tool, changes, name, program in cases:
            key = (row, name)
            if isinstance(results.get(key), str):
                continue
            finished = run_once(tool, program, changes)
            if finished.status != 0:
                results[key] = common.rejected(tool, finished.status, finished.stderr)
                continue
            results.setdefault(key, []).append(finished)
            print(
                f"round {round_number + 1}/{runs}: {row:18} {name:24} "
                f"{finished.wall_s * 1000:.0f} ms {finished.peak_kb / 1024:.1f} MB",
                file=sys.stderr,
            )
    return results


def summary(runs: list[common.Finished] | str | None) -> tuple[float | None, float | None, float | None]:
    """Median wall s, minimum wall s, median peak MB."""
    if not isinstance(runs, list):
        return None, None, None
    walls = [run.wall_s for run in runs]
    return common.median(walls), min(walls), common.median([run.peak_kb / 1024 for run in runs])


def report(results: dict, runs: int) -> str:
    names = [row for row, _, _ in rows()]
    method = f"""
Wall time from starting the tool to its exit, for `BEGIN {{ exit(); }}` plus
one tracepoint probe (BEGIN fires once every probe is attached, so this is
start-up to first probe attached, then exit), and for `BEGIN {{ exit(); }}`
alone. Median and minimum of {runs} runs after one warm-up run per case, the
tools taking turns. Peak RSS (MB = 2^20 bytes): the larger of wait4's
ru_maxrss (the largest process of the tree) and the whole process tree's RSS
summed, sampled every 5 ms; median over the runs. auger runs as the venv's
`python -m auger` (what the installed `auger` script runs), in two rows:
"{AUGER_COLD}" with AUGER_NO_CACHE=1, so LLVM compiles the program in every
run (as for a program auger has not seen before), and "{AUGER_WARM}", where the
BPF object comes from auger's compiled-object cache (filled by the warm-up
run; as for any program run before), so LLVM is not even loaded.

auger detaches in the background: closing a tracepoint's perf event waits
for the kernel's RCU grace periods (~80 ms for one tracepoint), so auger
hands its perf events, already disabled, to a forked process named
`{DETACHER}` that closes them after auger has exited. The probes stop
firing before auger exits; the kernel frees them after. bpftrace waits for
this itself, so its times include it. Each run here waits for any
`{DETACHER}` process to end before the next run starts.

Targets: wall time ≤ {WALL_TARGET}× the faster bpftrace's, peak RSS
< {RSS_TARGET_MB:.0f} MB.
"""
    lines = common.header("runtime_startup.py", method)
    for name, program in PROGRAMS:
        lines += [
            f"`{program}`:",
            "",
            "| tool | median s | min s | peak RSS MB |",
            "| --- | ---: | ---: | ---: |",
        ]
        figures = {tool: summary(results.get((tool, name))) for tool in names}
        for tool in names:
            outcome = results.get((tool, name))
            if isinstance(outcome, str):
                lines.append(f"| {tool} | {outcome} | | |")
                continue
            wall, fastest, peak = figures[tool]
            lines.append(f"| {tool} | {common.fmt(wall, 3)} | {common.fmt(fastest, 3)} | {common.fmt(peak, 1)} |")
        lines += ["", verdict(results, name) + ".", ""]
    return "\n".join(lines) + "\n"


def verdict(results: dict, name: str) -> str:
    """auger's wall time over the faster bpftrace's and its peak RSS, each
    against its target, cold and warm."""
    figures = {row: summary(results.get((row, name))) for row, _, _ in rows()}
    faster = min((wall for row, (wall, _, _) in figures.items() if row not in AUGER_CACHE_STATES and wall),
                 default=None)
    return "; ".join(_verdict_of(row, figures.get(row, (None, None, None)), faster) for row in AUGER_CACHE_STATES)


def _verdict_of(row: str, figures: tuple, faster: float | None) -> str:
    wall, _, peak = figures
    if wall is None or not faster:
        return f"{row} / faster bpftrace: – ({common.NOT_SUPPORTED} or no reference)"
    return (
        f"{row} / faster bpftrace wall time: {wall / faster:.2f} "
        f"(target ≤ {WALL_TARGET}: {'met' if wall <= WALL_TARGET * faster else 'not met'}), "
        f"peak RSS {peak:.1f} MB (target < {RSS_TARGET_MB:.0f} MB: {'met' if peak < RSS_TARGET_MB else 'not met'})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-write", action="store_true", help="print the section only")
    options = parser.parse_args()
    common.require_root()
    results = collect(options.runs)
    body = report(results, options.runs)
    print(body)
    if not options.no_write:
        name, program = PROGRAMS[0]
        target = f"`{program}`: wall time ≤ {WALL_TARGET}× the faster bpftrace's, peak RSS < {RSS_TARGET_MB:.0f} MB"
        common.write_result("Start-up to first probe", body, "(b) start-up", target, verdict(results, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
