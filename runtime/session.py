"""A tracing session: load the compiled program, run BEGIN, collect events,
run END, print the maps, and release every kernel object.

    run(analysis, compiled, options) -> exit status

BEGIN and END are raw_tracepoint programs run with BPF_PROG_TEST_RUN. With
no other probes (all the code generator lowers so far) the session ends
right after BEGIN, as if exit() had been called.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TextIO

from auger.compiler.codegen.module import CompiledProgram
from auger.compiler.semantic import Analysis

from .events import EventDecoder
from .format.text import format_maps_at_exit
from .kernel import Kernel
from .libbcc import BpfError
from .loader import LoadError, load
from .map_reader import read_map


@dataclass(frozen=True)
class SessionOptions:
    """`output` receives printf text and the maps (stdout when None);
    `errors` the error messages (stderr when None)."""

    output: TextIO | None = None
    errors: TextIO | None = None


def run(analysis: Analysis, compiled: CompiledProgram, options: SessionOptions = SessionOptions()) -> int:
    """Run the program to its end; returns the exit status (exit()'s code,
    1 when loading or running failed)."""
    output = options.output or sys.stdout
    errors = options.errors or sys.stderr
    try:
        with Kernel() as kernel:
            return _run(kernel, compiled, output)
    except LoadError as problem:
        errors.write(f"{problem}\n")
    except BpfError as problem:
        errors.write(f"ERROR: {problem}\n")
    return 1


def _run(kernel: Kernel, compiled: CompiledProgram, output: TextIO) -> int:
    plan = compiled.resources
    loaded = load(kernel, compiled)
    decoder = EventDecoder(plan.events, output.write)
    ring_buffer = kernel.open_ring_buffer(loaded.maps[plan.ring_buffer.symbol], decoder)
    for program in loaded.probes_of_kind("BEGIN"):
        program.test_run()
        ring_buffer.drain()
        if decoder.exit_code is not None:
            break
    for program in loaded.probes_of_kind("END"):
        program.test_run()
    ring_buffer.drain()
    maps = [read_map(loaded.maps[map_plan.symbol], map_plan) for map_plan in plan.maps]
    output.write(format_maps_at_exit(maps))
    output.flush()
    return decoder.exit_code or 0
