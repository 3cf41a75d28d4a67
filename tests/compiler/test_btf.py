"""BTF reader: a synthetic blob built here, and the running kernel's BTF
cross-checked against bpftool's raw dump."""

import os
import re
import shutil
import struct
import subprocess
import time

import pytest

from auger.compiler import btf
from auger.compiler.btf import BtfError, BtfTypes
from auger.compiler.types import (
    BOOL,
    VOID,
    ArrayType,
    EnumType,
    FieldLayout,
    IntType,
    PointerType,
    RecordType,
)

INT32, UINT16, UINT64, CHAR = IntType(32, True), IntType(16, False), IntType(64, False), IntType(8, True)


class BlobBuilder:
    """Writes BTF the way pahole does (native byte order, deduplicated strings)."""

    def __init__(self):
        self.strings = bytearray(b"\0")
        self.string_offsets: dict[str, int] = {}
        self.types = bytearray()
        self.count = 0

    def string(self, text: str) -> int:
        if not text:
            return 0
        if text not in self.string_offsets:
            self.string_offsets[text] = len(self.strings)
            self.strings += text.encode() + b"\0"
        return self.string_offsets[text]

    def add(self, kind, name="", vlen=0, size_or_type=0, words=(), kind_flag=False) -> int:
        info = (int(kind_flag) << 31) | (kind << 24) | vlen
        self.types += struct.pack(f"={3 + len(words)}I", self.string(name), info, size_or_type, *words)
        self.count += 1
        return self.count

    def blob(self) -> bytes:
        header = struct.pack("=HBBIIIII", btf.BTF_MAGIC, 1, 0, 24, 0, len(self.types),
                             len(self.types), len(self.strings))
        return header + bytes(self.types) + bytes(self.strings)


@pytest.fixture(scope="module")
def tiny() -> BtfTypes:
    b = BlobBuilder()
    int_id = b.add(btf.KIND_INT, "int", 0, 4, [(1 << 24) | 32])  # 1
    char_id = b.add(btf.KIND_INT, "char", 0, 1, [8])  # 2
    uint_id = b.add(btf.KIND_INT, "unsigned int", 0, 4, [32])  # 3
    bool_id = b.add(btf.KIND_INT, "_Bool", 0, 1, [(4 << 24) | 8])  # 4
    node_fwd = b.add(btf.KIND_FWD, "node")  # 5: pointed to before it is defined
    node_ptr = b.add(btf.KIND_PTR, "", 0, node_fwd)  # 6
    comm = b.add(btf.KIND_ARRAY, "", 0, 0, [char_id, int_id, 16])  # 7
    inner = b.add(btf.KIND_STRUCT, "", 2, 8, [  # 8: anonymous
        b.string("x"), int_id, 0,
        b.string("y"), int_id, 32])
    b.add(btf.KIND_STRUCT, "node", 6, 40, [  # 9: kind_flag -> bitfield sizes
        b.string("id"), int_id, 0,
        b.string("flag"), uint_id, (1 << 24) | 35,
        b.string("mode"), uint_id, (3 << 24) | 36,
        0, inner, 64,
        b.string("next"), node_ptr, 128,
        b.string("comm"), comm, 192], kind_flag=True)
    b.add(btf.KIND_ENUM, "color", 2, 4, [b.string("RED"), 0, b.string("BLUE"), 0xFFFFFFFF],
          kind_flag=True)  # 10: signed
    b.add(btf.KIND_ENUM64, "big", 1, 8, [b.string("HUGE"), 1, 2])  # 11
    const_int = b.add(btf.KIND_CONST, "", 0, int_id)  # 12
    b.add(btf.KIND_TYPEDEF, "pid_t", 0, const_int)  # 13
    proto = b.add(btf.KIND_FUNC_PROTO, "", 3, int_id, [b.string("n"), node_ptr,
                                                      b.string("ok"), bool_id, 0, 0])  # 14
    b.add(btf.KIND_FUNC, "do_it", 1, proto)  # 15
    fn_ptr = b.add(btf.KIND_PTR, "", 0, proto)  # 16
    b.add(btf.KIND_TYPEDEF, "callback_t", 0, fn_ptr)  # 17
    b.add(btf.KIND_FLOAT, "double", 0, 8)  # 18
    return BtfTypes.from_bytes(b.blob())


def test_tiny_ints_and_typedefs(tiny):
    assert tiny.type_of(1) == INT32
    assert tiny.type_of(2) == CHAR  # char is int8 whatever BTF's encoding says
    assert tiny.type_of(4) == BOOL
    assert tiny.type_of(18) == IntType(64, False)
    assert tiny.typedef("pid_t") == INT32  # through const
    assert tiny.typedef("callback_t") == PointerType(VOID)
    assert tiny.typedef("nope") is None


