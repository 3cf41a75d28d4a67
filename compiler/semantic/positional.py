"""Positional parameters: `$1`..`$N` and `$#` become the literals the command
line gave, as bpftrace does: a numeric argument is an integer, any other a
string; `str($N)` is always the string. A missing parameter is 0 (or "" in
`str()`), with bpftrace's warning."""

from __future__ import annotations

from auger.compiler import ast

from .reporter import Reporter
from .rewrite import rewrite


def substitute_positionals(program: ast.Program, arguments: tuple[str, ...], reporter: Reporter) -> ast.Program:
    def replace(node: ast.Node) -> ast.Node | None:
        if isinstance(node, ast.PositionalCount):
            return ast.IntLiteral(node.span, len(arguments), str(len(arguments)))
        if isinstance(node, ast.Call) and node.name == "str" and node.args and isinstance(node.args[0], ast.PositionalParam):
            parameter = node.args[0]
            text = _argument(parameter, arguments, reporter)
            if len(node.args) == 1:
                return ast.StringLiteral(node.span, text or "")
            return ast.Call(node.span, node.name, (ast.StringLiteral(parameter.span, text or ""), *node.args[1:]))
        if isinstance(node, ast.PositionalParam):
            text = _argument(node, arguments, reporter)
            number = _number(text or "0")
            if number is None:
                return ast.StringLiteral(node.span, text)
            return ast.IntLiteral(node.span, number, text or "0")
        return None

    return rewrite(program, replace)


def _argument(node: ast.PositionalParam, arguments: tuple[str, ...], reporter: Reporter) -> str | None:
    if 1 <= node.index <= len(arguments) and arguments[node.index - 1] != "":
        return arguments[node.index - 1]
    reporter.warning(f"Positional parameter ${node.index} is empty or not provided.", node.span)
    return None


def _number(text: str) -> int | None:
    for base in (10, 0):  # `010` is ten, as bpftrace reads it; `0x10` is sixteen
        try:
            return int(text, base)
        except ValueError:
            pass
    return None
