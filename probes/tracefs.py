"""The kernel's tracefs: finding (and if need be mounting) it, listing its
events, and reading an event's format file into field layouts.

Mounting is a side effect of analysis, on purpose: expanding and typing a
tracepoint (`args`) needs its format file, and bpftrace likewise mounts
tracefs when it is not mounted. It happens only when a caller asks for
something in tracefs (tracepoint expansion and context, kprobe/fentry
function lists, `-l`), never for programs that use no such probe, and it is
tried at most once per process: a failed mount (no root, no tracefs in the
kernel) is not retried on every lookup.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

from auger.compiler.types import (
    INTEGER_TYPE_NAMES,
    ArrayType,
    BoolType,
    EnumType,
    FieldLayout,
    IntType,
    PointerType,
    RecordType,
    SpecialType,
    Type,
    VOID,
)

TRACEFS_MOUNTPOINTS = (Path("/sys/kernel/tracing"), Path("/sys/kernel/debug/tracing"))


def _mounted_tracefs() -> Path | None:
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    mounted = {Path(line.split()[1]) for line in mounts if len(line.split()) > 2 and line.split()[2] == "tracefs"}
    return next((path for path in TRACEFS_MOUNTPOINTS if path in mounted), None)


def root(mount: bool = True) -> Path | None:
    """Where tracefs is mounted; mounts it at /sys/kernel/tracing when it is
    not and `mount` is set and we may (root). None when unavailable."""
    found = _mounted_tracefs()
    if found is not None or not mount or os.geteuid() != 0:
        return found
    return _mount_once()


@functools.lru_cache(maxsize=1)
def _mount_once() -> Path | None:
    import subprocess

    try:
        subprocess.run(
            ["mount", "-t", "tracefs", "nodev", str(TRACEFS_MOUNTPOINTS[0])],
            check=True, capture_output=True, timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return _mounted_tracefs()


def read(relative: str) -> str | None:
    """A tracefs file's text, or None when tracefs or the file is not
    readable (no root, lockdown)."""
    base = root()
    if base is None:
        return None
    try:
        return (base / relative).read_text()
    except OSError:
        return None


def events() -> list[tuple[str, str]]:
    """Every tracepoint as (category, name), sorted."""
    text = read("available_events")
    if text is None:
        return []
    pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return sorted({(category, name) for category, name in pairs})


def accessible() -> bool:
    """Whether this process may read tracefs (it is root-only by default)."""
    base = root()
    return base is not None and os.access(base / "events", os.R_OK | os.X_OK)


def has_file(relative: str) -> bool:
    base = root()
    try:
        return base is not None and (base / relative).exists()
    except OSError:  # tracefs is root-only: not being able to look means no
        return False


@functools.lru_cache(maxsize=None)
def event_fields(category: str, name: str) -> tuple[FieldLayout, ...] | None:
    """The fields of a tracepoint's record, common_* fields left out (as
    bpftrace's `args` has them); None when there is no such tracepoint."""
    text = read(f"events/{category}/{name}/format")
    return None if text is None else parse_format(text)


_FIELD_LINE = re.compile(
    r"field:(?P<declaration>[^;]*);\s*offset:(?P<offset>\d+);\s*size:(?P<size>\d+);\s*(?:signed:(?P<signed>\d+);)?"
)


def parse_format(text: str) -> tuple[FieldLayout, ...]:
    """The fields of a tracepoint `format` file."""
    fields = []
    for match in _FIELD_LINE.finditer(text):
        type_text, name = _split_declaration(match.group("declaration").strip())
        if name.startswith("common_"):
            continue
        size = int(match.group("size"))
        signed = match.group("signed") == "1"
        name, field_type = field_type_of(type_text, name, size, signed)
        fields.append(FieldLayout(name, field_type, int(match.group("offset"))))
    return tuple(fields)


def _split_declaration(declaration: str) -> tuple[str, str]:
    """`const char * filename` -> (`const char *`, `filename`);
    `char comm[16]` -> (`char`, `comm[16]`)."""
    split_at = max(declaration.rfind(" "), declaration.rfind("\t"), declaration.rfind("*"))
    return declaration[:split_at + 1].strip(), declaration[split_at + 1:].strip()


