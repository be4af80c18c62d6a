"""The server factory: learners' servers forked from one process that has already imported them.

A class that starts at once on two cores spends nearly all of a server's start
importing Python: Jupyter Server, JupyterLab, Voilà, nbgrader's extensions and
JupyterHub's single-user code, about 0.6 s of CPU each time, thirty times over
(docs/hub.md, "Sizing: a class at once"). The factory imports them once, when
the hub starts its first server, then forks a copy of itself for every server.
A forked server starts on about a tenth of that CPU and shares the imported
code's memory pages with the factory until it writes to them.

What a fork inherits is what makes this safe or not, so the rules are these
(docs/decisions.md, decision 41):

- The factory runs with an environment of its own, holding nothing secret: the
  hub's secrets are never in its memory.
- The factory never reads a request. It accepts a connection and forks at once;
  the *child* reads the request (the server's arguments, environment with the
  learner's API token, folder, system user and memory control group). So no
  learner's token is ever in the factory's memory, and no later fork inherits it.
- The child then does what :class:`subprocess.Popen` and JupyterHub's
  ``preexec_fn`` do for a spawned server: a new session, the memory control
  group, the learner's groups and user (``set_user_setuid``, the function the
  hub's own spawner uses), the folder, the environment, stdin from
  ``/dev/null``, default signal handlers; and only then runs the server's entry
  point. The process the hub signals, polls and stops is that child.
- Only the hub's user can connect: the socket is in a folder only it can open,
  and the peer's user is checked.
- The factory ends when the hub does (its stdin, a pipe from the hub, closes),
  and reaps the servers it forked as they end.

    python -s -m dicomteach.hub.factory SOCKET [--entry module:function]

The hub side is :class:`Factory` (used by ``dicomteach/hub/spawner.py``); when
the factory cannot start or answer, the spawner starts the server as
JupyterHub's local spawner does, and says so in the hub's log.
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["Factory", "FactoryError", "main"]

# what a learner's server imports before it can answer (dicomteach/hub/singleuser.py runs it)
PRELOAD = (
    "jupyterhub.singleuser",
    "jupyterhub.singleuser.extension",
    "jupyter_server.serverapp",
    "jupyter_server.services.contents.largefilemanager",
    "jupyter_server_terminals",
    "jupyterlab.labapp",
    "jupyterlab_server",
    "jupyter_lsp",
    "notebook.app",
    "notebook_shim.shim",
    "voila.server_extension",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
    "nbgrader.server_extensions.validate_assignment",
    "dicomteach.hub.appkernels",
    "dicomteach.hub.contents",
)
ENTRY = "dicomteach.hub.singleuser:main"
REQUEST_LIMIT = 1 << 20  # a request is a few KiB: arguments and an environment
REQUEST_SECONDS = 10.0
#: After the factory failed to start, servers start as new processes for this long
RETRY_SECONDS = 60.0


class FactoryError(RuntimeError):
    """The factory could not start a server; the spawner then starts it itself."""


def _preload(names: tuple[str, ...]) -> list[str]:
    """Import what a server will import; the names that failed (a server without that part)."""
    from dicomteach.hub.singleuser import lighten

    lighten()
    failed = []
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - an optional part missing is the server's business
            failed.append(name)
    return failed


def _read_request(conn: socket.socket) -> dict[str, Any]:
    conn.settimeout(REQUEST_SECONDS)
    (size,) = struct.unpack("!I", _exactly(conn, 4))
    if size > REQUEST_LIMIT:
        raise ValueError(f"a request of {size} bytes (at most {REQUEST_LIMIT})")
    request = json.loads(_exactly(conn, size))
    if not isinstance(request, dict) or not isinstance(request.get("args"), list):
        raise ValueError("a request without its arguments")
    return request


def _exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        part = conn.recv(size - len(data))
        if not part:
            raise ValueError("the request ended early")
        data += part
    return data


def _send(conn: socket.socket, message: dict[str, Any]) -> None:
    data = json.dumps(message).encode()
    conn.sendall(struct.pack("!I", len(data)) + data)


def _become(request: dict[str, Any]) -> None:
    """In the forked child: what Popen and the hub's preexec_fn would do, in their order."""
    os.setsid()
    cgroup = request.get("cgroup")
    if cgroup:
        with open(Path(cgroup) / "cgroup.procs", "w") as procs:
            procs.write(str(os.getpid()))
    user = request.get("user")
    if user:
        from jupyterhub.spawner import set_user_setuid

        set_user_setuid(user, chdir=False)()
    os.chdir(request.get("cwd") or "/")
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in dict(request.get("env") or {}).items()})
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - stdin for the life of the server


def _child(conn: socket.socket, listener: socket.socket, entry: str) -> None:
    """Run one server in this forked process; never returns."""
    code: Any = 1
    try:
        for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(number, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        listener.close()
        request = _read_request(conn)
        _send(conn, {"pid": os.getpid()})
        conn.close()
        _become(request)
        module, _, function = entry.partition(":")
        run = getattr(importlib.import_module(module), function)
        sys.argv = [module, *[str(a) for a in request["args"]]]
        try:
            code = run()
        except SystemExit as stop:
            code = stop.code
    except BaseException as error:  # noqa: BLE001 - said in the hub's log, then this process ends
        print(f"dicomteach server factory: a server did not start: {error}", file=sys.stderr)
        code = 1
    finally:
        try:
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code if isinstance(code, int) else (0 if code is None else 1))


