"""Functions that change the system (run commands, send signals, override
return values) need `--unsafe`, as in bpftrace."""

from __future__ import annotations

from auger.compiler import ast

from .functions import UNSAFE_FUNCTIONS
from .reporter import Reporter


def check_unsafe(program: ast.Program, unsafe: bool, reporter: Reporter) -> None:
    if unsafe:
        return
    for node in program.walk():
        if isinstance(node, ast.Call) and node.name in UNSAFE_FUNCTIONS:
            reporter.error(f"{node.name}() is an unsafe function being used in safe mode", node.span)
