"""Start-up cost guards: what a `--dry-run` imports, the frozen value classes
that replaced per-class dataclass code generation, and the parser cache."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest

from auger.compiler import ast, parser, parser_cache
from auger.compiler.diagnostics import SourceFile, Span
from auger.compiler.semantic.args_type import ArgsType
from auger.compiler.types import FieldLayout, IntType, StackType

ONE_LINER = "tracepoint:syscalls:sys_enter_read { @[comm] = count(); }"
# Heavy or unneeded on the dry-run path: LLVM (llvmlite's binding: the object
# comes from the object cache), full lark (the standalone module replaces
# it), and standard modules only some probes or error paths need.
NOT_IMPORTED = ("llvmlite.binding", "lark", "subprocess", "logging", "auger.grammar.auger_parser_tables")


def test_dry_run_imports_no_llvm_lark_or_subprocess(tmp_path):
    script = (
        "import sys\n"
        "from auger.cli import main\n"
        f"status = main(['--dry-run', '-e', {ONE_LINER!r}])\n"
        f"print(status, *sorted(m for m in {NOT_IMPORTED!r} if m in sys.modules))\n"
    )
    # The first run fills the parser and object caches (and so imports the
    # tables and LLVM); the second is the usual one.
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "AUGER_CACHE_DIR": str(tmp_path / "objects")}
    env.pop("AUGER_NO_CACHE", None)
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert done.stdout.split() == ["0"], done.stdout + done.stderr


# ---------------------------------------------------------------- frozen value classes


def test_frozen_classes_are_value_dataclasses():
    span = Span(1, 1, 1, 2)
    node = ast.MapRef(span, "m")
    assert node == ast.MapRef(span, "m", ()) and hash(node) == hash(ast.MapRef(span, "m"))
    assert node != ast.MapRef(span, "n") and node != ast.Variable(span, "m")
    assert repr(node) == f"MapRef(span={span!r}, name='m', keys=())"
    assert [f.name for f in dataclasses.fields(node)] == ["span", "name", "keys"]
    assert dataclasses.replace(node, name="n") == ast.MapRef(span, "n")
    assert dataclasses.is_dataclass(node) and ast.MapRef.__match_args__ == ("span", "name", "keys")
    with pytest.raises(dataclasses.FrozenInstanceError):
        node.name = "x"
    with pytest.raises(TypeError):
        ast.MapRef(span)  # `name` has no default


def test_frozen_defaults_and_dataclass_subclasses():
    assert IntType() == IntType(64, True) and str(IntType(32, False)) == "uint32"
    assert StackType(True).limit == 127
    args = ArgsType("p", (FieldLayout("a", IntType(), 0),))
    assert args.size == 8 and hash(args) == hash(ArgsType("p", (FieldLayout("a", IntType(), 0),)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        args.probe = "q"


# ---------------------------------------------------------------- the parser cache


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "auger"


def test_cache_stores_then_loads(cache_home):
    built = []
    assert parser_cache.cached("k", lambda: built.append(1) or {"x": [1]}) == {"x": [1]}
    assert parser_cache.cached("k", lambda: built.append(1) or None) == {"x": [1]}
    assert built == [1] and len(list(cache_home.iterdir())) == 1


def test_a_corrupt_or_foreign_writable_cache_is_rebuilt(cache_home):
    parser_cache.cached("k", lambda: "first")
    (path,) = cache_home.iterdir()
    path.write_bytes(b"not a pickle")
    assert parser_cache.cached("k", lambda: "second") == "second"
    os.chmod(path, 0o666)
    assert parser_cache.cached("k", lambda: "third") == "third"


def test_an_unwritable_cache_directory_only_costs_time(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # not a directory
    assert parser_cache.cached("k", lambda: "built") == "built"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")
    assert parser_cache.cached("k", lambda: "built") == "built"


def test_cached_regexes_match_as_compiled_ones(cache_home):
    import re

    patterns = [re.compile(r"(?P<word>[a-z_]\w*)|(?P<num>\d+)"), re.compile(rb"x\s+y", re.I), re.compile("(?s).")]
    parser_cache.cached("re", lambda: patterns)  # stores them
    restored = parser_cache.cached("re", lambda: None)
    for original, loaded in zip(patterns, restored):
        assert (loaded.pattern, loaded.flags, loaded.groupindex) == (original.pattern, original.flags, original.groupindex)
        sample = b"X \t y" if isinstance(original.pattern, bytes) else "abc 12\n"
        assert [m.span() for m in loaded.finditer(sample)] == [m.span() for m in original.finditer(sample)]


def test_the_cached_parser_parses_and_reports_like_a_built_one(cache_home, monkeypatch):
    text = 'BEGIN { printf("%d", 1 + 2); }'
    monkeypatch.setattr(parser, "_instance", None)
    built = parser.parse(SourceFile("a", text))
    monkeypatch.setattr(parser, "_instance", None)
    assert parser.parse(SourceFile("a", text)) == built  # from the pickle now
    for bad in ('BEGIN { "abc }', "BEGIN { /* x }", "BEGIN { 1 + }"):
        monkeypatch.setattr(parser, "_instance", None)
        with pytest.raises(parser.CompileError) as cached_error:
            parser.parse(SourceFile("a", bad))
        monkeypatch.setattr(parser, "_instance", parser._build_parser())
        with pytest.raises(parser.CompileError) as built_error:
            parser.parse(SourceFile("a", bad))
        assert str(cached_error.value.diagnostics) == str(built_error.value.diagnostics)


def test_generated_tables_belong_to_the_generated_parser():
    tables = parser.GENERATED_TABLES_PATH.read_text()
    code = parser.GENERATED_PATH.read_text()
    assert tables.splitlines()[:2] == code.splitlines()[:2]  # the same grammar hash
    assert "\nimport logging" not in code
