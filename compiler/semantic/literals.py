"""Arguments that must be written as literals (lhist's bounds, hist's bits,
printf's format, unroll's count): recognising them in the tree."""

from __future__ import annotations

from auger.compiler import ast


def literal_int(expr: ast.Node) -> int | None:
    """The value of an integer literal, or of `-literal`; else None."""
    if isinstance(expr, ast.IntLiteral):
        return expr.value
    if isinstance(expr, ast.Unary) and expr.op == "-" and isinstance(expr.operand, ast.IntLiteral):
        return -expr.operand.value
    return None


def literal_string(expr: ast.Node) -> str | None:
    return expr.value if isinstance(expr, ast.StringLiteral) else None


def literal_type(value: int) -> str:
    """The type current bpftrace gives a negative integer literal in its
    messages: the narrowest signed type that holds it."""
    bits = next((bits for bits in (8, 16, 32) if -(1 << (bits - 1)) <= value), 64)
    return f"int{bits}"
