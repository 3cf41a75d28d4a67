"""A tracing session: load every program, attach every probe, run BEGIN,
poll the ring buffer until the program ends, run END, print the maps, and
release every kernel object.

    run(analysis, compiled, options) -> exit status

The program ends on exit(), SIGINT, SIGTERM, or the end of the -c child or
of the -p process.
A program with neither probes to attach nor a child ends right after BEGIN.
Every kernel object belongs to one Kernel, closed on the way out whatever
happened (a load or attach error halfway through included); attachments
are perf-event, raw-tracepoint or BPF link fds, so even a SIGKILL leaves
nothing behind.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import struct
import sys
import threading
import time
from typing import TextIO

from auger.compiler.codegen.function import RUNTIME_CPID, RUNTIME_FILTER_PID, RUNTIME_MAP, RUNTIME_START_NS, RUNTIME_STOPPED
from auger.compiler.codegen.module import SELF_TRIGGERED, CompiledProgram
from auger.compiler.frozen import Value as FrozenValue, frozen
from auger.compiler.semantic import Analysis

from .attach import AttachError, Detacher, ProbeNames, attach_all
from .events import EventDecoder, ValueContext, lost_events
from .format import json as json_format
from .format import text as text_format
from .kernel import Kernel
from .libbcc import BpfError
from .loader import LoadError, load
from .map_actions import MapActions
from .map_reader import StackTraces, map_full_warnings, read_map
from .pending_updates import PendingUpdates

POLL_TIMEOUT_MS = 100
_CHILD_GRACE_SECONDS = 1.0


@frozen
class SessionOptions(FrozenValue):
    """`output` receives printf text and the maps (stdout when None);
    `errors` the messages (stderr when None). `output_format` is "text"
    or "json"; `quiet` drops the `Attached N probes` line (library callers
    get none unless they ask; the CLI passes -q's value); `verbose` shows
    whole verifier logs. `command` is -c's command line, `pid` -p's."""

    output: TextIO | None = None
    errors: TextIO | None = None
    output_format: str = "text"
    quiet: bool = True
    verbose: bool = False
    command: str | None = None
    pid: int | None = None


class SessionError(Exception):
    """The session cannot start; the message is ready for the user."""


def run(analysis: Analysis, compiled: CompiledProgram, options: SessionOptions = SessionOptions()) -> int:
    """Run the program to its end; returns the exit status (exit()'s code,
    1 when loading, attaching or running failed)."""
    errors = options.errors or sys.stderr
    session = _Session(analysis, compiled, options)
    detach = Detacher()
    try:
        with _StopSignals() as stop, Kernel() as kernel:
            return session.run(kernel, stop, detach)
    except (LoadError, AttachError, SessionError) as problem:
        errors.write(f"{problem}\n")
    except BpfError as problem:
        errors.write(f"ERROR: {problem}\n")
    finally:
        detach.close()
        session.end_child()
    return 1


class _Session:
    def __init__(self, analysis: Analysis, compiled: CompiledProgram, options: SessionOptions):
        self.compiled = compiled
        self.trailer = str(analysis.config.get("str_trunc_trailer", ".."))
        self.options = options
        self.output = options.output or sys.stdout
        self.errors = options.errors or sys.stderr
        self.json = options.output_format == "json"
        self.child: _Child | None = None

    def run(self, kernel: Kernel, stop: "_StopSignals", detach: Detacher) -> int:
        options, plan = self.options, self.compiled.resources
        if options.pid is not None and not self.compiled.filter_pid:
            raise ValueError("-p needs a program compiled with filter_pid")
        if options.pid is not None and not _process_alive(options.pid):
            raise SessionError(f"ERROR: process {options.pid} does not exist (-p)")
        loaded = load(kernel, self.compiled, full_log=options.verbose)
        runtime = loaded.maps[RUNTIME_MAP.symbol]
        runtime.update(_slot(RUNTIME_START_NS), _WORD.pack(time.monotonic_ns()))
        if options.pid is not None:
            runtime.update(_slot(RUNTIME_FILTER_PID), _WORD.pack(options.pid))
        if options.command is not None:
            self.output.flush()
            self.errors.flush()
            self.child = _Child(options.command)
            runtime.update(_slot(RUNTIME_CPID), _WORD.pack(self.child.pid))
        traced = self.child.pid if self.child is not None else options.pid
        attached = attach_all(kernel, loaded, detach, traced)
        if not options.quiet:
            if self.json:
                self.output.write(json_format.attached_probes(attached))
            else:
                self.errors.write(text_format.attached_probes(attached))
                self.errors.flush()
        format_map = json_format.map_record if self.json else text_format.format_map
        context = ValueContext(plan.strftime_formats, ProbeNames(self.compiled).name, StackTraces(loaded.maps, plan),
                               truncated_trailer=self.trailer, cgroup_path_filters=plan.cgroup_path_filters)
        pending = PendingUpdates(loaded.maps, plan)
        actions = MapActions(loaded.maps, plan, self.output.write, format_map=format_map, context=context,
                             pending=pending)
        decoder = EventDecoder(plan.events, self.output.write, other=actions.handle, context=context, json=self.json)
        ring_buffer = kernel.open_ring_buffer_batches(loaded.maps[plan.ring_buffer.symbol], decoder.consume)
        if stop.wakeup_fd is not None:
            ring_buffer.wake_on(stop.wakeup_fd)
        for program in loaded.probes_of_kind("BEGIN"):
            program.test_run()
            ring_buffer.drain()
            if decoder.exit_code is not None:
                break
        if self.child is not None:
            self.child.release()
        waits = self.child is not None or any(probe.kind not in SELF_TRIGGERED for probe, _ in loaded.programs)
        while waits and decoder.exit_code is None and not stop.requested:
            ring_buffer.poll(POLL_TIMEOUT_MS)
            if self.child is not None and self.child.finished():
                break
            if options.pid is not None and not _process_alive(options.pid):
                break
        # The probes stop here, as bpftrace's are detached before END.
        runtime.update(_slot(RUNTIME_STOPPED), _WORD.pack(1))
        ring_buffer.drain()
        decoder.end_probes_run()
        for program in loaded.probes_of_kind("END"):
            program.test_run()
        ring_buffer.drain()
        self._report_lost(lost_events(loaded.maps[plan.lost_events.symbol]))
        pending.programs_stopped()
        maps = [read_map(loaded.maps[map_plan.symbol], map_plan, context, pending) for map_plan in plan.maps]
        self.errors.write(map_full_warnings(loaded.maps[plan.map_full.symbol], plan, pending.lost))
        self.output.write(json_format.maps_at_exit(maps) if self.json else text_format.format_maps_at_exit(maps))
        self.output.flush()
        return decoder.exit_code or 0

    def _report_lost(self, lost: int) -> None:
        """Records the full ring buffer dropped (events.lost_events)."""
        if not lost:
            return
        if self.json:
            self.output.write(json_format.lost_events(lost))
        else:
            self.errors.write(text_format.lost_events(lost))

    def end_child(self) -> None:
        if self.child is not None:
            self.child.end()


_WORD = struct.Struct("<Q")


def _process_alive(pid: int) -> bool:
    """`pid` exists and is not a zombie (-p stops when its process ends, as bpftrace)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _slot(index: int) -> bytes:
    return struct.pack("<I", index)


class _StopSignals:
    """SIGINT and SIGTERM ask the session to stop (END runs, maps print).
    The ring buffer poll returns when a signal arrives, so Python runs the
    handler at once. Only the main thread can handle signals; elsewhere
    (a library caller's thread) the defaults stay."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, object] = {}
        self.wakeup_fd: int | None = None  # readable once a signal arrived (RingBuffer.wake_on)
        self._pipe: tuple[int, int] | None = None
        self._previous_wakeup = -1

    def _handle(self, _signal, _frame) -> None:
        self.requested = True

    def __enter__(self) -> "_StopSignals":
        if threading.current_thread() is threading.main_thread():
            for number in self.SIGNALS:
                self._previous[number] = signal.signal(number, self._handle)
            self._pipe = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            self.wakeup_fd = self._pipe[0]
            self._previous_wakeup = signal.set_wakeup_fd(self._pipe[1], warn_on_full_buffer=False)
        return self

    def __exit__(self, *exc_info) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        if self._pipe is not None:
            signal.set_wakeup_fd(self._previous_wakeup)
            for fd in self._pipe:
                os.close(fd)


class _Child:
    """The -c command: forked at once, but held before exec (blocked on a
    pipe) until the probes are attached, so none of its work is missed. It
    is exec'd directly, its words split as a shell would (no shell). If
    auger dies first, the pipe closes and the child exits without running."""

    def __init__(self, command: str):
        words = shlex.split(command)
        path = shutil.which(words[0]) if words else None
        if path is None:
            raise SessionError(f"ERROR: cannot run '{command}': {words[0] if words else ''} not found")
        read_end, self._release = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child
            try:
                os.close(self._release)
                if os.read(read_end, 1) != b"\1":
                    os._exit(1)
                os.close(read_end)
                signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # Python ignores it; exec keeps ignored signals
                os.execv(path, words)
            finally:
                os._exit(127)
        os.close(read_end)
        self._status: int | None = None

    def release(self) -> None:
        os.write(self._release, b"\1")
        self._close_pipe()

    def _close_pipe(self) -> None:
        if self._release >= 0:
            os.close(self._release)
            self._release = -1

    def finished(self) -> bool:
        if self._status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self._status = status
        return self._status is not None

    def end(self) -> None:
        """Stop a child still running (SIGTERM, then SIGKILL) and reap it."""
        self._close_pipe()
        if self.finished():
            return
        os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + _CHILD_GRACE_SECONDS
        while not self.finished() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self.finished():
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
