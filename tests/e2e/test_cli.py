"""The `auger` command line: flags, exit statuses and the shape of its messages.

Most tests call `main([...])` in-process (fast, with capsys); a few run
`python -m auger` and the ./auger launcher as real processes, because start-up,
stdin and exit statuses are only real there.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from auger import __version__
from auger.cli import build_parser, main
from auger.compiler import pipeline
from auger.compiler.diagnostics import SourceFile, warning
from auger.compiler.pipeline import CompileResult

REPO = Path(__file__).resolve().parents[2]


ONE_LINER = "tracepoint:syscalls:sys_enter_read { @[comm] = count(); }"
USAGE_ERROR = re.compile(r"^auger: error: .+$")


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def fake_compile(monkeypatch):
    """Replace the pipeline with one that records its inputs and returns a
    result with the given warnings: tests the CLI's wiring on its own."""
    calls = []

    def install(warnings=()):
        def compile_source(source, options, until):
            calls.append((source, options, until))
            return CompileResult(source, program=None, warnings=tuple(warnings))

        monkeypatch.setattr(pipeline, "compile_source", compile_source)
        return calls

    return install


# ------------------------------------------------------------------ information


def test_version(capsys):
    assert run_main(capsys, "-V") == (0, f"auger v{__version__}\n", "")
    assert run_main(capsys, "--version") == (0, "auger v0.1.0\n", "")


def test_help_lists_every_flag(capsys):
    status, out, err = run_main(capsys, "-h")
    assert status == 0 and err == ""
    assert out.startswith("usage: auger [options] FILE [ARG ...]")
    for flag in ("-e PROGRAM", "-l [PATTERN]", "--unsafe", "-c CMD", "-p PID", "-o FILE",
                 "-f {text,json}", "-B {none,line,full}", "-q", "-k", "--dry-run",
                 "--emit STAGE", "--no-warnings", "-v", "-h, --help", "-V, --version"):
        assert flag in out, flag


def test_runtime_flags_are_parsed_now():
    args = build_parser().parse_intermixed_args(
        ["-kk", "-q", "-f", "json", "-B", "line", "-o", "out.txt", "-p", "42", "-e", "BEGIN {}", "x"]
    )
    assert (args.helper_checks, args.quiet, args.format, args.buffering) == (2, True, "json", "line")
    assert (args.output, args.pid, args.program_text, args.arguments) == ("out.txt", 42, "BEGIN {}", ["x"])
    assert build_parser().parse_intermixed_args(["-c", "sleep 1", "-e", "x"]).command == "sleep 1"


# ------------------------------------------------------------------ command-line errors


@pytest.mark.parametrize(
    "args, message",
    [
        (["-Z"], "auger: error: unrecognized arguments: -Z"),
        (["-f", "xml", "-e", "BEGIN {}"], "auger: error: argument -f: invalid choice: 'xml' (choose from 'text', 'json')"),
        (["-B", "some", "-e", "BEGIN {}"], "auger: error: argument -B: invalid choice: 'some' (choose from 'none', 'line', 'full')"),
        (["-p", "abc", "-e", "BEGIN {}"], "auger: error: argument -p: pid 'abc' is not a valid decimal number"),
        (["-p", "0", "-e", "BEGIN {}"], "auger: error: argument -p: pid '0' is not a valid decimal number"),
        (["-c", " ", "-e", "BEGIN {}"], "auger: error: argument -c: the command is empty"),
        (["-c", "ls", "-p", "1", "-e", "BEGIN {}"], "auger: error: argument -p: not allowed with argument -c"),
        (["--emit", "bytecode", "-e", "BEGIN {}"], "auger: error: argument --emit: invalid choice: 'bytecode' (choose from 'ast', 'llvm', 'asm', 'obj')"),
        ([], "auger: error: no program given: use -e 'PROGRAM', a FILE, or - to read stdin"),
        (["-l", "sched*", "extra"], "auger: error: -l takes one PATTERN, not a program"),
        (["-e"], "auger: error: argument -e: expected one argument"),
    ],
)
def test_command_line_errors_exit_1_argparse_style(capsys, args, message):
    status, out, err = run_main(capsys, *args)
    assert status == 1 and out == ""
    assert err.startswith("usage: auger ")
    assert err.splitlines()[-1] == message


