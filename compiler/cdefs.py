"""The C definitions written in a script (struct, union, enum, typedef) as a TypeSource.

Layouts follow the x86-64 System V (LP64) rules: each member at the next
multiple of its alignment, a struct's size rounded up to its largest member
alignment, a union as big as its largest member. Member types may name other
script types (in any order) or kernel types from the fallback source (BTF).

Problems are collected, not raised: `ScriptTypes(...).diagnostics` lists every
unknown type name (`Cannot resolve unknown type "struct foo"`, bpftrace's
words), redefinition and by-value self-containment, so all are reported
together. A faulty member is left out of its record's layout.

As in C, a member may point to a struct/union that nothing defines
(`struct foo *p`); such a pointer targets a 0-byte `RecordType`.

`define_constants` reads `#define NAME <integer expression>` lines into a
name -> int table the analyser consults like enum constants.
"""

from __future__ import annotations

import ast as python_ast
import operator
import re
from typing import Callable, Iterable, Mapping

from . import ast
from .diagnostics import Diagnostic, error
from .frozen import frozen
from .type_names import resolve_type, unknown_type
from .type_sources import TypeSourceChain
from .types import (
    ArrayType,
    BoolType,
    EnumType,
    FieldLayout,
    IntType,
    PointerType,
    RecordType,
    StringType,
    Type,
    TypeSource,
)

_MAX_ALIGNMENT = 16


@frozen
class CBitField(ast.CField):
    """A struct/union member with a bit width (`unsigned int flag : 1;`). The
    contract node ast.CField has no width, so the parser builds this subclass;
    every pass that knows only CField still sees a member."""

    bit_width: int


