"""What semantic analysis hands to codegen: options in, `Analysis` out.

Expression types are kept in `Analysis.types`, a dict keyed by `id(node)`;
the nodes stay alive because `Analysis.program` holds the tree they belong
to, so an id cannot be reused while the Analysis exists. Ask with
`analysis.type_of(node)`.
"""

from __future__ import annotations

from typing import Mapping

from auger.compiler import ast
from auger.compiler.diagnostics import Diagnostic
from auger.compiler.frozen import Value, frozen
from auger.compiler.type_names import DEFAULT_STRING_LENGTH
from auger.compiler.types import Type
from auger.probes.base import ProbeContext, ProbeSpec


@frozen
class AnalysisOptions(Value):
    """What the command line tells the analyser. `max_strlen` is the default
    string size; a `config = { max_strlen = N }` block overrides it."""

    unsafe: bool = False
    positional: tuple[str, ...] = ()
    has_child: bool = False  # `-c CMD` given: `cpid` is valid
    max_strlen: int = DEFAULT_STRING_LENGTH


@frozen
class ProbeAnalysis(Value):
    """One probe block: its concrete attach points (wildcards expanded), the
    context of each, and the type of each of its `$variables`."""

    probe: ast.Probe
    specs: tuple[ProbeSpec, ...]
    contexts: tuple[ProbeContext, ...]
    variables: Mapping[str, Type]


@frozen
class MapInfo(Value):
    """A map's types across all its uses: `key` is None for a scalar map (a
    tuple type for `@m[a, b]`); `value` is an AggregateType for aggregations.
    `kind` is "hash" unless a `let @m = lruhash(n)` declaration says otherwise."""

    name: str
    key: Type | None
    value: Type
    kind: str = "hash"
    size: int | None = None


@frozen
class Analysis(Value):
    program: ast.Program
    probes: tuple[ProbeAnalysis, ...]
    maps: Mapping[str, MapInfo]
    types: Mapping[int, Type]
    config: Mapping[str, object]
    warnings: tuple[Diagnostic, ...] = ()

    def type_of(self, node: ast.Expr) -> Type | None:
        return self.types.get(id(node))
