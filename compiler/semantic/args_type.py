"""The type of the `args` builtin: the probe's context record, whose fields
the probe provider described (tracepoint format, BTF function prototype)."""

from __future__ import annotations

from dataclasses import replace

from auger.compiler.frozen import frozen
from auger.compiler.types import ArrayType, FieldLayout, PointerType, RecordType, Type, TypeSource


@frozen
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


def complete_fields(fields: tuple[FieldLayout, ...], source: TypeSource) -> tuple[FieldLayout, ...]:
    """`fields` with every record the provider named without a layout (a
    tracepoint format says `struct __kernel_timespec *` and no size)
    replaced by the complete record of that name from `source` (BTF), so
    members can be reached through it."""
    return tuple(replace(field, type=complete_type(field.type, source)) for field in fields)


def complete_type(type_: Type, source: TypeSource) -> Type:
    if isinstance(type_, PointerType):
        return PointerType(complete_type(type_.target, source))
    if isinstance(type_, ArrayType):
        return ArrayType(complete_type(type_.element, source), type_.length)
    if isinstance(type_, RecordType) and type_.byte_size == 0:
        return source.record(type_.kind, type_.name) or type_
    return type_
