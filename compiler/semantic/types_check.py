"""Expression typing with C's integer rules.

Integers are 64-bit unless a cast, a C field or a builtin says otherwise;
arithmetic promotes to 64 bits (unsigned when either side is unsigned
64-bit); comparisons and `&&`/`||`/`!` give bool, as current bpftrace; `.`
dereferences a pointer to a struct as `->` does. Every expression's type is
stored in the program environment's `types`, keyed by `id(node)`.
"""

from __future__ import annotations

from auger.compiler import ast
from auger.compiler.diagnostics import Span, did_you_mean
from auger.compiler.literals import string_bytes
from auger.compiler.type_names import resolve_type, unknown_type
from auger.compiler.types import (
    BOOL,
    INT64,
    UINT64,
    AggregateType,
    ArrayType,
    BoolType,
    EnumType,
    FieldLayout,
    IntType,
    NamedTupleType,
    PointerType,
    RecordType,
    StringType,
    TupleType,
    Type,
    VoidType,
)

from .args_type import ArgsType
from .builtins import builtin_type, is_builtin
from .environment import ProbeEnvironment
from .functions import SIGNATURES, check_call
from .literals import literal_int, literal_type
from .scopes import Scopes
from .type_rules import arithmetic_type, as_integer, common_type, is_integer, is_string_like, promote

_COMPARISONS = ("==", "!=", "<", ">", "<=", ">=")
_LOGICAL = ("&&", "||")
_SHIFTS = ("<<", ">>")
_SCALAR_AGGREGATES = ("count", "sum", "min", "max", "avg")


