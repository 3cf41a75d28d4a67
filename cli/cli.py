"""The `auger` command: bpftrace's command line in front of the compiler pipeline.

`main` returns the exit status: 0 success, 1 a user error (bad command line,
unreadable file, a program with errors, a feature not built yet), 2 an
internal error (a bug in auger), 130 on Ctrl-C, 141 when stdout is closed
early (as a process killed by SIGPIPE). No user input ever yields a Python
traceback; `-v` adds one to an internal error, for bug reports.

Start-up time matters for one-liners, so this module imports only the standard
library at load time; the compiler (and lark with it) is imported by the paths
that need it.
"""

from __future__ import annotations

import argparse
import os
import sys

from auger import __version__

USAGE = """\
auger [options] FILE [ARG ...]
       auger [options] - [ARG ...]          (program read from stdin)
       auger [options] -e 'PROGRAM' [ARG ...]
       auger -l [PATTERN]"""


def _format_ast(result) -> str:
    from auger.compiler.ast_printer import format_ast

    return format_ast(result.program)


def _assembly(result) -> str:
    from auger.compiler.codegen.target import emit_assembly

    return emit_assembly(result.compiled.ir_text)


# --emit STAGE: the last pass the stage needs, and how to print its output.
EMITS = {
    "ast": ("parse", _format_ast),
    "llvm": ("codegen", lambda result: result.compiled.ir_text),
    "asm": ("codegen", _assembly),
    "obj": ("codegen", lambda result: result.compiled.object_code),
}

# --dry-run runs every pass up to the BPF object, as bpftrace's does: a
# program the code generator or LLVM rejects fails the dry run too. Only
# loading it (which needs root) is left out.
DRY_RUN_UNTIL = "codegen"


class UsageError(Exception):
    """A bad command line: printed argparse-style, exit status 1."""


class Failure(Exception):
    """A user-facing failure outside the program text: `auger: <message>`, exit 1."""


