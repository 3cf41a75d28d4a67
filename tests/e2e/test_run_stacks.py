"""kstack and ustack in the real kernel (map keys, map values, printf and
print; modes bpftrace/perf/raw, from the config or the call; frame limits),
ksym/usym, and the symbol tables behind them (runtime/symbols.py).

Shapes follow bpftrace 0.27.1: a frame is `sym+off` indented 8 spaces,
perf mode `\\t<hex> sym+off` (user frames add ` (module)`), raw mode the bare
hex address; an unresolved frame prints `0x…`.
"""

import ctypes
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from auger.compiler.types import StackType
from auger.runtime.events import ValueContext, decode_value
from auger.runtime.format import text, values
from auger.runtime.symbols import KALLSYMS, kernel_symbol, stack_value, user_symbol

from conftest import build_c, processes_running

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"

WORKLOAD = r"""
#include <stdlib.h>
#include <unistd.h>
__attribute__((noinline)) int leaf(int n) { return n + getppid(); }
__attribute__((noinline)) int middle(int n) { return leaf(n) * 2; }
__attribute__((noinline)) void calls_done(void) { getppid(); }
int main(int argc, char **argv) {
    int total = 0;
    for (int i = 0; i < atoi(argv[1]); i++) total += middle(i);
    calls_done();
    sleep(atoi(argv[2]));  /* alive while auger prints its maps */
    return total == 12345;
}
"""

CXX_WORKLOAD = r"""
#include <unistd.h>
namespace work {
__attribute__((noinline)) int step(int n) { return n + getppid(); }
__attribute__((noinline)) void done() { getppid(); }
}
int main() { int total = 0; for (int i = 0; i < 2; i++) total += work::step(i); work::done(); sleep(5); return total == 1; }
"""

FRAME = re.compile(r"^ {8}([^\s+]+)\+(\d+)$")
PERF_KERNEL_FRAME = re.compile(r"^\t([0-9a-f]+) ([^\s+]+)\+(\d+)$")
PERF_USER_FRAME = re.compile(r"^\t([0-9a-f]+) (\S+) \((\S+)\)$")
RAW_FRAME = re.compile(r"^[0-9a-f]+$")
ENTRY = re.compile(r"^@(\w*)\[\n(.*?)\]: (\d+)$", re.MULTILINE | re.DOTALL)


@pytest.fixture(scope="module")
def workload(tmp_path_factory) -> str:
    return build_c(tmp_path_factory.mktemp("stacks"), "stacks", WORKLOAD, "-O0", "-fno-omit-frame-pointer")


def not_kernel_names(names: list[str]) -> list[str]:
    """The names /proc/kallsyms does not hold now; a BPF program's symbol
    (`bpf_prog_TAG_NAME`) leaves it when the program is unloaded, as other
    tests' programs are, so those count as kernel names."""
    with open(KALLSYMS) as symbols:
        known = {line.split()[2] for line in symbols}
    return [name for name in names if name not in known and not name.startswith("bpf_prog_")]


def stack_entries(output: str, name: str = "") -> list[tuple[list[str], int]]:
    """Each `@name[<stack>]: N` entry of a map keyed by a stack alone: its frame lines and count."""
    return [(frames.splitlines(), int(count)) for map_name, frames, count in ENTRY.findall(output) if map_name == name]


def passed(result) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


# ------------------------------------------------------------------ kernel stacks


@pytest.mark.root
def test_profile_kernel_stacks_have_kallsyms_names(run_auger):
    output = passed(run_auger("-e", "profile:hz:99 { @[kstack] = count(); } interval:s:1 { exit(); }"))
    entries = stack_entries(output)
    assert entries and sum(count for _, count in entries) > 0
    frames = [line for lines, _ in entries for line in lines]
    assert frames, "some sample was taken in the kernel"
    assert all(FRAME.match(line) for line in frames), frames
    assert not not_kernel_names([FRAME.match(line).group(1) for line in frames])
    assert output.startswith("\n\n@[\n")


@pytest.mark.root
def test_frame_limit_and_empty_kernel_stacks(run_auger):
    """kstack(2) keeps the 2 innermost frames; a sample taken in user mode
    has no kernel stack and prints as `@[` newline `]: N`. A busy loop in
    userspace and one in system calls make sure there are both (an idle CPU
    takes no cpu-clock samples)."""
    with _spinning(USER_LOOP, SYSCALL_LOOP):
        output = passed(run_auger("-e", "profile:hz:99 { @[kstack(2)] = count(); } interval:s:1 { exit(); }"))
    entries = stack_entries(output)
    assert all(len(lines) <= 2 for lines, _ in entries)
    assert any(len(lines) == 2 for lines, _ in entries)
    assert any(not lines for lines, _ in entries)


