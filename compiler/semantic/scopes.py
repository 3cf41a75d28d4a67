"""Scratch variables (`$x`): one set per probe, `let` and implicit
declarations scoped to the block they appear in, and the type each keeps
from its first assignment (or its `let $x: type`)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from auger.compiler.diagnostics import Span
from auger.compiler.types import Type


@dataclass
class Binding:
    """A variable in scope. `type` is None until a value of known type is
    assigned; `fixed` is set by `let $x: type`, which assignments must fit;
    `assigned` once a value was stored (even one whose type is not known yet)."""

    name: str
    span: Span
    type: Type | None = None
    fixed: bool = False
    assigned: bool = False
    read: bool = False


class Scopes:
    def __init__(self) -> None:
        self._frames: list[dict[str, Binding]] = [{}]
        # Every variable the probe declared, for codegen's stack slots.
        self.all: list[Binding] = []

    @contextmanager
    def block(self) -> Iterator[None]:
        self._frames.append({})
        try:
            yield
        finally:
            self._frames.pop()

    def lookup(self, name: str) -> Binding | None:
        for frame in reversed(self._frames):
            if name in frame:
                return frame[name]
        return None

    def declare(self, name: str, span: Span, type_: Type | None = None, fixed: bool = False,
                assigned: bool = False) -> Binding:
        """A new variable in the innermost block, shadowing any outer one."""
        binding = Binding(name, span, type_, fixed, assigned)
        self._frames[-1][name] = binding
        self.all.append(binding)
        return binding

    def is_declared_here(self, name: str) -> bool:
        return name in self._frames[-1]
