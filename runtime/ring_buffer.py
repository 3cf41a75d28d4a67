"""Read a BPF ring buffer map (BPF_MAP_TYPE_RINGBUF) straight from its pages
mapped into this process, a batch of records at a time: no call across
ctypes per record (libbpf's ring_buffer__poll makes one per record, which
was most of the cost of reading events), and records of one size that
follow each other handed over as one run, which a consumer can decode
column by column (events.EventDecoder does).

    RingBuffer(map_, consume)   consume(data, runs): one batch of records
    RingBuffer.poll(timeout_ms) -> int, drain() -> int, close()
    each_record(callback) -> consume           one bytes per record, for callers that want that
    record_bytes(data, offset) -> bytes

The map's layout (kernel/bpf/ringbuf.c, Documentation/bpf/ringbuf.rst):
page 0 of the map fd holds consumer_pos, the one place userspace writes;
from page 1 on come the producer page (producer_pos) and the data area,
which the kernel maps twice in a row, so that a record wrapping around the
end reads as one piece. Both positions are u64 at the start of their page
and only grow; position p is byte p & (size - 1) of the data area. A record
is an 8-byte header (u32 length with BUSY_BIT while the producer still
writes it and DISCARD_BIT when it dropped it, then a u32 the kernel keeps),
the data, and padding to a multiple of 8.
"""

from __future__ import annotations

import errno as errnos
import mmap
import os
import select
import struct
from typing import TYPE_CHECKING, Callable

from .libbcc import BpfError, failure

if TYPE_CHECKING:
    from .kernel import Map

BUSY_BIT = 1 << 31
DISCARD_BIT = 1 << 30
HEADER_SIZE = 8
_LENGTH_MASK = DISCARD_BIT - 1
_LENGTH = struct.Struct("<I")
# Records handed over before consumer_pos moves on: the producer cannot
# reuse their space meanwhile, so a batch takes at most this share of it.
_BATCH_SHARE = 4

# consume(data, runs): `data` is a memoryview of the (twice-mapped) data
# area, valid during the call only. Each run (offset, count, stride) is
# `count` records, one every `stride` bytes, the first one's data at
# `offset`; every record of a run has the same length (the u32 just
# before its data: record_bytes).
Run = tuple[int, int, int]
Consumer = Callable[[memoryview, list[Run]], None]


def record_bytes(data: memoryview, offset: int) -> bytes:
    """A copy of the record whose data starts at `offset` of a batch."""
    (length,) = _LENGTH.unpack_from(data, offset - HEADER_SIZE)
    return bytes(data[offset:offset + (length & _LENGTH_MASK)])


def each_record(callback: Callable[[bytes], None]) -> Consumer:
    """A consumer that calls `callback` with each record's bytes."""

    def consume(data: memoryview, runs: list[Run]) -> None:
        for offset, count, stride in runs:
            for at in range(offset, offset + count * stride, stride):
                callback(record_bytes(data, at))

    return consume


