"""printf throughput: the highest event rate a tool prints with zero lost
events.

    .venv/bin/python bench/printf_throughput.py [--runs N] [--seconds S] [--no-write] [--tool NAME ...]

The program is `tracepoint:syscalls:sys_enter_getppid { printf("%d %s\\n",
pid, "x"); }`. For each tool (bpftrace 0.17, bpftrace 0.27.1, auger) and each
offered rate of a doubling ladder (the workload makes getppid() calls paced at
that rate for S seconds): start the tool with its output on a pipe, wait
until its program runs (kernel.bpf_stats_enabled=1, a getppid() call raises
the run count), run the workload, stop the tool with SIGINT and count the
lines the workload's pid produced and the "Lost N events" reports. The ladder
stops at the first rate with a loss; then one flat-out run (no pacing). Rounds
interleave the tools; medians over rounds. Writes the "printf throughput"
section of docs/performance-runtime.md and its row of the summary table.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
import time

import common

PROGRAM = 'tracepoint:syscalls:sys_enter_getppid { printf("%d %s\\n", pid, "x"); }'
LADDER = [25_000 * 2**step for step in range(8)]  # 25k .. 3.2M calls/s
FLAT_OUT_CALLS = 1_000_000
# A workload reaching less than this share of its rate is held down.
SATURATED = 0.8
# Steps between the last clean rate and the first lossy one (each halves it).
BISECTIONS = 2
LOST = re.compile(r"Lost (\d+) events")
READY_TIMEOUT_S = 60.0
# After the workload, SIGINT only once the tool printed nothing for this
# long: it may stop reading its buffers on SIGINT, dropping what they hold.
DRAIN_S = 0.5


@dataclasses.dataclass
class Step:
    offered: float  # calls/s the workload achieved
    calls: int
    received: int
    lost: int

    @property
    def clean(self) -> bool:
        return self.lost == 0 and self.received == self.calls


def wait_until_running(tool: common.Running) -> bool:
    """True once a getppid() call runs the tool's program."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline and tool.running():
        _, before = common.run_totals(tool.pid)
        common.run_workload(1)
        _, after = common.run_totals(tool.pid)
        if after > before:
            return True
        time.sleep(0.05)
    return False


def step(tool: common.Tool, calls: int, rate: float) -> Step | str:
    """One run of the tool with one workload, or why the tool did not run."""
    running = common.Running(tool.command(PROGRAM))
    try:
        if not wait_until_running(running):
            status = running.stop()
            return common.rejected(tool, status, running.text("stderr"))
        pid, seconds = common.run_workload(calls, rate)
        running.settle(DRAIN_S)
    finally:
        running.stop()
    stdout, stderr = running.text("stdout"), running.text("stderr")
    received = sum(1 for line in stdout.splitlines() if line.split(" ", 1)[0] == str(pid))
    lost = sum(int(count) for count in LOST.findall(stdout + stderr))
    return Step(calls / seconds, calls, received, lost)


def ladder(tool: common.Tool, seconds: float) -> tuple[Step | None, Step] | str:
    """The clean paced step with the highest achieved rate (None when even
    the lowest lost events) and the flat-out step, or why the tool did not
    run. The ladder stops at the first loss, or when the workload no longer
    reaches the rate asked for: then the tool's own work, on the same CPUs,
    is what holds the rate down."""
    best, lossy = None, None
    for rate in LADDER:
        result = step(tool, int(rate * seconds), rate)
        if isinstance(result, str):
            return result
        show(tool, f"offered {rate:8.0f}/s, achieved", result)
        if not result.clean:
            lossy = rate
            break
        best = higher(best, result)
        if result.offered < SATURATED * rate:
            break
    # Halve the gap between the last clean rate and the first lossy one.
    low = lossy / 2 if lossy else None
    for _ in range(BISECTIONS if lossy and lossy > LADDER[0] else 0):
        rate = (low + lossy) / 2
        result = step(tool, int(rate * seconds), rate)
        if isinstance(result, str):
            return result
        show(tool, f"offered {rate:8.0f}/s, achieved", result)
        if result.clean and result.offered >= SATURATED * rate:
            low, best = rate, higher(best, result)
        else:
            lossy = rate
    flat = step(tool, FLAT_OUT_CALLS, 0)
    if isinstance(flat, str):
        return flat
    show(tool, "flat out", flat)
    return best, flat


def higher(best: Step | None, clean: Step) -> Step:
    return clean if best is None or clean.offered > best.offered else best


