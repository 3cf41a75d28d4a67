"""Every bpftrace tool Debian ships (/usr/sbin/*.bt) that needs no kernel-
function probe runs under `./auger` for real: all of them at once, for ~2 s,
with the examples' workload firing their probes, then SIGINT. Each exits 0
without an error and prints its banner and column titles (the text its
BEGIN probe prints), plus the lines the workload makes it print. A tool
that cannot run on this machine's kernel is an xfail whose reason is
checked against the machine. Where bpftrace 0.17 runs a tool, both attach
the same number of probes.

Which tools need no kernel-function probe is decided once, by
tests/compiler/test_corpus_dryrun.py.
"""

import ast
import re
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "compiler"))

from test_corpus_dryrun import NO_KPROBE_TOOLS, _environment_reason  # noqa: E402
from test_examples_run import LAUNCHER, ProbeWorkload, run_interrupted  # noqa: E402

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(not NO_KPROBE_TOOLS, reason="no bpftrace tools in /usr/sbin (package bpftrace)"),
]

TRACE_SECONDS = 2.0
DIAGNOSTIC_ERROR = re.compile(r"^\S+:\d+:\d+(?:-\d+)?: ERROR: (.*)$", re.MULTILINE)
KALLSYMS = Path("/proc/kallsyms")
BPFTRACE_017 = Path("/usr/bin/bpftrace")


def _missing_kernel_symbol(message: str) -> str | None:
    """kaddr() of a data symbol the kernel does not list (loads.bt's
    avenrun: kallsyms lists data symbols only with CONFIG_KALLSYMS_ALL);
    bpftrace 0.17 fails the same way."""
    match = re.fullmatch(r"Failed to resolve kernel symbol: (\w+)", message)
    if match is None:
        return None
    symbol = match.group(1)
    listed = any(line.split()[2] == symbol for line in KALLSYMS.read_text().splitlines() if line.count(" ") >= 2)
    return None if listed else f"the kernel does not list {symbol} in /proc/kallsyms"


def environment_reason(stderr: str) -> str | None:
    """Why a tool failed because of this machine, or None when any of its
    errors is auger's."""
    messages = DIAGNOSTIC_ERROR.findall(stderr)
    reasons = [_environment_reason(message) or _missing_kernel_symbol(message) for message in messages]
    if messages and all(reasons):
        return "; ".join(sorted(set(reasons)))
    return None


_STRING = r'"(?:[^"\\]|\\.)*"'
_CONSTANT_PRINTF = re.compile(rf"printf\(\s*({_STRING}(?:\s*,\s*{_STRING})*)\s*\)")


def banner_lines(path: Path) -> list[str]:
    """The lines a tool's BEGIN probe prints with printf() calls whose
    arguments are all string literals: its banner and column titles."""
    code = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("//"))
    begin = re.search(r"^BEGIN\s*\{(.*?)^\}", code, re.MULTILINE | re.DOTALL)
    if begin is None:
        return []
    lines = []
    for call in _CONSTANT_PRINTF.finditer(begin.group(1)):
        # bpftrace string literals use C escapes, which Python's literals share for these tools.
        strings = [ast.literal_eval(literal) for literal in re.findall(_STRING, call.group(1))]
        lines.extend((strings[0] % tuple(strings[1:])).splitlines())
    return lines


W = ProbeWorkload
# Lines the workload must produce, for the tools it fires.
WORKLOAD_LINES = {
    "bashreadline.bt": rf"^\d\d:\d\d:\d\d +\d+ +{W.READLINE_COMMAND}$",
    "bitesize.bt": r"^@\[dd\]:$",
    "execsnoop.bt": rf"^\d+ +\d+ +ls {W.MISSING_PATH}$",
    "gethostlatency.bt": r"^\d\d:\d\d:\d\d +\d+ +\S+ +\d+ 127\.0\.0\.1$",
    "killsnoop.bt": r"^\d\d:\d\d:\d\d +\d+ +\S+ +10 +\d+ +0$",  # SIGUSR1 to a sleep
    "opensnoop.bt": rf"^\d+ +cat +\d+ +0 {W.OPENED_PATH}$",
    "statsnoop.bt": rf"^\d+ +ls +2 {W.MISSING_PATH}$",
    "syncsnoop.bt": r"^\d\d:\d\d:\d\d +\d+ +dd +tracepoint:syscalls:sys_enter_fsync$",
    "cpuwalk.bt": r"^@cpu:$",
    "pidpersec.bt": r"^\d\d:\d\d:\d\d PIDs/sec: @: \d+$",
    "runqlat.bt": r"^@usecs:$",
    "syscount.bt": r"^@process\[\S+\]: \d+$",
}


