"""The kernel bindings (libbcc.py and the objects of kernel.py) against the
real kernel, with hand-assembled programs."""

import errno
import os
import re
import struct
import subprocess
import sys
import time

import pytest

from auger.probes import tracefs
from auger.probes.kernel_functions import kprobes_supported
from auger.runtime import libbcc
from auger.runtime.kernel import Kernel, online_cpus, possible_cpu_count
from auger.runtime.libbcc import BpfError, MapType, PerfType, ProgType

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for bpf()")

# --- a tiny BPF assembler: just what these tests need ----------------------------


def insn(code, dst=0, src=0, off=0, imm=0):
    return struct.pack("<BBhi", code, dst | src << 4, off, imm)


def mov_imm(dst, imm):
    return insn(0xB7, dst, imm=imm)


def mov_reg(dst, src):
    return insn(0xBF, dst, src)


def add_imm(dst, imm):
    return insn(0x07, dst, imm=imm)


def rsh_imm(dst, imm):
    return insn(0x77, dst, imm=imm)


def load_map_fd(dst, fd):  # LD_IMM64 with BPF_PSEUDO_MAP_FD
    return insn(0x18, dst, 1, imm=fd) + insn(0)


def load_dw(dst, src, off):
    return insn(0x79, dst, src, off)


def store_dw(dst, off, src):
    return insn(0x7B, dst, src, off)


def store_word_imm(dst, off, imm):
    return insn(0x62, dst, off=off, imm=imm)


def atomic_add_dw(dst, off, src):
    return insn(0xDB, dst, src, off)


def jump_if_eq(dst, imm, off):
    return insn(0x15, dst, off=off, imm=imm)


def jump_if_ne(dst, imm, off):
    return insn(0x55, dst, off=off, imm=imm)


def call(helper):
    return insn(0x85, imm=helper)


EXIT = insn(0x95)
RETURN_0 = mov_imm(0, 0) + EXIT
MAP_LOOKUP_ELEM, GET_CURRENT_PID_TGID, RINGBUF_OUTPUT = 1, 14, 130


def count_program(map_fd, tgid=None):
    """Adds 1 to element 0 of an array map; with `tgid`, only in that process."""
    code = b""
    if tgid is not None:
        code += call(GET_CURRENT_PID_TGID) + rsh_imm(0, 32) + jump_if_ne(0, tgid, 9)
    code += store_word_imm(10, -4, 0) + load_map_fd(1, map_fd) + mov_reg(2, 10) + add_imm(2, -4)
    code += call(MAP_LOOKUP_ELEM) + jump_if_eq(0, 0, 2) + mov_imm(1, 1) + atomic_add_dw(0, 0, 1)
    return code + RETURN_0


def ringbuf_program(map_fd):
    """Outputs the raw tracepoint's first argument (8 bytes) as one record."""
    code = load_dw(6, 1, 0) + store_dw(10, -8, 6) + load_map_fd(1, map_fd)
    code += mov_reg(2, 10) + add_imm(2, -8) + mov_imm(3, 8) + mov_imm(4, 0) + call(RINGBUF_OUTPUT)
    return code + RETURN_0


# --- fixtures -------------------------------------------------------------------------


@pytest.fixture
def kernel():
    with Kernel() as kernel:
        yield kernel


def counter(kernel, type=MapType.ARRAY):
    return kernel.create_map(type, 4, 8, 1, "auger_counter")


def count_of(counter_map):
    value = counter_map.lookup(b"\0\0\0\0")
    values = value if isinstance(value, list) else [value]
    return sum(struct.unpack("<Q", v)[0] for v in values)


def u64(n):
    return struct.pack("<Q", n)


# --- loading ----------------------------------------------------------------------------


def test_import_loads_no_library():
    probe = "import auger.runtime.kernel; print('libbcc_bpf' in open('/proc/self/maps').read())"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout == "False\n"


def test_missing_library_says_what_to_install(monkeypatch):
    libbcc._library.cache_clear()
    monkeypatch.setattr(libbcc, "LIBRARY", "libauger_missing.so.0")
    try:
        with pytest.raises(BpfError, match="install libbpfcc"):
            Kernel().create_map(MapType.ARRAY, 4, 8, 1)
    finally:
        libbcc._library.cache_clear()


def test_load_and_test_run_returns_r0(kernel):
    program = kernel.load_program(ProgType.RAW_TRACEPOINT, mov_imm(0, 42) + EXIT, name="auger_ret42")
    assert program.fd >= 0
    assert program.test_run() == 42