class _ArgumentParser(argparse.ArgumentParser):
    # argparse exits with status 2 on its own; bpftrace uses 1, and `main`
    # returns its status instead of exiting.
    def error(self, message: str):
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(
        prog="auger",
        usage=USAGE,
        add_help=False,
        description="Run a bpftrace-style tracing program, compiled to eBPF.",
        epilog="Examples:\n"
        "  auger -l 'tracepoint:sched:*'\n"
        "  auger --dry-run -e 'tracepoint:syscalls:sys_enter_read { @[comm] = count(); }'\n"
        "  auger --emit ast -e 'BEGIN { printf(\"hi\\n\"); }'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    program = parser.add_argument_group("program")
    program.add_argument("-e", dest="program_text", metavar="PROGRAM", help="the program text")
    program.add_argument(
        "arguments",
        nargs="*",
        metavar="FILE|- [ARG ...]",
        help="the program file (- for stdin) unless -e is given, then the "
        "positional parameters $1, $2, ... ($# counts them)",
    )
    program.add_argument(
        "-l",
        dest="list_pattern",
        nargs="?",
        const="",
        metavar="PATTERN",
        help="list the probes matching PATTERN (all without one)",
    )
    program.add_argument(
        "--unsafe", action="store_true", help="allow actions that change the system (system(), signal(), ...)"
    )

    running = parser.add_argument_group("running (with the back end)")
    target = running.add_mutually_exclusive_group()
    target.add_argument("-c", dest="command", metavar="CMD", type=_command, help="run CMD and trace it ($cpid)")
    target.add_argument("-p", dest="pid", metavar="PID", type=_pid, help="trace process PID (USDT, uprobes)")
    running.add_argument("-o", dest="output", metavar="FILE", help="write output (or --emit's dump) to FILE")
    running.add_argument("-f", dest="format", choices=("text", "json"), default="text", help="output format")
    running.add_argument(
        "-B", dest="buffering", choices=("none", "line", "full"), help="stdout buffering (default: line on a terminal, else full)"
    )
    running.add_argument("-q", dest="quiet", action="store_true", help="keep messages quiet")
    running.add_argument(
        "-k",
        dest="helper_checks",
        action="count",
        default=0,
        help="warn when a BPF helper fails (-kk: every helper); bpftrace 0.17 compatibility",
    )

    checking = parser.add_argument_group("checking and debugging")
    checking.add_argument(
        "--dry-run", action="store_true", help="compile the program to a BPF object; load nothing (no root needed)"
    )
    checking.add_argument(
        "--emit",
        choices=tuple(EMITS),
        metavar="STAGE",
        help="print STAGE to stdout (or -o FILE) and stop; STAGE is one of: " + ", ".join(EMITS),
    )
    checking.add_argument("--no-warnings", action="store_true", help="do not print warnings")
    checking.add_argument("-v", dest="verbose", action="store_true", help="verbose messages")
    checking.add_argument("-h", "--help", action="store_true", help="show this help and exit")
    checking.add_argument("-V", "--version", action="store_true", help="print the version and exit")
    return parser


def _pid(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"pid '{text}' is not a valid decimal number")
    return int(text)


def _command(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("the command is empty")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    verbose = False
    try:
        try:
            args = parser.parse_intermixed_args(argv)
            verbose = args.verbose
            return _dispatch(args, parser)
        except UsageError as error:
            sys.stderr.write(parser.format_usage() + f"auger: error: {error}\n")
            return 1
        except Failure as failure:
            print(f"auger: {failure}", file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`auger -l | head`): stop quietly, and keep the
        # interpreter's final flush from failing on the closed pipe again.
        _silence_stdout()
        return 141
    except Exception as exc:  # every other exception is a bug in auger
        if verbose:
            import traceback

            traceback.print_exc()
        message = " ".join(str(exc).splitlines())
        print(f"internal error: {type(exc).__name__}: {message}", file=sys.stderr)
        return 2


def run_command() -> None:
    """`auger` as a command: `main`, then exit the process at once. The
    interpreter's own teardown (collecting and freeing every object the
    compiler and the runtime made, module by module) took ~30 ms of every
    run. What it would still do that matters is flushing stdout and stderr,
    done here; files and kernel objects are closed by `main` itself.
    The process is named `auger` (not `python`), so that `comm` in BEGIN
    and END reads "auger", as bpftrace's reads "bpftrace"."""
    from auger.runtime.process_name import set_process_name

    set_process_name("auger")
    status = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            status = 141 if status == 0 else status
        except (OSError, ValueError):
            status = status or 1
    os._exit(status)


def _dispatch(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.help:
        parser.print_help()
        return 0
    if args.version:
        print(f"auger v{__version__}")
        return 0
    if args.list_pattern is not None:
        return _list_probes(args)
    return _compile_and_run(args)


def _list_probes(args: argparse.Namespace) -> int:
    if args.program_text is not None or len(args.arguments) > 0:
        raise UsageError("-l takes one PATTERN, not a program")
    from auger.probes.base import ProbeError
    from auger.probes.registry import list_probes

    try:
        for name in list_probes(args.list_pattern or None):
            print(name)
    except ProbeError as error:
        from auger.compiler.diagnostics import Diagnostic, render

        print(render(Diagnostic(str(error), hint=error.hint), None), file=sys.stderr)
        return 1
    return 0


def _compile_and_run(args: argparse.Namespace) -> int:
    source, positional = _read_program(args)
    running = not (args.emit or args.dry_run)
    if running and os.geteuid() != 0:
        raise Failure("running a program needs root (BPF); --dry-run checks it without")

    from auger.compiler.diagnostics import CompileError, render_all
    from auger.compiler.pipeline import PASSES, CompileOptions, compile_source

    options = CompileOptions(unsafe=args.unsafe, positional=positional, has_child=args.command is not None,
                             filter_pid=args.pid is not None)
    until = EMITS[args.emit][0] if args.emit else DRY_RUN_UNTIL if args.dry_run else PASSES[-1]
    try:
        result = compile_source(source, options, until)
    except CompileError as error:
        print(render_all(error.diagnostics, source), file=sys.stderr)
        return 1
    if result.warnings and not args.no_warnings:
        print(render_all(result.warnings, source), file=sys.stderr)

    if args.emit:
        _write_emitted(EMITS[args.emit][1](result), args.output)
        return 0
    if args.dry_run:
        if args.verbose:
            passes = PASSES[: PASSES.index(DRY_RUN_UNTIL) + 1]
            size = len(result.compiled.object_code)
            print(f"auger: dry run OK (passes run: {', '.join(passes)}; BPF object: {size} bytes)", file=sys.stderr)
        return 0
    return _run(result, args)


def _run(result, args: argparse.Namespace) -> int:
    from auger.runtime.session import SessionOptions, run

    def run_to(output) -> int:
        options = SessionOptions(
            output=output,
            output_format=args.format,
            quiet=args.quiet,
            verbose=args.verbose,
            command=args.command,
            pid=args.pid,
        )
        return run(result.analysis, result.compiled, options)

    if args.output is None:
        _set_buffering(sys.stdout, args.buffering or ("line" if sys.stdout.isatty() else "full"))
        return run_to(None)
    try:
        output = open(args.output, "w", encoding="utf-8")
    except OSError as error:
        raise Failure(f"cannot write '{args.output}': {error.strerror}") from None
    with output:
        _set_buffering(output, args.buffering or "full")
        return run_to(output)


def _set_buffering(stream, mode: str) -> None:
    """-B: none writes every piece at once, line at each newline, full
    when the buffer fills (and at the end)."""
    stream.reconfigure(line_buffering=mode != "full", write_through=mode == "none")


def _read_program(args: argparse.Namespace):
    """The program's SourceFile and the positional parameters that follow it."""
    from auger.compiler.diagnostics import SourceFile

    if args.program_text is not None:
        return SourceFile("stdin", args.program_text), tuple(args.arguments)
    if not args.arguments:
        raise UsageError("no program given: use -e 'PROGRAM', a FILE, or - to read stdin")
    path, *positional = args.arguments
    if path == "-":
        return SourceFile("stdin", sys.stdin.read()), tuple(positional)
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except OSError as error:
        raise Failure(f"cannot open '{path}': {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise Failure(f"cannot read '{path}': not UTF-8 text (byte {error.start})") from None
    return SourceFile(path, text), tuple(positional)


def _write_emitted(content: str | bytes, output: str | None) -> None:
    """Text stages end with a newline; the object is written as it is."""
    data = content if isinstance(content, bytes) else (content.rstrip("\n") + "\n").encode()
    if output is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        with open(output, "wb") as file:
            file.write(data)
    except OSError as error:
        raise Failure(f"cannot write '{output}': {error.strerror}") from None


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
