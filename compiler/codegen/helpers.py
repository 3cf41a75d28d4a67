"""BPF helper functions, called by number as the kernel numbers them
(include/uapi/linux/bpf.h, `__BPF_FUNC_MAPPER`): a helper call in LLVM IR is
a call through a constant pointer whose value is the helper id."""

from __future__ import annotations

import llvmlite.ir as ir

I64 = ir.IntType(64)
I32 = ir.IntType(32)
I8 = ir.IntType(8)
I1 = ir.IntType(1)
BYTE_POINTER = I8.as_pointer()

MAP_LOOKUP_ELEM = 1
MAP_UPDATE_ELEM = 2
MAP_DELETE_ELEM = 3
KTIME_GET_NS = 5
GET_PRANDOM_U32 = 7
GET_SMP_PROCESSOR_ID = 8
GET_CURRENT_PID_TGID = 14
GET_CURRENT_UID_GID = 15
GET_CURRENT_COMM = 16
GET_CURRENT_TASK = 35
GET_NUMA_NODE_ID = 42
GET_CURRENT_CGROUP_ID = 80
SEND_SIGNAL = 109
PROBE_READ_USER = 112
PROBE_READ_KERNEL = 113
PROBE_READ_USER_STR = 114
PROBE_READ_KERNEL_STR = 115
JIFFIES64 = 118
KTIME_GET_BOOT_NS = 125
RINGBUF_OUTPUT = 130
RINGBUF_RESERVE = 131
RINGBUF_SUBMIT = 132
GET_CURRENT_TASK_BTF = 158
GET_FUNC_IP = 173
GET_ATTACH_COOKIE = 174
KTIME_GET_TAI_NS = 208

# Every helper's LLVM signature: (return type, argument types).
_SIGNATURES: dict[int, tuple[ir.Type, tuple[ir.Type, ...]]] = {
    MAP_LOOKUP_ELEM: (BYTE_POINTER, (BYTE_POINTER, BYTE_POINTER)),
    MAP_UPDATE_ELEM: (I64, (BYTE_POINTER, BYTE_POINTER, BYTE_POINTER, I64)),
    MAP_DELETE_ELEM: (I64, (BYTE_POINTER, BYTE_POINTER)),
    KTIME_GET_NS: (I64, ()),
    GET_PRANDOM_U32: (I64, ()),
    GET_SMP_PROCESSOR_ID: (I64, ()),
    GET_CURRENT_PID_TGID: (I64, ()),
    GET_CURRENT_UID_GID: (I64, ()),
    GET_CURRENT_COMM: (I64, (BYTE_POINTER, I64)),  # (buffer, size)
    GET_CURRENT_TASK: (I64, ()),
    GET_NUMA_NODE_ID: (I64, ()),
    GET_CURRENT_CGROUP_ID: (I64, ()),
    SEND_SIGNAL: (I64, (I64,)),
    # probe_read*(destination, size, source)
    PROBE_READ_USER: (I64, (BYTE_POINTER, I64, BYTE_POINTER)),
    PROBE_READ_KERNEL: (I64, (BYTE_POINTER, I64, BYTE_POINTER)),
    PROBE_READ_USER_STR: (I64, (BYTE_POINTER, I64, BYTE_POINTER)),
    PROBE_READ_KERNEL_STR: (I64, (BYTE_POINTER, I64, BYTE_POINTER)),
    JIFFIES64: (I64, ()),
    KTIME_GET_BOOT_NS: (I64, ()),
    RINGBUF_OUTPUT: (I64, (BYTE_POINTER, BYTE_POINTER, I64, I64)),  # (ring, data, size, flags)
    RINGBUF_RESERVE: (BYTE_POINTER, (BYTE_POINTER, I64, I64)),
    RINGBUF_SUBMIT: (ir.VoidType(), (BYTE_POINTER, I64)),
    GET_CURRENT_TASK_BTF: (I64, ()),  # a task_struct pointer the verifier knows (direct loads)
    GET_FUNC_IP: (I64, (BYTE_POINTER,)),  # (context)
    GET_ATTACH_COOKIE: (I64, (BYTE_POINTER,)),  # (context)
    KTIME_GET_TAI_NS: (I64, ()),
}

# map_update_elem flags
BPF_ANY = 0


def call_helper(builder: ir.IRBuilder, helper: int, *arguments: ir.Value) -> ir.Value:
    result, parameters = _SIGNATURES[helper]
    function_type = ir.FunctionType(result, parameters)
    pointer = builder.inttoptr(ir.Constant(I64, helper), function_type.as_pointer())
    return builder.call(pointer, list(arguments))
