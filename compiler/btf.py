"""Kernel type information from BTF (/sys/kernel/btf/vmlinux), read in pure Python.

The format is the kernel's (Documentation/bpf/btf.rst, include/uapi/linux/btf.h):
a header, a type section of variable-length `btf_type` records (type ids count
from 1; 0 is void) and a string section.

Start-up matters more than completeness, so nothing is decoded eagerly. The
type section is scanned once for where each type id starts and which types
carry which name offset (about 60 ms for 126k types). That index is cached on
disk under ~/.cache/auger, keyed by the BTF's size and a hash of its first and
last MiB, so later runs load it in under a millisecond (reading and hashing
the 5.5 MB file costs about 10 ms). A name is found by searching the
deduplicated string section for it, which gives its offset without decoding
every name. Types are converted to `auger.compiler.types` objects one at a
time, when asked, and memoized.

Mapping choices:
- `char` is int8 (BTF gives it no sign; bpftrace treats it as signed);
  `_Bool` is BoolType; `float`/`double` become unsigned integers of their size
  (the language has no floats: their bits can still be read and printed).
- Pointers to functions (FUNC_PROTO) are `PointerType(VOID)`, like `void *`.
- Anonymous structs, unions and enums are named `(anon)#<type id>`.
- Bitfields: `FieldLayout.offset` is the byte holding the first bit,
  `bit_offset` (0-7) the bit inside it (little-endian), `bit_size` the width;
  a reader loads ceil((bit_offset + bit_size) / 8) bytes, shifts and masks.
- Members of anonymous struct/union members are flattened into the parent at
  their absolute offsets (`task->__state`-style access); on a name clash the
  first member wins.
"""

from __future__ import annotations

import bisect
import functools
import marshal
import os
import struct
from array import array

from .types import (
    BOOL,
    VOID,
    ArrayType,
    EnumType,
    FieldLayout,
    IntType,
    PointerType,
    RecordType,
    Type,
)

VMLINUX_PATH = "/sys/kernel/btf/vmlinux"
BTF_MAGIC = 0xEB9F

(KIND_INT, KIND_PTR, KIND_ARRAY, KIND_STRUCT, KIND_UNION, KIND_ENUM, KIND_FWD,
 KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT, KIND_FUNC,
 KIND_FUNC_PROTO, KIND_VAR, KIND_DATASEC, KIND_FLOAT, KIND_DECL_TAG,
 KIND_TYPE_TAG, KIND_ENUM64) = range(1, 20)

# Words (u32) that follow the 3-word btf_type header: a fixed part per kind,
# plus a per-member part times vlen. Index = kind.
_FIXED_WORDS = (0, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0)
_MEMBER_WORDS = (0, 0, 0, 0, 3, 3, 2, 0, 0, 0, 0, 0, 0, 2, 0, 3, 0, 0, 0, 3)
_NAMED_KINDS = frozenset((KIND_STRUCT, KIND_UNION, KIND_ENUM, KIND_FWD, KIND_TYPEDEF,
                          KIND_FUNC, KIND_ENUM64))
_ENUM_KINDS = (KIND_ENUM, KIND_ENUM64)
_MODIFIER_KINDS = frozenset((KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT,
                             KIND_TYPE_TAG))
_RECORD_KINDS = {KIND_STRUCT: "struct", KIND_UNION: "union"}

_INT_SIGNED = 1
_INT_BOOL = 4
_ANON_PREFIX = "(anon)#"
_INDEX_FORMAT = 3
_MIB = 1 << 20


class BtfError(Exception):
    """The data is not BTF this reader understands."""


class _Index:
    """Where each type id starts (word index); which named types carry which
    name offset (two parallel arrays sorted by offset); which enumerators
    carry which name offset (three parallel arrays sorted by offset: the
    name, the enum's type id, the enumerator's position in it). Indexing
    the kernel's ~60k enumerators when a script first named one took ~15 ms
    of every such run; in the cached index it costs nothing."""

    _ARRAYS = 6

    def __init__(self, starts: array, name_offsets: array, named_ids: array,
                 enumerator_names: array, enumerator_ids: array, enumerator_positions: array):
        self.starts = starts
        self.name_offsets = name_offsets
        self.named_ids = named_ids
        self.enumerator_names = enumerator_names
        self.enumerator_ids = enumerator_ids
        self.enumerator_positions = enumerator_positions

    @staticmethod
    def scan(words: memoryview) -> "_Index":
        starts = array("I", [0])
        name_offsets, named_ids = array("I"), array("I")
        enumerator_names, enumerator_ids, enumerator_positions = array("I"), array("I"), array("I")
        fixed, per_member, named = _FIXED_WORDS, _MEMBER_WORDS, _NAMED_KINDS
        i, end, type_id, kind = 0, len(words), 1, 0
        try:
            while i < end:
                info = words[i + 1]
                kind = (info >> 24) & 0x1F
                starts.append(i)
                if kind in named:
                    if words[i]:
                        name_offsets.append(words[i])
                        named_ids.append(type_id)
                    if kind == KIND_ENUM or kind == KIND_ENUM64:
                        count, stride = info & 0xFFFF, per_member[kind]
                        enumerator_names.extend(words[i + 3: i + 3 + stride * count: stride])
                        enumerator_ids.extend([type_id] * count)
                        enumerator_positions.extend(range(count))
                i += 3 + fixed[kind] + per_member[kind] * (info & 0xFFFF)
                type_id += 1
        except IndexError:
            raise BtfError(f"unknown BTF kind {kind} at type id {type_id}") from None
        return _Index(starts, *_sorted_by(name_offsets, named_ids),
                      *_sorted_by(enumerator_names, enumerator_ids, enumerator_positions))

    def ids_with_name(self, name_offset: int) -> array:
        low, high = _equal_range(self.name_offsets, name_offset)
        return self.named_ids[low:high]

    def enumerators_with_name(self, name_offset: int) -> list[tuple[int, int]]:
        """(enum type id, position) of each enumerator called so, in type id order."""
        low, high = _equal_range(self.enumerator_names, name_offset)
        return list(zip(self.enumerator_ids[low:high], self.enumerator_positions[low:high]))

    def dump(self) -> bytes:
        return marshal.dumps((_INDEX_FORMAT, self.starts.tobytes(), self.name_offsets.tobytes(),
                              self.named_ids.tobytes(), self.enumerator_names.tobytes(),
                              self.enumerator_ids.tobytes(), self.enumerator_positions.tobytes()))

    @staticmethod
    def load(blob: bytes) -> "_Index | None":
        try:
            version, *arrays = marshal.loads(blob)
            if version != _INDEX_FORMAT or len(arrays) != _Index._ARRAYS:
                return None
            return _Index(*(array("I", part) for part in arrays))
        except (ValueError, EOFError, TypeError):
            return None


def _sorted_by(keys: array, *values: array) -> tuple[array, ...]:
    """`keys` sorted, and `values` in the same order (stable: equal keys keep
    their order)."""
    order = sorted(range(len(keys)), key=keys.__getitem__)
    return tuple(array("I", map(column.__getitem__, order)) for column in (keys, *values))


def _equal_range(sorted_keys: array, key: int) -> tuple[int, int]:
    low = bisect.bisect_left(sorted_keys, key)
    return low, bisect.bisect_right(sorted_keys, key, low)


def _cache_path(data: bytes) -> str:
    import hashlib  # here, not at the top: only a BTF load pays its import time

    digest = hashlib.sha1(len(data).to_bytes(8, "little"))
    view = memoryview(data)
    digest.update(view[:_MIB])
    digest.update(view[-_MIB:])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "auger", f"btf-{digest.hexdigest()[:24]}.index")


def _load_or_scan(data: bytes, words: memoryview, cache: bool) -> _Index:
    if not cache:
        return _Index.scan(words)
    path = _cache_path(data)
    try:
        with open(path, "rb") as file:
            index = _Index.load(file.read())
    except OSError:
        index = None
    if index is not None:
        return index
    index = _Index.scan(words)
    try:  # an unwritable cache only costs the scan next time
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "wb") as file:
            file.write(index.dump())
        os.replace(temporary, path)
    except OSError:
        pass
    return index


class BtfTypes:
    """A `TypeSource` over one BTF blob (plus `enum`, `function`, `type_of`)."""

    def __init__(self, data: bytes, cache_index: bool = False):
        if len(data) < 24:
            raise BtfError("BTF data too short")
        magic, version, _flags, header_length = struct.unpack_from("=HBBI", data)
        if magic != BTF_MAGIC:
            raise BtfError("bad BTF magic (or foreign byte order)")
        if version != 1:
            raise BtfError(f"unsupported BTF version {version}")
        type_off, type_len, str_off, str_len = struct.unpack_from("=IIII", data, 8)
        type_start = header_length + type_off
        self._strings_start = header_length + str_off
        self._strings_end = self._strings_start + str_len
        if type_start % 4 or type_len % 4 or self._strings_end > len(data) \
                or type_start + type_len > len(data):
            raise BtfError("BTF sections out of bounds or misaligned")
        self._data = data
        self._words = memoryview(data)[type_start:type_start + type_len].cast("I")
        self._cache_index = cache_index
        self._index_built: _Index | None = None
        self._types: dict[int, Type] = {}
        self._record_ids: dict[tuple[str, str, int], int] = {}
        self._fields: dict[int, tuple[FieldLayout, ...]] = {}
        self._ids_by_name: dict[str, tuple[int, ...]] = {}

    @classmethod
    def from_bytes(cls, data: bytes) -> "BtfTypes":
        return cls(bytes(data))

    @classmethod
    def from_file(cls, path: str, cache_index: bool = True) -> "BtfTypes":
        with open(path, "rb") as file:
            return cls(file.read(), cache_index)

    # ------------------------------------------------------------ raw access

    @property
    def _index(self) -> _Index:
        if self._index_built is None:
            self._index_built = _load_or_scan(self._data, self._words, self._cache_index)
        return self._index_built

    def _start(self, type_id: int) -> int:
        starts = self._index.starts
        if not 0 < type_id < len(starts):
            raise BtfError(f"type id {type_id} out of range")
        return starts[type_id]

    def _kind(self, type_id: int) -> int:
        return (self._words[self._start(type_id) + 1] >> 24) & 0x1F

    def _string(self, offset: int) -> str:
        start = self._strings_start + offset
        end = self._data.find(b"\0", start, self._strings_end)
        return self._data[start:end if end >= 0 else self._strings_end].decode("utf-8", "replace")

    def _name_offset(self, name: str) -> int | None:
        """The offset of `name` in the string section. pahole and libbpf
        deduplicate BTF strings, so the first match is the only one."""
        position = self._data.find(b"\0" + name.encode() + b"\0",
                                   self._strings_start, self._strings_end)
        return None if position < 0 else position + 1 - self._strings_start

    def _ids_named(self, name: str) -> tuple[int, ...]:
        """Named types (struct, union, enum, fwd, typedef, func) called `name`."""
        found = self._ids_by_name.get(name)
        if found is None:
            offset = self._name_offset(name)
            found = () if offset is None else tuple(self._index.ids_with_name(offset))
            self._ids_by_name[name] = found
        return found

    def _skip_modifiers(self, type_id: int) -> int:
        """The type under typedef/const/volatile/restrict/type_tag layers."""
        while type_id and self._kind(type_id) in _MODIFIER_KINDS:
            type_id = self._words[self._start(type_id) + 2]
        return type_id

    def _type_name(self, type_id: int) -> str:
        name_off = self._words[self._start(type_id)]
        return self._string(name_off) if name_off else f"{_ANON_PREFIX}{type_id}"

    # ------------------------------------------------------------ conversion

    def type_of(self, type_id: int) -> Type:
        """The language type of a BTF type id (VOID for 0 and non-value kinds)."""
        converted = self._types.get(type_id)
        if converted is None:
            converted = self._types[type_id] = self._convert(type_id)
        return converted

    def _convert(self, type_id: int) -> Type:
        if type_id == 0:
            return VOID
        words = self._words
        at = self._start(type_id)
        info, size_or_type = words[at + 1], words[at + 2]
        kind = (info >> 24) & 0x1F
        if kind == KIND_INT:
            encoding = (words[at + 3] >> 24) & 0x0F
            if encoding & _INT_BOOL:
                return BOOL
            if self._type_name(type_id) == "char":
                return IntType(8, True)
            return IntType(size_or_type * 8, bool(encoding & _INT_SIGNED))
        if kind == KIND_PTR:
            target = self._skip_modifiers(size_or_type)
            if target and self._kind(target) == KIND_FUNC_PROTO:
                return PointerType(VOID)
            return PointerType(self.type_of(size_or_type))
        if kind == KIND_ARRAY:
            return ArrayType(self.type_of(words[at + 3]), words[at + 5])
        if kind in _RECORD_KINDS:
            record = RecordType(_RECORD_KINDS[kind], self._type_name(type_id), size_or_type)
            self._record_ids.setdefault((record.kind, record.name, record.byte_size), type_id)
            return record
        if kind in _ENUM_KINDS:
            return EnumType(self._type_name(type_id), size_or_type * 8, bool(info >> 31))
        if kind == KIND_FWD:
            record_kind = "union" if info >> 31 else "struct"
            name = self._type_name(type_id)
            return self.record(record_kind, name) or RecordType(record_kind, name, 0)
        if kind in _MODIFIER_KINDS:
            return self.type_of(size_or_type)
        if kind == KIND_FLOAT:
            return IntType(size_or_type * 8, False)
        return VOID  # FUNC, FUNC_PROTO, VAR, DATASEC, DECL_TAG: not value types

    # ------------------------------------------------------------ TypeSource

    def record(self, kind: str, name: str) -> RecordType | None:
        if name.startswith(_ANON_PREFIX):
            candidates: tuple[int, ...] = (int(name[len(_ANON_PREFIX):]),) \
                if name[len(_ANON_PREFIX):].isdigit() else ()
        else:
            candidates = self._ids_named(name)
        best = None
        for type_id in candidates:
            if not 0 < type_id < len(self._index.starts) or \
                    _RECORD_KINDS.get(self._kind(type_id)) != kind:
                continue
            record = self.type_of(type_id)
            # Several definitions can share a name; prefer one with members.
            if best is None or (best.byte_size == 0 and record.byte_size):
                best = record
        return best

    def fields(self, record: RecordType) -> tuple[FieldLayout, ...]:
        type_id = self._record_ids.get((record.kind, record.name, record.byte_size))
        if type_id is None:
            found = self.record(record.kind, record.name)
            if found != record:
                return ()
            type_id = self._record_ids[(record.kind, record.name, record.byte_size)]
        layout = self._fields.get(type_id)
        if layout is None:
            collected: dict[str, FieldLayout] = {}
            self._collect_members(type_id, 0, collected)
            layout = self._fields[type_id] = tuple(collected.values())
        return layout

    def _collect_members(self, type_id: int, base_bits: int,
                         collected: dict[str, FieldLayout]) -> None:
        words = self._words
        at = self._start(type_id)
        info = words[at + 1]
        has_bitfield_sizes = bool(info >> 31)
        for member in range(info & 0xFFFF):
            name_off, member_type, offset = words[at + 3 + 3 * member: at + 6 + 3 * member]
            if has_bitfield_sizes:
                bit_size, bit_offset = offset >> 24, offset & 0xFFFFFF
            else:
                bit_size, bit_offset = self._legacy_bitfield(member_type), offset
            bits = base_bits + bit_offset
            if not name_off:
                inner = self._skip_modifiers(member_type)
                if inner and self._kind(inner) in _RECORD_KINDS:
                    self._collect_members(inner, bits, collected)
                continue  # an unnamed bitfield is padding
            name = self._string(name_off)
            if name in collected:
                continue
            if bit_size:
                collected[name] = FieldLayout(name, self.type_of(member_type), bits // 8,
                                              bits % 8, bit_size)
            else:
                collected[name] = FieldLayout(name, self.type_of(member_type), bits // 8)

    def _legacy_bitfield(self, member_type: int) -> int:
        """Before kind_flag, a bitfield was an INT whose nr_bits is below its size."""
        inner = self._skip_modifiers(member_type)
        if not inner or self._kind(inner) != KIND_INT:
            return 0
        at = self._start(inner)
        bits = self._words[at + 3] & 0xFF
        return bits if bits != self._words[at + 2] * 8 else 0

    def typedef(self, name: str) -> Type | None:
        for type_id in self._ids_named(name):
            if self._kind(type_id) == KIND_TYPEDEF:
                return self.type_of(type_id)
        return None

    def enum(self, name: str) -> EnumType | None:
        """The enum type called `name` (`enum tcp_state` -> "tcp_state")."""
        for type_id in self._ids_named(name):
            if self._kind(type_id) in _ENUM_KINDS:
                return self.type_of(type_id)  # type: ignore[return-value]
        return None

    def enum_constant(self, name: str) -> tuple[EnumType, int] | None:
        name_offset = self._name_offset(name)
        if name_offset is None:
            return None
        for type_id, position in self._index.enumerators_with_name(name_offset):
            return self.type_of(type_id), self._enumerator_value(type_id, position)  # type: ignore[return-value]
        return None

    def _enumerator_value(self, type_id: int, position: int) -> int:
        words = self._words
        at = self._start(type_id)
        info = words[at + 1]
        if (info >> 24) & 0x1F == KIND_ENUM:
            value, bits = words[at + 4 + 2 * position], 32
        else:
            entry = at + 3 + 3 * position
            value, bits = words[entry + 1] | (words[entry + 2] << 32), 64
        if info >> 31 and value >> (bits - 1):  # kind_flag: the enum is signed
            value -= 1 << bits
        return value

    def type_id(self, name: str, kind: int) -> int | None:
        """The id of the type named `name` of BTF kind `kind` (KIND_FUNC,
        KIND_TYPEDEF, ...): what a program's attach_btf_id names."""
        return next((type_id for type_id in self._ids_named(name) if self._kind(type_id) == kind), None)

    def function(self, name: str) -> tuple[tuple[tuple[str, Type], ...], Type] | None:
        """A kernel function's parameters (name, type) and return type."""
        for type_id in self._ids_named(name):
            if self._kind(type_id) != KIND_FUNC:
                continue
            proto = self._words[self._start(type_id) + 2]
            at = self._start(proto)
            info = self._words[at + 1]
            parameters = []
            for position in range(info & 0xFFFF):
                name_off, param_type = self._words[at + 3 + 2 * position: at + 5 + 2 * position]
                if param_type == 0:  # the `...` of a variadic function
                    continue
                parameters.append((self._string(name_off), self.type_of(param_type)))
            return tuple(parameters), self.type_of(self._words[at + 2])
        return None


@functools.cache
def kernel_types() -> BtfTypes | None:
    """The running kernel's BTF, read and indexed once per process; None when
    it is missing or unreadable. Call it when a script first needs a kernel
    type, not before: it costs ~10 ms (~70 ms before the index is cached)."""
    try:
        types = BtfTypes.from_file(VMLINUX_PATH)
        types._index  # a BTF kind this reader does not know shows up here
        return types
    except (OSError, BtfError):
        return None