def test_missing_file(capsys):
    assert run_main(capsys, "nosuch.bt") == (1, "", "auger: cannot open 'nosuch.bt': No such file or directory\n")


def test_directory_as_file(capsys, tmp_path):
    assert run_main(capsys, str(tmp_path)) == (1, "", f"auger: cannot open '{tmp_path}': Is a directory\n")


def test_file_that_is_not_text(capsys, tmp_path):
    path = tmp_path / "binary.bt"
    path.write_bytes(b"BEGIN { \xff }")
    assert run_main(capsys, str(path)) == (1, "", f"auger: cannot read '{path}': not UTF-8 text (byte 8)\n")


# ------------------------------------------------------------------ wiring to the pipeline


def test_file_name_and_positional_args_reach_the_compiler(capsys, tmp_path, fake_compile):
    path = tmp_path / "prog.bt"
    path.write_text("BEGIN { printf(\"%s\\n\", str($1)); }")
    calls = fake_compile()
    assert run_main(capsys, "--dry-run", str(path), "a", "-5", "--unsafe") == (0, "", "")
    source, options, until = calls[0]
    assert source == SourceFile(str(path), path.read_text())
    assert (options.positional, options.unsafe, options.has_child, until) == (("a", "-5"), True, False, "codegen")


def test_e_program_is_named_stdin_and_takes_all_positionals(capsys, fake_compile):
    calls = fake_compile()
    assert run_main(capsys, "--dry-run", "-c", "true", "-e", "BEGIN {}", "1", "2") == (0, "", "")
    source, options, _ = calls[0]
    assert source.name == "stdin" and source.text == "BEGIN {}"
    assert options.positional == ("1", "2") and options.has_child


def test_warnings_go_to_stderr_and_exit_0(capsys, fake_compile):
    fake_compile([warning("unused map @x")])
    assert run_main(capsys, "--dry-run", "-e", "BEGIN {}") == (0, "", "stdin: WARNING: unused map @x\n")
    assert run_main(capsys, "--dry-run", "--no-warnings", "-e", "BEGIN {}") == (0, "", "")


def test_running_needs_root(capsys, monkeypatch):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert run_main(capsys, "-e", "BEGIN {}") == (
        1,
        "",
        "auger: running a program needs root (BPF); --dry-run checks it without\n",
    )


@pytest.mark.root
def test_runs_a_begin_program(capsys):
    program = 'BEGIN { printf("%d\\n", -10 / 3); @x = 5; exit(); }'
    assert run_main(capsys, "-e", program) == (0, "-3\n\n\n@x: 5\n", "Attached 1 probe\n")


def test_emit_llvm_asm_and_obj(capsys, tmp_path):
    program = "BEGIN { @x = 1 + 2; }"
    status, out, _ = run_main(capsys, "--emit", "llvm", "-e", program)
    assert status == 0 and 'section "auger/' in out
    status, out, _ = run_main(capsys, "--emit", "asm", "-e", program)
    assert status == 0 and "exit" in out
    target = tmp_path / "x.o"
    assert run_main(capsys, "--emit", "obj", "-o", str(target), "-e", program) == (0, "", "")
    assert target.read_bytes()[:4] == b"\x7fELF"


# ------------------------------------------------------------------ internal errors


def test_internal_error_is_one_line_exit_2(capsys, monkeypatch):
    def broken(*args):
        raise RuntimeError("pass exploded\non two lines")

    monkeypatch.setattr(pipeline, "compile_source", broken)
    assert run_main(capsys, "--dry-run", "-e", "BEGIN {}") == (
        2, "", "internal error: RuntimeError: pass exploded on two lines\n",
    )


