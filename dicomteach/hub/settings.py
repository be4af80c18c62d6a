"""The hub's settings, from the environment: one place that reads every ``DICOMTEACH_HUB_*``.

=============================== ================= ==============================================
variable                        default           what
=============================== ================= ==============================================
``DICOMTEACH_HUB_STATE``        ``<project>/.hub`` the state folder (:class:`HubState`)
``DICOMTEACH_HUB_IP``           ``127.0.0.1``     the address learners open
``DICOMTEACH_HUB_PORT``         ``8000``          its port
``DICOMTEACH_HUB_API_PORT``     port + 81         the hub's own port (servers talk to it)
``DICOMTEACH_HUB_PROXY_PORT``   port + 1          the proxy's control port
``DICOMTEACH_HUB_PREFIX``       ``dt-``           prefix of the accounts' system users
``DICOMTEACH_HUB_MEM_LIMIT``    ``2G``            memory per server (where enforceable)
``DICOMTEACH_HUB_UPLOAD_LIMIT`` ``256M``          largest file a learner may upload or save
``DICOMTEACH_HUB_IDLE``         ``3600``          seconds before an idle server is stopped
``DICOMTEACH_HUB_DEMO``         unset             ``1``: no system users, even as root
``DICOMTEACH_HUB_PYTHON``       the hub's own     the Python every server runs (readable by all)
``DICOMTEACH_ADMIN``            ``instructor``    the first instructor's username
``DICOMTEACH_ADMIN_PASSWORD``   generated         their first password (else printed once)
``DICOMTEACH_COURSE``           ``dicomteach``    the sample course's id
=============================== ================= ==============================================
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from dicomteach.errors import DicomTeachError
from dicomteach.hub.roster import COURSE_PATTERN, USERNAME_PATTERN
from dicomteach.hub.state import HubState
from dicomteach.hub.system import isolation_available

__all__ = ["HubSettings", "parse_bytes"]


def parse_bytes(text: str, variable: str = "DICOMTEACH_HUB_MEM_LIMIT") -> int:
    """``"2G"``, ``"512M"``, ``"1048576"`` as a number of bytes (``variable`` names it in errors).

    >>> parse_bytes("2G"), parse_bytes("512M"), parse_bytes("0")
    (2147483648, 536870912, 0)
    """
    match = re.fullmatch(r"\s*(\d+)\s*([KMGT]?)i?B?\s*", text, re.IGNORECASE)
    if not match:
        raise DicomTeachError(f"{variable}={text!r} is not a size like 2G or 512M")
    power = " KMGT".index(match.group(2).upper() or " ")
    return int(match.group(1)) * 1024**power


@dataclass(frozen=True)
class HubSettings:
    """What the hub is told by the environment (see the module docstring)."""

    project: Path
    state: HubState
    ip: str
    port: int
    api_port: int
    proxy_port: int
    prefix: str
    mem_limit: int
    upload_limit: int
    idle_seconds: int
    isolated: bool
    admin: str
    course: str
    python: Path

    @classmethod
    def from_environment(cls, project: Path, env: dict[str, str] | None = None) -> HubSettings:
        """The settings for the project folder ``project`` (the repository's root).

        >>> s = HubSettings.from_environment(Path("/srv/dicomteach"), {"DICOMTEACH_HUB_PORT": "9000"})
        >>> s.port, s.api_port, s.state.root.as_posix(), s.admin
        (9000, 9081, '/srv/dicomteach/.hub', 'instructor')
        """
        env = dict(os.environ if env is None else env)
        port = int(env.get("DICOMTEACH_HUB_PORT", "8000"))
        prefix = env.get("DICOMTEACH_HUB_PREFIX", "dt-")
        if not re.fullmatch(r"[a-z][a-z0-9]{0,8}-", prefix):
            raise DicomTeachError(
                f"DICOMTEACH_HUB_PREFIX={prefix!r}: 1-9 lower-case letters or digits, then '-'"
            )
        admin = env.get("DICOMTEACH_ADMIN", "instructor").strip().lower()
        if not re.fullmatch(USERNAME_PATTERN, admin):
            raise DicomTeachError(f"DICOMTEACH_ADMIN={admin!r} is not a valid username")
        course = env.get("DICOMTEACH_COURSE", "dicomteach")
        if not re.fullmatch(COURSE_PATTERN, course):
            raise DicomTeachError(f"DICOMTEACH_COURSE={course!r} is not a valid course id")
        return cls(
            project=Path(project),
            state=HubState(Path(env.get("DICOMTEACH_HUB_STATE") or Path(project) / ".hub")),
            ip=env.get("DICOMTEACH_HUB_IP", "127.0.0.1"),
            port=port,
            api_port=int(env.get("DICOMTEACH_HUB_API_PORT", port + 81)),
            proxy_port=int(env.get("DICOMTEACH_HUB_PROXY_PORT", port + 1)),
            prefix=prefix,
            mem_limit=parse_bytes(env.get("DICOMTEACH_HUB_MEM_LIMIT", "2G")),
            upload_limit=parse_bytes(
                env.get("DICOMTEACH_HUB_UPLOAD_LIMIT", "256M"), "DICOMTEACH_HUB_UPLOAD_LIMIT"
            ),
            idle_seconds=int(env.get("DICOMTEACH_HUB_IDLE", "3600")),
            isolated=env.get("DICOMTEACH_HUB_DEMO", "") not in ("1", "true", "yes")
            and isolation_available(),
            admin=admin,
            course=course,
            python=Path(env.get("DICOMTEACH_HUB_PYTHON") or sys.executable),
        )
