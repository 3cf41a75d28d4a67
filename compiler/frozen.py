"""Frozen value classes that are cheap to define.

`dataclasses` compiles source text for each method of each class; with the
AST's and the type model's sixty-odd classes, defining `__eq__`, `__hash__`
and `__repr__` that way was about a fifth of a one-liner's start-up. Classes
made with `frozen` get only `__init__` and the frozen guards from
dataclasses; equality, hashing and repr come from `Value` and compare the
fields in declaration order, as dataclasses' own would.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

frozen = dataclass(frozen=True, eq=False, repr=False)


class Value:
    __slots__ = ()

    def _field_values(self) -> tuple:
        return tuple(getattr(self, f.name) for f in fields(self))

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._field_values() == other._field_values()

    def __hash__(self) -> int:
        return hash((type(self), self._field_values()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))
        return f"{type(self).__name__}({inner})"