def test_tiny_record_layout(tiny):
    node = tiny.record("struct", "node")
    assert node == RecordType("struct", "node", 40)
    assert tiny.record("union", "node") is None
    assert tiny.fields(node) == (
        FieldLayout("id", INT32, 0),
        FieldLayout("flag", IntType(32, False), 4, 3, 1),
        FieldLayout("mode", IntType(32, False), 4, 4, 3),
        FieldLayout("x", INT32, 8),  # flattened from the anonymous struct
        FieldLayout("y", INT32, 12),
        FieldLayout("next", PointerType(node), 16),  # the FWD resolves to the definition
        FieldLayout("comm", ArrayType(CHAR, 16), 24),
    )
    anonymous = tiny.type_of(8)
    assert anonymous == RecordType("struct", "(anon)#8", 8)
    assert tiny.record("struct", "(anon)#8") == anonymous
    assert tiny.record("struct", "(anon)#999") is None


def test_tiny_enums(tiny):
    color = EnumType("color", 32, True)
    assert tiny.enum("color") == color
    assert tiny.enum_constant("RED") == (color, 0)
    assert tiny.enum_constant("BLUE") == (color, -1)
    assert tiny.enum_constant("HUGE") == (EnumType("big", 64, False), (2 << 32) | 1)
    assert tiny.enum_constant("GREEN") is None


def test_tiny_function(tiny):
    node = RecordType("struct", "node", 40)
    assert tiny.function("do_it") == ((("n", PointerType(node)), ("ok", BOOL)), INT32)
    assert tiny.function("pid_t") is None


def test_bad_blobs():
    with pytest.raises(BtfError):
        BtfTypes.from_bytes(b"\x00" * 40)
    b = BlobBuilder()
    b.add(25, "weird")
    with pytest.raises(BtfError, match="unknown BTF kind 25"):
        BtfTypes.from_bytes(b.blob()).typedef("weird")


# ---------------------------------------------------------------- kernel BTF


needs_kernel_btf = pytest.mark.skipif(not os.access(btf.VMLINUX_PATH, os.R_OK),
                                      reason=f"no readable kernel BTF at {btf.VMLINUX_PATH}")


@pytest.fixture(scope="module")
def kernel() -> BtfTypes:
    types = btf.kernel_types()
    if types is None:
        pytest.skip(f"no readable kernel BTF at {btf.VMLINUX_PATH}")
    return types


@pytest.fixture(scope="module")
def bpftool_structs() -> dict:
    """{type id: (name, [(member, type id, bit offset, bitfield size)])} for
    every struct/union, from `bpftool btf dump format raw`."""
    tool = shutil.which("bpftool") or ("/usr/sbin/bpftool" if os.path.exists("/usr/sbin/bpftool") else None)
    if tool is None or not os.path.exists(btf.VMLINUX_PATH):
        pytest.skip("bpftool or kernel BTF missing")
    text = subprocess.run([tool, "btf", "dump", "file", btf.VMLINUX_PATH, "format", "raw"],
                          capture_output=True, text=True, check=True).stdout
    structs: dict = {}
    current = None
    for line in text.splitlines():
        header = re.match(r"\[(\d+)\] (STRUCT|UNION) '([^']*)'", line)
        if header:
            current = structs[int(header.group(1))] = (header.group(3), [])
            continue
        if not line.startswith("\t"):
            current = None
        member = re.match(r"\t'([^']*)' type_id=(\d+) bits_offset=(\d+)(?: bitfield_size=(\d+))?", line)
        if current is not None and member:
            current[1].append((member.group(1), int(member.group(2)), int(member.group(3)),
                               int(member.group(4) or 0)))
    return structs


def bpftool_member(structs: dict, struct_name: str, path: list[str]) -> tuple[int, int]:
    """(bit offset, bitfield size) of a member, looking into anonymous members."""

    def search(type_id: int, name: str, base: int):
        for member, member_type, bits, bit_size in structs[type_id][1]:
            if member == name:
                return base + bits, bit_size
            if member == "(anon)" and member_type in structs:
                found = search(member_type, name, base + bits)
                if found:
                    return found
        return None

    type_id = next(i for i, (name, _) in structs.items() if name == struct_name)
    return search(type_id, path[0], 0)


def field(kernel, kind, record_name, name) -> FieldLayout:
    record = kernel.record(kind, record_name)
    return next(f for f in kernel.fields(record) if f.name == name)


