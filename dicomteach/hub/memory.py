"""A memory limit per learner, by a control group (cgroup) the hub makes for each server.

JupyterHub's local spawner passes ``mem_limit`` to the server as a number and
enforces nothing. Where the hub may write its own control group (root, cgroup
v2 with the memory controller delegated, or v1's memory hierarchy), each
learner's server and everything it starts (kernels, terminals) run in a child
group ``dicomteach-<user>`` whose limit is ``mem_limit``: past it the kernel
reclaims, then the out-of-memory killer ends a process of that learner only.
Elsewhere :func:`limit_for` returns ``None`` and the hub logs that the limit is
not enforced. ``RLIMIT_AS`` was rejected: it limits address space, not memory,
and numerical libraries reserve far more than they use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MemoryGroup", "limit_for"]

_CGROUP = Path("/sys/fs/cgroup")


def _own_group() -> tuple[Path, str] | None:
    """This process's memory control group folder and its limit file's name."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):  # v1
            return _CGROUP / "memory" / path.lstrip("/"), "memory.limit_in_bytes"
    for line in lines:
        if line.startswith("0::"):  # v2
            folder = _CGROUP / line[3:].lstrip("/")
            if not (folder / "cgroup.controllers").exists():
                folder = _CGROUP / "unified" / line[3:].lstrip("/")
            controllers = (folder / "cgroup.controllers").read_text().split()
            if "memory" in controllers:
                return folder, "memory.max"
    return None


@dataclass(frozen=True)
class MemoryGroup:
    """A control group holding one server's processes, with a memory limit."""

    folder: Path
    limit_file: str

    def join(self) -> None:
        """Move the calling process into the group (called in the child before exec)."""
        with open(self.folder / "cgroup.procs", "w") as procs:
            procs.write(str(os.getpid()))

    def remove(self) -> None:
        """Remove the group once its processes have ended (a no-op while any remain)."""
        try:
            self.folder.rmdir()
        except OSError:
            pass

    def peak_bytes(self) -> int | None:
        """The most memory the group used (v1 ``max_usage_in_bytes``, v2 ``memory.peak``)."""
        for name in ("memory.max_usage_in_bytes", "memory.peak"):
            try:
                return int((self.folder / name).read_text())
            except (OSError, ValueError):
                continue
        return None


def limit_for(name: str, limit_bytes: int) -> MemoryGroup | None:
    """A control group ``dicomteach-<name>`` under this process's, limited to ``limit_bytes``.

    ``None`` where control groups cannot be written here (not root, read-only, no
    memory controller).
    """
    if os.geteuid() != 0 or limit_bytes <= 0:
        return None
    own = _own_group()
    if own is None:
        return None
    parent, limit_file = own
    folder = parent / f"dicomteach-{name}"
    try:
        folder.mkdir(exist_ok=True)
        (folder / limit_file).write_text(str(int(limit_bytes)))
    except OSError:
        return None
    return MemoryGroup(folder, limit_file)
