"""Attach every loaded program through its probe provider, and name the
values of the `probe` builtin.

Attachment is perf_event_open-based for every kind (tracepoints, uprobes,
kprobes, perf events) or a raw tracepoint fd: nothing is written to tracefs,
so a killed auger leaves nothing attached (the kernel drops a program with
its last fd). The session's Kernel owns every Attachment.
"""

from __future__ import annotations

import os

from auger.compiler.codegen.function import TRACEPOINT
from auger.compiler.codegen.module import SELF_TRIGGERED, CompiledProgram
from auger.probes import registry
from auger.probes.base import ProbeError

from .kernel import Kernel
from .libbcc import BpfError
from .loader import LoadedProgram
from .process_name import set_process_name


class AttachError(Exception):
    """An attach point could not be attached; the message is ready for the user."""


class Detacher:
    """Detaching can be slow: closing a syscall tracepoint's last perf event
    waits for RCU grace periods under the kernel's global event_mutex
    (~75 ms each, one after another: 27 s for `syscalls:sys_enter_*`).

    A duplicate of each attachment's fds (Attachment.fds: its perf event,
    and its BPF link when it has one) is held here. The Kernel disables
    and closes the originals (the programs stop running at once); `close()`
    then hands the duplicates to a background process (forked, holding
    nothing else) that closes them, so auger exits at once and the kernel
    finishes detaching later. Even one tracepoint costs ~80 ms to close,
    half of a one-liner's run; the forks cost ~3 ms. Closed in place only
    if they fail."""

    def __init__(self) -> None:
        self._fds: list[int] = []

    def hold(self, attachments) -> None:
        self._fds.extend(os.dup(fd) for attachment in attachments for fd in attachment.fds)

    def close(self) -> None:
        """After the Kernel closed the originals."""
        fds, self._fds = self._fds, []
        if not fds or _close_in_background(fds):
            return
        for fd in fds:
            os.close(fd)


DETACHER_NAME = "auger-detach"  # the background process's comm, for ps and tests


def _close_in_background(fds: list[int]) -> bool:
    """Hand `fds` to a grandchild (reparented to init: no zombie) that
    closes them; False if it could not be started."""
    try:
        read_end, write_end = os.pipe()
    except OSError:
        return False
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return False
    if pid == 0:
        try:
            if os.fork() == 0:
                set_process_name(DETACHER_NAME)
                # Keep no pipe open: a reader of our stdout must see EOF now.
                start = 0
                for fd in sorted([*fds, read_end]):
                    os.closerange(start, fd)
                    start = fd + 1
                os.closerange(start, 65536)
                # The last close of a perf event is the slow one: wait until
                # auger and the child dropped their copies (and with them
                # the pipe's write ends).
                os.read(read_end, 1)
                for fd in fds:
                    os.close(fd)
        finally:
            os._exit(0)
    os.close(read_end)
    for fd in fds:
        os.close(fd)
    os.close(write_end)
    os.waitpid(pid, 0)
    return True


def attach_all(kernel: Kernel, loaded: LoadedProgram, detach: Detacher, process: int | None = None) -> int:
    """Attach every program at each of its attach points; returns how many
    attach points are live (BEGIN and END count, as in bpftrace). Every
    attachment is also held by `detach`. `process` (the -c child or the -p
    process) limits the providers that trace one process (USDT, watchpoints) to it."""
    count = 0
    for probe, program in loaded.programs:
        if probe.kind in SELF_TRIGGERED:
            count += 1
            continue
        provider = registry.provider(probe.kind)
        shared = probe.group.program_type == TRACEPOINT and len(probe.group.specs) > 1
        for spec, probe_id in zip(probe.group.specs, probe.group.probe_ids):
            try:
                if shared:  # a wildcard's one tracepoint program: `probe` is its cookie (codegen/context.py)
                    attachments = [kernel.attach_tracepoint(program, spec.target, spec.function, cookie=probe_id)]
                elif getattr(provider, "process_scoped", False):  # USDT, watchpoints: in the traced process only, if any
                    attachments = provider.attach(spec, program.fd, kernel, pid=process)
                else:
                    attachments = provider.attach(spec, program.fd, kernel)
                detach.hold(attachments)
            except (BpfError, ProbeError) as problem:
                raise AttachError(f"ERROR: attaching probe {spec.name}: {problem}") from None
            count += 1
    return count


class ProbeNames:
    """`probe` values to probe names (see compiler/codegen/context.py): an
    index into the program's name table, a constant or the attach point's
    cookie (attach_all)."""

    def __init__(self, compiled: CompiledProgram):
        self._names = compiled.probe_names

    def name(self, value: int) -> str:
        return self._names[value] if 0 <= value < len(self._names) else f"<probe {value}>"
