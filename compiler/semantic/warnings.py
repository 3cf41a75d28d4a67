"""Warnings bpftrace gives about a program that is valid but likely wrong.

Emitted elsewhere, where the facts are at hand: `Positional parameter $N is
empty or not provided.` (positional.py) and `comparison of integers of
different signs` (types_check.py). Here: a statement that computes a value
and drops it (`BEGIN { cpid }`), as current bpftrace reports it.
"""

from __future__ import annotations

from typing import Mapping

from auger.compiler import ast
from auger.compiler.types import Type, VoidType

from .reporter import Reporter


def check_discarded_values(program: ast.Program, types: Mapping[int, Type], reporter: Reporter) -> None:
    for node in program.walk():
        if not isinstance(node, ast.ExprStatement) or isinstance(node.expr, ast.IncDec):
            continue
        value = types.get(id(node.expr))
        if value is not None and not isinstance(value, VoidType):
            reporter.warning("Return value discarded.", node.expr.span)
