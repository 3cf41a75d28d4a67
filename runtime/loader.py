"""Load a compiled program into the kernel: create its maps, link each
program's map references to their fds, and load it with the verifier log.

A rejection becomes a LoadError naming the probe, with the end of the
verifier log (where the verifier says what it did not accept).
"""

from __future__ import annotations

from dataclasses import dataclass

from auger.compiler.codegen.module import CompiledProbe, CompiledProgram
from auger.compiler.resources import MapPlan

from .bpf_object import read_object
from .kernel import Kernel, Map, Program
from .libbcc import BpfError, MapType, ProgType

LOG_LINES_SHOWN = 20


class LoadError(Exception):
    """Loading failed; the message is ready for the user."""


@dataclass
class LoadedProgram:
    maps: dict[str, Map]  # by symbol (MapPlan.symbol)
    programs: dict[str, tuple[CompiledProbe, Program]]  # by section

    def probes_of_kind(self, kind: str) -> list[Program]:
        return [program for probe, program in self.programs.values() if probe.kind == kind]


def create_map(kernel: Kernel, plan: MapPlan) -> Map:
    map_type = MapType[plan.map_type.upper()]
    return kernel.create_map(map_type, plan.key_size, plan.value_size, plan.max_entries, name=plan.kernel_name)


def load(kernel: Kernel, compiled: CompiledProgram) -> LoadedProgram:
    """Everything the program needs, owned by `kernel` (closing it frees all)."""
    try:
        maps = {plan.symbol: create_map(kernel, plan) for plan in compiled.resources.all_maps()}
    except BpfError as problem:
        raise LoadError(str(problem)) from None
    map_fds = {symbol: map_.fd for symbol, map_ in maps.items()}
    bpf_object = read_object(compiled.object_code)
    programs = {}
    for probe in compiled.probes:
        code = bpf_object.program(probe.section).linked(map_fds)
        try:
            program = kernel.load_program(ProgType.RAW_TRACEPOINT, code, name=probe.name)
        except BpfError as problem:
            raise LoadError(_rejection(probe, problem)) from None
        programs[probe.section] = (probe, program)
    return LoadedProgram(maps, programs)


def _rejection(probe: CompiledProbe, problem: BpfError) -> str:
    message = f"ERROR: the kernel rejected the program of probe {probe.probe_text}: {problem}"
    lines = [line for line in problem.log.splitlines() if line.strip()]
    if lines:
        message += "\nverifier log (last lines):\n" + "\n".join(lines[-LOG_LINES_SHOWN:])
    return message