def _reap(*_: object) -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def serve(path: Path, entry: str = ENTRY) -> None:
    """Listen on ``path`` and fork a server per connection until stdin closes."""
    failed = _preload(PRELOAD)
    if failed:
        print(f"dicomteach server factory: not preloaded: {', '.join(failed)}", file=sys.stderr)
    module, _, _function = entry.partition(":")
    importlib.import_module(module)
    signal.signal(signal.SIGCHLD, _reap)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if path.exists():
        path.unlink()
    listener.bind(str(path))
    os.chmod(path, 0o600)
    listener.listen(64)
    owner = os.getuid()
    watch = selectors.DefaultSelector()
    watch.register(listener, selectors.EVENT_READ, "connect")
    watch.register(sys.stdin, selectors.EVENT_READ, "hub")
    print("ready", flush=True)
    os.dup2(2, 1)  # from now on, what a server prints goes where its messages go: the hub's log
    try:
        while True:
            try:
                events = watch.select()
            except InterruptedError:  # a child ended (SIGCHLD)
                continue
            for key, _mask in events:
                if key.data == "hub":
                    if not sys.stdin.buffer.read1(4096):
                        return  # the hub is gone
                    continue
                conn, _ = listener.accept()
                creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
                _pid, uid, _gid = struct.unpack("3i", creds)
                if uid != owner or threading.active_count() != 1:
                    why = "a stranger" if uid != owner else "threads running"
                    print(f"dicomteach server factory: refused a request ({why})", file=sys.stderr)
                    conn.close()
                    continue
                if os.fork() == 0:
                    _child(conn, listener, entry)
                conn.close()
    finally:
        listener.close()
        path.unlink(missing_ok=True)


class Factory:
    """The hub's side: starts the factory once, asks it for servers, restarts it if it died."""

    def __init__(self, python: str, env: dict[str, str], entry: str = ENTRY):
        self.python = python
        self.env = env
        self.entry = entry
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._folder: Path | None = None
        self._failed = -RETRY_SECONDS  # when it last failed to start (time.monotonic)

    @property
    def socket_path(self) -> Path:
        assert self._folder is not None
        return self._folder / "factory.sock"

    @property
    def pid(self) -> int | None:
        """The factory process's id while it runs."""
        if self._process is None or self._process.poll() is not None:
            return None
        return self._process.pid

    def _ensure(self, timeout: float) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        if time.monotonic() - self._failed < RETRY_SECONDS:
            raise FactoryError("the server factory failed to start a moment ago")
        self._folder = Path(tempfile.mkdtemp(prefix="dicomteach-factory-"))  # 0700, ours
        env = {**self.env, "HOME": str(self._folder)}
        command = [self.python, "-s", "-m", "dicomteach.hub.factory", str(self.socket_path)]
        self._process = subprocess.Popen(
            [*command, f"--entry={self.entry}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=self._folder,
            start_new_session=True,
        )
        out = self._process.stdout
        assert out is not None
        watch = selectors.DefaultSelector()
        watch.register(out, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        # what an import prints before the factory is ready goes by; "ready" ends the wait
        while (left := deadline - time.monotonic()) > 0 and watch.select(left):
            line = out.readline()
            if line.strip() == b"ready":
                return
            if not line:  # the factory ended
                break
        self.close()
        self._failed = time.monotonic()
        raise FactoryError(f"the server factory did not start within {timeout:.0f} s")

    def start_server(
        self,
        args: list[str],
        env: dict[str, str],
        cwd: str,
        user: str | None,
        cgroup: str | None = None,
        timeout: float = 30.0,
    ) -> int:
        """Fork a server with these arguments, environment, folder, user and group; its pid."""
        request = {"args": args, "env": env, "cwd": cwd, "user": user, "cgroup": cgroup}
        with self._lock:
            try:
                self._ensure(timeout)
            except OSError as error:
                raise FactoryError(f"the server factory could not start: {error}") from error
            path = self.socket_path
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(timeout)
                conn.connect(str(path))
                data = json.dumps(request).encode()
                conn.sendall(struct.pack("!I", len(data)) + data)
                (size,) = struct.unpack("!I", _exactly(conn, 4))
                reply = json.loads(_exactly(conn, size))
        except (OSError, ValueError) as error:
            raise FactoryError(f"the server factory did not answer: {error}") from error
        return int(reply["pid"])

    def close(self) -> None:
        """End the factory (the servers it forked go on)."""
        process, self._process = self._process, None
        if process is not None:
            if process.stdin is not None:
                process.stdin.close()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self._folder is not None:
            (self._folder / "factory.sock").unlink(missing_ok=True)
            try:
                self._folder.rmdir()
            except OSError:
                pass


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie waiting to be reaped is not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dicomteach.hub.factory")
    parser.add_argument("socket", type=Path)
    parser.add_argument("--entry", default=ENTRY)
    options = parser.parse_args(argv)
    serve(options.socket, options.entry)
    return 0


if __name__ == "__main__":
    sys.exit(main())