def test_internal_error_with_v_adds_the_traceback(capsys, monkeypatch):
    def broken(*args):
        raise KeyError("slot")

    monkeypatch.setattr(pipeline, "compile_source", broken)
    status, out, err = run_main(capsys, "-v", "--dry-run", "-e", "BEGIN {}")
    assert status == 2
    assert err.startswith("Traceback (most recent call last):")
    assert err.splitlines()[-1] == "internal error: KeyError: 'slot'"


def test_internal_error_in_a_real_process():
    script = (
        "import sys; from auger.compiler import pipeline; from auger.cli import main\n"
        "def broken(*a): raise ZeroDivisionError('division by zero')\n"
        "pipeline.compile_source = broken\n"
        "sys.exit(main(['--dry-run', '-e', 'BEGIN {}']))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (
        2, "", "internal error: ZeroDivisionError: division by zero\n",
    )


# ------------------------------------------------------------------ real programs


def test_emit_ast_prints_the_parsers_tree(capsys):
    from auger.compiler.ast_printer import format_ast
    from auger.compiler.parser import parse

    expected = format_ast(parse(SourceFile("stdin", ONE_LINER)))
    status, out, err = run_main(capsys, "--emit", "ast", "-e", ONE_LINER)
    assert (status, err) == (0, "")
    assert out.rstrip("\n") == expected.rstrip("\n") and out.endswith("\n")


def test_emit_ast_to_a_file(capsys, tmp_path):
    target = tmp_path / "ast.txt"
    assert run_main(capsys, "--emit", "ast", "-o", str(target), "-e", ONE_LINER) == (0, "", "")
    assert target.read_text().startswith(run_main(capsys, "--emit", "ast", "-e", ONE_LINER)[1])


def test_syntax_error_shape(capsys):
    status, out, err = run_main(capsys, "--dry-run", "-e", "BEGIN { @x = ; }")
    assert (status, out) == (1, "")
    location, source_line, underline = err.splitlines()[:3]
    assert re.fullmatch(r"stdin:1:\d+-\d+: ERROR: .+", location)
    assert source_line == "BEGIN { @x = ; }"
    assert re.fullmatch(r" *~+", underline)
    column = int(location.split(":")[2].split("-")[0])
    assert underline.index("~") == column - 1


def test_dry_run_of_a_good_one_liner_is_silent(capsys):
    assert run_main(capsys, "--dry-run", "-e", ONE_LINER) == (0, "", "")


def test_a_real_warning_exits_0(capsys):
    assert run_main(capsys, "--dry-run", "-e", "BEGIN { 1 + 2; }") == (
        0, "", "stdin:1:9-14: WARNING: Return value discarded.\nBEGIN { 1 + 2; }\n        ~~~~~\n",
    )


def test_dry_run_with_v_names_the_passes_and_the_object(capsys):
    status, out, err = run_main(capsys, "-v", "--dry-run", "-e", "BEGIN { }")
    assert (status, out) == (0, "")
    assert re.fullmatch(r"auger: dry run OK \(passes run: parse, analyse, codegen; BPF object: \d+ bytes\)\n", err)


def test_dry_run_compiles_to_the_object(capsys):
    """An error only code generation finds (a frame over the BPF stack limit)
    fails the dry run too."""
    program = "BEGIN { @x = " + " + ".join(["elapsed"] * 140) + "; }"
    status, out, err = run_main(capsys, "--dry-run", "-e", program)
    assert (status, out) == (1, "")
    assert re.match(r"stdin:1:1-6: ERROR: probe BEGIN needs \d+ bytes of BPF stack", err)


def test_semantic_error_shape(capsys):
    status, out, err = run_main(capsys, "--dry-run", "-e", "BEGIN { nosuchfunction(); }")
    assert (status, out) == (1, "")
    assert re.match(r"stdin:1:9-\d+: ERROR: .*nosuchfunction", err)


def test_stdin_program_with_positional_args(run_auger):
    done = run_auger("--dry-run", "-", "5", "six", stdin='BEGIN { printf("%d %s %d\\n", $1, str($2), $#); }')
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_emit_ast_from_stdin_equals_e(run_auger):
    from_stdin = run_auger("--emit", "ast", "-", stdin=ONE_LINER)
    from_e = run_auger("--emit", "ast", "-e", ONE_LINER)
    assert from_stdin.returncode == 0 and from_stdin.stderr == ""
    assert from_stdin.stdout == from_e.stdout != ""


