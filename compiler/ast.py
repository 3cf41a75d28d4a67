"""The abstract syntax tree: frozen dataclasses, each node with its source span.

The parser builds this tree once from lark's parse tree; no later pass sees a
lark type. Passes never edit a tree in place: a pass that rewrites (macro
expansion, say) builds new nodes with `dataclasses.replace`.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Iterator, Union

from .diagnostics import Span
from .frozen import Value, frozen


@frozen
class Node(Value):
    span: Span

    def children(self) -> Iterator["Node"]:
        """The direct child nodes, in source order."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Node):
                yield value
            elif isinstance(value, tuple):
                for item in value:
                    if isinstance(item, Node):
                        yield item

    def walk(self) -> Iterator["Node"]:
        """This node and every node below it, depth first, in source order."""
        yield self
        for child in self.children():
            yield from child.walk()


# ---------------------------------------------------------------- types in casts


@frozen
class TypeRef(Node):
    """A type as written: `uint32`, `struct sock *`, `unsigned long`, `uint8[4]`,
    `string[16]`. `name` is the base name with single spaces (`struct sock`)."""

    name: str
    pointer_depth: int = 0
    array_length: int | None = None


# ---------------------------------------------------------------- expressions


@frozen
class Expr(Node):
    pass


@frozen
class IntLiteral(Expr):
    """An integer literal; `value` is its value (a duration in nanoseconds,
    `1_000` as 1000, `1e6` as 1000000); `text` is how it was written."""

    value: int
    text: str


@frozen
class StringLiteral(Expr):
    """A string literal with its escapes already decoded."""

    value: str


@frozen
class BoolLiteral(Expr):
    value: bool


@frozen
class PositionalParam(Expr):
    """`$1`, `$2`, ...: a command-line argument."""

    index: int


@frozen
class PositionalCount(Expr):
    """`$#`: the number of command-line arguments."""


@frozen
class Identifier(Expr):
    """A bare name in an expression: a builtin (`pid`, `args`, `arg0`) or an
    enum constant. The analyser decides which."""

    name: str


@frozen
class Variable(Expr):
    """A scratch variable `$name` (name without the `$`)."""

    name: str


@frozen
class MapRef(Expr):
    """`@name`, `@name[k]` or `@name[k1, k2]` (name without the `@`; the
    anonymous map `@` has the name ""). Several keys form a tuple key."""

    name: str
    keys: tuple[Expr, ...] = ()

    @property
    def display_name(self) -> str:
        return "@" + self.name


@frozen
class Call(Expr):
    """`name(args)`: a builtin function or a macro. Some functions take a type
    (`sizeof(struct sock)`, `offsetof(struct sock, sk_flags)`)."""

    name: str
    args: tuple[Union[Expr, TypeRef], ...]


@frozen
class Unary(Expr):
    """`-x`, `+x`, `!x`, `~x`, `*ptr`, `&x`."""

    op: str
    operand: Expr


@frozen
class IncDec(Expr):
    """`x++`, `x--`, `++x`, `--x` on a variable or map entry."""

    op: str  # "++" or "--"
    prefix: bool
    target: Expr


@frozen
class Binary(Expr):
    """Every binary operator, including `&&` and `||`."""

    op: str
    left: Expr
    right: Expr


@frozen
class Ternary(Expr):
    condition: Expr
    then: Expr
    otherwise: Expr


@frozen
class Cast(Expr):
    type: TypeRef
    operand: Expr


@frozen
class FieldAccess(Expr):
    """`x.field` or `x->field`; `field` may be a tuple index (`$t.0`)."""

    operand: Expr
    field: str
    arrow: bool


@frozen
class Index(Expr):
    """`x[i]` on an array, pointer or tuple."""

    operand: Expr
    index: Expr


@frozen
class TupleExpr(Expr):
    elements: tuple[Expr, ...]


@frozen
class RecordField(Node):
    name: str
    value: Expr


@frozen
class RecordExpr(Expr):
    """`(a = 1, b = "x")`."""

    fields: tuple[RecordField, ...]


# ---------------------------------------------------------------- statements


@frozen
class Statement(Node):
    pass


@frozen
class Block(Statement):
    statements: tuple[Statement, ...]


@frozen
class ExprStatement(Statement):
    expr: Expr


@frozen
class Assignment(Statement):
    """`target = value` or a compound assignment (`op` is "=", "+=", "<<=", ...).
    The target is a Variable or a MapRef."""

    target: Expr
    op: str
    value: Expr


@frozen
class VarDecl(Statement):
    """`let $x;`, `let $x: uint32;`, `let $x = 1;`, `let $x: uint32 = 1;`."""

    variable: Variable
    type: TypeRef | None
    value: Expr | None


@frozen
class If(Statement):
    """`if (c) { } else if (d) { } else { }`: `otherwise` is a Block, an If
    (for `else if`) or None."""

    condition: Expr
    then: Block
    otherwise: Union[Block, "If", None]


@frozen
class Unroll(Statement):
    count: Expr
    body: Block


@frozen
class While(Statement):
    condition: Expr
    body: Block


@frozen
class ForMap(Statement):
    """`for ($kv : @m) { }`."""

    variable: Variable
    map: MapRef
    body: Block


@frozen
class ForRange(Statement):
    """`for ($i : start..end) { }`; the end is exclusive."""

    variable: Variable
    start: Expr
    end: Expr
    body: Block


@frozen
class Break(Statement):
    pass


@frozen
class Continue(Statement):
    pass


@frozen
class Return(Statement):
    value: Expr | None


# ---------------------------------------------------------------- top level


@frozen
class Preprocessor(Node):
    """`#include <...>` or `#define NAME value`: `directive` is "include" or
    "define"; `text` is the rest of the line."""

    directive: str
    text: str


@frozen
class CField(Node):
    """One member of a C struct or union; `type` carries pointer depth and
    array length (`char comm[16]` is `char` with array_length 16)."""

    type: TypeRef
    name: str


@frozen
class CRecord(Node):
    """A C `struct` or `union` definition in the script."""

    kind: str  # "struct" or "union"
    name: str
    fields: tuple[CField, ...]


@frozen
class CEnumMember(Node):
    name: str
    value: int | None


@frozen
class CEnum(Node):
    name: str
    members: tuple[CEnumMember, ...]


@frozen
class CTypedef(Node):
    type: TypeRef
    name: str


CDefinition = Union[CRecord, CEnum, CTypedef]


@frozen
class ConfigEntry(Node):
    """`name = value` in `config = { ... }`; a bare word value (`perf`) is an
    Identifier."""

    name: str
    value: Expr


@frozen
class Config(Node):
    entries: tuple[ConfigEntry, ...]


@frozen
class Macro(Node):
    """`macro name($a, @m, b) { ... }`: parameters are Variables, MapRefs or
    Identifiers; the body's last statement may be an expression (its value)."""

    name: str
    params: tuple[Expr, ...]
    body: Block


@frozen
class MapDecl(Node):
    """`let @name = lruhash(100);` at the top level."""

    name: str
    kind: str
    size: int


@frozen
class AttachPoint(Node):
    """One attach point exactly as written (`tracepoint:syscalls:sys_enter_*`,
    `k:vfs_read+8`, `BEGIN`); the probe providers parse it."""

    text: str


@frozen
class Probe(Node):
    attach_points: tuple[AttachPoint, ...]
    predicate: Expr | None
    body: Block


@frozen
class Program(Node):
    preprocessor: tuple[Preprocessor, ...]
    c_definitions: tuple[CDefinition, ...]
    config: Config | None
    map_decls: tuple[MapDecl, ...]
    macros: tuple[Macro, ...]
    probes: tuple[Probe, ...]


class Visitor:
    """Dispatches `visit(node)` to `visit_<ClassName>`; nodes without a method
    of their own go to `generic_visit`, which visits the children."""

    def visit(self, node: Node):
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            return self.generic_visit(node)
        return method(node)

    def generic_visit(self, node: Node):
        for child in node.children():
            self.visit(child)
        return None
