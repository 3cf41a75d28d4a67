"""Kernel bindings: the one module that calls into the kernel.

Everything goes through bcc's runtime library libbcc_bpf.so.0 (package
libbpfcc) with ctypes, plus the raw bpf() syscall for what that library does
not offer (BPF_PROG_TEST_RUN, BPF_ENABLE_STATS, BPF_LINK_CREATE,
BPF_RAW_TRACEPOINT_OPEN for fentry/fexit; BPF_PROG_LOAD with BTF or an
attach target and BPF_BTF_LOAD in runtime/program_btf.py) and
perf_event_open, for attachments with a BPF cookie. The library is loaded
on first use, never at import. This module holds the C declarations,
the calls and the kernel's constants; runtime/kernel.py builds the objects
(`Kernel`, `Map`, `Program`, ...) on top. See docs/kernel-bindings.md.
"""

from __future__ import annotations

import ctypes
import enum
import errno as errnos
import functools
import os
import platform
import sys

LIBRARY = "libbcc_bpf.so.0"

c_int, c_uint, c_u32, c_u64 = ctypes.c_int, ctypes.c_uint, ctypes.c_uint32, ctypes.c_uint64
c_void_p, c_char_p, c_size_t = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t
c_u32_p = ctypes.POINTER(c_u32)

# Exactly the functions we use, typed as in bcc v0.26 src/cc/libbpf.h:
# name -> (return type, argument types), the C parameter names alongside.
_PROTOTYPES = {
    "bcc_create_map": (c_int, [c_int, c_char_p, c_int, c_int, c_int, c_int]),  # map_type, name, key_size, value_size, max_entries, map_flags
    "bpf_update_elem": (c_int, [c_int, c_void_p, c_void_p, ctypes.c_ulonglong]),  # fd, key, value, flags
    "bpf_lookup_elem": (c_int, [c_int, c_void_p, c_void_p]),  # fd, key, value
    "bpf_delete_elem": (c_int, [c_int, c_void_p]),  # fd, key
    "bpf_get_first_key": (c_int, [c_int, c_void_p, c_size_t]),  # fd, key, key_size
    "bpf_get_next_key": (c_int, [c_int, c_void_p, c_void_p]),  # fd, key, next_key
    "bpf_lookup_batch": (c_int, [c_int, c_void_p, c_void_p, c_void_p, c_void_p, c_u32_p]),  # fd, __u32 *in_batch, __u32 *out_batch, keys, values, __u32 *count
    "bpf_lookup_and_delete_batch": (c_int, [c_int, c_void_p, c_void_p, c_void_p, c_void_p, c_u32_p]),  # same
    "bcc_prog_load": (c_int, [c_int, c_char_p, c_char_p, c_int, c_char_p, c_uint, c_int, c_void_p, c_uint]),  # prog_type, name, const struct bpf_insn *insns, int prog_len (BYTES), license, unsigned kern_version, log_level, char *log_buf, unsigned log_buf_size
    "bpf_obj_get_info": (c_int, [c_int, c_void_p, c_u32_p]),  # prog_map_fd, void *info, uint32_t *info_len
    "bpf_attach_tracepoint": (c_int, [c_int, c_char_p, c_char_p]),  # progfd, tp_category, tp_name
    "bpf_attach_raw_tracepoint": (c_int, [c_int, c_char_p]),  # progfd, tp_name
    "bpf_attach_perf_event": (c_int, [c_int, c_u32, c_u32, c_u64, c_u64, c_int, c_int, c_int]),  # progfd, ev_type, ev_config, sample_period, sample_freq, pid_t pid, cpu, group_fd
    "bpf_attach_uprobe": (c_int, [c_int, c_int, c_char_p, c_char_p, c_u64, c_int, c_u32]),  # progfd, attach_type, ev_name, binary_path, offset, pid_t pid, ref_ctr_offset
    "bpf_detach_uprobe": (c_int, [c_char_p]),  # ev_name
    "bpf_attach_kprobe": (c_int, [c_int, c_int, c_char_p, c_char_p, c_u64, c_int]),  # progfd, attach_type, ev_name, fn_name, fn_offset, maxactive
    "bpf_detach_kprobe": (c_int, [c_char_p]),  # ev_name
    "bpf_close_perf_event_fd": (c_int, [c_int]),  # fd
}  # fmt: skip


