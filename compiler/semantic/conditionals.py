"""The C preprocessor's conditionals over the script's top level: which
`#define`s and C definitions a `#if`/`#ifdef`/`#ifndef` ... `#endif` block
leaves in, as bpftrace's clang pass would.

bpftrace defines BPFTRACE_HAVE_BTF when the kernel has BTF, and its tools
wrap header includes and fallback struct definitions in
`#ifndef BPFTRACE_HAVE_BTF`: with BTF the kernel's own definitions win.
Other directives (`#include`, `#pragma`, ...) do not affect what is kept."""

from __future__ import annotations

import re
from typing import Iterable

from auger.compiler import ast
from auger.compiler.cdefs import evaluate_integer
from auger.compiler.frozen import Value, frozen

HAVE_BTF = "BPFTRACE_HAVE_BTF"

_CONDITIONALS = {"if", "ifdef", "ifndef", "elif", "else", "endif"}
_DEFINED = re.compile(r"\bdefined\s*(?:\(\s*([A-Za-z_]\w*)\s*\)|([A-Za-z_]\w*))")
_IDENTIFIER = re.compile(r"\b[A-Za-z_]\w*\b")
_NAME = re.compile(r"[A-Za-z_]\w*")


@frozen
class ActiveItems(Value):
    """The top-level directives and C definitions outside skipped blocks."""

    preprocessor: tuple[ast.Preprocessor, ...]
    c_definitions: tuple[ast.CDefinition, ...]


class _Frame:
    __slots__ = ("parent_active", "taken", "active")

    def __init__(self, parent_active: bool, taken: bool, active: bool) -> None:
        self.parent_active = parent_active
        self.taken = taken  # some branch of this #if chain was already chosen
        self.active = active


def active_items(program: ast.Program, predefined: Iterable[str]) -> ActiveItems:
    """Walk the directives in source order, tracking which lines are inside a
    skipped branch; `predefined` are the macros defined before the script
    (BPFTRACE_HAVE_BTF when BTF is present)."""
    defined: dict[str, str] = {name: "1" for name in predefined}
    skipped: list[tuple[int, int]] = []  # (first line, last line) of skipped text
    stack: list[_Frame] = []
    kept: list[ast.Preprocessor] = []
    skip_from: int | None = None
    for directive in sorted(program.preprocessor, key=lambda d: (d.span.line, d.span.column)):
        was_active = not stack or stack[-1].active
        name = directive.directive
        if name in _CONDITIONALS:
            _step(stack, name, directive.text, defined)
        elif was_active:
            kept.append(directive)
            if name == "define":
                macro = _NAME.match(directive.text)
                if macro:
                    defined[macro.group()] = directive.text[macro.end():].strip()
            elif name == "undef":
                defined.pop(directive.text.strip(), None)
        now_active = not stack or stack[-1].active
        if was_active and not now_active:
            skip_from = directive.span.end_line + 1
        elif not was_active and now_active and skip_from is not None:
            skipped.append((skip_from, directive.span.line - 1))
            skip_from = None
    if skip_from is not None:  # an unterminated #if skips to the end
        skipped.append((skip_from, program.span.end_line))

    def is_active(node: ast.Node) -> bool:
        return not any(first <= node.span.line <= last for first, last in skipped)

    return ActiveItems(tuple(kept), tuple(d for d in program.c_definitions if is_active(d)))


def _step(stack: list[_Frame], name: str, text: str, defined: dict[str, str]) -> None:
    if name in ("if", "ifdef", "ifndef"):
        parent = not stack or stack[-1].active
        if name == "if":
            condition = _condition(text, defined)
        else:
            condition = (text.split() or [""])[0] in defined
            condition = condition if name == "ifdef" else not condition
        stack.append(_Frame(parent, parent and condition, parent and condition))
        return
    if not stack:  # a stray #else/#elif/#endif: the C preprocessor's error, not ours
        return
    frame = stack[-1]
    if name == "endif":
        stack.pop()
    elif name == "else":
        frame.active = frame.parent_active and not frame.taken
        frame.taken = True
    else:  # elif
        frame.active = frame.parent_active and not frame.taken and _condition(text, defined)
        frame.taken = frame.taken or frame.active


def _condition(text: str, defined: dict[str, str]) -> bool:
    """A `#if` expression: `defined(X)`, integers and macros; an unknown name
    counts as 0, as in C."""
    text = _DEFINED.sub(lambda m: "1" if (m.group(1) or m.group(2)) in defined else "0", text)
    for _ in range(8):  # expand object-like macros a few levels deep
        expanded = _IDENTIFIER.sub(lambda m: f"({defined[m.group()]})" if m.group() in defined else m.group(), text)
        if expanded == text:
            break
        text = expanded
    text = _IDENTIFIER.sub("0", text)
    return bool(evaluate_integer(text, {}))
