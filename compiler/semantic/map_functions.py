"""Functions that take a whole map: delete clear zero has_key len print(@m, top, div)."""

from __future__ import annotations

from auger.compiler import ast
from auger.compiler.types import BOOL, INT64, VOID, StackType, Type

from .type_rules import is_integer


def check_map_function(checker, call: ast.Call) -> Type | None:
    name = call.name
    target = call.args[0]
    if name == "len" and not isinstance(target, ast.MapRef):
        checked = checker.check(target)
        if checked is not None and not isinstance(checked, StackType):
            checker.error("len() expects a map or a stack (ustack/kstack)", call.span)
        return INT64
    if not isinstance(target, ast.MapRef):
        for argument in call.args:
            checker.check(argument)
        checker.error(f"{name}() expects a map argument", target.span)
        return None
    if name == "delete":
        _check_delete(checker, call, target)
        return VOID
    if target.keys:
        checker.error(f"{name}() expects a map without explicit keys", target.span)
        checker.check_map_keys(target, target.span)
        return None
    if not checker.check_map_defined(target):
        return None
    if name == "has_key":
        if len(call.args) != 2:
            checker.error(f"has_key() requires 2 arguments ({len(call.args)} provided)", call.span)
            return BOOL
        _check_key_argument(checker, call, target)
        return BOOL
    for extra in call.args[1:]:
        extra_type = checker.check(extra)
        if extra_type is not None and not is_integer(extra_type):
            checker.error(f"{name}() expects an integer argument ({extra_type} provided)", extra.span)
    return INT64 if name == "len" else VOID


def _check_delete(checker, call: ast.Call, target: ast.MapRef) -> None:
    if target.keys:
        if len(call.args) > 1:
            checker.error("delete() takes a key either in the map reference or as the second argument", call.span)
        checker.check_map_keys(target, call.span)
        return
    if not checker.check_map_defined(target):
        return
    if len(call.args) == 2:
        _check_key_argument(checker, call, target)
    else:
        # `delete(@m)` on a scalar map resets it: the map must have no keys.
        checker.env.program.maps.use_keys(target, [], call.span, checker.env.program.reporter)


def _check_key_argument(checker, call: ast.Call, target: ast.MapRef) -> None:
    """`has_key(@m, k)` / `delete(@m, k)`: k as the map's key, a tuple for several."""
    key_type = checker.check(call.args[1])
    span = call.span
    maps = checker.env.program.maps
    entry = maps.entries.get(target.name)
    if entry is not None and entry.keyed is False:
        checker.error(f"call to {call.name}() expects a map with explicit keys (non-scalar map)", span)
        return
    maps.use_keys(target, [key_type], span, checker.env.program.reporter)
