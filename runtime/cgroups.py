"""cgroup_path(id): the paths of a cgroup id in every mounted cgroup
hierarchy, as bpftrace 0.27.1 shows them:
`unified:/user.slice,cpu:/user.slice` (cgroup2 first, then the v1
hierarchies by name, each named after its mount point's last component;
hierarchies without the id left out). A cgroup's id is its directory's
inode number.
"""

from __future__ import annotations

import fnmatch
import os

_MOUNTS = "/proc/mounts"
_cache: dict[tuple[int, str], str] = {}


def cgroup_path(cgroup_id: int, pattern: str = "*") -> str:
    """The paths in the hierarchies whose name matches the wildcard
    `pattern` (cgroup_path's filter: "unified", "cpu*")."""
    unified, legacy = _hierarchy_roots()
    roots = [("unified", root) for root in unified] + sorted((os.path.basename(root), root) for root in legacy)
    roots = [(name, root) for name, root in roots if fnmatch.fnmatchcase(name, pattern)]
    found = ((name, _path_in(cgroup_id, root)) for name, root in roots)
    return ",".join(f"{name}:{path}" for name, path in found if path)


def _hierarchy_roots() -> tuple[list[str], list[str]]:
    """The cgroup2 and cgroup (v1) mount points: bpftrace takes the mounts
    whose source is named `cgroup2` or `cgroup`."""
    unified, legacy = [], []
    try:
        with open(_MOUNTS) as mounts:
            for line in mounts:
                source, mount_point = line.split()[:2]
                if source in ("cgroup", "cgroup2") and os.path.isdir(mount_point):
                    (unified if source == "cgroup2" else legacy).append(mount_point)
    except OSError:
        pass
    return unified, legacy


def _path_in(cgroup_id: int, root: str) -> str:
    """The cgroup's path below `root` ("/" for the root), "" if not there."""
    cached = _cache.get((cgroup_id, root))
    if cached is not None and _inode(root + cached.rstrip("/")) == cgroup_id:
        return cached
    if _inode(root) == cgroup_id:
        _cache[cgroup_id, root] = "/"
        return "/"
    for directory, subdirectories, _files in os.walk(root):
        for name in subdirectories:
            path = os.path.join(directory, name)
            if _inode(path) == cgroup_id:
                _cache[cgroup_id, root] = path[len(root):]
                return _cache[cgroup_id, root]
    return ""


def _inode(path: str) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None
