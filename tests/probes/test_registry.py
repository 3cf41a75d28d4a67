"""The registry's table of built-in providers, which it imports lazily."""

from __future__ import annotations

import subprocess
import sys

from auger.probes import registry


def test_built_in_spellings_are_the_provider_classes_own():
    for built_in in registry._BUILT_INS:
        loaded = built_in.load()
        assert (loaded.name, tuple(loaded.aliases)) == (built_in.name, built_in.aliases)


def test_lookups_import_only_the_named_provider():
    script = (
        "import sys\n"
        "from auger.probes import registry\n"
        "registry.provider('t'); registry.provider('Begin')\n"
        "print(sorted(m for m in sys.modules if m.startswith('auger.probes.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    loaded = done.stdout
    assert "auger.probes.tracepoint" in loaded and "auger.probes.special" in loaded, done.stderr
    assert "auger.probes.uprobe" not in loaded and "auger.probes.elf_symbols" not in loaded


def test_every_provider_is_listed_and_wildcards_load_them():
    names = [provider.name for provider in registry.providers()]
    assert names == [built_in.name for built_in in registry._BUILT_INS]
    assert registry.provider("U").name == "usdt" and registry.provider("u").name == "uprobe"
