"""Attach points: each parsed and expanded by its probe provider, with the
context (builtins, `args`) of every concrete probe.

An attach point whose probe this system lacks (`MissingProbe`) follows the
`missing_probes` setting. Its default is `warn`, as bpftrace 0.17 behaved and
the tools written for it expect (threadsnoop.bt's libpthread uprobe, say):
the point is dropped with a warning, and a block left with no attach point is
removed. `error` is current bpftrace's default; `ignore` drops silently."""

from __future__ import annotations

from auger.compiler import ast
from auger.compiler.frozen import Value, frozen
from auger.probes import registry
from auger.probes.base import MissingProbe, ProbeContext, ProbeError, ProbeSpec

from .reporter import Reporter


@frozen
class ResolvedProbe(Value):
    probe: ast.Probe
    specs: tuple[ProbeSpec, ...]
    contexts: tuple[ProbeContext, ...]


def resolve_probes(
    program: ast.Program, positional: tuple[str, ...], missing_probes: str, reporter: Reporter
) -> list[ResolvedProbe | None]:
    """One entry per probe block; None for a block with a bad attach point
    (its errors reported) or with none left, whose body is then not checked."""
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
            except MissingProbe as problem:
                if missing_probes == "error":
                    reporter.error(str(problem), point.span, problem.hint)
                    failed = True
                elif missing_probes == "warn":
                    reporter.warning(f"{problem} Skipping the probe.", point.span)
            except ProbeError as problem:
                reporter.error(str(problem), point.span, problem.hint)
                failed = True
        if not failed and not specs and missing_probes == "warn":
            reporter.warning(
                "Probe has no valid attach points. It is being removed, which may change what the program does.",
                probe.attach_points[0].span.to(probe.attach_points[-1].span),
            )
        resolved.append(None if failed or not specs else ResolvedProbe(probe, tuple(specs), tuple(contexts)))
    return resolved
