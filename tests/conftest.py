"""Shared test helpers: the `root` marker and a fixture that runs the CLI.

Mark a test `@pytest.mark.root` when it needs root (loading BPF programs,
attaching probes); it is skipped with a one-line reason otherwise.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config):
    config.addinivalue_line("markers", "root: needs root; skipped when not run as root")
    # Compiled objects go to a cache of the test run's own (compiler/object_cache.py),
    # so that no test depends on what earlier runs left in the user's.
    config._auger_cache = tempfile.mkdtemp(prefix="auger-test-objects-")
    os.environ["AUGER_CACHE_DIR"] = config._auger_cache


def pytest_unconfigure(config):
    shutil.rmtree(getattr(config, "_auger_cache", ""), ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def tracing():
    """tracefs, mounted; tests that read the kernel's events skip without it."""
    from auger.probes import tracefs

    if os.geteuid() != 0:
        pytest.skip("reading tracefs needs root")
    if tracefs.root() is None:
        pytest.skip("tracefs is not available")
    return tracefs.root()


@pytest.fixture
def run_auger():
    """Run `python -m auger ARGS...` in a child process; returns the
    CompletedProcess with text stdout and stderr."""

    def run(*args: str, stdin: str = "", cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "auger", *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=120,
        )

    return run


def build_c(directory: Path, name: str, source: str, *flags: str) -> str:
    """Compile the C `source` into `directory/name` with gcc (and `flags`);
    the test is skipped when gcc is missing. Returns the binary's path."""
    if shutil.which("gcc") is None:
        pytest.skip(f"gcc is needed to build {name}")
    source_path, binary = directory / f"{name}.c", directory / name
    source_path.write_text(source)
    subprocess.run(["gcc", *flags, "-o", str(binary), str(source_path)], check=True)
    return str(binary)


def run_until_interrupted(program: str, attached: str, action) -> tuple[int, str, str]:
    """Run `auger -e program` in the background; once its first stderr
    line is `attached` (the "Attached N probes" line), call `action()`,
    then interrupt it (SIGINT) and return (status, stdout, the rest of stderr)."""
    auger = subprocess.Popen([sys.executable, "-m", "auger", "-e", program],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert auger.stderr.readline() == attached
        action()
        auger.send_signal(signal.SIGINT)
        output, errors = auger.communicate(timeout=30)
    finally:
        auger.kill()
        auger.wait()
    return auger.returncode, output, errors


@contextlib.contextmanager
def processes_running(*commands: list[str]):
    """The `commands` run (killed when the block ends): busy loops that
    give probes something to see."""
    running = [subprocess.Popen(command) for command in commands]
    try:
        yield
    finally:
        for process in running:
            process.kill()
            process.wait()
