"""Rebuilding a tree with some nodes replaced, without touching the original:
the passes that rewrite (macro expansion, positional parameters) use it."""

from __future__ import annotations

import dataclasses
from typing import Callable, TypeVar

from auger.compiler import ast

N = TypeVar("N", bound=ast.Node)


def rewrite(node: N, replace: Callable[[ast.Node], ast.Node | None]) -> N:
    """`node` with every subtree for which `replace` returns a node swapped
    for that node (not descended into further); unchanged subtrees are shared."""
    replaced = replace(node)
    if replaced is not None:
        return replaced
    changes = {}
    for field in dataclasses.fields(node):
        value = getattr(node, field.name)
        if isinstance(value, ast.Node):
            new = rewrite(value, replace)
            if new is not value:
                changes[field.name] = new
        elif isinstance(value, tuple) and any(isinstance(item, ast.Node) for item in value):
            items = tuple(rewrite(item, replace) if isinstance(item, ast.Node) else item for item in value)
            if any(new is not old for new, old in zip(items, value)):
                changes[field.name] = items
    return dataclasses.replace(node, **changes) if changes else node