class RingBuffer:
    """The reader of one ring buffer map. An exception raised by `consume`
    is re-raised from poll()/drain(); the batch it was given counts as
    read all the same (as libbpf drops a record whose callback failed)."""

    def __init__(self, map_: Map, consume: Consumer):
        self.name = map_.name
        self._consume = consume
        size = map_.max_entries  # the kernel requires a power of two (pages)
        self._mask = size - 1
        self._batch_bytes = max(size // _BATCH_SHARE, HEADER_SIZE)
        page = mmap.PAGESIZE
        self._data_start = page  # in the second mapping, after the producer page
        mapped: list = []
        try:
            mapped.append(mmap.mmap(map_.fd, page, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=0))
            mapped.append(mmap.mmap(map_.fd, page + 2 * size, mmap.MAP_SHARED, mmap.PROT_READ, offset=page))
            mapped.append(select.epoll())
        except OSError as error:
            for opened in mapped:
                opened.close()
            raise failure(f"opening ring buffer {map_.name}", error.errno or errnos.EINVAL) from None
        self._consumer, self._mapped, self._epoll = mapped
        self._data = memoryview(self._mapped)
        self._words = self._data.cast("I")  # u32 words: the headers' lengths
        # The positions are read and written through u64 memoryviews: one
        # 8-byte load or store each, where struct would copy byte by byte
        # and the kernel could see half of a consumer_pos update (a bogus
        # position makes it refuse to reserve: lost events).
        self._consumer_pos = memoryview(self._consumer).cast("Q")
        self._producer_pos = self._data[:8].cast("Q")
        # Level-triggered: the kernel reports the map readable while it holds records.
        self._epoll.register(map_.fd, select.EPOLLIN)
        self._wakers: set[int] = set()
        self._closed = False

    def poll(self, timeout_ms: int) -> int:
        """Read what is there; when nothing was, wait up to `timeout_ms`
        (-1: forever) for records and read them. Returns how many were read.
        A signal returns at once if a wake_on() fd is its wakeup fd, else
        at the timeout (Python resumes the wait after the handler)."""
        read = self.drain()
        if read:
            return read
        for fd, _ in self._epoll.poll(timeout_ms / 1000 if timeout_ms >= 0 else -1):
            if fd in self._wakers:
                _empty(fd)
        return self.drain()

    def wake_on(self, fd: int) -> None:
        """Also end a poll when the non-blocking `fd` has bytes to read
        (signal.set_wakeup_fd's pipe: a signal ends the wait)."""
        self._epoll.register(fd, select.EPOLLIN)
        self._wakers.add(fd)

    def drain(self) -> int:
        """Read every record already there, without waiting."""
        self._live()
        words, mask, start, consumer_pos = self._words, self._mask, self._data_start, self._consumer_pos
        consumed = consumer_pos[0]
        read = 0
        while True:
            # producer_pos first, then the records below it (x86 keeps loads
            # in order; the kernel publishes producer_pos before the header).
            produced = self._producer_pos[0]
            end = min(produced, consumed + self._batch_bytes)
            position = consumed
            runs: list[Run] = []
            while position < end:
                at = start + (position & mask)
                length = words[at >> 2]
                if length & BUSY_BIT:
                    break  # still being written: later records wait for it
                stride = ((length & _LENGTH_MASK) + HEADER_SIZE + 7) & ~7
                count = _same_headers(words, at >> 2, stride >> 2, max((end - position) // stride, 1), length)
                if not length & DISCARD_BIT:
                    runs.append((at + HEADER_SIZE, count, stride))
                    read += count
                position += count * stride
            if position == consumed:
                return read
            try:
                if runs:
                    self._consume(self._data, runs)
            finally:
                # The space of the batch goes back to the producer.
                consumer_pos[0] = position
            consumed = position

    def _live(self) -> None:
        if self._closed:
            raise BpfError(f"ring buffer {self.name} is closed", errnos.EBADF)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._epoll.close()
            for view in (self._consumer_pos, self._producer_pos, self._words, self._data):
                view.release()
            self._consumer.close()
            try:
                self._mapped.close()
            except BufferError:
                pass  # a consumer still holds a view of it (an exception's traceback): unmapped once that goes

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _same_headers(words: memoryview, first: int, step: int, most: int, length: int) -> int:
    """How many records, from the one whose header is u32 word `first` on,
    have the header word `length` (so the same size: each `step` words
    after the last), at most `most`. The run is probed in doubling chunks,
    each compared in one go, so that it costs little per record both in
    long runs and among records of mixed sizes."""
    count = 1
    while count < most:
        ahead = min(count * 2, most)
        headers = words[first + count * step:first + ahead * step:step].tolist()
        if headers.count(length) != len(headers):
            for header in headers:
                if header != length:
                    return count
                count += 1
        count = ahead
    return count


def _empty(fd: int) -> None:
    """Read a non-blocking fd until nothing is left."""
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass
