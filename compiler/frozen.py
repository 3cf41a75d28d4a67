"""Frozen value classes that are cheap to define.

`dataclasses` compiles source text for `__init__`, `__setattr__` and
`__delattr__` of each class (and builds a docstring from `inspect.signature`);
with the AST's and the type model's sixty-odd classes that was about a fifth
of a one-liner's start-up. `frozen` makes the same classes without that:

  - `__init__` is compiled when a class is first instantiated (a run uses
    few of the AST's node kinds), once per shape (field names, number of
    defaults), and shared by every class of that shape;
  - the frozen guards and equality, hashing and repr are `Value`'s, and
    compare the fields in declaration order, as dataclasses' own would.

The classes stay dataclasses to everyone else: `dataclasses.fields`,
`replace`, `is_dataclass`, `__match_args__` and `@dataclass` subclasses
(frozen ones, as dataclasses requires) work on them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import FrozenInstanceError, dataclass, fields

_MISSING = dataclasses.MISSING
# The marker dataclasses puts on an ordinary (not ClassVar/InitVar) field;
# `fields()` and `replace()` look for it.
_FIELD_KIND = dataclasses._FIELD


@dataclass(frozen=True, eq=False, repr=False)
class _Reference:
    """Lends its `__dataclass_params__` (frozen=True) to every `frozen` class,
    so `@dataclass(frozen=True)` subclasses accept them as bases."""


_INIT_CODE: dict[tuple[tuple[str, ...], int], object] = {}
_INIT_GLOBALS = {"_set": object.__setattr__}
_FunctionType = type(lambda: None)


def frozen(cls: type) -> type:
    """Make `cls` a frozen value class with one field per annotation (its own
    after its bases'), as `@dataclass(frozen=True, eq=False, repr=False)`."""
    all_fields: dict[str, dataclasses.Field] = {}
    for base in reversed(cls.__mro__[1:]):
        all_fields.update(base.__dict__.get("__dataclass_fields__", {}))
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        if isinstance(annotation, str) and annotation.startswith(("ClassVar", "typing.ClassVar")):
            continue
        field = dataclasses.field(default=cls.__dict__.get(name, _MISSING), kw_only=False)
        field.name, field.type, field._field_type = name, annotation, _FIELD_KIND
        all_fields[name] = field
    names = tuple(all_fields)
    defaults = tuple(f.default for f in all_fields.values() if f.default is not _MISSING)
    if any(f.default is _MISSING for f in list(all_fields.values())[len(names) - len(defaults):]):
        raise TypeError(f"{cls.__name__}: a field without a default follows one with a default")
    cls.__init__ = _deferred_init(cls, names, defaults)
    cls.__dataclass_fields__ = all_fields
    cls.__dataclass_params__ = _Reference.__dataclass_params__
    cls.__match_args__ = names
    return cls


def _deferred_init(cls: type, names: tuple[str, ...], defaults: tuple):
    def __init__(self, *args, **kwargs):
        init = _FunctionType(_init_code(names, len(defaults)), _INIT_GLOBALS, "__init__", defaults or None)
        init.__qualname__ = f"{cls.__qualname__}.__init__"
        cls.__init__ = init
        init(self, *args, **kwargs)

    return __init__


def _init_code(names: tuple[str, ...], default_count: int):
    key = (names, default_count)
    code = _INIT_CODE.get(key)
    if code is None:
        required = len(names) - default_count
        parameters = ", ".join(
            ["self", *names[:required], *(f"{name}=None" for name in names[required:])]
        )
        body = "".join(f"\n    _set(self, {name!r}, {name})" for name in names) or "\n    pass"
        namespace: dict = {}
        exec(f"def __init__({parameters}):{body}", _INIT_GLOBALS, namespace)
        code = _INIT_CODE[key] = namespace["__init__"].__code__
    return code


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

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")