class ExpressionChecker:
    def __init__(self, env: ProbeEnvironment) -> None:
        self.env = env
        self.scopes = Scopes()
        # The call that may be an aggregation: the value of a map assignment.
        self.aggregate_target: ast.Call | None = None

    # ------------------------------------------------------------ helpers

    def error(self, message: str, span: Span | None, hint: str | None = None) -> None:
        self.env.program.reporter.error(message, span, hint)

    def type_of(self, node: ast.Node) -> Type | None:
        return self.env.program.types.get(id(node))

    def check(self, expr: ast.Expr) -> Type | None:
        """The type of `expr` (None after an error in it), recorded for codegen."""
        method = getattr(self, "visit_" + type(expr).__name__)
        result = method(expr)
        if result is not None:
            self.env.program.types[id(expr)] = result
        return result

    def resolve(self, ref: ast.TypeRef) -> Type | None:
        resolved = _resolve_type(ref, self.env)
        if resolved is None:
            self.env.program.reporter.add(unknown_type(ref))
        return resolved

    def check_condition(self, expr: ast.Expr) -> None:
        condition = self.check(expr)
        if condition is not None and not _is_truthy(condition):
            self.error(f"Invalid condition of type '{condition}': expected an integer, bool or pointer", expr.span)

    # ------------------------------------------------------------ literals and names

    def visit_IntLiteral(self, node: ast.IntLiteral) -> Type:
        return INT64 if -(1 << 63) <= node.value < (1 << 63) else UINT64

    def visit_StringLiteral(self, node: ast.StringLiteral) -> Type:
        return StringType(len(string_bytes(node.value)) + 1)

    def visit_BoolLiteral(self, node: ast.BoolLiteral) -> Type:
        return BOOL

    def visit_Identifier(self, node: ast.Identifier) -> Type | None:
        if is_builtin(node.name):
            found, problem = builtin_type(node.name, self.env)
            if problem:
                self.error(problem, node.span)
            return found
        if node.name in self.env.program.defines:
            return INT64
        constant = self.env.program.type_source.enum_constant(node.name)
        if constant is not None:
            return constant[0]
        self.error(f"Unknown identifier: '{node.name}'", node.span)
        return None

    def visit_Variable(self, node: ast.Variable) -> Type | None:
        binding = self.scopes.lookup(node.name) or self.scopes.ended(node.name)
        if binding is None:
            self.error(f"Undefined or undeclared variable: ${node.name}", node.span)
            return None
        binding.read = True
        if not binding.assigned and binding.type is None:
            self.error(f"Variable used before it was assigned: ${node.name}", node.span)
        return binding.type

    # ------------------------------------------------------------ maps

    def check_map_defined(self, node: ast.MapRef) -> bool:
        return self.env.program.maps.check_defined(node, self.env.program.reporter)

    def check_map_keys(self, node: ast.MapRef, span: Span) -> bool:
        """Type a use's keys against the map's; False when the map is undefined."""
        key_types = [_key_type(self.check(key)) for key in node.keys]
        for key, key_type in zip(node.keys, key_types):
            if isinstance(key_type, VoidType):
                self.error("Map key has no value (a call that returns nothing)", key.span)
                return True
        if not self.check_map_defined(node):
            return False
        self.env.program.maps.use_keys(node, key_types, span, self.env.program.reporter)
        return True

    def visit_MapRef(self, node: ast.MapRef) -> Type | None:
        if not self.check_map_keys(node, node.span):
            return None
        value = self.env.program.maps.value(node.name)
        if isinstance(value, AggregateType):
            if value.kind not in _SCALAR_AGGREGATES:
                self.error(f"The value of {node.display_name} ({value}) cannot be used in an expression", node.span)
                return None
            return as_integer(value)
        return value

    # ------------------------------------------------------------ operators

    def visit_Call(self, node: ast.Call) -> Type | None:
        if node.name in SIGNATURES:
            return check_call(self, node)
        for argument in node.args:
            if isinstance(argument, ast.Expr):
                self.check(argument)
        self.error(f"Unknown function: '{node.name}'", node.span, did_you_mean(node.name, SIGNATURES))
        return None

    def visit_Unary(self, node: ast.Unary) -> Type | None:
        operand = self.check(node.operand)
        if operand is None:
            return None
        if node.op == "!":
            if not _is_truthy(operand):
                self.error(f"Invalid operand to '!': '{operand}'", node.span)
            return BOOL
        if node.op == "*":
            if isinstance(operand, PointerType) and not isinstance(operand.target, VoidType):
                return operand.target
            if is_integer(operand):
                return UINT64  # bpftrace reads 8 bytes at an integer address
            self.error(f"Can not dereference type '{operand}'", node.span)
            return None
        if node.op == "&":
            if isinstance(node.operand, (ast.FieldAccess, ast.Index)) or isinstance(operand, RecordType):
                return PointerType(operand)
            self.error("Can only take the address of a struct member or array element", node.span)
            return None
        integer = as_integer(operand)
        if integer is None:
            self.error(f"Invalid operand to '{node.op}': '{operand}'", node.span)
            return None
        return promote(integer)

    def visit_IncDec(self, node: ast.IncDec) -> Type | None:
        target = node.target
        if isinstance(target, ast.Variable):
            current = self.check(target)
        elif isinstance(target, ast.MapRef):
            if not self.check_map_keys(target, target.span):
                return None
            current = self.env.program.maps.value(target.name)
            if current is None:
                self.env.program.maps.assign(target, INT64, node.span, self.env.program.reporter)
                return INT64
        else:
            self.error(f"The '{node.op}' operator must be applied to a map or variable", node.span)
            return None
        if current is not None and not isinstance(current, (IntType, PointerType)):
            self.error(f"The '{node.op}' operator must be applied to an integer or pointer ('{current}' given)", node.span)
            return None
        return current

    def visit_Binary(self, node: ast.Binary) -> Type | None:
        left, right = self.check(node.left), self.check(node.right)
        if left is None or right is None:
            return None
        if node.op in _LOGICAL:
            if not (_is_truthy(left) and _is_truthy(right)):
                self._mismatch(node, left, right)
            return BOOL
        if node.op in _COMPARISONS:
            return self._comparison(node, left, right)
        left_int, right_int = as_integer(left), as_integer(right)
        if left_int is not None and right_int is not None:
            if node.op in _SHIFTS:
                return promote(left_int)
            return arithmetic_type(left_int, right_int)
        if node.op in ("+", "-") and isinstance(left, PointerType) and right_int is not None:
            return left
        if node.op == "+" and isinstance(right, PointerType) and left_int is not None:
            return right
        if node.op == "-" and isinstance(left, PointerType) and isinstance(right, PointerType):
            return INT64
        self._mismatch(node, left, right)
        return None

    def _comparison(self, node: ast.Binary, left: Type, right: Type) -> Type:
        left_int, right_int = as_integer(left), as_integer(right)
        if left_int is not None and right_int is not None:
            if (promote(left_int).signed != promote(right_int).signed
                    and not _is_literal(node.left) and not _is_literal(node.right)):
                self.env.program.reporter.warning(
                    f"comparison of integers of different signs: '{left}' and '{right}' can lead to undefined behavior",
                    node.span,
                )
            return BOOL
        pointers = isinstance(left, PointerType) or isinstance(right, PointerType)
        if pointers and (left_int is not None or right_int is not None or left == right):
            return BOOL
        if node.op in ("==", "!=") and is_string_like(left) and is_string_like(right):
            return BOOL
        self._mismatch(node, left, right)
        return BOOL

    def _mismatch(self, node: ast.Binary, left: Type, right: Type) -> None:
        self.error(f"Type mismatch for '{node.op}': comparing '{left}' with '{right}'", node.span)

    def visit_Ternary(self, node: ast.Ternary) -> Type | None:
        self.check_condition(node.condition)
        then, otherwise = self.check(node.then), self.check(node.otherwise)
        if then is None or otherwise is None:
            return None
        if isinstance(then, IntType) and isinstance(otherwise, IntType):
            return arithmetic_type(then, otherwise)
        common = common_type(then, otherwise)
        if common is None:
            self.error(f"Ternary operator must return the same type: have '{then}' and '{otherwise}'", node.span)
        return common

    def visit_Cast(self, node: ast.Cast) -> Type | None:
        operand = self.check(node.operand)
        target = self.resolve(node.type)
        if operand is None or target is None:
            return None
        if operand == target and not _is_literal(node.operand):
            start, end = node.span, node.operand.span
            self.env.program.reporter.warning(
                f"Unnecessary cast: expression is already of type {target}",
                Span(start.line, start.column, end.line, end.column))
        if _castable(operand, target):
            return target
        self.error(f'Cannot cast from "{operand}" to "{target}"', node.span)
        return None

    # ------------------------------------------------------------ fields, indexes, tuples

    def find_field(self, subject: Type, name: str, span: Span) -> FieldLayout | None:
        """A member of a struct/union or of `args`, reporting when missing."""
        if isinstance(subject, ArgsType):
            fields = subject.fields
        elif isinstance(subject, RecordType):
            fields = self.env.program.type_source.fields(subject)
        else:
            self.error(f"Can not access field '{name}' on expression of type '{subject}'", span)
            return None
        for candidate in fields:
            if candidate.name == name:
                return candidate
        self.error(
            f"Struct/union of type '{subject}' does not contain a field named '{name}'",
            span,
            did_you_mean(name, [f.name for f in fields]),
        )
        return None

    def visit_FieldAccess(self, node: ast.FieldAccess) -> Type | None:
        subject = self.check(node.operand)
        if subject is None:
            return None
        if isinstance(subject, TupleType) and node.field.isdigit():
            return self._tuple_element(subject, int(node.field), node.span)
        if isinstance(subject, NamedTupleType) and not node.arrow:
            if node.field in subject.names:
                return subject.elements[subject.names.index(node.field)]
            self.error(f"Record does not contain a field named '{node.field}'", node.span,
                       did_you_mean(node.field, subject.names))
            return None
        if isinstance(subject, PointerType) and isinstance(subject.target, RecordType):
            subject = subject.target
        elif node.arrow and not isinstance(subject, ArgsType):
            self.error(f"Can not access field '{node.field}' on expression of type '{subject}'", node.span)
            return None
        found = self.find_field(subject, node.field, node.span)
        return found.type if found else None

    def _tuple_element(self, subject: TupleType, index: int, span: Span) -> Type | None:
        if 0 <= index < len(subject.elements):
            return subject.elements[index]
        self.error(f"Invalid tuple index: {index}. Found {len(subject.elements)} elements in tuple.", span)
        return None

    def visit_Index(self, node: ast.Index) -> Type | None:
        subject = self.check(node.operand)
        index = self.check(node.index)
        if subject is None or index is None:
            return None
        if isinstance(subject, TupleType):
            if not isinstance(node.index, ast.IntLiteral):
                self.error("The index of a tuple must be an integer literal", node.index.span)
                return None
            return self._tuple_element(subject, node.index.value, node.span)
        if not is_integer(index):
            self.error(f"The index must be an integer ('{index}' given)", node.index.span)
            return None
        if isinstance(subject, (ArrayType, StringType)) and not self._index_in_bounds(node, subject):
            return None
        if isinstance(subject, ArrayType):
            return subject.element
        if isinstance(subject, PointerType) and not isinstance(subject.target, VoidType):
            return subject.target
        if isinstance(subject, StringType):
            return IntType(8, True)
        self.error(f"The [] operator can not be used on expressions of type '{subject}'", node.span)
        return None

    def _index_in_bounds(self, node: ast.Index, subject: ArrayType | StringType) -> bool:
        """A literal index into an array or string must land inside it."""
        index = literal_int(node.index)
        if index is None:
            return True
        if index < 0:
            self.error("The array index operator [] only accepts non-negative integer indices. "
                       f"Got: {literal_type(index)}", node.span)
            return False
        size = subject.length
        if index >= size:
            self.error(f"the index {index} is out of bounds for array of size {size}", node.span)
            return False
        return True

    def visit_TupleExpr(self, node: ast.TupleExpr) -> Type | None:
        elements = [self._element(element) for element in node.elements]
        return None if None in elements else TupleType(tuple(elements))

    def visit_RecordExpr(self, node: ast.RecordExpr) -> Type | None:
        names = [field.name for field in node.fields]
        for position, field in enumerate(node.fields):
            if field.name in names[:position]:
                self.error(f"Duplicate field '{field.name}' in record", field.span)
        elements = [self._element(field.value) for field in node.fields]
        return None if None in elements else NamedTupleType(tuple(names), tuple(elements))

    def _element(self, expr: ast.Expr) -> Type | None:
        element = self.check(expr)
        if isinstance(element, VoidType):
            self.error("A tuple element must have a value", expr.span)
            return None
        return _key_type(element)


