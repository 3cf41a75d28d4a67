"""Turn a written type (`ast.TypeRef`) into a type object.

Names understood: the language's own (`int8`..`uint64`, `bool`, `string`,
`void`), C integer spellings in any word order (`unsigned long`,
`long unsigned int`), `struct X` / `union X` / `enum X`, and typedef names, the
last three looked up in a `TypeSource` (script definitions, then kernel BTF).
`#include` lines are not needed: every kernel type comes from BTF.
"""

from __future__ import annotations

from . import ast
from .diagnostics import Diagnostic, error
from .types import (
    BOOL,
    INTEGER_TYPE_NAMES,
    VOID,
    ArrayType,
    EnumType,
    IntType,
    PointerType,
    RecordType,
    StringType,
    Type,
    TypeSource,
)

DEFAULT_STRING_LENGTH = 64  # bpftrace's default strlen

_C_INTEGER_WORDS = frozenset(("signed", "unsigned", "char", "short", "int", "long"))


def c_integer(name: str) -> IntType | None:
    """An LP64 C integer type spelled with its words in any order, or None."""
    words = name.split()
    if not words or not _C_INTEGER_WORDS.issuperset(words):
        return None
    if "char" in words:
        bits = 8
    elif "short" in words:
        bits = 16
    elif "long" in words:
        bits = 64
    else:
        bits = 32
    return IntType(bits, "unsigned" not in words)


def _base_type(name: str, source: TypeSource, allow_incomplete: bool) -> Type | None:
    kind, _, tag = name.partition(" ")
    if kind in ("struct", "union") and tag:
        found = source.record(kind, tag)
        if found is None and allow_incomplete:
            return RecordType(kind, tag, 0)
        return found
    if kind == "enum" and tag:
        return enum_type(tag, source)
    if name == "void":
        return VOID
    if name == "bool":
        return BOOL
    known = INTEGER_TYPE_NAMES.get(name) or c_integer(name)
    if known is not None:
        return known
    return source.typedef(name)


def enum_type(name: str, source: TypeSource) -> EnumType | None:
    """`enum NAME`."""
    return source.enum(name)


def resolve_type(ref: ast.TypeRef, source: TypeSource,
                 string_length: int = DEFAULT_STRING_LENGTH,
                 allow_incomplete: bool = False) -> Type | None:
    """The type `ref` names, with its pointers and array length applied, or
    None when the base name is unknown (report it with `unknown_type`).

    `string` is a StringType of `array_length` bytes, else `string_length`.
    With `allow_incomplete`, a pointer to an unknown struct/union is allowed
    (as C allows in a member declaration) and points to a 0-byte record."""
    if ref.name == "string" and ref.pointer_depth == 0:
        return StringType(ref.array_length or string_length)
    base = _base_type(ref.name, source, allow_incomplete and ref.pointer_depth > 0)
    if base is None:
        return None
    for _ in range(ref.pointer_depth):
        base = PointerType(base)
    if ref.array_length is not None:
        base = ArrayType(base, ref.array_length)
    return base


def unknown_type(ref: ast.TypeRef) -> Diagnostic:
    """bpftrace's error for a type name nothing defines."""
    return error(f'Cannot resolve unknown type "{ref.name}"', ref.span)
