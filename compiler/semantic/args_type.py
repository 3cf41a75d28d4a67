"""The type of the `args` builtin: the probe's context record, whose fields
the probe provider described (tracepoint format, BTF function prototype)."""

from __future__ import annotations

from dataclasses import dataclass

from auger.compiler.types import FieldLayout, Type


@dataclass(frozen=True)
class ArgsType(Type):
    probe: str
    fields: tuple[FieldLayout, ...]

    @property
    def size(self) -> int:
        return max((f.offset + f.type.size for f in self.fields), default=0)

    def field(self, name: str) -> FieldLayout | None:
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        return None

    def __str__(self) -> str:
        return f"struct {self.probe}_args"
