import os

import pytest

from auger.probes import tracefs


@pytest.fixture
def tracing():
    """tracefs, mounted; tests that read the kernel's events skip without it."""
    if os.geteuid() != 0:
        pytest.skip("reading tracefs needs root")
    if tracefs.root() is None:
        pytest.skip("tracefs is not available")
    return tracefs.root()
