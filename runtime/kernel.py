"""The Python object layer over the kernel bindings: owned kernel objects
(maps, programs, attachments, ring buffers) and `Kernel`, which creates
them and closes them all on `close()`. Every call into the kernel goes
through runtime/libbcc.py, except the reading of ring buffers, whose pages
runtime/ring_buffer.py maps; see docs/kernel-bindings.md.
"""

from __future__ import annotations

import ctypes
import errno as errnos
import functools
import itertools
import os
from typing import Callable, Iterator, Sequence

from auger.probes import tracefs
from auger.probes.kernel_functions import kprobes_supported

from . import program_btf
from .libbcc import (
    BPF_ENABLE_STATS,
    BPF_LINK_CREATE,
    BPF_PERF_EVENT,
    BPF_F_TEST_RUN_ON_CPU,
    BPF_PROBE_ENTRY,
    BPF_PROBE_RETURN,
    BPF_PROG_TEST_RUN,
    BPF_RAW_TRACEPOINT_OPEN,
    BPF_STATS_RUN_TIME,
    BpfError,
    BpfMapInfo,
    BpfProgInfo,
    ENOTSUPP,
    EnableStatsAttr,
    LinkCreateAttr,
    MapType,
    PER_CPU_MAP_TYPES,
    PERF_SAMPLE_RAW,
    PerfEventAttr,
    PerfType,
    RawTracepointOpenAttr,
    TestRunAttr,
    UpdateFlag,
    bpf_syscall,
    c_u32,
    call,
    failure,
    perf_event_open,
    quiet_call,
)
from .ring_buffer import Consumer, RingBuffer, each_record

# --- system facts -------------------------------------------------------------


def _cpu_list(path: str) -> list[int]:
    with open(path) as file:
        text = file.read().strip()
    cpus: list[int] = []
    for part in filter(None, text.split(",")):
        first, _, last = part.partition("-")
        cpus.extend(range(int(first), int(last or first) + 1))
    return cpus


@functools.cache
def possible_cpu_count() -> int:
    """Per-CPU map values hold one slot for each possible CPU."""
    return len(_cpu_list("/sys/devices/system/cpu/possible"))


def online_cpus() -> list[int]:
    return _cpu_list("/sys/devices/system/cpu/online")


def _round_up_8(size: int) -> int:
    return (size + 7) & ~7


# --- owned kernel objects -------------------------------------------------------


