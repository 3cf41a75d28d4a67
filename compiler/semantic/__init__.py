"""Semantic analysis: the passes between the parser and codegen.

    analyse(program, source, options) -> Analysis      (raises CompileError)

The passes, in order, each its own module: macros (expand `macro` calls),
positional ($1, $#), config (the config block), unsafe (--unsafe functions),
probes (attach points through the providers), then typing (types_check and
statements, with builtins, functions, maps and scopes) run to a fixpoint over
map types, then warnings. Independent errors are collected and raised
together, in source order.
"""

from __future__ import annotations

from auger.compiler import ast
from auger.compiler.diagnostics import SourceFile

from .analysis import Analysis, AnalysisOptions, MapInfo, ProbeAnalysis
from .args_type import ArgsType
from .config import check_config
from .environment import ProbeEnvironment, ProgramEnvironment
from .macros import expand_macros
from .maps import MapTable, check_map_declarations
from .positional import substitute_positionals
from .probes import resolve_probes
from .reporter import Reporter
from .statements import ProbeChecker
from .unsafe import check_unsafe
from .warnings import check_discarded_values

__all__ = ["analyse", "Analysis", "AnalysisOptions", "ArgsType", "MapInfo", "ProbeAnalysis"]

# Each round can only widen a map's types, and a type widens a few times at
# most, so a round that changes something settles at least one more map use:
# a chain `@a0 = @a1; @a1 = @a2; ...` takes one round per link. Hitting the
# cap means a widening that never settles: a bug, not a user error.
ROUNDS_PER_MAP_USE = 4


def analyse(program: ast.Program, source: SourceFile, options: AnalysisOptions = AnalysisOptions()) -> Analysis:
    """Check `program`; returns what codegen needs, or raises CompileError
    with every error found. `source` is where the program's spans point."""
    reporter = Reporter()
    program = expand_macros(program, reporter)
    program = substitute_positionals(program, options.positional, reporter)
    config = check_config(program, reporter)
    check_unsafe(program, options.unsafe, reporter)
    check_map_declarations(program, reporter)
    resolved = resolve_probes(program, options.positional, str(config.get("missing_probes", "warn")), reporter)

    env = ProgramEnvironment(program, options, MapTable(program), config)
    _check_definitions(env)
    map_uses = sum(1 for node in program.walk() if isinstance(node, ast.MapRef))
    for _ in range(ROUNDS_PER_MAP_USE * (map_uses + 1)):
        env.reporter, env.types = Reporter(), {}
        env.maps.changed = False
        probes = []
        for found in resolved:
            if found is None:
                continue
            probe_env = ProbeEnvironment(env, found.probe, found.specs, found.contexts)
            variables = ProbeChecker(probe_env).run()
            probes.append(ProbeAnalysis(found.probe, found.specs, found.contexts, variables))
        if not env.maps.changed:
            break
    else:
        raise RuntimeError("internal error: map types did not settle")
    for diagnostic in (*env.definition_diagnostics, *env.reporter.diagnostics):
        reporter.add(diagnostic)
    maps = _map_infos(env.maps, reporter)
    check_discarded_values(program, env.types, reporter)
    reporter.raise_if_errors()
    return Analysis(
        program=program,
        probes=tuple(probes),
        maps=maps,
        types=env.types,
        config=config,
        warnings=tuple(Reporter.diagnostics_sorted(reporter.warnings)),
    )


def _check_definitions(env: ProgramEnvironment) -> None:
    """Build the script's C types and #define table now, even when no check
    needs them, so their problems are reported for every program."""
    if env.active.c_definitions:
        env.type_source
    if env.active.preprocessor:
        env.defines


def _map_infos(maps: MapTable, reporter: Reporter) -> dict[str, MapInfo]:
    infos = {}
    for name, entry in sorted(maps.entries.items()):
        declaration = maps.declarations.get(name)
        if entry.value is None:
            if not reporter.errors:
                reporter.error(f"Could not infer the type of map @{name}: no value of known type is stored in it")
            continue
        infos[name] = MapInfo(
            name=name,
            key=entry.key,
            value=entry.value,
            kind=declaration.kind if declaration else "hash",
            size=declaration.size if declaration else None,
        )
    return infos
