"""The spawner: each account's server runs as its own system user, in its own home.

:class:`ClassroomSpawner` is JupyterHub's local spawner with four additions:

- the server runs as ``<prefix><username>`` (made on the first start, home
  0700), never as the hub account's name itself: a learner named ``root``
  would otherwise be root (docs/decisions.md, decision 33);
- the lessons are copied into ``~/lessons`` on every start, each file only if
  the learner has none of that name, so their work is never overwritten
  (docs/decisions.md, decision 3);
- the account joins the hub groups and system groups the class list gives it
  (an instructor's system group lets them read their course's folder);
- the server and its kernels run in a memory control group limited to
  ``mem_limit`` where the machine allows it (:mod:`dicomteach.hub.memory`).

Two more make a class that starts at once start sooner (docs/hub.md, "Sizing:
a class at once"). The system work of a start (``useradd``, ``gpasswd``,
copying the lessons) runs in a thread, one start at a time (those commands lock
``/etc/passwd`` and fail when it is taken), so the hub keeps answering while a
class's accounts are made. And :meth:`ClassroomSpawner.start` returns once the
server accepts connections: the hub then checks it at once, where it would
otherwise poll with a back-off of up to 5 s between checks and find a server
that is up seconds late.

And the server itself is forked from the server factory
(:mod:`dicomteach.hub.factory`), a process that has imported it already, so a
start costs a tenth of the CPU; when the factory cannot start one, the server
is started as JupyterHub's local spawner does, and the hub's log says so.

In demo mode (no root), servers run as the hub's own user, homes are folders
of the state, and nothing of the above isolates anyone: every page says so.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid
from traitlets import Bool, Unicode

from dicomteach.hub import factory, memory, system
from dicomteach.hub.roster import Roster
from dicomteach.hub.state import HubState

__all__ = ["ClassroomSpawner", "copy_lessons", "wait_for_port"]

# one factory per hub, started by the first server's start (dicomteach/hub/factory.py)
_FACTORY: factory.Factory | None = None
_FACTORY_LOCK = threading.Lock()

# useradd, groupadd and gpasswd lock /etc/passwd and /etc/group: one start makes accounts at a time
_SYSTEM_LOCK = threading.Lock()


def copy_lessons(lessons: Path, home: Path, owner: tuple[int, int] | None) -> list[Path]:
    """Copy each file of ``lessons`` into ``home/lessons`` unless one of that name is there.

    Returns the files copied. A learner's edited lesson, or one they renamed
    and replaced, stays as it is.

    >>> import tempfile
    >>> src, home = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
    >>> _ = (src / "01.ipynb").write_text("{}")
    >>> [p.name for p in copy_lessons(src, home, None)], copy_lessons(src, home, None)
    (['01.ipynb'], [])
    """
    target = home / "lessons"
    target.mkdir(exist_ok=True)
    copied = []
    for source in sorted(lessons.iterdir()):
        destination = target / source.name
        if not source.is_file() or source.name.startswith(".") or destination.exists():
            continue
        shutil.copyfile(source, destination)
        copied.append(destination)
    if owner is not None:
        for path in [target, *copied]:
            os.chown(path, *owner)
    return copied


async def wait_for_port(
    ip: str, port: int, alive: Callable[[], bool], timeout: float, every: float = 0.1
) -> bool:
    """Wait until ``ip:port`` accepts a connection; False if ``alive()`` turns False or time runs out.

    Tested in tests/test_hub.py (a port that opens late, a process that died).
    """
    deadline = time.monotonic() + timeout
    while alive() and time.monotonic() < deadline:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), timeout=1)
        except (TimeoutError, OSError):
            await asyncio.sleep(every)
            continue
        writer.close()
        return True
    return False


class ClassroomSpawner(LocalProcessSpawner):
    """JupyterHub's local spawner, one system user per account (see the module docstring)."""

    state_folder = Unicode(config=True, help="The hub's state folder (HubState).")
    lessons_folder = Unicode(config=True, help="The lessons every home gets a copy of.")
    user_prefix = Unicode("dt-", config=True, help="Prefix of the accounts' system users.")
    isolated = Bool(True, config=True, help="One system user per account (needs root).")
    use_factory = Bool(
        True, config=True, help="Fork servers from the server factory (dicomteach/hub/factory.py)."
    )

    @property
    def _state(self) -> HubState:
        return HubState(Path(self.state_folder))

    @property
    def system_name(self) -> str:
        """The system user this account's server runs as."""
        if not self.isolated:
            return pwd.getpwuid(os.getuid()).pw_name
        return system.system_user(self.user_prefix, self.user.name)

    def _home(self) -> Path:
        if self.isolated:
            return Path(pwd.getpwnam(self.system_name).pw_dir)
        return self._state.home(self.user.name)

    def _prepare_system(self, teaches: list[str]) -> Path:
        """Make the system user and home, join the course groups, copy the lessons; the home.

        Runs in a thread (see the module docstring): no hub database here.
        """
        with _SYSTEM_LOCK:
            if not self.isolated:
                home = self._home()
                home.mkdir(parents=True, exist_ok=True)
                owner = None
            else:
                entry = system.ensure_user(self.system_name, self._state.home(self.system_name))
                for course in teaches:
                    group = system.course_group(self.user_prefix, course)
                    system.ensure_group(group)
                    system.add_to_group(self.system_name, group)
                home, owner = Path(entry.pw_dir), (entry.pw_uid, entry.pw_gid)
        copy_lessons(Path(self.lessons_folder), home, owner)
        return home

    def _join_hub_groups(self, names: list[str]) -> None:
        """Add the account to the hub groups the class list gives it (never removes one)."""
        from jupyterhub import orm

        db = self.user.db
        for name in names:
            group = orm.Group.find(db, name)
            if group is None:
                group = orm.Group(name=name)
                db.add(group)
            if group not in self.user.orm_user.groups:
                self.user.orm_user.groups.append(group)
        db.commit()

    def user_env(self, env: dict[str, str]) -> dict[str, str]:
        env["USER"] = self.system_name
        env["HOME"] = str(self._home())
        env["SHELL"] = "/bin/bash"
        return env

    def make_preexec_fn(self, name: str):
        group = self._memory_group
        become = set_user_setuid(self.system_name) if self.isolated else None

        def preexec() -> None:
            if group is not None:
                group.join()
            if become is not None:
                become()
            else:
                os.chdir(self.notebook_dir or os.getcwd())

        return preexec

    async def start(self):
        account = Roster(self._state.roster).accounts.get(self.user.name)
        self._join_hub_groups(account.groups() if account else [])
        teaches = account.teaches() if account else []
        home = await asyncio.to_thread(self._prepare_system, teaches)
        self.notebook_dir = str(home)
        self._memory_group = None
        if self.mem_limit:
            self._memory_group = memory.limit_for(self.system_name, int(self.mem_limit))
            if self._memory_group is None:
                self.log.warning(
                    "memory limit of %s not enforced: no writable memory control group here",
                    self.user.name,
                )
        ip, port = await self._start_process()
        pid = self.pid
        await wait_for_port(ip, port, lambda: factory.alive(pid), timeout=self.start_timeout)
        if not factory.alive(pid):
            # said now rather than after the hub's http_timeout of polling a dead port
            status = self.proc.poll() if self.proc is not None else None
            raise RuntimeError(
                f"the server of {self.user.name} stopped as it started"
                + (f" (exit status {status})" if status is not None else "")
                + "; its messages are in the hub's log"
            )
        return ip, port

    def _factory(self) -> factory.Factory:
        global _FACTORY
        with _FACTORY_LOCK:
            if _FACTORY is None:
                # only what the server's imports may read: nothing of the hub's secrets
                keep = (
                    "PATH",
                    "LANG",
                    "LC_ALL",
                    "PYTHONPATH",
                    "JUPYTER_CONFIG_PATH",
                    "JUPYTER_PATH",
                )
                base = {k: v for k, v in self.environment.items() if isinstance(v, str)}
                env = {k: v for k, v in {**os.environ, **base}.items() if k in keep}
                _FACTORY = factory.Factory(self.cmd[0], env)
            return _FACTORY

    async def _start_process(self) -> tuple[str, int]:
        """Fork the server from the factory; started as the local spawner does if that fails."""
        if not self.use_factory or self.cmd[1:3] != ["-m", "dicomteach.hub.singleuser"]:
            return await super().start()
        if self.port == 0:
            from jupyterhub.utils import random_port

            self.port = random_port()
        env = self.get_env()
        args = [*self.cmd[3:], *self.get_args()]
        group = self._memory_group
        try:
            pid = await asyncio.to_thread(
                self._factory().start_server,
                args,
                env,
                self.notebook_dir or env.get("HOME", "/"),
                self.system_name if self.isolated else None,
                str(group.folder) if group is not None else None,
            )
        except factory.FactoryError as error:
            self.log.warning("%s; starting the server of %s itself", error, self.user.name)
            return await super().start()
        self.log.info(
            "Forked the server of %s from the server factory: pid %d", self.user.name, pid
        )
        self.proc = None
        self.pid = pid
        return (self.ip or "127.0.0.1", self.port)

    async def stop(self, now: bool = False):
        await super().stop(now=now)
        group = getattr(self, "_memory_group", None)
        if group is not None:
            group.remove()