class KernelObject:
    """Something that holds one fd; close() releases it (idempotent)."""

    def __init__(self, fd: int):
        self.fd = fd

    @property
    def closed(self) -> bool:
        return self.fd < 0

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            self._release(fd)

    def _release(self, fd: int) -> None:
        os.close(fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class ProgramInfo:
    def __init__(self, info: BpfProgInfo):
        self.id = info.id
        self.type = info.type
        self.name = info.name.decode()
        self.run_time_ns = info.run_time_ns
        self.run_cnt = info.run_cnt
        self.instruction_count = info.xlated_prog_len // 8
        self.verified_insns = info.verified_insns
        self.jited_size = info.jited_prog_len


class MapInfo:
    def __init__(self, info: BpfMapInfo):
        self.id = info.id
        self.type = info.type
        self.name = info.name.decode()
        self.key_size, self.value_size = info.key_size, info.value_size
        self.max_entries, self.flags = info.max_entries, info.map_flags


def _object_info(fd: int, info: ctypes.Structure, what: str) -> ctypes.Structure:
    length = c_u32(ctypes.sizeof(info))
    result, error = call("bpf_obj_get_info", fd, ctypes.byref(info), ctypes.byref(length))
    if result < 0:
        raise failure(f"reading {what} info", error)
    return info


class Map(KernelObject):
    """A BPF map. Keys and values are bytes; a per-CPU map's value is a list
    with one bytes per possible CPU (each `value_size` long)."""

    def __init__(self, fd: int, type: int, name: str, key_size: int, value_size: int, max_entries: int):
        super().__init__(fd)
        self.type, self.name = type, name
        self.key_size, self.value_size, self.max_entries = key_size, value_size, max_entries
        self.per_cpu = type in PER_CPU_MAP_TYPES
        # What the kernel copies per element: per-CPU slots are 8-byte aligned.
        self.value_buffer_size = (
            _round_up_8(value_size) * possible_cpu_count() if self.per_cpu else value_size
        )

    def _key(self, key: bytes) -> ctypes.Array:
        if len(key) != self.key_size:
            raise ValueError(f"map {self.name}: key is {len(key)} bytes, not {self.key_size}")
        return ctypes.create_string_buffer(bytes(key), self.key_size or 1)

    def _decode(self, raw: bytes) -> bytes | list[bytes]:
        if not self.per_cpu:
            return raw
        slot = _round_up_8(self.value_size)
        return [raw[at : at + self.value_size] for at in range(0, len(raw), slot)]

    def _encode(self, value: bytes | Sequence[bytes]) -> ctypes.Array:
        if self.per_cpu:
            slots = [value] * possible_cpu_count() if isinstance(value, (bytes, bytearray)) else value
            slot = _round_up_8(self.value_size)
            value = b"".join(bytes(v).ljust(slot, b"\0") for v in slots)
        if len(value) != self.value_buffer_size:
            raise ValueError(f"map {self.name}: value is {len(value)} bytes, not {self.value_buffer_size}")
        return ctypes.create_string_buffer(bytes(value), self.value_buffer_size)

    def lookup(self, key: bytes) -> bytes | list[bytes] | None:
        value = ctypes.create_string_buffer(self.value_buffer_size)
        result, error = call("bpf_lookup_elem", self.fd, self._key(key), value)
        if result < 0:
            if error == errnos.ENOENT:
                return None
            raise failure(f"looking up in map {self.name}", error)
        return self._decode(value.raw)

    def update(self, key: bytes, value: bytes | Sequence[bytes], flags: int = UpdateFlag.ANY) -> None:
        result, error = call("bpf_update_elem", self.fd, self._key(key), self._encode(value), flags)
        if result < 0:
            raise failure(f"updating map {self.name}", error)

    def delete(self, key: bytes) -> bool:
        """False when the key was not there."""
        result, error = call("bpf_delete_elem", self.fd, self._key(key))
        if result < 0 and error != errnos.ENOENT:
            raise failure(f"deleting from map {self.name}", error)
        return result >= 0

    def keys(self) -> Iterator[bytes]:
        """Keys in kernel order. A key deleted meanwhile restarts a hash map's walk."""
        key = ctypes.create_string_buffer(self.key_size)
        result, error = call("bpf_get_first_key", self.fd, key, self.key_size)
        while result >= 0:
            yield key.raw
            next_key = ctypes.create_string_buffer(self.key_size)
            result, error = call("bpf_get_next_key", self.fd, key, next_key)
            key = next_key
        if error != errnos.ENOENT:
            raise failure(f"walking map {self.name}", error)

    def items(self, delete: bool = False) -> list[tuple[bytes, bytes | list[bytes]]]:
        """Every (key, value), in one batch syscall per chunk where the map
        supports it (one lookup per key otherwise). With `delete`, the entries
        are removed as they are read (hash maps only)."""
        batched = self._batch(delete)
        if batched is not None:
            return batched
        if delete:
            raise BpfError(f"map {self.name} does not support lookup-and-delete", errnos.EOPNOTSUPP)
        found = ((key, self.lookup(key)) for key in list(self.keys()))
        return [(key, value) for key, value in found if value is not None]

    def _batch(self, delete: bool) -> list[tuple[bytes, bytes | list[bytes]]] | None:
        function = "bpf_lookup_and_delete_batch" if delete else "bpf_lookup_batch"
        chunk = max(1, min(self.max_entries, 4096))
        keys = ctypes.create_string_buffer(self.key_size * chunk)
        values = ctypes.create_string_buffer(self.value_buffer_size * chunk)
        # The batch position token: a bucket index for hash maps, a key for
        # arrays; 8 bytes covers both.
        position, next_position = ctypes.create_string_buffer(8), ctypes.create_string_buffer(8)
        items: list[tuple[bytes, bytes | list[bytes]]] = []
        first = True
        while True:
            count = c_u32(chunk)
            result, error = call(
                function, self.fd, None if first else position, next_position, keys, values, ctypes.byref(count)
            )
            if result < 0 and error != errnos.ENOENT:
                if first and error in (errnos.EINVAL, errnos.EOPNOTSUPP, ENOTSUPP):
                    return None
                raise failure(f"reading map {self.name}", error)
            for index in range(count.value):
                key = keys.raw[index * self.key_size : (index + 1) * self.key_size]
                value = values.raw[index * self.value_buffer_size : (index + 1) * self.value_buffer_size]
                items.append((key, self._decode(value)))
            if result < 0:  # ENOENT: the walk is complete
                return items
            ctypes.memmove(position, next_position, 8)
            first = False

    def info(self) -> MapInfo:
        return MapInfo(_object_info(self.fd, BpfMapInfo(), f"map {self.name}"))


class Program(KernelObject):
    """A loaded program. `log` holds the verifier log when one was asked for."""

    def __init__(self, fd: int, type: int, name: str, log: str):
        super().__init__(fd)
        self.type, self.name, self.log = type, name, log

    def test_run(self, context: bytes = b"", cpu: int | None = None) -> int:
        """Run the program once now (BPF_PROG_TEST_RUN) and return its r0.
        For a raw_tracepoint program (kernel >= 5.10) `context` is the
        argument array (u64 each), and `cpu` picks where it runs; without it,
        it runs on the calling CPU."""
        buffer = ctypes.create_string_buffer(bytes(context), len(context) or 1)
        attr = TestRunAttr(prog_fd=self.fd)
        if context:
            attr.ctx_size_in, attr.ctx_in = len(context), ctypes.addressof(buffer)
        if cpu is not None:
            attr.flags, attr.cpu = BPF_F_TEST_RUN_ON_CPU, cpu
        result = bpf_syscall(BPF_PROG_TEST_RUN, attr)
        if result < 0:
            raise failure(f"running program {self.name}", -result)
        return attr.retval

    def info(self) -> ProgramInfo:
        return ProgramInfo(_object_info(self.fd, BpfProgInfo(), f"program {self.name}"))


class Attachment(KernelObject):
    """A program attached somewhere; closing detaches it. `description`
    names the attach point for messages. `link`: the BPF link that joins
    the program to the perf event `fd`, when it is joined by one (closed
    with it)."""

    def __init__(self, fd: int, description: str, release: Callable[[int], None] = os.close, link: int | None = None):
        super().__init__(fd)
        self.description = description
        self._release_fd = release
        self.link = link

    @property
    def fds(self) -> tuple[int, ...]:
        """Every fd that keeps the program attached (attach.Detacher holds copies)."""
        return (self.fd,) if self.link is None else (self.fd, self.link)

    def _release(self, fd: int) -> None:
        self._release_fd(fd)
        if self.link is not None:
            os.close(self.link)


class StatsSwitch(KernelObject):
    """While open, the kernel counts run_time_ns/run_cnt for every program."""


def _close_perf_event(fd: int) -> None:
    # Disables the event before closing, so the program stops at once.
    quiet_call("bpf_close_perf_event_fd", fd)


_probe_event_numbers = itertools.count()
_NO_PMU_ERRORS = (errnos.ENOENT, errnos.EOPNOTSUPP, errnos.ENODEV)


class Kernel:
    """Owns every map, program, attachment and ring buffer it creates;
    close() (or leaving a `with` block) releases all of them, newest first.
    Callers may close single objects earlier, but must never os.close() an
    fd taken from one. `program` arguments take a Program or a raw fd."""

    def __init__(self) -> None:
        self._owned: list[KernelObject | RingBuffer] = []

    def _own(self, owned):
        self._owned.append(owned)
        return owned

    def close(self) -> None:
        owned, self._owned = self._owned, []
        failures = []
        for item in reversed(owned):
            try:
                item.close()
            except (OSError, BpfError) as error:
                failures.append(error)
        if failures:
            raise failures[0]

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- maps and programs ---

    def create_map(
        self, type: int, key_size: int, value_size: int, max_entries: int, name: str = "", flags: int = 0
    ) -> Map:
        """For MapType.RINGBUF, key and value size are 0 and max_entries is the
        size in bytes (a power of two, a multiple of the page size)."""
        result, error, detail = quiet_call(
            "bcc_create_map", type, name.encode(), key_size, value_size, max_entries, flags
        )
        if result < 0:
            kind = MapType(type).name if type in MapType._value2member_map_ else str(type)
            shape = f"{kind}, key {key_size}, value {value_size}, {max_entries} entries"
            raise failure(f"creating map {name or '?'} ({shape})", error, detail=detail)
        return self._own(Map(result, type, name, key_size, value_size, max_entries))

    def load_program(
        self, type: int, code: bytes, name: str = "", license: str = "GPL",
        kernel_version: int = 0, log_level: int = 0, log_size: int = 1 << 20,
        functions: Sequence[tuple[str, int]] = (), attach_type: int = 0, attach_btf_id: int = 0,
    ) -> Program:  # fmt: skip
        """Load instructions (8 bytes each). On rejection the BpfError carries
        the verifier log (bcc reloads with log_level 1 to get it); with
        log_level > 0 the log is kept on the Program too. A name is at most
        15 characters of [A-Za-z0-9_.] and must not start with bcc's magic
        prefixes (kprobe__, tracepoint__, kfunc__, ...). `functions`: (name,
        first instruction) of the program and its callbacks, which the kernel
        needs described in BTF when there are callbacks. `attach_type` and
        `attach_btf_id`: what a TRACING program attaches to (an AttachType
        and the kernel function's BTF type id in vmlinux)."""
        if len(code) % 8 or not code:
            raise BpfError(f"loading program {name}: code is {len(code)} bytes, not a multiple of 8", errnos.EINVAL)
        if len(functions) > 1 or attach_btf_id:
            return self._load_raw(type, code, name, license, functions, log_level, log_size, attach_type, attach_btf_id)
        while True:
            log = ctypes.create_string_buffer(log_size)
            result, error, detail = quiet_call(
                "bcc_prog_load", type, name.encode(), code, len(code),  # the length is in BYTES
                license.encode(), kernel_version, log_level, log, log_size,
            )  # fmt: skip
            # A log that did not fit fails the load with ENOSPC whatever the
            # verdict; since 6.4 the buffer keeps the log's end, older kernels its start.
            if result < 0 and error == errnos.ENOSPC and log_size < 1 << 28:
                log_size *= 8
                continue
            text = log.value.decode("utf-8", "replace")
            if result < 0:
                what = f"the verifier rejected program {name}" if text else f"loading program {name}"
                raise failure(what, error, log=text, detail=detail)
            return self._own(Program(result, type, name, text if log_level else ""))

    def _load_raw(self, type: int, code: bytes, name: str, license: str, functions: Sequence[tuple[str, int]],
                  log_level: int, log_size: int, attach_type: int, attach_btf_id: int) -> Program:  # fmt: skip
        """What bcc_prog_load cannot load (program_btf): a program with
        callbacks, with BTF function info, or a TRACING program."""
        target = {"attach_type": attach_type, "attach_btf_id": attach_btf_id}
        if len(functions) > 1:
            btf = self._own(KernelObject(program_btf.load_btf(program_btf.function_btf([f for f, _ in functions]))))
            target.update(btf_fd=btf.fd, function_starts=[start for _, start in functions])
        result, error, text = program_btf.load_program(type, code, name, license, log_level, log_size, **target)
        if result < 0:  # again with the verifier log, to say why
            log_size = max(log_size, 1 << 24)
            while True:
                _, error, text = program_btf.load_program(type, code, name, license, 1, log_size, **target)
                if error != errnos.ENOSPC or log_size >= 1 << 28:
                    break
                log_size *= 8
            what = f"the verifier rejected program {name}" if text else f"loading program {name}"
            raise failure(what, error, log=text)
        return self._own(Program(result, type, name, text if log_level else ""))

    # --- attaching ---

    def _attach(self, description: str, function: str, *args, release=_close_perf_event) -> Attachment:
        result, error, detail = quiet_call(function, *args)
        if result < 0:
            raise failure(f"attaching {description}", error, detail=detail)
        return self._own(Attachment(result, description, release))

    def attach_tracepoint(self, program: Program | int, category: str, name: str, cookie: int | None = None) -> Attachment:
        """A perf event on the tracepoint (no tracefs state is created).
        With a `cookie`, the program is linked to the event with that BPF
        cookie (bpf_get_attach_cookie returns it in the program)."""
        if not tracefs.has_file(f"events/{category}/{name}/id"):
            if not tracefs.accessible():
                message = "tracefs is not mounted (mount -t tracefs nodev /sys/kernel/tracing)"
                raise BpfError(message, errnos.ENOENT)
            raise BpfError(f"tracepoint {category}:{name} does not exist", errnos.ENOENT)
        description, tracepoint = f"tracepoint {category}:{name}", (category.encode(), name.encode())
        if cookie is not None:
            return self._attach_tracepoint_link(description, _fd_of(program), int(tracefs.read(f"events/{category}/{name}/id")), cookie)
        return self._attach(description, "bpf_attach_tracepoint", _fd_of(program), *tracepoint)

    def _attach_tracepoint_link(self, description: str, program_fd: int, event_id: int, cookie: int) -> Attachment:
        """The event opened as bcc opens it, the program joined to it by a
        BPF link (Attachment.link): closing the link detaches the program,
        which waits for an RCU grace period, so attach.Detacher holds a
        copy of it too."""
        attr = PerfEventAttr(type=PerfType.TRACEPOINT, config=event_id, sample_period=1,
                             sample_type=PERF_SAMPLE_RAW, wakeup_events=1)  # fmt: skip
        return self._attach_linked(description, program_fd, attr, pid=-1, cpu=0, cookie=cookie)

    def _attach_linked(self, description: str, program_fd: int, attr: PerfEventAttr, *,
                       pid: int, cpu: int, cookie: int = 0) -> Attachment:  # fmt: skip
        """A perf event opened from `attr`, the program joined to it by a BPF link."""
        attr.size = ctypes.sizeof(attr)
        event = perf_event_open(attr, pid=pid, cpu=cpu)
        if event < 0:
            raise failure(f"attaching {description}", -event)
        link = bpf_syscall(BPF_LINK_CREATE, LinkCreateAttr(prog_fd=program_fd, target_fd=event,
                                                           attach_type=BPF_PERF_EVENT, bpf_cookie=cookie))  # fmt: skip
        if link < 0:
            os.close(event)
            raise failure(f"attaching {description}", -link)
        return self._own(Attachment(event, description, _close_perf_event, link=link))

    def attach_raw_tracepoint(self, program: Program | int, name: str) -> Attachment:
        description = f"raw tracepoint {name}"
        return self._attach(description, "bpf_attach_raw_tracepoint", _fd_of(program), name.encode(), release=os.close)

    def attach_tracing(self, program: Program | int, attach_type: int, description: str) -> Attachment:
        """A TRACING program (fentry, fexit, tp_btf) at what it was loaded
        for: a BPF link (BPF_LINK_CREATE, Linux >= 5.7), else, as libbpf
        does on EINVAL, BPF_RAW_TRACEPOINT_OPEN with no name. For fentry/fexit
        the kernel patches the function's entry through ftrace direct calls,
        which a kernel without them cannot do."""
        program_fd = _fd_of(program)
        link = bpf_syscall(BPF_LINK_CREATE, LinkCreateAttr(prog_fd=program_fd, attach_type=attach_type))
        if link == -errnos.EINVAL:
            link = bpf_syscall(BPF_RAW_TRACEPOINT_OPEN, RawTracepointOpenAttr(name=0, prog_fd=program_fd))
        if link < 0:
            raise failure(f"attaching {description}", -link)
        return self._own(Attachment(link, description, os.close))

    def attach_perf_event(
        self, program: Program | int, type: int, config: int, *,
        period: int = 0, frequency: int = 0, pid: int = -1, cpu: int = 0, group_fd: int = -1,
    ) -> Attachment:  # fmt: skip
        """Exactly one of `period` (events per sample) and `frequency` (Hz)
        is set. pid -1 with a cpu watches that CPU; profile needs one per CPU."""
        if (period > 0) == (frequency > 0):
            raise BpfError("a perf event needs exactly one of period and frequency", errnos.EINVAL)
        rate, target = (period, frequency), (pid, cpu, group_fd)
        try:
            return self._attach(
                f"perf event {type}:{config} on cpu {cpu}", "bpf_attach_perf_event", _fd_of(program), type, config, *rate, *target
            )  # fmt: skip
        except BpfError as error:
            if type not in (PerfType.HARDWARE, PerfType.HW_CACHE) or error.errno not in _NO_PMU_ERRORS:
                raise
            message = f"hardware perf events are not available: this machine has no hardware PMU ({error})"
            raise BpfError(message, error.errno, detail=error.detail) from None

    def attach_breakpoint(self, program: Program | int, address: int, length: int, bp_type: int, *,
                          pid: int = -1, cpu: int = -1) -> Attachment:  # fmt: skip
        """A hardware breakpoint (watchpoint) on `length` bytes at `address`,
        `bp_type` a mask of HW_BREAKPOINT_R/W/X, firing the program on
        every access: in process `pid` on any CPU, or (pid -1) on `cpu`."""
        attr = PerfEventAttr(type=PerfType.BREAKPOINT, sample_period=1, bp_type=bp_type, config1=address, config2=length)
        where = f"in pid {pid}" if pid >= 0 else f"on cpu {cpu}"
        return self._attach_linked(f"watchpoint {address:#x}:{length} {where}", _fd_of(program), attr, pid=pid, cpu=cpu)

    def attach_uprobe(
        self, program: Program | int, path: str, offset: int, *,
        retprobe: bool = False, pid: int = -1, ref_ctr_offset: int = 0,
    ) -> Attachment:  # fmt: skip
        """`offset` is the file offset in `path`; `ref_ctr_offset` the file
        offset of a USDT semaphore (the kernel counts it up while attached)."""
        description = f"{'uretprobe' if retprobe else 'uprobe'} {path}:{offset:#x}"
        probe = ("bpf_attach_uprobe", "bpf_detach_uprobe", path, offset, pid, ref_ctr_offset)
        return self._attach_probe(description, program, retprobe, *probe)

    def attach_kprobe(self, program: Program | int, function: str, offset: int = 0, *, retprobe: bool = False) -> Attachment:
        if not kprobes_supported():
            raise BpfError("this kernel has no kprobes (CONFIG_KPROBES)", errnos.EOPNOTSUPP)
        description = f"{'kretprobe' if retprobe else 'kprobe'} {function}+{offset}"
        maxactive = 0  # 0 lets bcc use the kprobe PMU; >0 forces tracefs kprobe_events
        probe = ("bpf_attach_kprobe", "bpf_detach_kprobe", function, offset, maxactive)
        return self._attach_probe(description, program, retprobe, *probe)

    def _attach_probe(self, description, program, retprobe, attach, detach, target, offset, *rest) -> Attachment:
        event = f"auger_{next(_probe_event_numbers)}".encode()

        # bcc creates the probe with perf_event_open on the [uk]probe PMU and
        # falls back to a tracefs [uk]probe_events entry named after `event`
        # when that fails; detaching removes such an entry (a no-op otherwise),
        # also after a failed attach, which bcc leaves behind.
        def release(fd: int) -> None:
            _close_perf_event(fd)
            quiet_call(detach, event)

        direction = BPF_PROBE_RETURN if retprobe else BPF_PROBE_ENTRY
        try:
            return self._attach(
                description, attach, _fd_of(program), direction, event, target.encode(), offset, *rest, release=release
            )  # fmt: skip
        except BpfError:
            quiet_call(detach, event)
            raise

    # --- events and statistics ---

    def open_ring_buffer(self, map: Map, callback: Callable[[bytes], None]) -> RingBuffer:
        """A reader that calls `callback` with each record's bytes."""
        return self.open_ring_buffer_batches(map, each_record(callback))

    def open_ring_buffer_batches(self, map: Map, consume: Consumer) -> RingBuffer:
        """A reader that hands `consume` every batch of records (ring_buffer.py)."""
        return self._own(RingBuffer(map, consume))

    def enable_stats(self) -> StatsSwitch:
        """Count run_time_ns/run_cnt for all programs while the switch is open
        (BPF_ENABLE_STATS, kernel >= 5.8; kernel.bpf_stats_enabled does the
        same system-wide)."""
        result = bpf_syscall(BPF_ENABLE_STATS, EnableStatsAttr(type=BPF_STATS_RUN_TIME))
        if result < 0:
            raise failure("enabling BPF run-time statistics", -result)
        return self._own(StatsSwitch(result))


def _fd_of(program: Program | int) -> int:
    return program if isinstance(program, int) else program.fd