class BpfError(Exception):
    """A kernel operation failed. `errno` is the error number (0 if none);
    `log` the verifier log for a rejected program; `detail` whatever bcc
    printed to stderr during the call."""

    def __init__(self, message: str, errno: int = 0, log: str = "", detail: str = ""):
        super().__init__(message)
        self.errno = errno
        self.log = log
        self.detail = detail


@functools.cache
def _library() -> ctypes.CDLL:
    try:
        library = ctypes.CDLL(LIBRARY, use_errno=True)
    except OSError as error:
        raise BpfError(f"cannot load {LIBRARY} ({error}); install libbpfcc", errnos.ENOENT) from None
    for name, (restype, argtypes) in _PROTOTYPES.items():
        function = getattr(library, name)
        function.restype, function.argtypes = restype, argtypes
    return library


# bcc functions return -errno (libbpf 1.x style) or -1 with errno set; both mean failure.
def call(name: str, *args) -> tuple:
    ctypes.set_errno(0)
    result = getattr(_library(), name)(*args)
    return result, (ctypes.get_errno() or (-result if isinstance(result, int) and result < -1 else 0))


ENOTSUPP = 524  # the kernel-internal "not supported" that bpf() leaks to userspace


def error_text(error: int) -> str:
    """What an errno from the kernel means, in words."""
    return {0: "failed", ENOTSUPP: "not supported"}.get(error) or os.strerror(error)


def failure(what: str, error: int, **extra) -> BpfError:
    return BpfError(f"{what}: {error_text(error)}", error, **extra)


def quiet_call(name: str, *args) -> tuple[int, int, str]:
    """call for bcc functions that report failures by printing to stderr:
    our errors say it better, so the text goes to BpfError.detail instead.
    This swaps fd 2 for the whole process for the duration of the call."""
    sys.stderr.flush()
    saved, sink = os.dup(2), os.memfd_create("auger-bcc-stderr")
    os.dup2(sink, 2)
    try:
        result, error = call(name, *args)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        printed = os.pread(sink, 1 << 16, 0).decode("utf-8", "replace").strip()
        os.close(sink)
    return result, error, printed


# --- the raw bpf() syscall, for what libbcc_bpf does not export -------------

_BPF_SYSCALL = {"x86_64": 321, "aarch64": 280, "riscv64": 280, "ppc64le": 361, "s390x": 351}
BPF_PROG_TEST_RUN = 10
BPF_ENABLE_STATS = 32
BPF_LINK_CREATE = 28
BPF_RAW_TRACEPOINT_OPEN = 17
BPF_PERF_EVENT = 41  # enum bpf_attach_type: a program on a perf event, through a link
BPF_F_TEST_RUN_ON_CPU = 1
BPF_STATS_RUN_TIME = 0


def bpf_syscall(command: int, attr: ctypes.Structure) -> int:
    number = _BPF_SYSCALL.get(platform.machine())
    if number is None:
        raise BpfError(f"no bpf() syscall number known for {platform.machine()}", errnos.ENOSYS)
    libc = _libc()
    ctypes.set_errno(0)
    result = libc.syscall(number, command, ctypes.byref(attr), ctypes.sizeof(attr))
    return result if result >= 0 else -ctypes.get_errno()


@functools.cache
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    libc.syscall.argtypes = [ctypes.c_long, c_int, c_void_p, c_uint]
    return libc