# ------------------------------------------------------------------ the driver


def test_pipeline_stops_after_the_named_pass():
    result = pipeline.compile_source(SourceFile("stdin", ONE_LINER), until="parse")
    assert (result.analysis, result.warnings) == (None, ())
    assert len(result.program.probes) == 1


def test_pipeline_runs_every_pass_by_default():
    result = pipeline.compile_source(SourceFile("stdin", "BEGIN { @x = $1 + 1; }"), pipeline.CompileOptions(positional=("1",)))
    assert result.analysis is not None and len(result.analysis.probes) == 1
    assert result.compiled.object_code[:4] == b"\x7fELF"


def test_pipeline_stops_after_the_pass_asked_for():
    result = pipeline.compile_source(SourceFile("stdin", ONE_LINER), until="analyse")
    assert result.analysis is not None and result.compiled is None


def test_pipeline_rejects_an_unknown_pass():
    with pytest.raises(ValueError, match="unknown pass 'link'"):
        pipeline.compile_source(SourceFile("stdin", ONE_LINER), until="link")


# ------------------------------------------------------------------ processes


@pytest.mark.root
def test_list_one_tracepoint(run_auger):
    done = run_auger("-l", "tracepoint:sched:sched_switch")
    assert (done.returncode, done.stdout, done.stderr) == (0, "tracepoint:sched:sched_switch\n", "")


@pytest.mark.root
def test_list_with_a_wildcard(capsys):
    status, out, err = run_main(capsys, "-l", "tracepoint:sched:sched_switc*")
    assert (status, out, err) == (0, "tracepoint:sched:sched_switch\n", "")


def test_list_rejects_an_unknown_probe_type(capsys):
    assert run_main(capsys, "-l", "nosuch:foo") == (1, "", "ERROR: Invalid probe type: nosuch\n")


@pytest.mark.parametrize(
    "args, stdin",
    [
        (["-Z"], ""),
        (["missing.bt"], ""),
        (["--dry-run", "-e", "BEGIN { @x = ; }"], ""),
        (["--dry-run", "-e", "BEGIN { nosuchfunction(); }"], ""),
        (["--dry-run", "-e", "}{"], ""),
        (["--dry-run", "-"], "\x00\x01 garbage {{{"),
        (["--dry-run", "-e", ""], ""),
        (["--emit", "ast", "-e", "BEGIN { $x = \"unterminated }"], ""),
        (["-c", "true", "-e", ONE_LINER], ""),
    ],
)
def test_no_traceback_ever(run_auger, args, stdin):
    done = run_auger(*args, stdin=stdin)
    assert "Traceback" not in done.stderr
    assert done.returncode in (0, 1), done.stderr
    assert not done.stderr.startswith("internal error"), done.stderr


def test_python_m_auger_flushes_its_output_before_exiting(capsys, run_auger):
    """`python -m auger` ends the process without the interpreter's teardown
    (cli.run_command): what stdout buffered must still come out."""
    program = "BEGIN { @x = 1; printf(\"%d\\n\", @x); }"
    status, expected, _ = run_main(capsys, "--emit", "llvm", "-e", program)
    done = run_auger("--emit", "llvm", "-e", program)
    assert (done.returncode, done.stdout) == (status, expected) and len(expected) > 1000


def test_python_m_auger_version(run_auger, tmp_path):
    done = run_auger("-V", cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "auger v0.1.0\n", "")


def test_launcher_from_another_directory(tmp_path):
    launcher = REPO / "auger"
    if not (launcher.is_file() and os.access(launcher, os.X_OK)):
        pytest.skip("the ./auger launcher is not in place")
    done = subprocess.run([str(launcher), "-V"], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert (done.returncode, done.stdout) == (0, "auger v0.1.0\n")