@pytest.mark.root
def test_perf_and_raw_modes(run_auger):
    program = ("config = { stack_mode = perf; } profile:hz:99 { @p[kstack(3)] = count(); @r[kstack(raw, 3)] = count(); }"
               " interval:s:1 { exit(); }")
    output = passed(run_auger("-e", program))
    perf = [line for lines, _ in stack_entries(output, "p") for line in lines]
    raw = [line for lines, _ in stack_entries(output, "r") for line in lines]
    assert perf and raw
    assert all(PERF_KERNEL_FRAME.match(line) for line in perf), perf
    assert not not_kernel_names([PERF_KERNEL_FRAME.match(line).group(2) for line in perf])
    assert all(RAW_FRAME.match(line) and int(line, 16) >= 1 << 63 for line in raw), raw


@pytest.mark.root
def test_stack_in_printf_print_and_map_value(run_auger):
    """BEGIN runs in auger itself (BPF_PROG_TEST_RUN): its kernel stack is
    the program's own frame, then the test-run code."""
    program = 'BEGIN { printf("%s|\\n", kstack(2)); print(kstack(2)); @s = kstack(2); exit(); }'
    output = passed(run_auger("-e", program))
    frames = r"\n {8}bpf_prog_\w+\+\d+\n {8}\w+\+\d+\n"
    assert re.fullmatch(f"{frames}\\|\n{frames}\n\n\n@s: {frames}\n", output), output


@pytest.mark.root
def test_stacks_lost_to_a_full_stack_map_are_reported(run_auger):
    """With room for one stack, the other stacks sampled are lost: said
    once at exit, with the count. A loop of system calls makes sure there
    are several."""
    program = "config = { max_map_keys = 1 } profile:hz:99 { @s = kstack; } interval:s:1 { exit(); }"
    with _spinning(SYSCALL_LOOP):
        result = run_auger("-e", program)
    assert result.returncode == 0
    assert re.fullmatch(r"Attached 2 probes\nWARNING: [1-9]\d* kstack\(127\) stacks were lost \(they print as "
                        r"empty stacks\): the map of their frames was full\. Try increasing max_map_keys\n",
                        result.stderr), result.stderr


USER_LOOP = "while :; do :; done"
SYSCALL_LOOP = "exec dd if=/dev/zero of=/dev/null bs=1 status=none"


def _spinning(*loops):
    """Shell loops busy on the CPUs while the block runs."""
    return processes_running(*(["sh", "-c", loop] for loop in loops))


@pytest.mark.root
def test_len_of_a_stack(run_auger):
    output = passed(run_auger("-e", "BEGIN { @n = len(kstack); @s = kstack; @two = len(kstack(raw, 2)); exit(); }"))
    frames = output.split("@s: \n")[1].split("\n\n")[0].splitlines()
    assert f"@n: {len(frames)}\n" in output and len(frames) > 2
    assert "@two: 2\n" in output


@pytest.mark.root
def test_ksym_value(run_auger):
    program = ('BEGIN { printf("%s %s\\n", ksym(kaddr("vfs_read")), ksym(kaddr("vfs_read") + 5)); '
               '@k = ksym(kaddr("vfs_write")); exit(); }')
    assert passed(run_auger("-e", program)) == "vfs_read vfs_read\n\n\n@k: vfs_write\n"


@pytest.mark.root
def test_ksym_of_a_tracepoint_pointer(run_auger):
    program = "tracepoint:timer:hrtimer_start { @[ksym(args.function)] = count(); } interval:ms:500 { exit(); }"
    output = passed(run_auger("-e", program))
    names = re.findall(r"^@\[(.*)\]: \d+$", output, re.MULTILINE)
    assert names and not not_kernel_names(names), output


# ------------------------------------------------------------------ user stacks


@pytest.mark.root
def test_ustack_of_a_workload(run_auger, workload):
    """The process is still alive when the maps are printed (it sleeps
    after calls_done), so its frames resolve: leaf, middle, main."""
    program = (f"uprobe:{workload}:leaf {{ @[ustack] = count(); @p[ustack(perf, 3)] = count(); "
               f"@r[ustack(raw, 2)] = count(); }} uprobe:{workload}:calls_done {{ exit(); }}")
    output = passed(run_auger("-c", f"{workload} 3 5", "-e", program))
    [(frames, count)] = stack_entries(output)
    assert count == 3
    assert [FRAME.match(line).group(1) for line in frames[:3]] == ["leaf", "middle", "main"]
    assert frames[0] == "        leaf+0"  # the uprobe is at the function's first instruction
    [(perf, _)] = stack_entries(output, "p")
    assert [PERF_USER_FRAME.match(line).group(2, 3) for line in perf] == [
        ("leaf+0", workload), (perf[1].split()[1], workload), (perf[2].split()[1], workload)]
    assert perf[1].split()[1].startswith("middle+") and perf[2].split()[1].startswith("main+")
    [(raw, _)] = stack_entries(output, "r")
    assert len(raw) == 2 and all(RAW_FRAME.match(line) for line in raw)
    assert [line.split()[0] for line in perf[:2]] == raw