_PERF_EVENT_OPEN_SYSCALL = {"x86_64": 298, "aarch64": 241, "riscv64": 241, "ppc64le": 319, "s390x": 331}
PERF_FLAG_FD_CLOEXEC = 8


@functools.cache
def _perf_event_open_call():
    function = _libc()["syscall"]  # its own function object: other argument types than bpf()'s
    function.restype = ctypes.c_long
    function.argtypes = [ctypes.c_long, c_void_p, c_int, c_int, c_int, ctypes.c_ulong]
    return function


def perf_event_open(attr: "PerfEventAttr", pid: int, cpu: int, group_fd: int = -1,
                    flags: int = PERF_FLAG_FD_CLOEXEC) -> int:  # fmt: skip
    """The new perf event's fd, or -errno."""
    number = _PERF_EVENT_OPEN_SYSCALL.get(platform.machine())
    if number is None:
        raise BpfError(f"no perf_event_open() syscall number known for {platform.machine()}", errnos.ENOSYS)
    ctypes.set_errno(0)
    result = _perf_event_open_call()(number, ctypes.addressof(attr), pid, cpu, group_fd, flags)
    return result if result >= 0 else -ctypes.get_errno()


class TestRunAttr(ctypes.Structure):
    # union bpf_attr, the `test` member used by BPF_PROG_TEST_RUN
    _fields_ = [
        ("prog_fd", c_u32), ("retval", c_u32), ("data_size_in", c_u32), ("data_size_out", c_u32),
        ("data_in", c_u64), ("data_out", c_u64), ("repeat", c_u32), ("duration", c_u32),
        ("ctx_size_in", c_u32), ("ctx_size_out", c_u32), ("ctx_in", c_u64), ("ctx_out", c_u64),
        ("flags", c_u32), ("cpu", c_u32), ("batch_size", c_u32),
    ]  # fmt: skip


class EnableStatsAttr(ctypes.Structure):
    _fields_ = [("type", c_u32)]


class LinkCreateAttr(ctypes.Structure):
    # union bpf_attr, the `link_create` member for a perf event target. For a
    # TRACING program the union at bpf_cookie's offset is `tracing`
    # {u32 target_btf_id; u64 cookie}: all zero attaches at the program's
    # own attach_btf_id, with no cookie.
    _fields_ = [
        ("prog_fd", c_u32), ("target_fd", c_u32), ("attach_type", c_u32), ("flags", c_u32), ("bpf_cookie", c_u64),
    ]  # fmt: skip


class RawTracepointOpenAttr(ctypes.Structure):
    # union bpf_attr, the `raw_tracepoint` member; `name` 0 attaches a
    # TRACING program at its attach_btf_id (how kernels before 5.7, without
    # BPF_LINK_CREATE for tracing, attach fentry/fexit)
    _fields_ = [("name", c_u64), ("prog_fd", c_u32)]


class PerfEventAttr(ctypes.Structure):
    # struct perf_event_attr up to config2 (PERF_ATTR_SIZE_VER1); `flags`
    # holds the bit fields (disabled, inherit, ...). A breakpoint's bp_addr
    # is config1 and its bp_len config2 (unions in the kernel's struct).
    _fields_ = [
        ("type", c_u32), ("size", c_u32), ("config", c_u64), ("sample_period", c_u64), ("sample_type", c_u64),
        ("read_format", c_u64), ("flags", c_u64), ("wakeup_events", c_u32), ("bp_type", c_u32), ("config1", c_u64),
        ("config2", c_u64),
    ]  # fmt: skip