def test_rejected_program_carries_verifier_log(kernel, capfd):
    with pytest.raises(BpfError) as caught:
        kernel.load_program(ProgType.RAW_TRACEPOINT, mov_reg(0, 2) + EXIT, name="auger_bad")
    assert caught.value.errno == errno.EACCES
    assert "R2 !read_ok" in caught.value.log
    assert "auger_bad" in str(caught.value) and "verifier" in str(caught.value)
    assert capfd.readouterr().err == ""  # bcc's own printing was captured


def test_log_level_keeps_log_of_accepted_program(kernel):
    program = kernel.load_program(ProgType.RAW_TRACEPOINT, RETURN_0, name="auger_logged", log_level=2)
    assert "processed 2 insns" in program.log


def test_misaligned_code_is_refused(kernel):
    with pytest.raises(BpfError, match="multiple of 8"):
        kernel.load_program(ProgType.RAW_TRACEPOINT, RETURN_0[:-1])


# --- maps -------------------------------------------------------------------------------------


def test_hash_map_operations(kernel):
    table = kernel.create_map(MapType.HASH, 4, 8, 16, "auger_hash")
    for key in range(5):
        table.update(struct.pack("<I", key), u64(key * 10))
    assert table.lookup(struct.pack("<I", 3)) == u64(30)
    assert table.lookup(struct.pack("<I", 9)) is None
    assert table.delete(struct.pack("<I", 4)) and not table.delete(struct.pack("<I", 4))
    assert sorted(table.keys()) == [struct.pack("<I", k) for k in range(4)]
    assert sorted(table.items()) == [(struct.pack("<I", k), u64(k * 10)) for k in range(4)]
    with pytest.raises(BpfError) as caught:
        table.update(struct.pack("<I", 1), u64(0), flags=libbcc.UpdateFlag.NOEXIST)
    assert caught.value.errno == errno.EEXIST
    assert len(table.items(delete=True)) == 4 and table.items() == []


def test_items_of_array_map_and_batch_larger_than_a_chunk(kernel):
    array = kernel.create_map(MapType.ARRAY, 4, 8, 3, "auger_array")
    array.update(struct.pack("<I", 1), u64(7))
    assert array.items() == [(struct.pack("<I", i), u64(7 if i == 1 else 0)) for i in range(3)]
    table = kernel.create_map(MapType.HASH, 4, 4, 10000, "auger_big")
    for key in range(5000):
        table.update(struct.pack("<I", key), struct.pack("<I", key))
    assert sorted(table.items()) == sorted((struct.pack("<I", k), struct.pack("<I", k)) for k in range(5000))


def test_bad_map_shape_is_a_readable_error(kernel):
    with pytest.raises(BpfError, match=r"creating map auger_empty \(ARRAY, key 4, value 8, 0 entries\)"):
        kernel.create_map(MapType.ARRAY, 4, 8, 0, "auger_empty")


def test_per_cpu_map_reads_one_value_per_cpu(kernel):
    per_cpu = counter(kernel, MapType.PERCPU_ARRAY)
    program = kernel.load_program(ProgType.RAW_TRACEPOINT, count_program(per_cpu.fd), name="auger_percpu")
    cpus = online_cpus()
    for cpu in cpus:
        for _ in range(cpu + 1):
            program.test_run(cpu=cpu)
    values = per_cpu.lookup(b"\0\0\0\0")
    assert len(values) == possible_cpu_count()
    assert [struct.unpack("<Q", values[cpu])[0] for cpu in cpus] == [cpu + 1 for cpu in cpus]
    assert count_of(per_cpu) == sum(cpu + 1 for cpu in cpus)
    per_cpu.update(b"\0\0\0\0", u64(5))  # one value for every CPU
    assert count_of(per_cpu) == 5 * possible_cpu_count()


def test_test_run_of_a_tracepoint_program_is_not_supported(kernel):
    program = kernel.load_program(ProgType.TRACEPOINT, RETURN_0, name="auger_tp")
    with pytest.raises(BpfError, match="running program auger_tp: not supported"):
        program.test_run()


def test_test_run_updates_a_map(kernel):
    counts = counter(kernel)
    program = kernel.load_program(ProgType.RAW_TRACEPOINT, count_program(counts.fd), name="auger_count")
    for _ in range(3):
        program.test_run()
    assert count_of(counts) == 3


