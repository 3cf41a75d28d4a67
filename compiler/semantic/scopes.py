"""Scratch variables (`$x`): one set per probe, `let` and implicit
declarations scoped to the block they appear in, and the type each keeps
from its first assignment (or its `let $x: type`).

bpftrace 0.17 had one scope per probe: `if (c) { $a = 1 } else { $a = 2 }
print($a)` is one variable, and its tools rely on that. So a variable first
assigned (without `let`) in a block that has ended stays reachable: a later
use with no variable of that name in scope is that one."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from auger.compiler.diagnostics import Span
from auger.compiler.types import Type


class Binding:
    """A variable in scope. `type` is None until a value of known type is
    assigned; `fixed` is set by `let $x: type`, which assignments must fit;
    `assigned` once a value was stored (even one whose type is not known yet);
    `implicit`: declared by its first assignment, not by `let`."""

    __slots__ = ("name", "span", "type", "fixed", "assigned", "read", "implicit")

    def __init__(self, name: str, span: Span, type: Type | None, fixed: bool, assigned: bool,
                 implicit: bool) -> None:
        self.name = name
        self.span = span
        self.type = type
        self.fixed = fixed
        self.assigned = assigned
        self.read = False
        self.implicit = implicit


class Scopes:
    def __init__(self) -> None:
        self._frames: list[dict[str, Binding]] = [{}]
        # Implicit variables of blocks that have ended, by name: 0.17's scope.
        self._ended: dict[str, Binding] = {}
        # Every variable the probe declared, for codegen's stack slots.
        self.all: list[Binding] = []

    @contextmanager
    def block(self) -> Iterator[None]:
        self._frames.append({})
        try:
            yield
        finally:
            for name, binding in self._frames.pop().items():
                if binding.implicit:
                    self._ended.setdefault(name, binding)

    def lookup(self, name: str) -> Binding | None:
        for frame in reversed(self._frames):
            if name in frame:
                return frame[name]
        return None

    def ended(self, name: str) -> Binding | None:
        """The variable of that name first assigned in a block that has ended."""
        return self._ended.get(name)

    def declare(self, name: str, span: Span, type_: Type | None = None, fixed: bool = False,
                assigned: bool = False, implicit: bool = False) -> Binding:
        """A new variable in the innermost block, shadowing any outer one."""
        binding = Binding(name, span, type_, fixed, assigned, implicit=implicit)
        self._frames[-1][name] = binding
        self.all.append(binding)
        return binding

    def is_declared_here(self, name: str) -> bool:
        return name in self._frames[-1]
