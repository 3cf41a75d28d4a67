"""Loads that bcc_prog_load cannot make, with the raw BPF_PROG_LOAD command:

- programs with callback functions (for-loops over maps): the kernel wants
  BTF function info for them (a BPF_PSEUDO_FUNC load of a callback is
  refused with "missing btf func_info" otherwise). This module builds the
  smallest BTF that describes the functions (the main program `long
  f(void *ctx)`, global; each callback `long f(void *, void *, void *,
  void *)`, static) and loads it;
- fentry/fexit (BPF_PROG_TYPE_TRACING) programs, which name their kernel
  function at load time: `expected_attach_type` and `attach_btf_id` (the
  FUNC's type id in vmlinux BTF; `attach_btf_obj_fd` 0 means vmlinux).
"""

from __future__ import annotations

import ctypes
import struct
from typing import Sequence

from .libbcc import bpf_syscall, failure

BPF_PROG_LOAD = 5
BPF_BTF_LOAD = 18

_BTF_MAGIC = 0xEB9F
_KIND_INT, _KIND_PTR, _KIND_FUNC, _KIND_FUNC_PROTO = 1, 2, 12, 13
_INT_SIGNED = 1
_LINKAGE_STATIC, _LINKAGE_GLOBAL = 0, 1
_LONG, _POINTER, _MAIN_PROTO, _CALLBACK_PROTO = 1, 2, 3, 4  # type ids, in the order made below
_CALLBACK_PARAMETERS = ("map", "key", "value", "context")

c_u32, c_u64 = ctypes.c_uint32, ctypes.c_uint64


class BtfLoadAttr(ctypes.Structure):
    # union bpf_attr, the BPF_BTF_LOAD member
    _fields_ = [("btf", c_u64), ("btf_log_buf", c_u64), ("btf_size", c_u32), ("btf_log_size", c_u32),
                ("btf_log_level", c_u32)]  # fmt: skip


class ProgLoadAttr(ctypes.Structure):
    # union bpf_attr, the BPF_PROG_LOAD member up to attach_btf_obj_fd
    _fields_ = [
        ("prog_type", c_u32), ("insn_cnt", c_u32), ("insns", c_u64), ("license", c_u64),
        ("log_level", c_u32), ("log_size", c_u32), ("log_buf", c_u64), ("kern_version", c_u32),
        ("prog_flags", c_u32), ("prog_name", ctypes.c_char * 16), ("prog_ifindex", c_u32),
        ("expected_attach_type", c_u32), ("prog_btf_fd", c_u32), ("func_info_rec_size", c_u32),
        ("func_info", c_u64), ("func_info_cnt", c_u32), ("line_info_rec_size", c_u32),
        ("line_info", c_u64), ("line_info_cnt", c_u32), ("attach_btf_id", c_u32), ("attach_btf_obj_fd", c_u32),
    ]  # fmt: skip


def function_btf(names: list[str]) -> bytes:
    """BTF for the program's functions: names[0] is the main program, the
    others callbacks; their FUNC types get ids 5, 6, ... in that order."""
    strings = bytearray(b"\0")

    def name(text: str) -> int:
        offset = len(strings)
        strings.extend(text.encode() + b"\0")
        return offset

    types = bytearray()

    def add(name_offset: int, kind: int, vlen: int, size_or_type: int, extra: bytes = b"") -> None:
        types.extend(struct.pack("<III", name_offset, (kind << 24) | vlen, size_or_type) + extra)

    add(name("long"), _KIND_INT, 0, 8, struct.pack("<I", (_INT_SIGNED << 24) | 64))
    add(0, _KIND_PTR, 0, 0)
    add(0, _KIND_FUNC_PROTO, 1, _LONG, struct.pack("<II", name("ctx"), _POINTER))
    add(0, _KIND_FUNC_PROTO, 4, _LONG,
        b"".join(struct.pack("<II", name(parameter), _POINTER) for parameter in _CALLBACK_PARAMETERS))
    for index, function in enumerate(names):
        linkage, proto = (_LINKAGE_GLOBAL, _MAIN_PROTO) if index == 0 else (_LINKAGE_STATIC, _CALLBACK_PROTO)
        add(name(function), _KIND_FUNC, linkage, proto)
    header = struct.pack("<HBBIIIII", _BTF_MAGIC, 1, 0, 24, 0, len(types), len(types), len(strings))
    return header + bytes(types) + bytes(strings)


def load_btf(data: bytes) -> int:
    """The fd of the loaded BTF."""
    buffer = ctypes.create_string_buffer(data, len(data))
    log = ctypes.create_string_buffer(1 << 16)
    attr = BtfLoadAttr(btf=ctypes.addressof(buffer), btf_size=len(data), btf_log_buf=ctypes.addressof(log),
                       btf_log_size=len(log), btf_log_level=1)  # fmt: skip
    result = bpf_syscall(BPF_BTF_LOAD, attr)
    if result < 0:
        raise failure("loading the program's BTF", -result, log=log.value.decode("utf-8", "replace"))
    return result


def load_program(type: int, code: bytes, name: str, license: str, log_level: int, log_size: int, *,
                 btf_fd: int | None = None, function_starts: Sequence[int] = (),
                 attach_type: int = 0, attach_btf_id: int = 0) -> tuple[int, int, str]:  # fmt: skip
    """BPF_PROG_LOAD: (fd or -1, errno, log). With `btf_fd`, func_info
    too: function i starts at instruction function_starts[i], its FUNC type
    id is 5 + i (function_btf's order)."""
    instructions = ctypes.create_string_buffer(code, len(code))
    license_text = ctypes.create_string_buffer(license.encode())
    records = b"".join(struct.pack("<II", start, _CALLBACK_PROTO + 1 + index)
                       for index, start in enumerate(function_starts))  # fmt: skip
    func_info = ctypes.create_string_buffer(records, len(records) or 1)
    log = ctypes.create_string_buffer(log_size)
    attr = ProgLoadAttr(
        prog_type=type, insn_cnt=len(code) // 8, insns=ctypes.addressof(instructions),
        license=ctypes.addressof(license_text), log_level=log_level, log_size=log_size if log_level else 0,
        log_buf=ctypes.addressof(log) if log_level else 0, prog_name=name.encode()[:15],
        expected_attach_type=attach_type, attach_btf_id=attach_btf_id,
    )  # fmt: skip
    if btf_fd is not None:
        attr.prog_btf_fd, attr.func_info_rec_size = btf_fd, 8
        attr.func_info, attr.func_info_cnt = ctypes.addressof(func_info), len(function_starts)
    result = bpf_syscall(BPF_PROG_LOAD, attr)
    text = log.value.decode("utf-8", "replace")
    return (result, 0, text) if result >= 0 else (-1, -result, text)