# --- ring buffer --------------------------------------------------------------------


def test_ring_buffer_round_trip(kernel):
    ring = kernel.create_map(MapType.RINGBUF, 0, 0, 4096 * 4, "auger_ring")
    program = kernel.load_program(ProgType.RAW_TRACEPOINT, ringbuf_program(ring.fd), name="auger_emit")
    records = []
    reader = kernel.open_ring_buffer(ring, records.append)
    assert reader.poll(0) == 0
    for value in (0x1122334455667788, 7):
        program.test_run(u64(value))
    assert reader.poll(100) == 2
    assert records == [u64(0x1122334455667788), u64(7)]
    program.test_run(u64(9))
    assert reader.drain() == 1 and records[-1] == u64(9)


def test_ring_buffer_callback_error_is_raised_from_poll(kernel):
    ring = kernel.create_map(MapType.RINGBUF, 0, 0, 4096, "auger_ring")
    program = kernel.load_program(ProgType.RAW_TRACEPOINT, ringbuf_program(ring.fd), name="auger_emit")

    def explode(record):
        raise ValueError(record)

    reader = kernel.open_ring_buffer(ring, explode)
    program.test_run(u64(1))
    with pytest.raises(ValueError):
        reader.drain()
    assert reader.drain() == 0  # the failing record was consumed


# --- attaching ------------------------------------------------------------------------------------


def test_tracepoint_counts_exact_calls(kernel):
    counts = counter(kernel)
    program = kernel.load_program(
        ProgType.TRACEPOINT, count_program(counts.fd, tgid=os.getpid()), name="auger_getppid"
    )
    attachment = kernel.attach_tracepoint(program, "syscalls", "sys_enter_getppid")
    for _ in range(25):
        os.getppid()
    attachment.close()
    os.getppid()
    assert count_of(counts) == 25


def test_unknown_tracepoint_is_a_readable_error(kernel):
    program = kernel.load_program(ProgType.TRACEPOINT, RETURN_0)
    with pytest.raises(BpfError, match="tracepoint syscalls:sys_enter_nonesuch does not exist"):
        kernel.attach_tracepoint(program, "syscalls", "sys_enter_nonesuch")


def test_raw_tracepoint_fires(kernel):
    counts = counter(kernel)
    program = kernel.load_program(
        ProgType.RAW_TRACEPOINT, count_program(counts.fd, tgid=os.getpid()), name="auger_rawtp"
    )
    with kernel.attach_raw_tracepoint(program, "sys_enter"):
        for _ in range(10):
            os.getppid()
    assert count_of(counts) >= 10


def test_perf_event_cpu_clock_fires(kernel):
    counts = counter(kernel)
    program = kernel.load_program(ProgType.PERF_EVENT, count_program(counts.fd), name="auger_profile")
    for cpu in online_cpus():
        kernel.attach_perf_event(
            program, PerfType.SOFTWARE, libbcc.SoftwareEvent.CPU_CLOCK, frequency=1000, cpu=cpu
        )
    deadline = time.monotonic() + 0.2
    while time.monotonic() < deadline:
        pass
    assert count_of(counts) > 10


def test_perf_event_needs_one_rate(kernel):
    program = kernel.load_program(ProgType.PERF_EVENT, RETURN_0)
    with pytest.raises(BpfError, match="exactly one of period and frequency"):
        kernel.attach_perf_event(program, PerfType.SOFTWARE, 0, period=10, frequency=10)


def test_hardware_event_without_pmu_is_a_clear_error(kernel):
    program = kernel.load_program(ProgType.PERF_EVENT, RETURN_0)
    try:
        kernel.attach_perf_event(program, PerfType.HARDWARE, libbcc.HardwareEvent.CPU_CYCLES, frequency=99)
    except BpfError as error:
        assert "no hardware PMU" in str(error)
    else:
        pytest.skip("this machine has a hardware PMU")


def test_kprobe_without_kprobes_is_a_clear_error(kernel):
    if kprobes_supported():
        pytest.skip("this kernel has kprobes")
    program = kernel.load_program(ProgType.KPROBE, RETURN_0)
    with pytest.raises(BpfError, match=r"this kernel has no kprobes \(CONFIG_KPROBES\)"):
        kernel.attach_kprobe(program, "vfs_read")


