"""Compiled BPF objects kept on disk, so that a program compiled before
skips LLVM: loading llvmlite's binding, creating the target machine and
optimising cost more than all the rest of a one-liner's compilation.

The LLVM IR text determines the object, given the LLVM build and the target
settings; a key hashes all of them (codegen/target.py makes it). Entries are
files `KEY.o` in the cache directory:

  - `$AUGER_CACHE_DIR` when set, else `/var/cache/auger` for root, else
    `$XDG_CACHE_HOME/auger` (default `~/.cache/auger`);
  - `AUGER_NO_CACHE=1` turns the cache off;
  - written aside and renamed, so a reader sees a whole entry or none; each
    starts with a hash of the object it holds, so a damaged one is ignored
    (and replaced by the next compilation);
  - only a directory and files this user owns and no one else may write are
    used: an object is loaded into the kernel as it is;
  - above MAX_BYTES in all, the least recently used entries go (a
    concurrent writer whose temporary file goes just stores nothing).

Any problem with the cache means compiling as without one: the cache only
ever saves time, it never fails a run.
"""

from __future__ import annotations

import os

try:  # hashlib's own blake2b, without loading OpenSSL for it (~2 ms of start-up)
    from _blake2 import blake2b
except ImportError:
    from hashlib import blake2b

MAX_BYTES = 64 << 20
_SUFFIX = ".o"
_TEMPORARY_SUFFIX = ".tmp"
_MAGIC = b"auger-object-1\n"
_DIGEST_SIZE = 32


def key(*parts: str) -> str:
    """The cache key of an object made from `parts` (IR text and settings)."""
    digest = blake2b(digest_size=_DIGEST_SIZE)
    for part in parts:
        encoded = part.encode()
        digest.update(len(encoded).to_bytes(8, "little"))
        digest.update(encoded)
    return digest.hexdigest()


def directory() -> str | None:
    """Where entries live, or None when the cache is off or has no place."""
    if os.environ.get("AUGER_NO_CACHE", "") not in ("", "0"):
        return None
    chosen = os.environ.get("AUGER_CACHE_DIR")
    if not chosen:
        if os.geteuid() == 0:
            chosen = "/var/cache/auger"
        else:
            base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
            chosen = os.path.join(base, "auger")
    return chosen if os.path.isabs(chosen) else None


def load(cache_key: str) -> bytes | None:
    """The object stored under `cache_key`, or None (absent, damaged,
    not private, or no cache)."""
    where = directory()
    if where is None:
        return None
    path = os.path.join(where, cache_key + _SUFFIX)
    try:
        with open(path, "rb") as file:
            if not (_private(os.stat(where)) and _private(os.fstat(file.fileno()))):
                return None
            data = file.read()
    except OSError:
        return None
    header = len(_MAGIC) + _DIGEST_SIZE
    object_code = data[header:]
    if data[: len(_MAGIC)] != _MAGIC or data[len(_MAGIC) : header] != _checksum(object_code):
        return None
    try:
        os.utime(path)  # recently used: pruned last
    except OSError:
        pass
    return object_code


def store(cache_key: str, object_code: bytes) -> None:
    """Keep `object_code` under `cache_key`, then prune; silently nothing
    when the cache cannot be written."""
    where = directory()
    if where is None:
        return
    path = os.path.join(where, cache_key + _SUFFIX)
    temporary = f"{path}.{os.getpid()}{_TEMPORARY_SUFFIX}"
    try:
        os.makedirs(where, mode=0o700, exist_ok=True)
        if not _private(os.stat(where)):
            return
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(_MAGIC + _checksum(object_code) + object_code)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
        prune(where, MAX_BYTES)
    except OSError:
        pass  # no entry this time; the next compilation tries again


def prune(where: str, limit: int) -> None:
    """Remove the least recently used entries of `where` until the rest
    take at most `limit` bytes."""
    entries = []
    with os.scandir(where) as scan:
        for entry in scan:
            # A writer killed before its rename leaves a temporary file behind.
            if entry.name.endswith((_SUFFIX, _TEMPORARY_SUFFIX)):
                try:
                    status = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                entries.append((status.st_mtime_ns, status.st_size, entry.path))
    total = sum(size for _, size, _ in entries)
    for _, size, path in sorted(entries):
        if total <= limit:
            break
        try:
            os.unlink(path)
        except OSError:
            continue
        total -= size


def _checksum(object_code: bytes) -> bytes:
    return blake2b(object_code, digest_size=_DIGEST_SIZE).digest()


def _private(status: os.stat_result) -> bool:
    """Owned by this user and writable by no one else."""
    return status.st_uid == os.geteuid() and not status.st_mode & 0o022