def show(tool: common.Tool, what: str, result: Step) -> None:
    print(
        f"  {tool.name:16} {what} {result.offered:8.0f}/s: received {result.received}/{result.calls}, "
        f"lost {result.lost} reported",
        file=sys.stderr,
    )


def collect(runs: int, seconds: float, tools: list[common.Tool]) -> dict[str, list[tuple[Step | None, Step]] | str]:
    results: dict[str, list[tuple[Step | None, Step]] | str] = {}
    for round_number in range(runs):
        print(f"round {round_number + 1}/{runs}", file=sys.stderr)
        for tool in tools:
            if isinstance(results.get(tool.name), str):
                continue
            outcome = ladder(tool, seconds)
            if isinstance(outcome, str):
                results[tool.name] = outcome
            else:
                results.setdefault(tool.name, []).append(outcome)
    return results


def report(results: dict, runs: int, seconds: float, tools: list[common.Tool]) -> str:
    method = f"""
Program: `{PROGRAM}`, output to a pipe drained by the benchmark all along
(each tool's default buffering for a pipe). A C program makes getppid() calls
at an offered rate for {seconds:g} s; rates double from {LADDER[0]} to {LADDER[-1]}
calls/s. The ladder stops at the first step where a line is missing or a
"Lost N events" report appears, or where the workload achieves less than
{SATURATED:g}× the rate asked for (the tool's own work on the same {os.cpu_count()} CPUs
holds it down; no event is lost then, the machine is saturated). Then one
flat-out run of {FLAT_OUT_CALLS} calls. Each step is a fresh tool process:
started, waited on until a getppid() call runs its program (kernel run
counts), then the workload; once the tool has printed nothing for {DRAIN_S:g} s
(its buffers drained), SIGINT, and the lines whose pid is the workload's are counted. "Zero-loss
rate" is the highest achieved rate of a clean step (a lower bound of the
tool's sustained rate): after the first lossy rate, {BISECTIONS} bisection steps
between it and the last clean one narrow it to {100 / 2 ** (BISECTIONS + 1):g}%, unless the machine saturated.
"Unreported" is events neither printed nor counted in a lost-events report.
{runs} rounds, the tools taking turns; medians over rounds.
"""
    lines = common.header("printf_throughput.py", method)
    lines += [
        "| tool | zero-loss rate, events/s | flat out: achieved calls/s | flat out: lines received "
        "| flat out: lost reported | flat out: unreported |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    zero_loss = zero_loss_rates(results)
    for tool in [tool.name for tool in tools]:
        outcome = results.get(tool)
        if isinstance(outcome, str) or outcome is None:
            lines.append(f"| {tool} | {outcome or 'not run'} | | | | |")
            continue
        flats = [flat for _, flat in outcome]
        lines.append(
            f"| {tool} | {common.fmt(zero_loss[tool])} | {common.fmt(common.median([f.offered for f in flats]))} "
            f"| {common.fmt(common.median([f.received for f in flats]))} of {FLAT_OUT_CALLS} "
            f"| {common.fmt(common.median([f.lost for f in flats]))} "
            f"| {common.fmt(common.median([f.calls - f.received - f.lost for f in flats]))} |"
        )
    lines += ["", verdict(results) + "."]
    return "\n".join(lines) + "\n"


def zero_loss_rates(results: dict) -> dict[str, float]:
    """Per tool that ran: the median over rounds of its zero-loss rate."""
    return {
        tool: common.median([best.offered if best else 0.0 for best, _ in outcome])
        for tool, outcome in results.items()
        if isinstance(outcome, list)
    }


def verdict(results: dict) -> str:
    rates = zero_loss_rates(results)
    faster = max((rate for tool, rate in rates.items() if tool != "auger" and rate), default=None)
    ours = rates.get("auger")
    if ours is None or not faster:
        return f"auger / faster bpftrace: – ({common.NOT_SUPPORTED} or no reference)"
    return f"auger's zero-loss rate {ours:.0f}/s, the faster bpftrace's {faster:.0f}/s: {ours / faster:.2f}×"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each paced step")
    parser.add_argument("--no-write", action="store_true", help="print the section only")
    parser.add_argument("--tool", action="append", help="run only this tool (repeatable; implies --no-write)")
    options = parser.parse_args()
    common.require_root()
    tools = [tool for tool in common.tools() if not options.tool or tool.name in options.tool]
    with common.BpfStats():
        results = collect(options.runs, options.seconds, tools)
    body = report(results, options.runs, options.seconds, tools)
    print(body)
    if not options.no_write and not options.tool:
        target = "events/s printed with zero lost events, against bpftrace (no figure set)"
        common.write_result("printf throughput", body, "(c) printf throughput", target, verdict(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