def _file_offset(path, symbol):
    """The file offset of a dynamic symbol, as uprobes want it."""
    symbols = subprocess.run(["readelf", "-W", "--dyn-syms", path], capture_output=True, text=True).stdout
    address = next(int(f[1], 16) for f in map(str.split, symbols.splitlines()) if len(f) > 7 and f[7].split("@")[0] == symbol)
    segments = subprocess.run(["readelf", "-W", "-l", path], capture_output=True, text=True).stdout
    for fields in (line.split() for line in segments.splitlines() if line.strip().startswith("LOAD")):
        offset, vaddr, size = int(fields[1], 16), int(fields[2], 16), int(fields[5], 16)
        if vaddr <= address < vaddr + size:
            return address - vaddr + offset
    raise LookupError(symbol)


def _libc_path():
    maps = open("/proc/self/maps").read()
    return re.search(r"(/\S*/libc\.so\.6)", maps).group(1)


@pytest.mark.parametrize("retprobe", [False, True])
def test_uprobe_on_libc_function_of_a_child(kernel, retprobe):
    libc = _libc_path()
    counts = counter(kernel)
    program = kernel.load_program(ProgType.KPROBE, count_program(counts.fd), name="auger_uprobe")
    child = subprocess.Popen(
        [sys.executable, "-c", "import os, sys; sys.stdin.read(1); [os.getppid() for _ in range(17)]"],
        stdin=subprocess.PIPE,
    )
    try:
        attachment = kernel.attach_uprobe(
            program, libc, _file_offset(libc, "getppid"), retprobe=retprobe, pid=child.pid
        )
    finally:
        child.communicate(b"x", timeout=10)
    assert count_of(counts) == 17
    assert "probe" in attachment.description and libc in attachment.description


def test_uprobe_on_missing_binary_is_an_error_and_leaves_nothing(kernel):
    program = kernel.load_program(ProgType.KPROBE, RETURN_0)
    with pytest.raises(BpfError, match="attaching uprobe /nonexistent/auger:0x10"):
        kernel.attach_uprobe(program, "/nonexistent/auger", 0x10)
    for root in tracefs.TRACEFS_MOUNTPOINTS:
        if os.path.exists(f"{root}/uprobe_events"):
            assert "auger_" not in open(f"{root}/uprobe_events").read()


# --- information and hygiene ------------------------------------------------------------------------


def test_program_and_map_info_with_run_stats(kernel):
    counts = counter(kernel)
    program = kernel.load_program(ProgType.RAW_TRACEPOINT, count_program(counts.fd), name="auger_stats")
    with kernel.enable_stats():
        for _ in range(4):
            program.test_run()
    info = program.info()
    assert info.name == "auger_stats" and info.id > 0 and info.type == ProgType.RAW_TRACEPOINT
    assert info.run_cnt == 4 and info.run_time_ns > 0
    assert info.instruction_count >= len(count_program(counts.fd)) // 8  # after the kernel's rewrites
    map_info = counts.info()
    assert (map_info.name, map_info.type, map_info.key_size, map_info.value_size) == ("auger_counter", 2, 4, 8)


def _exists(kind, object_id):
    shown = subprocess.run(["bpftool", kind, "show", "id", str(object_id)], capture_output=True)
    return shown.returncode == 0


@pytest.mark.skipif(not os.path.exists("/usr/sbin/bpftool"), reason="needs bpftool")
def test_close_releases_every_fd_and_kernel_object():
    fds_before = set(os.listdir("/proc/self/fd"))
    with Kernel() as kernel:
        counts = counter(kernel)
        ring = kernel.create_map(MapType.RINGBUF, 0, 0, 4096, "auger_ring")
        program = kernel.load_program(ProgType.TRACEPOINT, count_program(counts.fd), name="auger_gone")
        kernel.attach_tracepoint(program, "syscalls", "sys_enter_getppid")
        kernel.open_ring_buffer(ring, lambda record: None)
        kernel.enable_stats()
        program_id, map_id = program.info().id, counts.info().id
        assert _exists("prog", program_id) and _exists("map", map_id)
    assert program.closed and counts.closed
    assert set(os.listdir("/proc/self/fd")) == fds_before
    deadline = time.monotonic() + 2  # the kernel frees them from a work queue
    while (_exists("prog", program_id) or _exists("map", map_id)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _exists("prog", program_id) and not _exists("map", map_id)


def test_closing_one_object_early_is_fine():
    with Kernel() as kernel:
        counts = counter(kernel)
        counts.close()
        counts.close()
        assert counts.closed
