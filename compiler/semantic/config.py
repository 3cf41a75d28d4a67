"""The `config = { name = value; ... }` block: known names, and values of the
right kind. Its values override the command line's defaults."""

from __future__ import annotations

from auger.compiler import ast
from auger.compiler.diagnostics import did_you_mean

from .reporter import Reporter

_INTEGER = "integer"
_BOOLEAN = "boolean"
_STRING = "string"

# name -> an allowed kind, or the tuple of words it may be.
CONFIG_VARIABLES: dict[str, str | tuple[str, ...]] = {
    "max_strlen": _INTEGER,
    "max_map_keys": _INTEGER,
    "max_bpf_progs": _INTEGER,
    "max_probes": _INTEGER,
    "max_ast_nodes": _INTEGER,
    "max_cat_bytes": _INTEGER,
    "max_type_res_iterations": _INTEGER,
    "perf_rb_pages": _INTEGER,
    "log_size": _INTEGER,
    "on_stack_limit": _INTEGER,
    "stack_mode": ("bpftrace", "perf", "raw"),
    "missing_probes": ("error", "warn", "ignore"),
    "cache_user_symbols": ("PER_PROGRAM", "PER_PID", "NONE"),
    "symbol_source": ("dwarf", "symbol_table"),
    "print_maps_on_exit": _BOOLEAN,
    "cpp_demangle": _BOOLEAN,
    "lazy_symbolication": _BOOLEAN,
    "show_debug_info": _BOOLEAN,
    "license": _STRING,
    "str_trunc_trailer": _STRING,
}



def check_config(program: ast.Program, reporter: Reporter) -> dict[str, object]:
    values: dict[str, object] = {}
    if program.config is None:
        return values
    for entry in program.config.entries:
        kind = CONFIG_VARIABLES.get(entry.name)
        if kind is None:
            reporter.error(f"Unrecognized config variable: {entry.name}", entry.span,
                           did_you_mean(entry.name, CONFIG_VARIABLES))
            continue
        if entry.name in values:
            reporter.error(f"Duplicate config variable: {entry.name}", entry.span)
            continue
        value = _value(entry, kind, reporter)
        if value is not None:
            values[entry.name] = value
    return values


def _value(entry: ast.ConfigEntry, kind: str | tuple[str, ...], reporter: Reporter) -> object | None:
    node = entry.value
    if isinstance(kind, tuple):
        word = node.name if isinstance(node, ast.Identifier) else node.value if isinstance(node, ast.StringLiteral) else None
        if word in kind:
            return word
        reporter.error(f"Invalid value for {entry.name}: expected one of {', '.join(kind)}", node.span)
        return None
    if kind == _INTEGER and isinstance(node, ast.IntLiteral) and not isinstance(node.value, bool):
        if node.value < 1:
            reporter.error(f"Invalid value for {entry.name}: must be positive", node.span)
            return None
        return node.value
    if kind == _BOOLEAN:
        if isinstance(node, ast.BoolLiteral):
            return node.value
        if isinstance(node, ast.IntLiteral) and node.value in (0, 1):
            return bool(node.value)
    if kind == _STRING and isinstance(node, ast.StringLiteral):
        return node.value
    reporter.error(f"Invalid type for {entry.name}: expected {'an' if kind == _INTEGER else 'a'} {kind}", node.span)
    return None
