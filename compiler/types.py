"""Type objects of the language: what the analyser infers and codegen lowers.

Types are frozen and hashable, so a map's type can be compared across uses.
C aggregates (struct/union) are referred to by name (`RecordType`); their
layout comes from a `TypeSource` (kernel BTF, the script's own C definitions),
which keeps cyclic kernel types (task_struct -> ... -> task_struct *) finite.
"""

from __future__ import annotations

from typing import Protocol

from .frozen import Value, frozen


@frozen
class Type(Value):
    @property
    def size(self) -> int:
        """Size in bytes as stored in a map or event record."""
        raise NotImplementedError(type(self).__name__)


@frozen
class VoidType(Type):
    """The type of a call that yields no value (printf, exit, ...)."""

    @property
    def size(self) -> int:
        return 0

    def __str__(self) -> str:
        return "none"


@frozen
class IntType(Type):
    bits: int = 64
    signed: bool = True

    @property
    def size(self) -> int:
        return self.bits // 8

    def __str__(self) -> str:
        return f"{'' if self.signed else 'u'}int{self.bits}"


@frozen
class BoolType(Type):
    @property
    def size(self) -> int:
        return 1

    def __str__(self) -> str:
        return "bool"


@frozen
class StringType(Type):
    """A NUL-terminated string in a buffer of `length` bytes (NUL included)."""

    length: int

    @property
    def size(self) -> int:
        return self.length

    def __str__(self) -> str:
        return f"string[{self.length}]"


@frozen
class BufferType(Type):
    """The result of buf(): raw bytes, printed hex-escaped (`%r`)."""

    length: int

    @property
    def size(self) -> int:
        return self.length + 1  # a length byte in front, as bpftrace keeps it

    def __str__(self) -> str:
        return f"buffer[{self.length}]"


@frozen
class PointerType(Type):
    target: Type

    @property
    def size(self) -> int:
        return 8

    def __str__(self) -> str:
        return f"{self.target} *"


@frozen
class ArrayType(Type):
    element: Type
    length: int

    @property
    def size(self) -> int:
        return self.element.size * self.length

    def __str__(self) -> str:
        return f"{self.element}[{self.length}]"


@frozen
class RecordType(Type):
    """A C struct or union, by name; `byte_size` is its sizeof."""

    kind: str  # "struct" or "union"
    name: str
    byte_size: int

    @property
    def size(self) -> int:
        return self.byte_size

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


@frozen
class EnumType(Type):
    name: str
    bits: int = 32
    signed: bool = False

    @property
    def size(self) -> int:
        return self.bits // 8

    def __str__(self) -> str:
        return f"enum {self.name}"


@frozen
class TupleType(Type):
    elements: tuple[Type, ...]

    @property
    def size(self) -> int:
        return sum(_aligned(t.size) for t in self.elements)

    def __str__(self) -> str:
        return "(" + ",".join(str(t) for t in self.elements) + ")"


@frozen
class NamedTupleType(Type):
    """A record value `(a = 1, b = "x")`."""

    names: tuple[str, ...]
    elements: tuple[Type, ...]

    @property
    def size(self) -> int:
        return sum(_aligned(t.size) for t in self.elements)

    def __str__(self) -> str:
        return "(" + ",".join(f"{n}={t}" for n, t in zip(self.names, self.elements)) + ")"


@frozen
class StackType(Type):
    """kstack / ustack: `mode` is bpftrace/perf/raw, `limit` the frame count."""

    user: bool
    mode: str = "bpftrace"
    limit: int = 127

    @property
    def size(self) -> int:
        return 16  # a hash of the frames, then the pid (ustack) or 0 (kstack)

    def __str__(self) -> str:
        return f"{'u' if self.user else 'k'}stack"


@frozen
class SpecialType(Type):
    """A value that is an integer in the kernel but prints specially:
    ksym, usym, timestamp, inet (ntop), macaddr, username, cgroup_path,
    probe (the probe's name), kernel/user symbol addresses."""

    kind: str
    byte_size: int = 8

    @property
    def size(self) -> int:
        return self.byte_size

    def __str__(self) -> str:
        return self.kind


AGGREGATE_KINDS = ("count", "sum", "min", "max", "avg", "stats", "hist", "lhist")


@frozen
class AggregateType(Type):
    """The value of a map assigned an aggregation: `@x = count()`.
    `parameters` holds the literal arguments that shape it (hist's k, lhist's
    min/max/step), which must agree across every use of the map."""

    kind: str
    signed: bool = True
    parameters: tuple[int, ...] = ()

    @property
    def size(self) -> int:
        return 8

    def __str__(self) -> str:
        return f"{self.kind}_t"


# Shorthands used throughout the analyser.
INT64 = IntType(64, True)
UINT64 = IntType(64, False)
UINT32 = IntType(32, False)
INT32 = IntType(32, True)
BOOL = BoolType()
VOID = VoidType()

# Names a script may use for integer types in casts and declarations.
INTEGER_TYPE_NAMES: dict[str, IntType] = {
    "int8": IntType(8, True),
    "int16": IntType(16, True),
    "int32": IntType(32, True),
    "int64": IntType(64, True),
    "uint8": IntType(8, False),
    "uint16": IntType(16, False),
    "uint32": IntType(32, False),
    "uint64": IntType(64, False),
    # C spellings, as BTF and script definitions use them (LP64).
    "char": IntType(8, True),
    "signed char": IntType(8, True),
    "unsigned char": IntType(8, False),
    "short": IntType(16, True),
    "short int": IntType(16, True),
    "unsigned short": IntType(16, False),
    "unsigned short int": IntType(16, False),
    "int": IntType(32, True),
    "signed": IntType(32, True),
    "signed int": IntType(32, True),
    "unsigned": IntType(32, False),
    "unsigned int": IntType(32, False),
    "long": IntType(64, True),
    "long int": IntType(64, True),
    "unsigned long": IntType(64, False),
    "unsigned long int": IntType(64, False),
    "long long": IntType(64, True),
    "long long int": IntType(64, True),
    "unsigned long long": IntType(64, False),
    "unsigned long long int": IntType(64, False),
    "_Bool": BoolType(),
}


def _aligned(size: int) -> int:
    return (size + 7) // 8 * 8


@frozen
class FieldLayout(Value):
    """One member of a C aggregate: byte offset, and bit offset/size for
    bitfields (bit_size 0 for an ordinary member)."""

    name: str
    type: Type
    offset: int
    bit_offset: int = 0
    bit_size: int = 0


class TypeSource(Protocol):
    """Where C type information comes from (kernel BTF, script definitions)."""

    def record(self, kind: str, name: str) -> RecordType | None:
        """The struct/union of that name, or None."""

    def fields(self, record: RecordType) -> tuple[FieldLayout, ...]:
        """The members of a record; anonymous inner members are flattened in."""

    def typedef(self, name: str) -> Type | None:
        """What a typedef name (`pid_t`, `u64`) stands for, or None."""

    def enum_constant(self, name: str) -> tuple[EnumType, int] | None:
        """An enumerator's type and value, or None."""

    def enum(self, name: str) -> EnumType | None:
        """The enum type of that name (`enum tcp_state`), or None."""