class ScriptTypes:
    """A TypeSource (plus `enum`) over the script's own C definitions."""

    def __init__(self, definitions: Iterable[ast.CDefinition], fallback: TypeSource | None = None):
        self.diagnostics: list[Diagnostic] = []
        self._records: dict[tuple[str, str], ast.CRecord] = {}
        self._typedefs: dict[str, ast.CTypedef] = {}
        self._enums: dict[str, EnumType] = {}
        self._constants: dict[str, tuple[EnumType, int]] = {}
        self._measured: dict[tuple[str, str], tuple[int, int]] = {}
        self._measuring: set[tuple[str, str]] = set()
        self._placements: dict[tuple[str, str], list[tuple[ast.CField, int]]] = {}
        self._typedef_types: dict[str, Type | None] = {}
        self._resolving: set[str] = set()
        self._layouts: dict[tuple[str, str], tuple[FieldLayout, ...]] = {}
        self._alignments: dict[RecordType, int] = {}
        self._source = TypeSourceChain((self, fallback) if fallback is not None else (self,))
        for definition in definitions:
            self._add(definition)
        # Lay out everything now, so every problem is found and reported at
        # once; dependencies first, so no chain of by-value members recurses.
        for kind, name in self._layout_order():
            self.fields(RecordType(kind, name, self._measure((kind, name))[0]))
        for name in self._typedefs:
            self.typedef(name)

    def _report(self, diagnostic: Diagnostic) -> None:
        if diagnostic not in self.diagnostics:
            self.diagnostics.append(diagnostic)

    def _add(self, definition: ast.CDefinition) -> None:
        if isinstance(definition, ast.CRecord):
            self._add_record(definition)
        elif isinstance(definition, ast.CTypedef):
            if definition.name in self._typedefs:
                self._report(error(f'Redefinition of typedef "{definition.name}"', definition.span))
            self._typedefs.setdefault(definition.name, definition)
        else:
            self._add_enum(definition)

    def _add_record(self, definition: ast.CRecord) -> None:
        key = (definition.kind, definition.name)
        if key in self._records:
            self._report(error(f'Redefinition of "{definition.kind} {definition.name}"',
                               definition.span))
            return
        self._records[key] = definition
        seen = set()
        for member in definition.fields:
            if member.name in seen:
                self._report(error(f'Duplicate member "{member.name}" in '
                                   f'"{definition.kind} {definition.name}"', member.span))
            seen.add(member.name)

    def _layout_order(self) -> list[tuple[str, str]]:
        """Every script record after the script records it holds by value
        (a depth-first post-order, without recursion)."""
        order, done = [], set()
        for root in self._records:
            stack = [(root, iter(self._by_value_records(root)))]
            done.add(root)
            while stack:
                key, dependencies = stack[-1]
                dependency = next(dependencies, None)
                if dependency is None:
                    stack.pop()
                    order.append(key)
                elif dependency not in done:
                    done.add(dependency)
                    stack.append((dependency, iter(self._by_value_records(dependency))))
        return order

    def _by_value_records(self, key: tuple[str, str]) -> list[tuple[str, str]]:
        found = []
        for member in self._records[key].fields:
            name, seen = member.type.name, set()
            if member.type.pointer_depth:
                continue
            while name in self._typedefs and name not in seen:
                seen.add(name)
                if self._typedefs[name].type.pointer_depth:
                    break
                name = self._typedefs[name].type.name
            kind, _, record_name = name.partition(" ")
            if (kind, record_name) in self._records:
                found.append((kind, record_name))
        return found

    def _add_enum(self, definition: ast.CEnum) -> None:
        values, value = [], -1
        for member in definition.members:
            value = member.value if member.value is not None else value + 1
            values.append(value)
        signed = any(v < 0 for v in values)
        wide = any(not -(1 << 31) <= v < (1 << 32) for v in values)
        enum = EnumType(definition.name or "(anon)", 64 if wide else 32, signed)
        if definition.name:
            self._enums[definition.name] = enum
        for member, value in zip(definition.members, values):
            if member.name in self._constants:
                self._report(error(f'Redefinition of enumerator "{member.name}"', member.span))
            self._constants.setdefault(member.name, (enum, value))

    # ------------------------------------------------------------ layout

    def _measure(self, key: tuple[str, str]) -> tuple[int, int]:
        """(size, alignment) of a script record; member pointers are not
        followed, so records may point to each other (or themselves). Also
        places each sound member at its offset, for `fields`."""
        measured = self._measured.get(key)
        if measured is not None:
            return measured
        self._measuring.add(key)
        placements = self._placements[key] = []
        size = bits = 0
        alignment = 1
        for member in self._records[key].fields:
            member_size_alignment = self._member_size_alignment(member)
            if member_size_alignment is None or not self._sound_bitfield(member, member_size_alignment[0]):
                continue
            member_size, member_alignment = member_size_alignment
            alignment = max(alignment, member_alignment)
            unit = 8 * member_alignment
            if key[0] == "union":
                placements.append((member, 0))
                size = max(size, member_size)
            elif isinstance(member, CBitField):
                # System V: a bitfield shares its predecessor's storage unit
                # unless it would straddle the unit's end.
                if bits // unit != (bits + member.bit_width - 1) // unit:
                    bits = _round_up(bits, unit)
                placements.append((member, bits))
                bits += member.bit_width
            else:
                bits = _round_up(bits, unit)
                placements.append((member, bits))
                bits += 8 * member_size
        self._measuring.discard(key)
        measured = self._measured[key] = (_round_up(max(size, _round_up(bits, 8) // 8), alignment), alignment)
        return measured

    def _sound_bitfield(self, member: ast.CField, member_size: int) -> bool:
        """An ordinary member, or a bitfield of an integer type no wider than it."""
        if not isinstance(member, CBitField):
            return True
        ref = member.type
        member_type = None if ref.pointer_depth or ref.array_length is not None else self._resolve(ref)
        if not isinstance(member_type, (IntType, BoolType, EnumType)):
            self._report(error(f'Bitfield "{member.name}" must have an integer type', member.span))
            return False
        if not 1 <= member.bit_width <= 8 * member_size:
            self._report(error(f'Width of bitfield "{member.name}" must be between 1 and {8 * member_size} '
                               f'({member.bit_width} given)', member.span))
            return False
        return True

    def _member_size_alignment(self, member: ast.CField) -> tuple[int, int] | None:
        ref = member.type
        count = ref.array_length if ref.array_length is not None else 1
        if ref.pointer_depth or self._is_pointer_typedef(ref.name):
            return 8 * count, 8
        member_type = self._resolve(ref)
        if member_type is None:
            return None
        if isinstance(member_type, RecordType) and (member_type.kind, member_type.name) in self._measuring:
            self._report(error(f'Field "{member.name}" has incomplete type "{ref.name}"', ref.span))
            return None
        return member_type.size, self.alignment(member_type)

    def _is_pointer_typedef(self, name: str) -> bool:
        seen = set()
        while name in self._typedefs and name not in seen:
            seen.add(name)
            ref = self._typedefs[name].type
            if ref.pointer_depth and ref.array_length is None:
                return True
            name = ref.name
        return False

    def _resolve(self, ref: ast.TypeRef, allow_incomplete: bool = False) -> Type | None:
        resolved = resolve_type(ref, self._source, allow_incomplete=allow_incomplete)
        if resolved is None:
            self._report(unknown_type(ref))
        return resolved

    def alignment(self, type_: Type) -> int:
        """The C alignment of a type; records from BTF, which records no
        alignment, get their largest member's (capped by what divides their
        size, which catches packed structs)."""
        if isinstance(type_, ArrayType):
            return self.alignment(type_.element)
        if isinstance(type_, PointerType):
            return 8
        if isinstance(type_, StringType):
            return 1
        if not isinstance(type_, RecordType):
            return max(1, min(type_.size, _MAX_ALIGNMENT))
        key = (type_.kind, type_.name)
        if key in self._records and self.record(*key) == type_:
            return self._measure(key)[1]
        alignment = self._alignments.get(type_)
        if alignment is None:
            members = self._source.fields(type_)
            alignment = max((self.alignment(m.type) for m in members), default=1)
            if type_.byte_size:
                alignment = min(alignment, type_.byte_size & -type_.byte_size)
            self._alignments[type_] = alignment
        return alignment

    # ------------------------------------------------------------ TypeSource

    def record(self, kind: str, name: str) -> RecordType | None:
        key = (kind, name)
        if key not in self._records:
            return None
        if key in self._measuring:  # being laid out: its size is not known yet
            return RecordType(kind, name, 0)
        return RecordType(kind, name, self._measure(key)[0])

    def fields(self, record: RecordType) -> tuple[FieldLayout, ...]:
        key = (record.kind, record.name)
        if key not in self._records or self.record(*key) != record:
            return ()
        layout = self._layouts.get(key)
        if layout is None:
            members = []
            for member, bits in self._placements[key]:
                member_type = self._resolve(member.type, allow_incomplete=True)
                if member_type is None:
                    continue
                if isinstance(member, CBitField):
                    members.append(FieldLayout(member.name, member_type, bits // 8, bits % 8, member.bit_width))
                else:
                    members.append(FieldLayout(member.name, member_type, bits // 8))
            layout = self._layouts[key] = tuple(members)
        return layout

    def typedef(self, name: str) -> Type | None:
        if name not in self._typedefs or name in self._resolving:
            return None
        if name not in self._typedef_types:
            self._resolving.add(name)
            ref = self._typedefs[name].type
            self._typedef_types[name] = self._resolve(ref, allow_incomplete=True)
            self._resolving.discard(name)
        return self._typedef_types[name]

    def enum(self, name: str) -> EnumType | None:
        return self._enums.get(name)

    def enum_constant(self, name: str) -> tuple[EnumType, int] | None:
        return self._constants.get(name)


def _round_up(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


def script_type_source(definitions: Iterable[ast.CDefinition],
                       kernel: TypeSource | None) -> tuple[TypeSourceChain, list[Diagnostic]]:
    """The analyser's TypeSource: script definitions first, then `kernel`
    (BTF; None without it), with the diagnostics the definitions produced."""
    script = ScriptTypes(definitions, kernel)
    sources = (script, kernel) if kernel is not None else (script,)
    return TypeSourceChain(sources), script.diagnostics


# ---------------------------------------------------------------- #define

_MIN_INT64, _MAX_UINT64 = -(1 << 63), (1 << 64) - 1
_INTEGER_SUFFIX = re.compile(r"\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]*\b")
_OCTAL = re.compile(r"\b0([0-7]+)\b")
_COMMENT = re.compile(r"/\*.*?\*/|//.*")
_DEFINE = re.compile(r"([A-Za-z_]\w*)\s+(.+)")


def define_constants(directives: Iterable[ast.Preprocessor],
                     include: Callable[[str], Mapping[str, int]] = lambda text: {},
                     report: Callable[[Diagnostic], None] = lambda diagnostic: None,
                     ) -> dict[str, int]:
    """`#define NAME <integer expression>` -> {NAME: value}. An expression may
    use integer literals (C suffixes and octal allowed), earlier constants,
    parentheses, and unary/binary C integer operators. Anything else
    (function-like macros, strings, unknown names) is skipped, as a C
    compiler would only complain where the name is used. `include` gives the
    constants an `#include` brings in, from the text after the directive.
    A value no 64-bit integer holds is an error, given to `report`."""
    constants: dict[str, int] = {}
    for directive in directives:
        if directive.directive == "include":
            constants.update(include(directive.text))
            continue
        if directive.directive != "define":
            continue
        match = _DEFINE.fullmatch(directive.text.strip())
        if match is None:
            continue
        value = evaluate_integer(match.group(2), constants)
        if value is not None and not _MIN_INT64 <= value <= _MAX_UINT64:
            report(error(f"the value of {match.group(1)} ({value}) does not fit in 64 bits",
                         directive.span))
        elif value is not None:
            constants[match.group(1)] = value
    return constants


def evaluate_integer(text: str, constants: dict[str, int]) -> int | None:
    """A C integer constant expression (as in `#define` and `#if`), or None
    when it is not one. `constants` gives the values of names."""
    text = _COMMENT.sub(" ", text).strip()
    text = _OCTAL.sub(r"0o\1", _INTEGER_SUFFIX.sub(r"\1", text))
    # C's logical operators, spelled as Python's (`!=` stays a comparison).
    text = re.sub(r"!(?!=)", " not ", text.replace("&&", " and ").replace("||", " or "))
    try:
        tree = python_ast.parse(text, mode="eval")
        return _fold(tree.body, constants)
    except (SyntaxError, ValueError, ZeroDivisionError, _NotConstant, RecursionError, MemoryError):
        # RecursionError/MemoryError: nested too deeply for Python's parser.
        return None


class _NotConstant(Exception):
    pass


def _c_divide(dividend: int, divisor: int) -> int:
    """C division truncates toward zero; Python's // floors."""
    quotient = abs(dividend) // abs(divisor)
    return quotient if (dividend < 0) == (divisor < 0) else -quotient


_BINARY = {
    python_ast.Add: operator.add,
    python_ast.Sub: operator.sub,
    python_ast.Mult: operator.mul,
    python_ast.Div: _c_divide,
    python_ast.Mod: lambda a, b: a - b * _c_divide(a, b),
    python_ast.LShift: operator.lshift,
    python_ast.RShift: operator.rshift,
    python_ast.BitOr: operator.or_,
    python_ast.BitAnd: operator.and_,
    python_ast.BitXor: operator.xor,
}
_COMPARE = {
    python_ast.Eq: operator.eq, python_ast.NotEq: operator.ne,
    python_ast.Lt: operator.lt, python_ast.LtE: operator.le,
    python_ast.Gt: operator.gt, python_ast.GtE: operator.ge,
}
_UNARY = {python_ast.USub: operator.neg, python_ast.UAdd: operator.pos,
          python_ast.Invert: operator.invert}


def _fold(node: python_ast.expr, constants: dict[str, int]) -> int:
    if isinstance(node, python_ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, python_ast.Name) and node.id in constants:
        return constants[node.id]
    if isinstance(node, python_ast.BinOp) and type(node.op) in _BINARY:
        left, right = _fold(node.left, constants), _fold(node.right, constants)
        if isinstance(node.op, (python_ast.LShift, python_ast.RShift)) and not 0 <= right < 64:
            raise _NotConstant
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, python_ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_fold(node.operand, constants))
    if isinstance(node, python_ast.UnaryOp) and isinstance(node.op, python_ast.Not):
        return int(not _fold(node.operand, constants))
    if isinstance(node, python_ast.BoolOp):
        values = [_fold(value, constants) for value in node.values]
        return int(all(values) if isinstance(node.op, python_ast.And) else any(values))
    if isinstance(node, python_ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
        left, right = _fold(node.left, constants), _fold(node.comparators[0], constants)
        return int(_COMPARE[type(node.ops[0])](left, right))
    raise _NotConstant