@pytest.mark.root
def test_ustack_of_an_exited_process_stays_hex(run_auger, workload):
    """The maps are printed after the -c command ended: nothing is left to
    name its frames (bpftrace prints the same)."""
    output = passed(run_auger("-c", f"{workload} 2 0", "-e", f"uprobe:{workload}:leaf {{ @[ustack(2)] = count(); }}"))
    [(frames, count)] = stack_entries(output)
    assert count == 2
    assert all(re.fullmatch(r" {8}0x[0-9a-f]+", line) for line in frames), frames


@pytest.mark.root
def test_ustack_in_a_tuple_key(run_auger, workload):
    program = f"uprobe:{workload}:middle {{ @[ustack(1), comm] = count(); }} uprobe:{workload}:calls_done {{ exit(); }}"
    output = passed(run_auger("-c", f"{workload} 4 5", "-e", program))
    assert output == "\n\n@[\n        middle+0\n, stacks]: 4\n"


@pytest.mark.root
def test_cxx_frames_are_demangled(run_auger, tmp_path):
    if shutil.which("g++") is None:
        pytest.skip("g++ is needed to build the C++ workload")
    source, binary = tmp_path / "work.cc", tmp_path / "work"
    source.write_text(CXX_WORKLOAD)
    subprocess.run(["g++", "-O0", "-fno-omit-frame-pointer", "-o", str(binary), str(source)], check=True)
    program = f'uprobe:{binary}:_ZN4work4stepEi {{ printf("%s", ustack(2)); }} uprobe:{binary}:_ZN4work4doneEv {{ exit(); }}'
    output = passed(run_auger("-c", str(binary), "-e", program))
    assert re.fullmatch(r"(\n {8}work::step\(int\)\+0\n {8}main\+\d+\n){2}\n\n", output), output


@pytest.mark.root
def test_profile_example_runs(run_auger, tmp_path):
    """examples/profile.bt for 2 s (an interval probe ends it), with a
    process spinning on a CPU so that user stacks are sampled."""
    script = tmp_path / "profile.bt"
    script.write_text((EXAMPLES_DIR / "profile.bt").read_text() + "\ninterval:s:2 { exit(); }\n")
    with _spinning(USER_LOOP):
        result = run_auger(str(script))
    assert result.returncode == 0, result.stderr
    assert result.stderr == "Attached 3 probes\n"
    assert "@kernel[" in result.stdout and "@user[" in result.stdout


# ------------------------------------------------------------------ symbols, decoding


def test_kernel_symbol_names_and_offsets():
    with open(KALLSYMS) as symbols:
        entries = [line.split() for line in symbols]
    if all(int(entry[0], 16) == 0 for entry in entries[:100]):
        pytest.skip("kernel addresses are hidden (kptr_restrict)")
    address = next(int(entry[0], 16) for entry in entries if entry[2] == "vfs_read")
    assert kernel_symbol(address).name == "vfs_read"
    assert (kernel_symbol(address + 7).name, kernel_symbol(address + 7).offset) == ("vfs_read", 7)


def test_user_symbol_of_this_process():
    """A libc function's address in this process resolves through the
    process's memory map and libc's ELF symbols (the section's file offset
    and address differ in general; the symbol's size bounds it)."""
    libc = ctypes.CDLL(None)
    address = ctypes.cast(libc.getpid, ctypes.c_void_p).value
    found = user_symbol(os.getpid(), address + 1)
    assert found is not None and found.offset == 1
    assert "getpid" in found.name
    assert found.module is not None and "libc" in found.module
    assert user_symbol(os.getpid(), 8) is None


def test_user_symbol_in_the_vdso():
    """Frames in the vDSO (clock_gettime and friends) resolve through the
    ELF image in the process's memory."""
    with open("/proc/self/maps") as maps:
        starts = [int(line.split("-")[0], 16) for line in maps if line.rstrip().endswith("[vdso]")]
    if not starts:
        pytest.skip("this kernel maps no vDSO")
    symbols = [user_symbol(os.getpid(), starts[0] + offset) for offset in range(0, 4096, 16)]
    assert any(found is not None and "gettime" in found.name and found.module == "[vdso]" for found in symbols)


def test_user_symbol_of_a_gone_process():
    child = subprocess.Popen(["true"])
    child.wait()
    assert user_symbol(child.pid, 0x401000) is None


def test_stack_decoding_modes_and_failed_capture():
    kernel = StackType(False)
    frames = {7: (0xFFFFFFFF00001000, 0x1234)}
    context = ValueContext(stack_addresses=lambda stack, stack_id: frames.get(stack_id, ()))
    # No stack (the hash 0) prints as an empty stack.
    empty = decode_value(kernel, struct.pack("<QQ", 0, 0), context)
    assert empty == values.Stack((), "bpftrace", False)
    assert text.format_value(empty) == "\n"
    raw = decode_value(StackType(True, "raw", 5), struct.pack("<qQ", 7, os.getpid()), context)
    assert text.format_value(raw) == "\nffffffff00001000\n1234\n"
    user = stack_value(StackType(True, "perf"), (0x1234,), os.getpid())
    assert text.format_value(user) == "\n\t1234 0x1234 ([unknown])\n"
