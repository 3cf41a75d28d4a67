"""Attach points: each parsed and expanded by its probe provider, with the
context (builtins, `args`) of every concrete probe."""

from __future__ import annotations

from dataclasses import dataclass

from auger.compiler import ast
from auger.probes import registry
from auger.probes.base import ProbeContext, ProbeError, ProbeSpec

from .reporter import Reporter


@dataclass(frozen=True)
class ResolvedProbe:
    probe: ast.Probe
    specs: tuple[ProbeSpec, ...]
    contexts: tuple[ProbeContext, ...]


def resolve_probes(program: ast.Program, positional: tuple[str, ...], reporter: Reporter) -> list[ResolvedProbe | None]:
    """One entry per probe block; None for a block with a bad attach point
    (its errors reported), whose body is then not checked."""
    resolved: list[ResolvedProbe | None] = []
    for probe in program.probes:
        specs: list[ProbeSpec] = []
        contexts: list[ProbeContext] = []
        failed = False
        for point in probe.attach_points:
            try:
                for spec in registry.expand(registry.parse_attach_point(point.text, positional)):
                    specs.append(spec)
                    contexts.append(registry.context(spec))
            except ProbeError as problem:
                reporter.error(str(problem), point.span, problem.hint)
                failed = True
        resolved.append(None if failed else ResolvedProbe(probe, tuple(specs), tuple(contexts)))
    return resolved
