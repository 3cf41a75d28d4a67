"""Shared test helpers: the `root` marker and a fixture that runs the CLI.

Mark a test `@pytest.mark.root` when it needs root (loading BPF programs,
attaching probes); it is skipped with a one-line reason otherwise.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config):
    config.addinivalue_line("markers", "root: needs root; skipped when not run as root")


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)


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
