"""Several TypeSources asked in order: the script's definitions, then kernel BTF."""

from __future__ import annotations

from typing import Sequence

from .type_names import enum_type
from .types import EnumType, FieldLayout, RecordType, Type, TypeSource


class TypeSourceChain:
    """A TypeSource whose answer is the first source's that knows the name."""

    def __init__(self, sources: Sequence[TypeSource]):
        self.sources = tuple(sources)

    def record(self, kind: str, name: str) -> RecordType | None:
        for source in self.sources:
            found = source.record(kind, name)
            if found is not None:
                return found
        return None

    def fields(self, record: RecordType) -> tuple[FieldLayout, ...]:
        # Each source lays out only records it defines (same kind, name and
        # size), so a script struct shadowing a kernel one by name leaves the
        # kernel's own (reached through kernel members) intact.
        for source in self.sources:
            found = source.fields(record)
            if found:
                return found
        return ()

    def typedef(self, name: str) -> Type | None:
        for source in self.sources:
            found = source.typedef(name)
            if found is not None:
                return found
        return None

    def enum(self, name: str) -> EnumType | None:
        for source in self.sources:
            found = enum_type(name, source)
            if found is not None:
                return found
        return None

    def enum_constant(self, name: str) -> tuple[EnumType, int] | None:
        for source in self.sources:
            found = source.enum_constant(name)
            if found is not None:
                return found
        return None
