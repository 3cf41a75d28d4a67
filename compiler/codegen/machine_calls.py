"""Value functions that read the machine rather than the program's values,
lowered as a mixin of ExpressionLowering: clocks (`nsecs(MODE)`), saved
registers (`reg("ip")`), cgroups (`cgroupid(PATH)`, `cgroup_path(ID)`) and
user symbol addresses (`uaddr("name")`). Paths and symbols are resolved
when compiling, as bpftrace does: the program carries the number.
"""

from __future__ import annotations

import ctypes
import os
import struct
import time

import llvmlite.ir as ir

from auger.compiler import ast
from auger.compiler.diagnostics import CompileError, error
from auger.compiler.elf import SHT_DYNSYM, SHT_SYMTAB, ElfError, ElfFile
from auger.compiler.resources import unsupported
from auger.compiler.semantic.literals import literal_string

from . import context
from .helpers import I64, KTIME_GET_BOOT_NS, KTIME_GET_NS, KTIME_GET_TAI_NS, call_helper

_CLOCKS = {"monotonic": KTIME_GET_NS, "boot": KTIME_GET_BOOT_NS, "tai": KTIME_GET_TAI_NS}
_USER_PROVIDERS = ("uprobe", "uretprobe", "usdt")
_E_TYPE_OFFSET, _ET_EXEC = 16, 2  # the ELF header's e_type; a fixed-address executable


class MachineCalls:
    def _call_nsecs(self, node: ast.Call) -> ir.Value:
        """nsecs(monotonic | boot | tai | sw_tai). sw_tai is bpftrace's TAI
        for kernels without the TAI helper: the boot clock plus TAI's offset
        from it, measured when compiling (compile and run are one session)."""
        mode = node.args[0].name if node.args else "monotonic"
        if mode != "sw_tai":
            return call_helper(self.builder, _CLOCKS[mode])
        offset = time.clock_gettime_ns(time.CLOCK_TAI) - time.clock_gettime_ns(time.CLOCK_BOOTTIME)
        return self.builder.add(call_helper(self.builder, KTIME_GET_BOOT_NS), ir.Constant(I64, offset))

    def _call_reg(self, node: ast.Call) -> ir.Value:
        name = literal_string(node.args[0])
        value = context.register(self.fn, name)
        if value is None:
            raise unsupported(f'reg("{name}") in {self.fn.group.provider} probes', node.span)
        return value

    def _call_cgroupid(self, node: ast.Call) -> ir.Value:
        path = literal_string(node.args[0])
        try:
            return ir.Constant(I64, cgroup_id(path))
        except OSError as problem:
            raise CompileError([error(f"Failed to get cgroupid for '{path}': {problem.strerror}", node.span)]) from None

    def _call_cgroup_path(self, node: ast.Call) -> ir.Value:
        """The id, then the hierarchy filter's index + 1 in
        ResourcePlan.cgroup_path_filters (0: every hierarchy); userspace
        finds the paths (runtime/cgroups.py)."""
        if len(node.args) == 1:
            return self._words(node, [self.lower(node.args[0]), ir.Constant(I64, 0)])
        pattern = literal_string(node.args[1])
        if pattern is None:
            raise unsupported("cgroup_path() with a filter that is not a string literal", node.args[1].span)
        filter_index = self.fn.plan.cgroup_path_filters.index(pattern) + 1
        return self._words(node, [self.lower(node.args[0]), ir.Constant(I64, filter_index)])

    def _call_uaddr(self, node: ast.Call) -> ir.Value:
        """The symbol's address in the traced process. In a fixed-address
        executable it is the symbol's value. In a position-independent file
        (a PIE executable, a library) the program adds where the file is
        loaded, found from the probe's own address: the hit's ip in a
        uprobe (the probed instruction), the function's address in a
        uretprobe (bpf_get_func_ip), less their addresses in the file."""
        name = literal_string(node.args[0])
        group = self.fn.group
        binaries = {spec.target for spec in group.specs}
        if group.provider not in _USER_PROVIDERS or len(binaries) != 1:
            raise unsupported("uaddr() outside uprobes of one binary", node.span)
        (binary,) = binaries
        address, fixed = _symbol_address(binary, name)
        if address is None:
            raise CompileError([error(f"Could not resolve symbol: {binary}:{name}", node.span)])
        if fixed:
            return ir.Constant(I64, address)
        probed = _probe_address(group) if group.provider != "usdt" and len(group.specs) == 1 else None
        if probed is None:
            raise unsupported(f"uaddr() in the position-independent {binary} from {group.provider} probes "
                              "other than one uprobe or uretprobe on a function", node.span)
        return self.builder.add(context.probed_address(self.fn), ir.Constant(I64, address - probed))


class _FileHandle(ctypes.Structure):
    # struct file_handle with room for a cgroup's 8-byte handle
    _fields_ = [("handle_bytes", ctypes.c_uint), ("handle_type", ctypes.c_int), ("handle", ctypes.c_uint64)]


def cgroup_id(path: str) -> int:
    """The id of the cgroup (v2) directory at `path`: its file handle, as
    bpf_get_current_cgroup_id() returns it (name_to_handle_at; OSError)."""
    libc = ctypes.CDLL(None, use_errno=True)
    handle, mount_id = _FileHandle(handle_bytes=8), ctypes.c_int()
    if libc.name_to_handle_at(-100, os.fsencode(path), ctypes.byref(handle), ctypes.byref(mount_id), 0) < 0:  # AT_FDCWD
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number), path)
    return handle.handle


def _symbol_address(path: str, name: str) -> tuple[int | None, bool]:
    """The value of symbol `name` (a function or an object) in the ELF file
    at `path` (None when it has none), and whether the file is a
    fixed-address executable, where that value is the run-time address."""
    try:
        elf = ElfFile.read(path)
    except ElfError:
        return None, True
    (file_type,) = struct.unpack_from("<H", elf.data, _E_TYPE_OFFSET)
    tables = elf.sections_of_type(SHT_SYMTAB) + elf.sections_of_type(SHT_DYNSYM)
    value = next((symbol.value for table in tables for symbol in elf.symbols(table)
                  if symbol.name == name and symbol.section_index and symbol.value), None)  # fmt: skip
    return value, file_type == _ET_EXEC


def _probe_address(group) -> int | None:
    """The address in its file of the one attach point of a uprobe group:
    the instruction a uprobe probes, the function a uretprobe returns from
    (what `func` gives at run time)."""
    from auger.probes.elf_symbols import function_symbols  # here: it loads subprocess, which a dry run need not

    (spec,) = group.specs
    if spec.address is not None:
        return spec.address
    start = function_symbols(spec.target).get(spec.function)
    if start is None:
        return None
    return start + (spec.offset or 0) if group.provider == "uprobe" else start
