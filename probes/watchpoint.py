"""Hardware watchpoints: `watchpoint:ADDRESS:LENGTH:MODE` fires when the
CPU touches LENGTH bytes at ADDRESS (read, write or execute, per MODE): a
perf event on the breakpoint PMU, whose program runs with the faulting
task's registers. `asyncwatchpoint` differs from `watchpoint` only in the
FUNC+argN form (bpftrace pauses the process until the watchpoint is set),
which is not supported yet: the address form is the same for both.

With `-p PID` or `-c CMD` the watchpoint is in that process; without, as in
bpftrace, it is set on every CPU for whatever task runs there (the natural
choice for a kernel address).
"""

from __future__ import annotations

import platform
import re

from .attach_point import argument_count_error, require_uint
from .base import ProbeError, ProbeSpec, Provider
from .spec import Spec

WATCH_LENGTHS = (1, 2, 4, 8)

# The access modes the CPU's debug registers can watch, by machine.
SUPPORTED_MODES = {
    "x86_64": ("rw", "w", "x"),
    "aarch64": ("r", "rw", "w"),
}
# HW_BREAKPOINT_R, _W, _X (include/uapi/linux/hw_breakpoint.h)
BREAKPOINT_TYPES = {"r": 1, "w": 2, "x": 4}
# An x86 execute breakpoint must cover sizeof(long) bytes (arch_build_bp_info).
EXECUTE_LENGTH = {"x86_64": 8}
_FUNCTION_ARGUMENT = re.compile(r"[^+]+\+arg\d+$")


class WatchpointProvider(Provider):
    name = "watchpoint"
    aliases = ("w",)
    program_type = "perf_event"
    process_scoped = True  # attach() takes the -p / -c process (runtime/attach.py)

    def parse(self, parts: list[str], text: str) -> ProbeSpec:
        if len(parts) != 3:
            raise argument_count_error(self.name, len(parts), 3)
        if _FUNCTION_ARGUMENT.match(parts[0]):
            raise ProbeError(f"{self.name} on a function argument (FUNC+argN) is not supported yet",
                             "watch an address: watchpoint:0xADDRESS:LENGTH:MODE")  # fmt: skip
        address = require_uint(parts[0], "Invalid function/address argument")
        length = require_uint(parts[1], "Invalid length argument")
        if not address:
            raise ProbeError("watchpoint must be attached to a non-zero address")
        if length not in WATCH_LENGTHS:
            raise ProbeError("watchpoint length must be one of (1,2,4,8)")
        mode = "".join(sorted(parts[2]))
        if not mode or any(char not in "rwx" for char in mode):
            raise ProbeError("watchpoint mode must be combination of (r,w,x)")
        if len(set(mode)) != len(mode):
            raise ProbeError("watchpoint modes may not be duplicated")
        modes = SUPPORTED_MODES.get(platform.machine(), ())
        if not modes:
            raise ProbeError("watchpoints not supported")
        if mode not in modes:
            raise ProbeError(f"invalid watchpoint mode: {mode}", f"supported modes: {','.join(modes)}")
        return Spec(self.name, address=address, length=length, mode=mode)

    def attach(self, spec: ProbeSpec, program_fd: int, kernel, pid: int | None = None):
        """One breakpoint in process `pid`, or one per online CPU."""
        from auger.runtime.kernel import online_cpus

        # Checked here, as bpftrace does, where the kernel would refuse it.
        execute_length = EXECUTE_LENGTH.get(platform.machine())
        if spec.mode == "x" and execute_length and spec.length != execute_length:
            raise ProbeError(f"watchpoint mode x needs length {execute_length} on {platform.machine()}")
        bp_type = sum(BREAKPOINT_TYPES[char] for char in spec.mode)
        where = [{"pid": pid, "cpu": -1}] if pid is not None else [{"cpu": cpu} for cpu in online_cpus()]
        return [kernel.attach_breakpoint(program_fd, spec.address, spec.length, bp_type, **target) for target in where]


class AsyncWatchpointProvider(WatchpointProvider):
    name = "asyncwatchpoint"
    aliases = ("aw",)
