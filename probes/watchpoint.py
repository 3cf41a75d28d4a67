"""Hardware watchpoints: `watchpoint:ADDRESS:LENGTH:MODE` fires when the
process touches memory at ADDRESS (`asyncwatchpoint` reports it later,
outside the faulting instruction)."""

from __future__ import annotations

import platform

from .attach_point import argument_count_error, require_uint
from .base import ProbeError, ProbeSpec, Provider
from .spec import Spec

WATCH_LENGTHS = (1, 2, 4, 8)

# The access modes the CPU's debug registers can watch, by machine.
SUPPORTED_MODES = {
    "x86_64": ("rw", "w", "x"),
    "aarch64": ("r", "rw", "w"),
}


class WatchpointProvider(Provider):
    name = "watchpoint"
    aliases = ("w",)

    def parse(self, parts: list[str], text: str) -> ProbeSpec:
        if len(parts) != 3:
            raise argument_count_error(self.name, len(parts), 3)
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


class AsyncWatchpointProvider(WatchpointProvider):
    name = "asyncwatchpoint"
    aliases = ("aw",)
