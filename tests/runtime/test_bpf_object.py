import struct

import llvmlite.ir as ir
import pytest

from auger.compiler.codegen import target
from auger.runtime.bpf_object import BpfObjectError, read_object

I64 = ir.IntType(64)
BYTE_POINTER = ir.IntType(8).as_pointer()


def _module_with_map_lookup() -> str:
    module = ir.Module("test")
    module.triple = target.TRIPLE
    module.data_layout = target.data_layout()
    counts = ir.GlobalVariable(module, I64, "map_counts")
    counts.section = ".maps"
    counts.initializer = ir.Constant(I64, 0)
    function = ir.Function(module, ir.FunctionType(I64, [BYTE_POINTER]), "count_reads")
    function.section = "tracepoint/syscalls/sys_enter_read"
    builder = ir.IRBuilder(function.append_basic_block())
    lookup_type = ir.FunctionType(BYTE_POINTER, [BYTE_POINTER, BYTE_POINTER])
    lookup = builder.inttoptr(ir.Constant(I64, 1), lookup_type.as_pointer())
    key = builder.alloca(I64)
    builder.store(ir.Constant(I64, 0), key)
    builder.call(lookup, [builder.bitcast(counts, BYTE_POINTER), builder.bitcast(key, BYTE_POINTER)])
    builder.ret(ir.Constant(I64, 0))
    return str(module)


def test_reads_programs_and_map_references():
    obj = read_object(target.emit_object(_module_with_map_lookup()))
    assert obj.map_names == ("map_counts",)
    program = obj.program("tracepoint/syscalls/sys_enter_read")
    assert program.function == "count_reads"
    assert [r.map_name for r in program.map_references] == ["map_counts"]
    assert program.instruction_count >= 5


def test_linking_turns_map_loads_into_fd_loads():
    program = read_object(target.emit_object(_module_with_map_lookup())).programs[0]
    code = program.linked({"map_counts": 42})
    at = program.map_references[0].instruction * 8
    opcode, registers, _, imm = struct.unpack_from("<BBhi", code, at)
    assert opcode == 0x18
    assert registers >> 4 == 1  # BPF_PSEUDO_MAP_FD
    assert imm == 42
    with pytest.raises(BpfObjectError, match="no map created"):
        program.linked({})


def test_rejects_what_is_not_a_bpf_object():
    with pytest.raises(BpfObjectError):
        read_object(b"\x7fELF" + bytes(100))
    with pytest.raises(BpfObjectError):
        read_object(b"hello")
