"""Maps: one key type and one value type per map across every use.

`MapTable` persists across the analyser's rounds: each round re-checks the
whole program against the types found so far, widening them (`common_type`)
where uses differ compatibly, until a round changes nothing. So a map read
in one probe before its textual assignment in another gets its type.
"""

from __future__ import annotations

from auger.compiler import ast
from auger.compiler.diagnostics import Span, did_you_mean
from auger.compiler.types import AggregateType, TupleType, Type

from .reporter import Reporter
from .type_rules import common_type


# The kinds `let @m = KIND(SIZE);` may name, in the order bpftrace's hint lists them.
DECLARABLE_KINDS = ("percpulruhash", "percpuhash", "lruhash", "hash")
MAX_DECLARED_SIZE = 0xFFFFFFFF  # the kernel's max_entries is a u32


def check_map_declarations(program: ast.Program, reporter: Reporter) -> None:
    """Each declaration names a known kind and a usable size, once per map;
    a declared map nothing uses is worth a warning, as bpftrace gives."""
    used = {node.name for node in program.walk() if isinstance(node, ast.MapRef)}
    declared: set[str] = set()
    for decl in program.map_decls:
        if decl.kind not in DECLARABLE_KINDS:
            reporter.error(f"Invalid bpf map type: {decl.kind}", decl.span,
                           f"Valid map types: {', '.join(DECLARABLE_KINDS)}")
        if not 1 <= decl.size <= MAX_DECLARED_SIZE:
            reporter.error(f"Map size of @{decl.name} must be between 1 and {MAX_DECLARED_SIZE} ({decl.size} given)",
                           decl.span)
        if decl.name in declared:
            reporter.error(f"Map @{decl.name} is already declared", decl.span)
        elif decl.name not in used:
            reporter.warning(f"Unused map: @{decl.name}", decl.span)
        declared.add(decl.name)


def _storage_kind(value: Type) -> str:
    """The map kind a value needs: aggregations keep one slot per CPU."""
    return "percpuhash" if isinstance(value, AggregateType) else "hash"


class MapEntry:
    __slots__ = ("keyed", "key", "value")

    def __init__(self) -> None:
        self.keyed: bool | None = None  # None until a use says
        self.key: Type | None = None
        self.value: Type | None = None


class MapTable:
    def __init__(self, program: ast.Program) -> None:
        # The first declaration of each name counts; a repeat is an error.
        self.declarations = {decl.name: decl for decl in reversed(program.map_decls)}
        self.written = _written_maps(program)
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
        declaration = self.declarations.get(node.name)
        needed = _storage_kind(value)
        if declaration is not None and declaration.kind.startswith("percpu") != needed.startswith("percpu"):
            reporter.error(
                f"Incompatible map types. Type from declaration: {declaration.kind}. "
                f"Type from value/key type: {needed}",
                _name_span(node),
            )
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


def _name_span(node: ast.MapRef) -> Span:
    """Where `@name` is written, without its keys (as bpftrace underlines it)."""
    start = node.span
    return Span(start.line, start.column, start.line, start.column + len(node.display_name))


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