def _resolve_type(ref: ast.TypeRef, env: ProbeEnvironment) -> Type | None:
    return resolve_type(ref, env.program.type_source, env.program.max_strlen)


def _key_type(value: Type | None) -> Type | None:
    """How a value is stored as a key or tuple element: an integer aggregate
    read out of a map is a plain integer."""
    if isinstance(value, AggregateType):
        return as_integer(value)
    return value


def _is_truthy(type_: Type) -> bool:
    return is_integer(type_) or isinstance(type_, (PointerType, BoolType))


def _is_literal(expr: ast.Expr) -> bool:
    return isinstance(expr, ast.IntLiteral) or (isinstance(expr, ast.Unary) and isinstance(expr.operand, ast.IntLiteral))


def _castable(operand: Type, target: Type) -> bool:
    integer = as_integer(operand)
    pointer_like = integer is not None or isinstance(operand, PointerType)
    if isinstance(target, (IntType, BoolType, EnumType)):
        return pointer_like
    if isinstance(target, PointerType):
        return pointer_like
    if isinstance(target, ArrayType):
        # Reinterpret an integer's bytes (`(uint8[8])x`) or an array of the same size.
        return (integer is not None or isinstance(operand, ArrayType)) and operand.size == target.size
    if isinstance(target, RecordType):
        return operand == target
    return operand == target
