"""C's rules for the language's values: which types are integers, how they
promote, and the common type of two values (ternary branches, map values and
keys across uses)."""

from __future__ import annotations

from auger.compiler.types import (
    INT64,
    UINT64,
    AggregateType,
    ArrayType,
    BoolType,
    EnumType,
    IntType,
    NamedTupleType,
    PointerType,
    SpecialType,
    StringType,
    TupleType,
    Type,
)

# Aggregations whose value reads back as one integer (`@total = @sum + 1`).
_INTEGER_AGGREGATES = ("count", "sum", "min", "max", "avg")

# SpecialTypes that hold an integer underneath and do arithmetic as one.
_INTEGER_SPECIALS = ("ksym", "usym", "timestamp_ns")


def as_integer(type_: Type | None) -> IntType | None:
    """The integer a value computes as, or None when it is not a number.
    bool and enums are integers in arithmetic, as in C."""
    if isinstance(type_, IntType):
        return type_
    if isinstance(type_, BoolType):
        return IntType(8, False)
    if isinstance(type_, EnumType):
        return IntType(type_.bits, type_.signed)
    if isinstance(type_, AggregateType) and type_.kind in _INTEGER_AGGREGATES:
        return IntType(64, type_.signed and type_.kind != "count")
    return None


def is_integer(type_: Type | None) -> bool:
    return as_integer(type_) is not None


def promote(type_: IntType) -> IntType:
    """Every integer computes in 64 bits; a narrower unsigned value fits in a
    signed 64-bit one, as C's integer promotions give."""
    if type_.bits == 64:
        return type_
    return INT64


def arithmetic_type(left: IntType, right: IntType) -> IntType:
    """C's usual arithmetic conversions, after promotion to 64 bits."""
    left, right = promote(left), promote(right)
    return UINT64 if not (left.signed and right.signed) else INT64


def common_integer(left: IntType, right: IntType) -> IntType:
    """The narrowest integer both values fit: the wider one, and when the
    wider is signed but an equally wide one is unsigned, unsigned (C's rule)."""
    if left.signed == right.signed:
        return left if left.bits >= right.bits else right
    unsigned, signed = (left, right) if not left.signed else (right, left)
    return unsigned if unsigned.bits >= signed.bits else signed


def common_type(left: Type, right: Type) -> Type | None:
    """The type that can hold a value of either type, or None if none can."""
    if left == right:
        return left
    if isinstance(left, IntType) and isinstance(right, IntType):
        return common_integer(left, right)
    if isinstance(left, StringType) and isinstance(right, StringType):
        return left if left.length >= right.length else right
    if isinstance(left, TupleType) and isinstance(right, TupleType):
        if len(left.elements) != len(right.elements):
            return None
        elements = [common_type(a, b) for a, b in zip(left.elements, right.elements)]
        return None if None in elements else TupleType(tuple(elements))
    if isinstance(left, NamedTupleType) and isinstance(right, NamedTupleType):
        if left.names != right.names:
            return None
        elements = [common_type(a, b) for a, b in zip(left.elements, right.elements)]
        return None if None in elements else NamedTupleType(left.names, tuple(elements))
    if isinstance(left, PointerType) and isinstance(right, PointerType):
        # A void pointer or an integer-sized one mixes with any pointer.
        return left if str(left.target) == "none" else right if str(right.target) == "none" else None
    if isinstance(left, SpecialType) and isinstance(right, SpecialType) and left.kind == right.kind:
        return left if left.byte_size >= right.byte_size else right
    return None


def is_string_like(type_: Type | None) -> bool:
    """A string, or a char array as C structs hold names (`comm[16]`)."""
    if isinstance(type_, StringType):
        return True
    return isinstance(type_, ArrayType) and isinstance(type_.element, IntType) and type_.element.bits == 8


def describe(type_: Type | None) -> str:
    """The word for a type in 'expects a value of type integer (string supplied)'."""
    if type_ is None:
        return "none"
    if is_integer(type_):
        return "integer"
    if is_string_like(type_):
        return "string"
    if isinstance(type_, PointerType):
        return "pointer"
    return str(type_)
