"""The compiled-object cache (compiler/object_cache.py) and its use by
codegen/target.py: a program compiled before is served without LLVM."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from auger.compiler import object_cache
from auger.compiler.codegen import target
from auger.compiler.diagnostics import SourceFile
from auger.compiler.pipeline import compile_source

PROGRAM = "BEGIN { @x = 1 + 2; printf(\"%d\\n\", @x); }"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    directory = tmp_path / "objects"
    monkeypatch.setenv("AUGER_CACHE_DIR", str(directory))
    monkeypatch.delenv("AUGER_NO_CACHE", raising=False)
    return directory


@pytest.fixture(scope="module")
def ir_text() -> str:
    return compile_source(SourceFile("stdin", PROGRAM)).compiled.ir_text


def _no_llvm(monkeypatch):
    def refuse(_ir_text):
        raise AssertionError("LLVM ran")

    monkeypatch.setattr(target, "_optimised", refuse)


def test_data_layout_constant_is_llvms():
    assert target.data_layout() == target.DATA_LAYOUT == target.llvm_data_layout()


def test_miss_stores_then_hit_skips_llvm(cache, ir_text, monkeypatch):
    compiled = target.emit_object(ir_text)
    (entry,) = cache.iterdir()
    assert entry.suffix == ".o" and oct(entry.stat().st_mode & 0o777) == "0o600"
    _no_llvm(monkeypatch)
    assert target.emit_object(ir_text) == compiled


def test_other_ir_is_a_miss(cache, ir_text):
    target.emit_object(ir_text)
    target.emit_object(ir_text + "; another program\n")
    assert len(list(cache.iterdir())) == 2


def test_key_covers_every_part():
    assert object_cache.key("a", "b") != object_cache.key("ab")
    assert object_cache.key("a", "b") != object_cache.key("a", "c")
    assert object_cache.key("a", "b") == object_cache.key("a", "b")


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty"])
def test_a_damaged_entry_is_recompiled_and_replaced(cache, ir_text, monkeypatch, damage):
    compiled = target.emit_object(ir_text)
    (entry,) = cache.iterdir()
    data = entry.read_bytes()
    entry.write_bytes({"flip": data[:-1] + bytes([data[-1] ^ 1]), "truncate": data[:-9], "empty": b""}[damage])
    assert target.emit_object(ir_text) == compiled
    assert entry.read_bytes() == data
    _no_llvm(monkeypatch)
    assert target.emit_object(ir_text) == compiled


def test_an_entry_others_may_write_is_not_used(cache, ir_text, monkeypatch):
    target.emit_object(ir_text)
    (entry,) = cache.iterdir()
    os.chmod(entry, 0o666)
    assert object_cache.load(entry.stem) is None
    os.chmod(entry, 0o600)
    os.chmod(cache, 0o777)
    assert object_cache.load(entry.stem) is None


def test_disabled_by_auger_no_cache(cache, ir_text, monkeypatch):
    monkeypatch.setenv("AUGER_NO_CACHE", "1")
    target.emit_object(ir_text)
    assert not cache.exists()
    assert object_cache.directory() is None


def test_an_unusable_directory_only_costs_time(tmp_path, ir_text, monkeypatch):
    monkeypatch.delenv("AUGER_NO_CACHE", raising=False)
    blocker = tmp_path / "file"
    blocker.write_text("")
    expected = target.emit_object(ir_text)
    for where in (str(blocker), str(blocker / "below"), "relative/path"):
        monkeypatch.setenv("AUGER_CACHE_DIR", where)
        assert target.emit_object(ir_text) == expected
    assert blocker.read_text() == ""


def test_directory_defaults(monkeypatch, tmp_path):
    monkeypatch.delenv("AUGER_NO_CACHE", raising=False)
    monkeypatch.delenv("AUGER_CACHE_DIR", raising=False)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert object_cache.directory() == "/var/cache/auger"
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert object_cache.directory() == str(tmp_path / "auger")
    monkeypatch.setenv("AUGER_CACHE_DIR", "/somewhere")
    assert object_cache.directory() == "/somewhere"


def test_prune_drops_the_least_recently_used(tmp_path):
    for age, name in enumerate(["newest", "middle", "oldest"]):
        entry = tmp_path / f"{name}.o"
        entry.write_bytes(b"x" * 100)
        os.utime(entry, (1_000_000 - age, 1_000_000 - age))
    (tmp_path / "other").write_bytes(b"x" * 1000)  # not an entry: kept, not counted
    (tmp_path / "lost.o.123.tmp").write_bytes(b"")  # an interrupted write, older than any entry
    os.utime(tmp_path / "lost.o.123.tmp", (1, 1))
    object_cache.prune(str(tmp_path), 250)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["middle.o", "newest.o", "other"]


def test_a_hit_marks_the_entry_recently_used(cache, ir_text):
    target.emit_object(ir_text)
    (entry,) = cache.iterdir()
    os.utime(entry, (1, 1))
    assert object_cache.load(entry.stem) is not None
    assert entry.stat().st_mtime > 1


def test_a_cached_compilation_does_not_load_llvm(cache):
    """The whole pipeline, in fresh processes: the second one finds the
    object in the cache and never imports llvmlite's binding."""
    script = (
        "import sys\n"
        "from auger.compiler.diagnostics import SourceFile\n"
        "from auger.compiler.pipeline import compile_source\n"
        f"compiled = compile_source(SourceFile('stdin', {PROGRAM!r})).compiled\n"
        "print('llvmlite.binding' in sys.modules, compiled.object_code.hex())\n"
    )
    runs = [
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=os.environ)
        for _ in range(2)
    ]
    (cold_llvm, cold_object), (warm_llvm, warm_object) = (run.stdout.split() for run in runs)
    assert (cold_llvm, warm_llvm) == ("True", "False"), runs[1].stderr
    assert warm_object == cold_object
