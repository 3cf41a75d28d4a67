"""Wildcard start-up: attach every syscalls:sys_enter_* tracepoint, then exit.

    .venv/bin/python bench/wildcard_startup.py [--runs N] [--no-write]

Wall time to exit of `tracepoint:syscalls:sys_enter_* { @[probe] = count(); }
BEGIN { exit(); }` with each tool (bpftrace 0.17, bpftrace 0.27.1, auger),
the tools taking turns; BEGIN fires once every probe is attached. Writes the
"Wildcard start-up" section of docs/performance-runtime.md and its row of the
summary table.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import common

PROGRAM = "tracepoint:syscalls:sys_enter_* { @[probe] = count(); } BEGIN { exit(); }"
TARGET = 0.1
TIMEOUT_S = 300.0
DETACHER = "auger-detach"  # runtime/attach.py's background detacher's comm
ATTACHING = re.compile(r"Attach(?:ing|ed) (\d+) probes?")


def tracepoint_count() -> int | None:
    """How many syscalls:sys_enter_* tracepoints this kernel has."""
    for root in (Path("/sys/kernel/tracing/events/syscalls"), Path("/sys/kernel/debug/tracing/events/syscalls")):
        if root.is_dir():
            return sum(1 for path in root.glob("sys_enter_*") if path.is_dir())
    return None


def collect(runs: int) -> tuple[dict[str, list[common.Finished] | str], dict[str, list[float]]]:
    """Per tool: its runs (or why it failed), and the seconds a background
    detacher outlived each run."""
    results: dict[str, list[common.Finished] | str] = {}
    detaching: dict[str, list[float]] = {tool.name: [] for tool in common.tools()}
    for round_number in range(runs):
        for tool in common.tools():
            if isinstance(results.get(tool.name), str):
                continue
            finished = common.run_measured(tool.command(PROGRAM), timeout=TIMEOUT_S)
            # auger may leave detaching to a background process: let it end,
            # so its kernel work does not land on the next run, and say how long.
            detaching[tool.name].append(common.wait_for_processes_named(DETACHER, TIMEOUT_S))
            if finished.status != 0:
                results[tool.name] = common.rejected(tool, finished.status, finished.stderr)
            else:
                results.setdefault(tool.name, []).append(finished)
            print(
                f"round {round_number + 1}/{runs}: {tool.name:16} {finished.wall_s:.2f} s exit {finished.status}",
                file=sys.stderr,
            )
    return results, detaching


def attached(runs: list[common.Finished]) -> str:
    """The probe count the tool announced ("Attaching N probes..."), if any."""
    match = ATTACHING.search(runs[-1].stdout + runs[-1].stderr)
    return match.group(1) if match else "–"


def report(results: dict, detaching: dict[str, list[float]], runs: int) -> str:
    method = f"""
Wall time from starting the tool to its exit for `{PROGRAM}`
({tracepoint_count()} sys_enter_* tracepoints on this kernel; BEGIN fires
once every probe is attached). Median and minimum of {runs} runs, the tools
taking turns. "Map printed" is when the first map line came out, at the exit
BEGIN asked for, so after every probe attached; what follows it is tear-down
(detaching {tracepoint_count()} tracepoints; "–" when the tool held its output
back until the end). "Background detach": how long a process named
`{DETACHER}` (auger's detacher, which closes the perf events after auger
exits) still ran after the tool's exit; the next run waits for it. Peak RSS as in the start-up
benchmark (MB = 2^20 bytes).
Target: auger ≤ {TARGET}× bpftrace's time (the faster bpftrace's).
"""
    lines = common.header("wildcard_startup.py", method)
    lines += [
        "| tool | median s | min s | map printed, median s | background detach after exit, median s "
        "| peak RSS MB | probes announced |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    medians: dict[str, float] = {}
    for tool in [tool.name for tool in common.tools()]:
        outcome = results.get(tool)
        if isinstance(outcome, str) or not outcome:
            lines.append(f"| {tool} | {outcome or 'not run'} | | | | | |")
            continue
        walls = [run.wall_s for run in outcome]
        medians[tool] = common.median(walls)
        peak = common.median([run.peak_kb / 1024 for run in outcome])
        printed = common.median([run.maps_printed_s for run in outcome if run.maps_printed_s is not None])
        lines.append(
            f"| {tool} | {common.median(walls):.2f} | {min(walls):.2f} | {common.fmt(printed, 2)} "
            f"| {common.fmt(common.median(detaching.get(tool, [])), 2)} | {peak:.1f} "
            f"| {attached(outcome)} |"
        )
    lines += ["", verdict(results) + ".", "", attach_verdict(results) + "."]
    return "\n".join(lines) + "\n"


def verdict(results: dict) -> str:
    """auger's median wall time against each bpftrace's and the target."""
    medians = {
        tool: common.median([run.wall_s for run in runs]) for tool, runs in results.items() if isinstance(runs, list)
    }
    ours = medians.pop("auger", None)
    if ours is None or not medians:
        return f"auger / bpftrace: – ({common.NOT_SUPPORTED} or no reference)"
    ratios = "; ".join(f"auger / {tool}: {ours / value:.3f}" for tool, value in medians.items())
    met = "met" if ours <= TARGET * min(medians.values()) else "not met"
    return f"{ratios} (target ≤ {TARGET}× the faster: {met})"


def attach_verdict(results: dict) -> str:
    """The same comparison up to the map printed, i.e. without tear-down."""
    printed = {
        tool: common.median([run.maps_printed_s for run in runs if run.maps_printed_s is not None])
        for tool, runs in results.items()
        if isinstance(runs, list)
    }
    ours = printed.pop("auger", None)
    references = [value for value in printed.values() if value]
    if ours is None or not references:
        return "Up to the map printed: no comparison"
    ratio = ours / min(references)
    return f"Up to the map printed (attach, BEGIN, exit, print; no tear-down): auger / faster bpftrace {ratio:.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print the section only")
    options = parser.parse_args()
    common.require_root()
    results, detaching = collect(options.runs)
    body = report(results, detaching, options.runs)
    print(body)
    if not options.no_write:
        target = f"wall time to exit ≤ {TARGET}× bpftrace's"
        common.write_result("Wildcard start-up", body, "(d) wildcard start-up", target, verdict(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
