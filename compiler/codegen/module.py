"""One LLVM module per program: a `.maps` global per map, one function per
program in a section of its own, then optimisation and the BPF object.

A probe block becomes one program per group of its attach points that share
a provider and identical code: a wildcard over 300 tracepoints is one
program attached 300 times. Attach points only need programs of their own
when their code differs: `args` fields at different offsets, `argN` in
different places (USDT sites), or `probe` in a program type that cannot tell
its attach points apart at run time (tracepoints can: context.py). BEGIN
and END are raw_tracepoint programs the runtime runs itself with
BPF_PROG_TEST_RUN.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import llvmlite.ir as ir

from auger.compiler import ast
from auger.compiler.diagnostics import CompileError, error
from auger.compiler.resources import MapPlan, ResourcePlan, plan_resources, unsupported
from auger.compiler.semantic import Analysis, ProbeAnalysis
from auger.probes import registry
from auger.probes.usdt_arguments import ARGUMENT_LOCATIONS

from . import target
from .context import outside_auger, pid_filter_passes, session_running, traces_auger
from .function import RUNTIME_MAP, TRACEPOINT, TRACING, AttachGroup, ProbeFunction
from .helpers import BYTE_POINTER, I64
from .statements import ProbeLowering

# Probe kinds the runtime triggers itself.
SELF_TRIGGERED = ("BEGIN", "END")
_ARGUMENT = re.compile(r"arg\d+$")
_KERNEL_NAME_LENGTH = 15


@dataclass(frozen=True)
class CompiledProbe:
    """One BPF program: `section` names it in the object, `name` is the
    kernel's program name, `kind` the provider (BEGIN, END, tracepoint, ...),
    `group` the attach points it serves."""

    section: str
    name: str
    kind: str
    probe_text: str  # the attach points as written, for messages
    group: AttachGroup


@dataclass(frozen=True)
class CompiledProgram:
    ir_text: str  # before optimisation
    object_code: bytes
    resources: ResourcePlan
    probes: tuple[CompiledProbe, ...]
    probe_names: tuple[str, ...]  # what `probe` values index (context.py)
    filter_pid: bool = False  # the probes check RUNTIME_FILTER_PID (`-p PID`)

    @property
    def maps(self) -> tuple[MapPlan, ...]:
        return _all_maps(self.resources)


def _all_maps(resources: ResourcePlan) -> tuple[MapPlan, ...]:
    """Every map to create: the plan's, then the runtime values map."""
    return resources.all_maps() + (RUNTIME_MAP,)


def compile_program(analysis: Analysis, filter_pid: bool = False) -> CompiledProgram:
    """Lower an analysed program to a BPF object. Raises CompileError for
    constructs the code generator does not support yet. With `filter_pid`
    (`-p PID`), the probes that can be filtered by process check the pid
    the session stores in the runtime values map; without, they carry no
    such check (it costs every event a helper call)."""
    resources = plan_resources(analysis)
    module = ir.Module("auger")
    module.triple = target.TRIPLE
    module.data_layout = target.data_layout()
    symbols = {}
    for plan in _all_maps(resources):
        symbol = ir.GlobalVariable(module, I64, plan.symbol)
        symbol.section = ".maps"
        symbol.initializer = ir.Constant(I64, 0)
        symbols[plan.symbol] = symbol
    probe_names: list[str] = []
    probes = []
    sources: dict[str, ProbeAnalysis] = {}  # by function name
    for probe in analysis.probes:
        text = ",".join(point.text for point in probe.probe.attach_points)
        for group in _attach_groups(probe, probe_names, filter_pid):
            name = _program_name(group.provider, len(probes))
            function = ir.Function(module, ir.FunctionType(I64, [BYTE_POINTER]), name)
            function.section = f"auger/{name}"
            fn = ProbeFunction(function, analysis, resources, symbols, group, len(probes))
            _lower_probe(fn, probe)
            probes.append(CompiledProbe(function.section, name, group.provider, text, group))
            sources[name] = probe
    ir_text = str(module)
    try:
        object_code = target.emit_object(ir_text)
    except target.StackExceeded as problem:
        # A loop callback is named after its program (loops.py).
        probe = next((source for name, source in sources.items()
                      if problem.function == name or problem.function.startswith(f"{name}_loop_")), None)
        raise _stack_exceeded(problem, probe) from None
    return CompiledProgram(ir_text, object_code, resources, tuple(probes), tuple(probe_names), filter_pid)


def _stack_exceeded(problem: target.StackExceeded, probe: ProbeAnalysis | None) -> CompileError:
    """The diagnostic on the probe whose program needs too much stack."""
    points = probe.probe.attach_points if probe is not None else ()
    span = points[0].span.to(points[-1].span) if points else None
    where = f"probe {','.join(point.text for point in points)}" if points else "the program"
    return CompileError([error(
        f"{where} needs {problem.depth} bytes of BPF stack, more than the kernel's 512", span,
        hint="too many values are alive at once (each takes 8 bytes of stack once the registers are full): "
             "split the computation over several statements, keeping partial results in maps")])


def _lower_probe(fn: ProbeFunction, probe: ProbeAnalysis) -> None:
    """The end-of-session check, the -p filter, not in auger itself, the
    predicate, then the body."""
    lowering = ProbeLowering(fn, probe.variables)
    if fn.group.provider not in SELF_TRIGGERED:
        fn.return_unless(session_running(fn), "running")
    if fn.group.pid_filtered:
        fn.return_unless(pid_filter_passes(fn), "pid_filter")
    if traces_auger(fn.group):
        fn.return_unless(outside_auger(fn), "outside_auger")
    if probe.probe.predicate is not None:
        fn.return_unless(lowering.truth(probe.probe.predicate), "predicate")
    lowering.statement(probe.probe.body)
    fn.finish_block()


def _attach_groups(probe: ProbeAnalysis, probe_names: list[str], filter_pid: bool) -> list[AttachGroup]:
    """The probe's attach points split into programs (see the module doc);
    each attach point's name is appended to `probe_names`."""
    used = {node.name for node in probe.probe.walk() if isinstance(node, ast.Identifier)}
    groups: dict[tuple, list] = {}
    for spec, context in zip(probe.specs, probe.contexts):
        provider = registry.provider(spec.provider)
        program_type = getattr(provider, "program_type", None)
        if program_type is None:
            raise unsupported(f"{spec.provider} probes", probe.probe.span)
        key = (
            spec.provider,
            context.args if "args" in used else None,
            # A TRACING program is bound to its one kernel function when loaded.
            spec.name if program_type == TRACING or ("probe" in used and program_type != TRACEPOINT) else None,
            context.extra.get(ARGUMENT_LOCATIONS) if any(_ARGUMENT.match(name) for name in used) else None,
        )
        groups.setdefault(key, []).append((spec, context, len(probe_names)))
        probe_names.append(spec.name)
    return [
        AttachGroup(
            key[0], registry.provider(key[0]).program_type,
            tuple(spec for spec, _, _ in members), tuple(context for _, context, _ in members),
            tuple(probe_id for _, _, probe_id in members),
            pid_filtered=filter_pid and getattr(registry.provider(key[0]), "pid_filtered", True),
        )
        for key, members in groups.items()
    ]  # fmt: skip


def _program_name(kind: str, index: int) -> str:
    """`tracepoint_3`: at most 15 characters, and never one of the prefixes
    bcc strips (`kprobe__`, `tracepoint__`, ...): one underscore."""
    suffix = f"_{index}"
    return kind[: _KERNEL_NAME_LENGTH - len(suffix)] + suffix
