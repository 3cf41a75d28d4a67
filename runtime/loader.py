"""Load a compiled program into the kernel: create its maps, link each
program's map references to their fds, and load every program as its BPF
program type.

A rejection becomes a LoadError naming the probe, with the end of the
verifier log (where the verifier says what it did not accept) and a hint,
or the whole log when asked (-v). A kernel that refuses fentry/fexit
programs before verifying them (no log) gets one line saying so.
"""

from __future__ import annotations

import errno as errnos
from dataclasses import dataclass

from auger.compiler.codegen.function import TRACING
from auger.compiler.codegen.module import CompiledProbe, CompiledProgram
from auger.compiler.resources import MapPlan

from auger.compiler.codegen.loops import callback_section

from .bpf_object import read_object
from .kernel import Kernel, Map, Program
from .libbcc import ENOTSUPP, AttachType, BpfError, MapType, ProgType, error_text

LOG_LINES_SHOWN = 20

_PROGRAM_TYPES = {
    "raw_tracepoint": ProgType.RAW_TRACEPOINT,
    "tracepoint": ProgType.TRACEPOINT,
    "kprobe": ProgType.KPROBE,
    "perf_event": ProgType.PERF_EVENT,
    TRACING: ProgType.TRACING,
}
# What a TRACING program is bound to when loaded, by provider (probes/fentry.py).
_ATTACH_TYPES = {"fentry": AttachType.TRACE_FENTRY, "fexit": AttachType.TRACE_FEXIT}
# A kernel without fentry/fexit support (no BPF trampolines, or a policy
# against them) refuses the load with these, before the verifier runs.
_NO_TRACING_ERRORS = (errnos.EPERM, errnos.EOPNOTSUPP, ENOTSUPP, errnos.ENOSYS)


class LoadError(Exception):
    """Loading failed; the message is ready for the user."""


@dataclass
class LoadedProgram:
    maps: dict[str, Map]  # by symbol (MapPlan.symbol)
    programs: list[tuple[CompiledProbe, Program]]  # in the order of CompiledProgram.probes

    def probes_of_kind(self, kind: str) -> list[Program]:
        return [program for probe, program in self.programs if probe.kind == kind]


def create_map(kernel: Kernel, plan: MapPlan) -> Map:
    map_type = MapType[plan.map_type.upper()]
    return kernel.create_map(map_type, plan.key_size, plan.value_size, plan.max_entries, name=plan.kernel_name)


def load(kernel: Kernel, compiled: CompiledProgram, full_log: bool = False) -> LoadedProgram:
    """Everything the program needs, owned by `kernel` (closing it frees
    all, also what was created before a failure). `full_log`: a rejection
    shows the whole verifier log."""
    try:
        maps = {plan.symbol: create_map(kernel, plan) for plan in compiled.maps}
    except BpfError as problem:
        raise LoadError(f"ERROR: {problem}") from None
    map_fds = {symbol: map_.fd for symbol, map_ in maps.items()}
    bpf_object = read_object(compiled.object_code)
    programs = []
    for probe in compiled.probes:
        section = bpf_object.program(probe.section)
        callbacks = bpf_object.section(callback_section(probe.section))
        code = section.linked(map_fds, callbacks)
        try:
            program = kernel.load_program(_PROGRAM_TYPES[probe.group.program_type], code, name=probe.name,
                                          functions=section.function_starts(callbacks), **_attach_target(probe))
        except BpfError as problem:
            raise LoadError(_rejection(probe, problem, full_log)) from None
        programs.append((probe, program))
    return LoadedProgram(maps, programs)


def _attach_target(probe: CompiledProbe) -> dict[str, int]:
    """For a TRACING program (one attach point: codegen/module.py), the
    attach type and the BTF type id of its kernel function."""
    if probe.group.program_type != TRACING:
        return {}
    btf_id = probe.group.context.extra.get("btf_id")
    if not isinstance(btf_id, int):
        raise LoadError(f"ERROR: no BTF type id is known for {probe.probe_text} (is /sys/kernel/btf/vmlinux readable?)")
    return {"attach_type": _ATTACH_TYPES[probe.kind], "attach_btf_id": btf_id}


def _rejection(probe: CompiledProbe, problem: BpfError, full_log: bool) -> str:
    if probe.group.program_type == TRACING and not problem.log and problem.errno in _NO_TRACING_ERRORS:
        return (f"ERROR: this kernel cannot attach fentry/fexit programs (it refused to load the program of "
                f"{probe.group.specs[0].name}: {error_text(problem.errno)})")
    message = f"ERROR: the kernel rejected the program of probe {probe.probe_text}: {problem}"
    lines = [line for line in problem.log.splitlines() if line.strip()]
    if not lines:
        return message
    if full_log:
        return message + "\nverifier log:\n" + "\n".join(lines)
    shown = lines[-LOG_LINES_SHOWN:]
    return (
        message + "\nverifier log (last lines):\n" + "\n".join(shown)
        + "\nHINT: the last lines say what the verifier did not accept; -v shows the whole log"
    )  # fmt: skip