class BpfProgInfo(ctypes.Structure):
    # struct bpf_prog_info (include/uapi/linux/bpf.h) up to attach_btf_id; the
    # kernel fills min(our size, its size).
    _fields_ = [
        ("type", c_u32), ("id", c_u32), ("tag", ctypes.c_uint8 * 8),
        ("jited_prog_len", c_u32), ("xlated_prog_len", c_u32),
        ("jited_prog_insns", c_u64), ("xlated_prog_insns", c_u64), ("load_time", c_u64),
        ("created_by_uid", c_u32), ("nr_map_ids", c_u32), ("map_ids", c_u64),
        ("name", ctypes.c_char * 16), ("ifindex", c_u32), ("gpl_compatible", c_u32),
        ("netns_dev", c_u64), ("netns_ino", c_u64), ("nr_jited_ksyms", c_u32),
        ("nr_jited_func_lens", c_u32), ("jited_ksyms", c_u64), ("jited_func_lens", c_u64),
        ("btf_id", c_u32), ("func_info_rec_size", c_u32), ("func_info", c_u64),
        ("nr_func_info", c_u32), ("nr_line_info", c_u32), ("line_info", c_u64),
        ("jited_line_info", c_u64), ("nr_jited_line_info", c_u32), ("line_info_rec_size", c_u32),
        ("jited_line_info_rec_size", c_u32), ("nr_prog_tags", c_u32), ("prog_tags", c_u64),
        ("run_time_ns", c_u64), ("run_cnt", c_u64), ("recursion_misses", c_u64),
        ("verified_insns", c_u32), ("attach_btf_obj_id", c_u32), ("attach_btf_id", c_u32),
    ]  # fmt: skip


class BpfMapInfo(ctypes.Structure):
    # struct bpf_map_info, the fields we read
    _fields_ = [
        ("type", c_u32), ("id", c_u32), ("key_size", c_u32), ("value_size", c_u32),
        ("max_entries", c_u32), ("map_flags", c_u32), ("name", ctypes.c_char * 16),
    ]  # fmt: skip


# --- constants ----------------------------------------------------------------


ProgType = enum.IntEnum("ProgType", {"KPROBE": 2, "TRACEPOINT": 5, "PERF_EVENT": 7, "RAW_TRACEPOINT": 17, "TRACING": 26})
AttachType = enum.IntEnum("AttachType", {"TRACE_RAW_TP": 23, "TRACE_FENTRY": 24, "TRACE_FEXIT": 25})
MapType = enum.IntEnum(
    "MapType",
    {"HASH": 1, "ARRAY": 2, "PERF_EVENT_ARRAY": 4, "PERCPU_HASH": 5, "PERCPU_ARRAY": 6,
     "STACK_TRACE": 7, "LRU_HASH": 9, "LRU_PERCPU_HASH": 10, "RINGBUF": 27},
)  # fmt: skip
PER_CPU_MAP_TYPES = frozenset({MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH})
UpdateFlag = enum.IntEnum("UpdateFlag", {"ANY": 0, "NOEXIST": 1, "EXIST": 2})
PerfType = enum.IntEnum("PerfType", {"HARDWARE": 0, "SOFTWARE": 1, "TRACEPOINT": 2, "HW_CACHE": 3, "BREAKPOINT": 5})
PERF_SAMPLE_RAW = 1 << 10
# enum perf_sw_ids and perf_hw_id, in order
SoftwareEvent = enum.IntEnum(
    "SoftwareEvent",
    "CPU_CLOCK TASK_CLOCK PAGE_FAULTS CONTEXT_SWITCHES CPU_MIGRATIONS PAGE_FAULTS_MIN PAGE_FAULTS_MAJ"
    " ALIGNMENT_FAULTS EMULATION_FAULTS DUMMY",
    start=0,
)
HardwareEvent = enum.IntEnum(
    "HardwareEvent",
    "CPU_CYCLES INSTRUCTIONS CACHE_REFERENCES CACHE_MISSES BRANCH_INSTRUCTIONS BRANCH_MISSES BUS_CYCLES"
    " STALLED_CYCLES_FRONTEND STALLED_CYCLES_BACKEND REF_CPU_CYCLES",
    start=0,
)

BPF_PROBE_ENTRY, BPF_PROBE_RETURN = 0, 1
