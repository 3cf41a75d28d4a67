"""Maps: one key type and one value type per map across every use.

`MapTable` persists across the analyser's rounds: each round re-checks the
whole program against the types found so far, widening them (`common_type`)
where uses differ compatibly, until a round changes nothing. So a map read
in one probe before its textual assignment in another gets its type.
"""

from __future__ import annotations

from dataclasses import dataclass

from auger.compiler import ast
from auger.compiler.diagnostics import Span, did_you_mean
from auger.compiler.types import AggregateType, TupleType, Type

from .reporter import Reporter
from .type_rules import common_type


@dataclass
class MapEntry:
    keyed: bool | None = None  # None until a use says
    key: Type | None = None
    value: Type | None = None


class MapTable:
    def __init__(self, program: ast.Program) -> None:
        self.declarations = {decl.name: decl for decl in program.map_decls}
        self.written = _written_maps(program) | set(self.declarations)
        self.entries: dict[str, MapEntry] = {}
        self.changed = False

    def entry(self, name: str) -> MapEntry:
        return self.entries.setdefault(name, MapEntry())

    def check_defined(self, node: ast.MapRef, reporter: Reporter) -> bool:
        if node.name in self.written:
            return True
        reporter.error(
            f"Undefined map: {node.display_name}",
            node.span,
            did_you_mean(node.display_name, ["@" + name for name in sorted(self.written)]),
        )
        return False

    def use_keys(self, node: ast.MapRef, key_types: list[Type | None], span: Span, reporter: Reporter) -> None:
        """Record the key a use gives (none for `@m`), checking it against the others."""
        if None in key_types:
            return
        entry = self.entry(node.name)
        keyed = bool(key_types)
        key = None if not keyed else key_types[0] if len(key_types) == 1 else TupleType(tuple(key_types))
        if entry.keyed is None:
            entry.keyed, entry.key = keyed, key
            self.changed = True
            return
        if entry.keyed != keyed or (keyed and common_type(entry.key, key) is None):
            given = f"'{key}'" if keyed else "no arguments"
            expected = f"arguments: '{entry.key}'" if entry.keyed else "no arguments"
            reporter.error(
                f"Argument mismatch for {node.display_name}: trying to access with "
                f"{'arguments: ' if keyed else ''}{given} when map expects {expected}",
                span,
            )
            return
        if keyed:
            self._widen_key(entry, common_type(entry.key, key))

    def assign(self, node: ast.MapRef, value: Type | None, span: Span, reporter: Reporter) -> None:
        if value is None:
            return
        entry = self.entry(node.name)
        if entry.value is None:
            entry.value = value
            self.changed = True
            return
        merged = _merge_values(entry.value, value)
        if merged is None:
            reporter.error(
                f"Type mismatch for {node.display_name}: trying to assign value of type '{value}' "
                f"when map already contains a value of type '{entry.value}'",
                span,
            )
            return
        if merged != entry.value:
            entry.value = merged
            self.changed = True

    def value(self, name: str) -> Type | None:
        entry = self.entries.get(name)
        return entry.value if entry else None

    def _widen_key(self, entry: MapEntry, key: Type) -> None:
        if key != entry.key:
            entry.key = key
            self.changed = True


def _merge_values(old: Type, new: Type) -> Type | None:
    if isinstance(old, AggregateType) or isinstance(new, AggregateType):
        if not (isinstance(old, AggregateType) and isinstance(new, AggregateType)):
            return None
        if old.kind != new.kind or old.parameters != new.parameters:
            return None
        return AggregateType(old.kind, old.signed or new.signed, old.parameters)
    return common_type(old, new)


def _written_maps(program: ast.Program) -> set[str]:
    """Maps some statement stores into: those a read may refer to."""
    written: set[str] = set()
    for node in program.walk():
        target = None
        if isinstance(node, ast.Assignment):
            target = node.target
        elif isinstance(node, ast.IncDec):
            target = node.target
        if isinstance(target, ast.MapRef):
            written.add(target.name)
    return written
