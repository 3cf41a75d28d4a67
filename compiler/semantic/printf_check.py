"""printf, cat, system, errorf: the format must be a string literal, and
each argument must suit its conversion specifier."""

from __future__ import annotations

from auger.compiler import ast
from auger.compiler.printf_format import BUFFER, INTEGER, POINTER, FormatError, parse_format
from auger.compiler.types import BufferType, PointerType, SpecialType, Type, VoidType

from .literals import literal_string
from .type_rules import describe, is_integer, is_string_like

# SpecialTypes printed by %d as the number they hold.
_NUMERIC_SPECIALS = ("ksym", "usym", "username")


def check_format_call(checker, call: ast.Call, arguments: list[Type | None]) -> None:
    """`arguments` are the types of call.args[1:], already checked."""
    name = call.name
    fmt = literal_string(call.args[0]) if call.args else None
    if fmt is None:
        given = describe(checker.type_of(call.args[0])) if call.args else "none"
        checker.error(f"{name}() expects a string literal ({given} provided)", call.span)
        return
    try:
        specifiers = parse_format(fmt).specifiers
    except FormatError as problem:
        checker.error(f"{name}: {problem}", call.span)
        return
    supplied, expected = len(arguments), len(specifiers)
    if supplied < expected:
        checker.error(f"{name}: Not enough arguments for format string ({supplied} supplied, {expected} expected)", call.span)
        return
    if supplied > expected:
        checker.error(f"{name}: Too many arguments for format string ({supplied} supplied, {expected} expected)", call.span)
        return
    for specifier, argument in zip(specifiers, arguments):
        if argument is None:
            continue
        wanted = _wanted(specifier.kind, argument)
        if wanted is not None:
            checker.error(
                f"{name}: %{specifier.conversion} specifier expects a value of type {wanted} "
                f"({describe(argument)} supplied)",
                call.span,
            )


def _wanted(kind: str, argument: Type) -> str | None:
    """None when `argument` suits a specifier of this kind, else the kind's name."""
    if isinstance(argument, VoidType):
        return kind
    if kind == INTEGER:
        ok = is_integer(argument) or isinstance(argument, PointerType) or (
            isinstance(argument, SpecialType) and argument.kind in _NUMERIC_SPECIALS)
        return None if ok else "integer"
    if kind == POINTER:
        return None if is_integer(argument) or isinstance(argument, PointerType) else "pointer"
    if kind == BUFFER:
        return None if isinstance(argument, BufferType) or is_string_like(argument) else "buffer"
    return None  # %s prints any value as text
