"""runtime/ring_buffer.py against the real kernel: hand-assembled programs
(test_libbcc.py's assembler) write records into a ring buffer map, run with
BPF_PROG_TEST_RUN; and a compiled printf program end to end, the ring
buffer filled until it drops records."""

import os
import struct
import time

import pytest
from test_libbcc import EXIT, RETURN_0, call, insn, jump_if_eq, jump_if_ne, load_dw, load_map_fd, mov_imm, mov_reg, store_dw

from auger.compiler.diagnostics import SourceFile
from auger.compiler.pipeline import compile_source
from auger.runtime.events import EventDecoder, lost_events
from auger.runtime.kernel import Kernel
from auger.runtime.libbcc import BpfError, MapType, ProgType
from auger.runtime.loader import load
from auger.runtime.ring_buffer import HEADER_SIZE, record_bytes

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for bpf()")

RINGBUF_OUTPUT, RINGBUF_RESERVE, RINGBUF_SUBMIT, RINGBUF_DISCARD = 130, 131, 132, 133
PAGE = 4096


def add_imm(dst, imm):
    return insn(0x07, dst, imm=imm)


def jump(off):
    return insn(0x05, off=off)


def output_program(map_fd, size):
    """Outputs the first `size` bytes of the raw tracepoint's arguments as one record."""
    words = (size + 7) // 8
    code = b"".join(load_dw(6, 1, 8 * word) + store_dw(10, 8 * (word - words), 6) for word in range(words))
    code += load_map_fd(1, map_fd) + mov_reg(2, 10) + add_imm(2, -8 * words)
    code += mov_imm(3, size) + mov_imm(4, 0) + call(RINGBUF_OUTPUT)
    return code + RETURN_0


def reserve_program(map_fd):
    """Reserves 8 bytes, writes the first argument there, then discards the
    record when the second argument is not 0, else submits it."""
    code = load_dw(6, 1, 0) + load_dw(7, 1, 8) + load_map_fd(1, map_fd)
    code += mov_imm(2, 8) + mov_imm(3, 0) + call(RINGBUF_RESERVE)
    code += jump_if_eq(0, 0, 7) + store_dw(0, 0, 6) + mov_reg(1, 0) + mov_imm(2, 0)
    code += jump_if_ne(7, 0, 2) + call(RINGBUF_SUBMIT) + jump(1) + call(RINGBUF_DISCARD)
    return code + mov_imm(0, 0) + EXIT


def arguments(*words):
    return struct.pack(f"<{len(words)}Q", *words)


@pytest.fixture
def kernel():
    with Kernel() as kernel:
        yield kernel


class Batches:
    """A consumer that keeps each batch's records as bytes, and its runs' lengths."""

    def __init__(self):
        self.batches = []
        self.runs = []

    def __call__(self, data, runs):
        self.batches.append([record_bytes(data, offset + index * stride)
                             for offset, count, stride in runs for index in range(count)])
        self.runs.append([count for _, count, _ in runs])

    @property
    def records(self):
        return [record for batch in self.batches for record in batch]


def test_a_drain_hands_over_every_record_in_one_batch(kernel):
    """Records of one length that follow each other form a run."""
    ring = kernel.create_map(MapType.RINGBUF, 0, 0, PAGE * 4, "auger_ring")
    sizes = (8, 8, 8, 1, 7, 12, 24, 33, 40, 40)
    programs = {size: kernel.load_program(ProgType.RAW_TRACEPOINT, output_program(ring.fd, size)) for size in sizes}
    batches = Batches()
    reader = kernel.open_ring_buffer_batches(ring, batches)
    assert reader.drain() == 0 and batches.batches == []
    payload = bytes(range(1, 41))
    for size in sizes:
        programs[size].test_run(payload)
    assert reader.drain() == len(sizes)
    assert batches.batches == [[payload[:size] for size in sizes]]
    assert batches.runs == [[3, 1, 1, 1, 1, 1, 2]]
    assert reader.drain() == 0


def test_records_wrap_around_the_end_of_the_data_area(kernel):
    """48 bytes a record (40 and the header): the one-page ring holds 85,
    and every 85th record or so straddles its end, read through the second
    mapping of the data."""
    ring = kernel.create_map(MapType.RINGBUF, 0, 0, PAGE, "auger_ring")
    program = kernel.load_program(ProgType.RAW_TRACEPOINT, output_program(ring.fd, 40))
    batches = Batches()
    reader = kernel.open_ring_buffer_batches(ring, batches)
    expected = []
    for round_number in range(20):
        for index in range(60):
            words = [round_number * 1000 + index * 10 + word for word in range(5)]
            program.test_run(arguments(*words))
            expected.append(arguments(*words))
        assert reader.drain() == 60
    assert batches.records == expected


def test_a_batch_stops_at_a_quarter_of_the_ring(kernel):
    """Records handed over keep their space from the producer until the
    batch is consumed: a batch holds at most a quarter of the ring."""
    ring = kernel.create_map(MapType.RINGBUF, 0, 0, PAGE, "auger_ring")
    program = kernel.load_program(ProgType.RAW_TRACEPOINT, output_program(ring.fd, 8))
    batches = Batches()
    reader = kernel.open_ring_buffer_batches(ring, batches)
    for index in range(200):  # 16 bytes each: 3200 of the 4096
        program.test_run(arguments(index))
    assert reader.drain() == 200
    assert [len(batch) for batch in batches.batches] == [64, 64, 64, 8]
    assert batches.runs == [[64], [64], [64], [8]]
    assert batches.records == [arguments(index) for index in range(200)]