@pytest.fixture(scope="module")
def runs():
    commands = {path.name: [str(LAUNCHER), str(path)] for path in NO_KPROBE_TOOLS}
    return run_interrupted(commands, ProbeWorkload(), TRACE_SECONDS)


@pytest.mark.parametrize("path", NO_KPROBE_TOOLS, ids=lambda path: path.name)
def test_tool_runs_until_interrupted(path, runs):
    result = runs[path.name]
    assert "Traceback" not in result.stderr, result.stderr
    if result.returncode == 1 and not result.attached:
        reason = environment_reason(result.stderr)
        if reason:
            pytest.xfail(reason)
    assert "ERROR" not in result.stderr, result.stderr
    assert result.attached, f"no `Attached` line before SIGINT: {result.stderr}"
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), "the tool printed nothing"
    lines = result.stdout.splitlines()
    for expected in banner_lines(path):
        assert expected in lines, result.stdout
    if path.name in WORKLOAD_LINES:
        pattern = re.compile(WORKLOAD_LINES[path.name])
        assert any(pattern.search(line) for line in lines), result.stdout


@pytest.fixture(scope="module")
def bpftrace_017_probe_counts() -> dict[str, int]:
    """How many probes bpftrace 0.17 attaches for each tool it can run here
    (it prints `Attaching N probes...` on stdout), all run at once."""
    if not BPFTRACE_017.exists():
        pytest.skip("bpftrace 0.17 is not installed")

    def count(path: Path) -> int | None:
        # Stopped as soon as it says how many probes it attaches.
        script = f"ulimit -l unlimited 2>/dev/null; exec timeout -s INT 60 {BPFTRACE_017} {path}"
        process = subprocess.Popen(["bash", "-c", script], stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True)
        with process:
            match = next(filter(None, (re.fullmatch(r"Attaching (\d+) probes?\.\.\.\n", line)
                                       for line in process.stdout)), None)
            process.send_signal(signal.SIGINT)
            process.communicate()
        return int(match.group(1)) if match else None

    with ThreadPoolExecutor(max_workers=len(NO_KPROBE_TOOLS)) as pool:
        counts = dict(zip((path.name for path in NO_KPROBE_TOOLS), pool.map(count, NO_KPROBE_TOOLS)))
    return {name: n for name, n in counts.items() if n is not None}


@pytest.mark.parametrize("path", NO_KPROBE_TOOLS, ids=lambda path: path.name)
def test_probe_count_matches_bpftrace_017(path, runs, bpftrace_017_probe_counts):
    """Attach points counted as 0.17 counts them (a uprobe on a symbol the
    library lacks is skipped in both, BEGIN and END count)."""
    if path.name not in bpftrace_017_probe_counts:
        pytest.skip("bpftrace 0.17 cannot run this tool here")
    match = re.match(r"(?:.*\n)*?Attached (\d+) probes?\n", runs[path.name].stderr)
    assert match, runs[path.name].stderr
    assert int(match.group(1)) == bpftrace_017_probe_counts[path.name]


def test_every_workload_line_names_a_tool():
    assert set(WORKLOAD_LINES) <= {path.name for path in NO_KPROBE_TOOLS}


def test_banner_lines_are_found():
    """The banner parser reads multi-line printf calls with padded columns."""
    tools = {path.name: path for path in NO_KPROBE_TOOLS}
    if "bashreadline.bt" not in tools:
        pytest.skip("bashreadline.bt is not installed")
    assert banner_lines(tools["bashreadline.bt"]) == [
        "Tracing bash commands... Hit Ctrl-C to end.",
        "TIME      PID    COMMAND",
    ]


def test_killsnoop_shows_negative_target_pids(run_auger, tmp_path):
    """kill(-PGID, 0) targets a process group: killsnoop's TPID column shows
    it negative, as bpftrace 0.17 and 0.27.1 do. The syscall tracepoint
    stores the argument in 8 bytes (`signed:0`) but declares it `pid_t`,
    and bpftrace reads it as that 32-bit signed type."""
    tool = Path("/usr/sbin/killsnoop.bt")
    if tool not in NO_KPROBE_TOOLS:
        pytest.skip("killsnoop.bt is not installed")
    script = tmp_path / "kill-group.sh"
    script.write_text("#!/bin/bash\nkill -0 -$$ 2>/dev/null\nexit 0\n")
    script.chmod(0o755)
    result = run_auger(str(tool), "-c", str(script))
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()[2:] if line.strip()]
    # TIME PID COMM SIG TPID RESULT; -3 is -ESRCH (no such group).
    assert any(row[3] == "0" and row[4] == f"-{row[1]}" and row[5] == "-3" for row in rows), result.stdout
