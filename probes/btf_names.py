"""Names found in kernel BTF string tables (/sys/kernel/btf/*): enough to
list raw tracepoints by their `btf_trace_NAME` typedefs, per module.

compiler/btf.py has no public way to enumerate a blob's names (it finds
types by a given name), and module BTF files are split BTF, so only the
string section is read here, with btf.py's magic."""

from __future__ import annotations

import functools
import struct
from pathlib import Path

from auger.compiler.btf import BTF_MAGIC

BTF_DIRECTORY = Path("/sys/kernel/btf")
_HEADER = struct.Struct("<HBBIIIII")


def _strings(path: Path) -> list[bytes]:
    try:
        data = path.read_bytes()
    except OSError:
        return []
    if len(data) < _HEADER.size:
        return []
    magic, _version, _flags, header_length, _type_offset, _type_length, string_offset, string_length = _HEADER.unpack_from(data)
    if magic != BTF_MAGIC:
        return []
    start = header_length + string_offset
    return data[start:start + string_length].split(b"\0")


@functools.lru_cache(maxsize=1)
def raw_tracepoints() -> tuple[tuple[str, str], ...]:
    """(module, tracepoint) for every raw tracepoint the kernel's BTF
    describes; module `vmlinux` for the core kernel. Sorted; empty without BTF."""
    prefix = b"btf_trace_"
    found = set()
    if BTF_DIRECTORY.is_dir():
        for path in BTF_DIRECTORY.iterdir():
            for string in _strings(path):
                if string.startswith(prefix):
                    found.add((path.name, string[len(prefix):].decode("utf-8", "replace")))
    return tuple(sorted(found))