def test_discarded_records_are_skipped_and_their_space_freed(kernel):
    """A discarded record ends a run of kept ones."""
    ring = kernel.create_map(MapType.RINGBUF, 0, 0, PAGE, "auger_ring")
    program = kernel.load_program(ProgType.RAW_TRACEPOINT, reserve_program(ring.fd))
    batches = Batches()
    reader = kernel.open_ring_buffer_batches(ring, batches)
    kept = []
    for round_number in range(10):  # 10 × 100 records of 16 bytes: 4 times the ring
        for index in range(100):
            value = round_number * 100 + index
            program.test_run(arguments(value, index % 3 == 0))
            if index % 3:
                kept.append(arguments(value))
        assert reader.drain() == 66
    assert batches.records == kept
    assert batches.runs[0][:3] == [2, 2, 2]


def test_a_full_ring_drops_records_until_read(kernel):
    ring = kernel.create_map(MapType.RINGBUF, 0, 0, PAGE, "auger_ring")
    program = kernel.load_program(ProgType.RAW_TRACEPOINT, output_program(ring.fd, 8))
    batches = Batches()
    reader = kernel.open_ring_buffer_batches(ring, batches)
    for index in range(300):
        program.test_run(arguments(index))
    capacity = (PAGE - 1) // (8 + HEADER_SIZE)  # the kernel keeps the ring from filling to the last byte
    assert reader.drain() == capacity
    assert batches.records == [arguments(index) for index in range(capacity)]
    program.test_run(arguments(1000))
    assert reader.drain() == 1 and batches.records[-1] == arguments(1000)


def test_poll_waits_for_records_until_its_timeout(kernel):
    ring = kernel.create_map(MapType.RINGBUF, 0, 0, PAGE, "auger_ring")
    program = kernel.load_program(ProgType.RAW_TRACEPOINT, output_program(ring.fd, 8))
    batches = Batches()
    reader = kernel.open_ring_buffer_batches(ring, batches)
    started = time.monotonic()
    assert reader.poll(50) == 0
    assert time.monotonic() - started >= 0.045
    program.test_run(arguments(5))
    started = time.monotonic()
    assert reader.poll(5000) == 1
    assert time.monotonic() - started < 1
    assert batches.records == [arguments(5)]


def test_a_failing_consumer_raises_and_its_batch_is_consumed(kernel):
    ring = kernel.create_map(MapType.RINGBUF, 0, 0, PAGE, "auger_ring")
    program = kernel.load_program(ProgType.RAW_TRACEPOINT, output_program(ring.fd, 8))

    def explode(data, runs):
        raise ValueError(sum(count for _, count, _ in runs))

    reader = kernel.open_ring_buffer_batches(ring, explode)
    program.test_run(arguments(1))
    program.test_run(arguments(2))
    with pytest.raises(ValueError, match="2"):
        reader.drain()
    assert reader.drain() == 0


def test_a_closed_reader_refuses_to_read(kernel):
    ring = kernel.create_map(MapType.RINGBUF, 0, 0, PAGE, "auger_ring")
    reader = kernel.open_ring_buffer_batches(ring, Batches())
    reader.close()
    reader.close()
    with pytest.raises(BpfError, match="closed"):
        reader.drain()


def test_a_map_that_is_no_ring_buffer_is_refused(kernel):
    array = kernel.create_map(MapType.ARRAY, 4, 8, 1, "auger_array")
    with pytest.raises(BpfError, match="opening ring buffer auger_array"):
        kernel.open_ring_buffer_batches(array, Batches())


def test_compiled_printf_fills_the_ring_counts_the_lost_and_prints_the_rest(kernel):
    """The real pipeline: codegen's records, its lost-events counter, and
    the decoder reading the batches."""
    source = 'BEGIN { printf("%d %s|%5u|%-4s|%x\\n", 42, "ab", 7, "xyz", -1); }'
    compiled = compile_source(SourceFile("stdin", source)).compiled
    plan = compiled.resources
    loaded = load(kernel, compiled)
    (begin,) = loaded.probes_of_kind("BEGIN")
    (event,) = plan.events
    stride = (event.size + HEADER_SIZE + 7) // 8 * 8
    capacity = (plan.ring_buffer.max_entries - 1) // stride
    runs = capacity + 500
    for _ in range(runs):
        begin.test_run()
    assert lost_events(loaded.maps[plan.lost_events.symbol]) == runs - capacity
    output = []
    decoder = EventDecoder(plan.events, output.append)
    reader = kernel.open_ring_buffer_batches(loaded.maps[plan.ring_buffer.symbol], decoder.consume)
    assert reader.drain() == capacity
    assert len(output) == 4  # one write per batch
    assert "".join(output) == "42 ab|    7|xyz |ffffffffffffffff\n" * capacity
