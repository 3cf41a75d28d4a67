"""The compiler driver: the one place that runs the passes, in order.

    source text ──parse──▶ AST ──analyse──▶ Analysis ──codegen──▶ BPF object

The CLI and the tests call `compile_source`; no one else strings passes
together. Each pass module is imported only when the run reaches it, so a
command that stops early (`--emit ast`) never pays for the later passes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .diagnostics import Diagnostic, SourceFile
from .frozen import Value as FrozenValue, frozen

if TYPE_CHECKING:
    from .ast import Program
    from .codegen.module import CompiledProgram
    from .semantic import Analysis

# The passes in the order they run.
PASSES = ("parse", "analyse", "codegen")


@frozen
class CompileOptions(FrozenValue):
    """What the command line tells the compiler."""

    unsafe: bool = False
    positional: tuple[str, ...] = ()
    has_child: bool = False  # `-c CMD` given: `cpid` is valid
    filter_pid: bool = False  # `-p PID` given: probes check the pid


@frozen
class CompileResult(FrozenValue):
    """What the passes produced: each pass's output, None for a pass that did
    not run (the run stopped before it). `warnings` are every pass's
    warnings, in pass order."""

    source: SourceFile
    program: "Program"
    analysis: "Analysis | None" = None
    warnings: tuple[Diagnostic, ...] = ()
    compiled: "CompiledProgram | None" = None


def compile_source(
    source: SourceFile, options: CompileOptions = CompileOptions(), until: str = PASSES[-1]
) -> CompileResult:
    """Run the passes from parsing up to and including `until`.

    Raises CompileError (with every diagnostic of the failing pass) when a
    pass finds errors.
    """
    if until not in PASSES:
        raise ValueError(f"unknown pass {until!r}; passes are {', '.join(PASSES)}")

    from .parser import parse

    program = parse(source)
    if until == "parse":
        return CompileResult(source, program)

    from .semantic import AnalysisOptions, analyse

    analysis = analyse(
        program,
        source,
        AnalysisOptions(
            unsafe=options.unsafe, positional=options.positional, has_child=options.has_child
        ),
    )
    warnings = tuple(analysis.warnings)
    if until == "analyse":
        return CompileResult(source, program, analysis, warnings)

    from .codegen import compile_program

    return CompileResult(source, program, analysis, warnings, compile_program(analysis, options.filter_pid))

