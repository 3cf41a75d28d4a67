"""What every check of one probe body consults: the options, the probe's
attach points and contexts, the C types, the map table and the reporter."""

from __future__ import annotations

from functools import cached_property

from auger.compiler import ast
from auger.compiler.btf import kernel_types
from auger.compiler.diagnostics import Diagnostic
from auger.compiler.cdefs import define_constants, script_type_source
from auger.compiler.types import Type, TypeSource
from auger.probes.base import ProbeContext, ProbeSpec

from .analysis import AnalysisOptions
from .conditionals import HAVE_BTF, ActiveItems, active_items
from .header_constants import HEADER_CONSTANTS, header_name
from .maps import MapTable
from .reporter import Reporter


class ProgramEnvironment:
    """Shared by all probes of the program, across the fixpoint rounds."""

    def __init__(self, program: ast.Program, options: AnalysisOptions, maps: MapTable,
                 config: dict[str, object]) -> None:
        self.program = program
        self.options = options
        self.maps = maps
        self.config = config
        self.reporter = Reporter()
        self.types: dict[int, Type] = {}
        # Problems in the script's C definitions and #defines, found once when
        # first needed: `reporter` is replaced every round, so they live here.
        self.definition_diagnostics: list[Diagnostic] = []

    @property
    def max_strlen(self) -> int:
        return int(self.config.get("max_strlen", self.options.max_strlen))

    @cached_property
    def active(self) -> ActiveItems:
        """The directives and C definitions the script's `#if` blocks keep;
        with BTF, BPFTRACE_HAVE_BTF is defined, so fallback struct
        definitions give way to the kernel's."""
        defined = [HAVE_BTF] if self.program.preprocessor and kernel_types() is not None else []
        return active_items(self.program, defined)

    @cached_property
    def type_source(self) -> TypeSource:
        """The script's C definitions chained before kernel BTF, built when a
        check first needs a C type (BTF costs a few ms to open)."""
        source, diagnostics = script_type_source(self.active.c_definitions, kernel_types())
        self.definition_diagnostics.extend(diagnostics)
        return source

    @cached_property
    def defines(self) -> dict[str, int]:
        """Integer macros: those of known included headers, then the script's."""
        return define_constants(
            self.active.preprocessor,
            lambda text: HEADER_CONSTANTS.get(header_name(text), {}),
            self.definition_diagnostics.append,
        )


class ProbeEnvironment:
    def __init__(self, program: ProgramEnvironment, probe: ast.Probe, specs: tuple[ProbeSpec, ...],
                 contexts: tuple[ProbeContext, ...]) -> None:
        self.program = program
        self.probe = probe
        self.specs = specs
        self.contexts = contexts

    @property
    def providers(self) -> tuple[str, ...]:
        return tuple(spec.provider for spec in self.specs)

    def allows(self, builtin: str) -> bool:
        """A per-probe builtin every one of the probe's attach points offers."""
        return bool(self.contexts) and all(builtin in context.builtins for context in self.contexts)