@needs_kernel_btf
def test_first_lookup_timing(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    for label in ("no cache", "cache written", "cache read"):
        start = time.perf_counter()
        types = BtfTypes.from_file(btf.VMLINUX_PATH, cache_index=label != "no cache")
        types.fields(types.record("struct", "task_struct"))
        first = time.perf_counter() - start
        start = time.perf_counter()
        types.fields(types.record("struct", "file"))
        later = time.perf_counter() - start
        print(f"\nBTF {label}: load + task_struct fields {first * 1e3:.1f} ms, "
              f"next struct {later * 1e6:.0f} us")
    assert list((tmp_path / "auger").glob("btf-*.index"))


@needs_kernel_btf
def test_unwritable_cache_is_tolerated(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    types = BtfTypes.from_file(btf.VMLINUX_PATH)
    assert types.typedef("pid_t") == INT32


@needs_kernel_btf
def test_corrupt_cache_is_rescanned(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    BtfTypes.from_file(btf.VMLINUX_PATH).typedef("pid_t")
    (index,) = (tmp_path / "auger").glob("btf-*.index")
    index.write_bytes(b"garbage")
    assert BtfTypes.from_file(btf.VMLINUX_PATH).typedef("pid_t") == INT32


def test_kernel_types_is_cached(kernel):
    assert btf.kernel_types() is kernel


def test_task_struct(kernel, bpftool_structs):
    pid = field(kernel, "struct", "task_struct", "pid")
    assert pid.type == INT32
    assert pid.offset * 8 == bpftool_member(bpftool_structs, "task_struct", ["pid"])[0]
    comm = field(kernel, "struct", "task_struct", "comm")
    assert comm.type == ArrayType(CHAR, 16)
    assert comm.offset * 8 == bpftool_member(bpftool_structs, "task_struct", ["comm"])[0]
    parent = field(kernel, "struct", "task_struct", "real_parent")
    assert parent.type == PointerType(kernel.record("struct", "task_struct"))


def test_task_struct_bitfield(kernel, bpftool_structs):
    bits, size = bpftool_member(bpftool_structs, "task_struct", ["in_execve"])
    in_execve = field(kernel, "struct", "task_struct", "in_execve")
    assert size == 1
    assert (in_execve.offset, in_execve.bit_offset, in_execve.bit_size) == (bits // 8, bits % 8, 1)


def test_anonymous_members_are_flattened(kernel, bpftool_structs):
    state = field(kernel, "struct", "task_struct", "__state")
    assert state.offset * 8 == bpftool_member(bpftool_structs, "task_struct", ["__state"])[0]
    common = field(kernel, "struct", "sock", "__sk_common")
    assert common.type == kernel.record("struct", "sock_common")
    assert common.offset == 0
    dport = field(kernel, "struct", "sock_common", "skc_dport")
    assert dport.type == UINT16
    assert dport.offset * 8 == bpftool_member(bpftool_structs, "sock_common", ["skc_dport"])[0]


def test_every_struct_member_matches_bpftool(kernel, bpftool_structs):
    """Every named member of every record, at bpftool's offsets."""
    for type_id in bpftool_structs:
        name, members = bpftool_structs[type_id]
        record = kernel.type_of(type_id)
        ours = {f.name: f for f in kernel.fields(record)}
        for member, _, bits, bit_size in members:
            if member == "(anon)" or member not in ours:
                continue
            mine = ours[member]
            assert mine.offset * 8 + mine.bit_offset == bits, (name, member)
            assert mine.bit_size == bit_size, (name, member)


def test_kernel_typedefs_and_enums(kernel):
    assert kernel.typedef("pid_t") == INT32
    assert kernel.typedef("u64") == UINT64
    assert kernel.typedef("bool") == BOOL
    assert kernel.typedef("no_such_typedef_t") is None
    enum_type, value = kernel.enum_constant("TCP_ESTABLISHED")
    assert value == 1 and isinstance(enum_type, EnumType)
    assert kernel.enum_constant("NO_SUCH_ENUMERATOR") is None
    atomic = kernel.typedef("atomic_t")  # typedef of an anonymous struct
    assert isinstance(atomic, RecordType) and atomic.name.startswith("(anon)#")
    assert [f.name for f in kernel.fields(atomic)] == ["counter"]


def test_vfs_read_prototype(kernel):
    parameters, returns = kernel.function("vfs_read")
    assert [name for name, _ in parameters] == ["file", "buf", "count", "pos"]
    assert parameters[0][1] == PointerType(kernel.record("struct", "file"))
    assert parameters[1][1] == PointerType(CHAR)
    assert parameters[2][1] == UINT64
    assert parameters[3][1] == PointerType(IntType(64, True))
    assert returns == IntType(64, True)
    assert kernel.function("no_such_function") is None