_QUALIFIERS = {"const", "volatile", "__user", "__rcu", "__percpu", "__seg_gs", "__seg_fs", "__iomem", "restrict"}

# Kernel typedefs that tracepoint formats use, beyond the C spellings:
# name -> (bits, signed).
_TYPEDEF_INTEGERS = {
    **{f"{prefix}{bits}": (bits, prefix.endswith("s")) for prefix in ("s", "__s") for bits in (8, 16, 32, 64)},
    **{f"{prefix}{bits}": (bits, False) for prefix in ("u", "__u") for bits in (8, 16, 32, 64)},
    **{f"int{bits}_t": (bits, True) for bits in (8, 16, 32, 64)},
    **{f"uint{bits}_t": (bits, False) for bits in (8, 16, 32, 64)},
    "pid_t": (32, True), "tid_t": (32, True), "uid_t": (32, False), "gid_t": (32, False),
    "size_t": (64, False), "ssize_t": (64, True), "loff_t": (64, True), "off_t": (64, True),
    "time64_t": (64, True), "clockid_t": (32, True), "dev_t": (32, False), "ino_t": (64, False),
    "umode_t": (16, False), "gfp_t": (32, False), "sector_t": (64, False),
    "uint": (32, False), "ulong": (64, False),
}


def field_type_of(type_text: str, name: str, size: int, signed: bool) -> tuple[str, Type]:
    """The name and type of one format-file field.

    A field of a known integer type has that type, even in a wider slot:
    syscall tracepoints keep every argument in 8 bytes (`pid_t pid`,
    `signed:0`), and the argument's upper half is whatever the register
    held, so `kill(-5, 0)`'s pid reads as -5 only as the declared 32-bit
    `pid_t` (little-endian: the low half comes first), as bpftrace reads it.
    Other integers take the size and signed columns."""
    if type_text.startswith("__data_loc"):
        return name.rstrip("[]"), SpecialType("data_loc", 4)
    if type_text.startswith("__rel_loc"):
        return name.rstrip("[]"), SpecialType("rel_loc", 4)
    array = re.fullmatch(r"(?P<name>\w+)\[(?P<length>\w*)\]", name)
    if array:
        length = int(array.group("length"), 0) if array.group("length").isdigit() else 0
        element_size = size // length if length else 0
        element = _value_type(type_text, element_size, signed)
        return array.group("name"), ArrayType(element, length)
    return name, _value_type(type_text, size, signed)


def _value_type(type_text: str, size: int, signed: bool) -> Type:
    words = [word for word in type_text.replace("*", " * ").split() if word not in _QUALIFIERS]
    pointer_depth = words.count("*")
    base = " ".join(word for word in words if word != "*")
    if pointer_depth:
        target = _base_type(base, None, signed)
        for _ in range(pointer_depth - 1):
            target = PointerType(target)
        return PointerType(target)
    return _base_type(base, size, signed)


def _base_type(base: str, size: int | None, signed_column: bool) -> Type:
    """The type a base name stands for; `size` None means behind a pointer
    (the format gives only the pointer's own size)."""
    if base == "void":
        return VOID
    if base in ("bool", "_Bool"):
        return BoolType()
    kind_and_name = base.split(" ", 1)
    if kind_and_name[0] in ("struct", "union") and len(kind_and_name) == 2:
        # The format does not give the record's size; its layout comes from BTF by name.
        return RecordType(kind_and_name[0], kind_and_name[1], size or 0)
    if kind_and_name[0] == "enum" and len(kind_and_name) == 2:
        return EnumType(kind_and_name[1], (size or 4) * 8)
    known = INTEGER_TYPE_NAMES.get(base)
    if isinstance(known, IntType):
        return known
    if base in _TYPEDEF_INTEGERS:
        return IntType(*_TYPEDEF_INTEGERS[base])
    if size is None:
        return VOID  # pointer to an unknown typedef: an opaque address
    if size in (1, 2, 4, 8):
        return IntType(size * 8, signed_column)
    return ArrayType(IntType(8, False), size)
