"""The constructed parser object, kept in the user's cache directory.

Building lark's standalone parser from its serialized tables, and the
lexers a first parse compiles, took about 19 ms of every start-up; unpickling
the built object, lexers included, takes about 6. The cache
file is `$XDG_CACHE_HOME/auger/parser-KEY.pickle` (default `~/.cache`), KEY
naming the grammar and Python version, so a regenerated grammar or another
interpreter never reads a stale file. Any problem with the cache (no home,
read-only or foreign directory, a corrupt or truncated file) means building
the parser as without a cache: the cache only ever saves time.

A pickle runs code when loaded, so only a file this user owns, in a
directory this user owns, that no one else may write, is read.
"""

from __future__ import annotations

import _sre
import importlib
import io
import os
import pickle
import re
import sys
from types import ModuleType
from typing import Callable, TypeVar

T = TypeVar("T")

# Part of every cache file's name: raise it when what is stored changes.
_FORMAT = 2


def cached(key: str, build: Callable[[], T], complete: Callable[[T], None] = lambda _: None) -> T:
    """The object pickled under `key`, or `build()`, pickled for next time
    after `complete` has done to it the lazy work worth keeping (it runs only
    when there is a cache to write)."""
    path = _cache_path(key)
    if path is not None:
        loaded = _load(path)
        if loaded is not None:
            return loaded
    built = build()
    if path is not None:
        _store(path, built, complete)
    return built


def _cache_path(key: str) -> str | None:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not os.path.isabs(base):
        return None
    version = "".join(map(str, sys.version_info[:2]))
    return os.path.join(base, "auger", f"parser-{key}-py{version}-{_FORMAT}.pickle")


def _private(path: str) -> bool:
    """Owned by this user and writable by no one else."""
    status = os.stat(path)
    return status.st_uid == os.geteuid() and not status.st_mode & 0o022


def _load(path: str):
    try:
        if not (_private(os.path.dirname(path)) and _private(path)):
            return None
        with open(path, "rb") as file:
            return _Unpickler(file).load()
    except Exception:  # noqa: BLE001 - a missing or bad cache is rebuilt, whatever broke it
        return None


def _store(path: str, value, complete: Callable) -> None:
    import tempfile

    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        if not _private(directory):
            return
        complete(value)
        buffer = io.BytesIO()
        _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
        # Written aside and renamed, so a concurrent reader sees a whole file or none.
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=".parser-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(buffer.getvalue())
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        pass  # no cache this time; the next start-up tries again


class _Pickler(pickle.Pickler):
    # The lexer keeps a reference to the `re` module; modules are stored by name.
    def persistent_id(self, obj):
        return obj.__name__ if isinstance(obj, ModuleType) else None

    def reducer_override(self, obj):
        if type(obj) is re.Pattern:
            compiled = _compiled_form(obj)
            if compiled is not None:
                return _restore_pattern, compiled
        return NotImplemented


def _compiled_form(pattern: re.Pattern) -> tuple | None:
    """What `re` hands the regex engine for `pattern`. A pickled pattern is
    otherwise compiled again when loaded, and `re`'s compiler, pure Python,
    is most of the cost of building the lexers. This is the private
    interface of `re` (3.11's re._compiler.compile), hence the check against
    the pattern itself and the Python version in the cache key."""
    try:
        from re import _compiler as _re_compiler, _parser as _re_parser

        parsed = _re_parser.parse(pattern.pattern, pattern.flags)
        # Opcodes are int subclasses that do not pickle; the engine takes ints.
        code = [int(word) for word in _re_compiler._code(parsed, pattern.flags)]
        groupindex = dict(parsed.state.groupdict)
        indexgroup = [None] * parsed.state.groups
        for name, index in groupindex.items():
            indexgroup[index] = name
        form = (pattern.pattern, pattern.flags | parsed.state.flags, code,
                parsed.state.groups - 1, groupindex, tuple(indexgroup))
        again = _restore_pattern(*form)
    except Exception:  # noqa: BLE001 - another `re`: pickle the pattern as usual
        return None
    if (again.pattern, again.flags, again.groups, again.groupindex) != (
        pattern.pattern, pattern.flags, pattern.groups, pattern.groupindex
    ):
        return None
    return form


def _restore_pattern(*form) -> re.Pattern:
    return _sre.compile(*form)


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid):
        return importlib.import_module(pid)
