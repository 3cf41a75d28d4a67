"""One LLVM module per program: a `.maps` global per map, one function per
probe in a section of its own, then optimisation and the BPF object.

BEGIN and END become raw_tracepoint programs, which the runtime runs itself
with BPF_PROG_TEST_RUN; no other probe kind is lowered yet.
"""

from __future__ import annotations

from dataclasses import dataclass

import llvmlite.ir as ir

from auger.compiler.resources import ResourcePlan, plan_resources, unsupported
from auger.compiler.semantic import Analysis

from . import target
from .function import ProbeFunction
from .helpers import BYTE_POINTER, I64
from .statements import ProbeLowering

# Probe kinds the runtime triggers itself.
SELF_TRIGGERED = ("BEGIN", "END")


@dataclass(frozen=True)
class CompiledProbe:
    """One BPF program: `section` names it in the object, `name` is the
    kernel's program name, `kind` the provider (BEGIN, END, ...)."""

    section: str
    name: str
    kind: str
    probe_text: str  # the attach points as written, for messages


@dataclass(frozen=True)
class CompiledProgram:
    ir_text: str  # before optimisation
    object_code: bytes
    resources: ResourcePlan
    probes: tuple[CompiledProbe, ...]


def compile_program(analysis: Analysis) -> CompiledProgram:
    """Lower an analysed program to a BPF object. Raises CompileError for
    constructs the code generator does not support yet."""
    resources = plan_resources(analysis)
    module = ir.Module("auger")
    module.triple = target.TRIPLE
    module.data_layout = target.data_layout()
    symbols = {}
    for plan in resources.all_maps():
        symbol = ir.GlobalVariable(module, I64, plan.symbol)
        symbol.section = ".maps"
        symbol.initializer = ir.Constant(I64, 0)
        symbols[plan.symbol] = symbol
    probes = []
    for index, probe in enumerate(analysis.probes):
        kinds = {spec.provider for spec in probe.specs}
        text = ",".join(point.text for point in probe.probe.attach_points)
        if len(kinds) != 1 or not kinds <= set(SELF_TRIGGERED):
            raise unsupported(f"probes other than BEGIN and END ({text})", probe.probe.span)
        kind = kinds.pop()
        name = f"{kind}_{index}"
        function = ir.Function(module, ir.FunctionType(I64, [BYTE_POINTER]), name)
        function.section = f"auger/{name}"
        lowering = ProbeLowering(ProbeFunction(function, analysis, resources, symbols), probe.variables)
        lowering.lower_probe(probe.probe)
        probes.append(CompiledProbe(function.section, name, kind, text))
    ir_text = str(module)
    return CompiledProgram(ir_text, target.emit_object(ir_text), resources, tuple(probes))
