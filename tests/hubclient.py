"""A real classroom hub for the tests and the load benchmark, and a learner talking to it by HTTP.

:class:`Hub` runs ``dicomteach hub setup`` and then JupyterHub from the
repository's ``jupyterhub_config.py`` on free 127.0.0.1 ports, with a state
folder of its own under ``/tmp`` (reachable by the accounts' system users,
which a pytest temporary folder is not) and a system-user prefix of its own
(``dtt<hex>-``), so test accounts never meet real ones. :meth:`Hub.stop` ends
the hub, which stops every server and the proxy, then removes the system users
and groups the run made. :class:`Learner` logs in as a browser does (the login
form with its ``_xsrf``), starts its server, and runs code in a kernel of it
through the kernel's websocket.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _others_can_run(path: Path) -> bool:
    """Whether a user other than the owner may reach and execute ``path`` (and what it links to)."""
    path = path.resolve()
    for parent in [*reversed(path.parents)][1:]:
        if not os.stat(parent).st_mode & 0o001:
            return False
    return bool(os.stat(path).st_mode & 0o005 == 0o005)


def accounts_python(folder: Path) -> Path:
    """A Python every account may run, with this environment's packages.

    This interpreter when others can run it; else (a venv made from a Python
    under ``/root``, as on the project's build machine) a venv of the system's
    Python of the same version whose ``lib``, ``share`` and ``etc`` are this
    environment's (the packages' compiled parts keep one ABI within 3.x).
    """
    if _others_can_run(Path(sys.executable)):
        return Path(sys.executable)
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    # The very interpreter the packages were installed for, hard-linked (no copy) beside the
    # venv when it is on the same disk: its stdlib and libpython, reachable by every user.
    base = Path(sys.base_prefix)
    python = folder / "python"
    try:
        (python / "bin").mkdir(parents=True)
        (python / "lib").mkdir()
        os.link(Path(sys.executable).resolve(), python / "bin" / f"python{version}")
        subprocess.run(
            ["cp", "-al", str(base / "lib" / f"python{version}"), str(python / "lib" / f"python{version}")],
            check=True, capture_output=True, env={"PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        for shared in base.glob("lib/libpython*.so*"):
            os.link(shared, python / "lib" / shared.name)
        shutil.rmtree(python / "lib" / f"python{version}" / "site-packages")
        system = python / "bin" / f"python{version}"
        home = system.parent
        for part in [python, *python.rglob("*")]:
            if part.is_dir():
                part.chmod(0o755)
    except (OSError, subprocess.CalledProcessError):
        shutil.rmtree(python, ignore_errors=True)
        system = Path(f"/usr/bin/python{version}")
        home = Path("/usr/bin")
    if not _others_can_run(system):
        raise RuntimeError(f"no Python {version} the accounts can run ({system})")
    venv = folder / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "lib" / f"python{version}").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(system)
    (venv / "pyvenv.cfg").write_text(
        f"home = {home}\ninclude-system-site-packages = false\nversion = {version}\n"
    )
    site = Path(sys.prefix) / "lib" / f"python{version}" / "site-packages"
    (venv / "lib" / f"python{version}" / "site-packages").symlink_to(site)
    for name in ("share", "etc"):
        (venv / name).symlink_to(Path(sys.prefix) / name)
    for part in [venv, *venv.rglob("*")]:
        if not part.is_symlink():
            part.chmod(0o755)
    return venv / "bin" / "python"


class Hub:
    """A classroom hub on free ports (see the module docstring)."""

    def __init__(
        self, *, demo: bool = False, samples: bool = False, admin_password: str | None = None
    ):
        self.folder = Path(tempfile.mkdtemp(prefix="dicomteach-hub-", dir="/tmp"))
        self.folder.chmod(0o711)
        self.state = self.folder / "state"
        self.prefix = f"dtt{secrets.token_hex(2)}-"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_password = admin_password or secrets.token_urlsafe(12)
        self.env = dict(os.environ)
        self.env.update(
            DICOMTEACH_HUB_STATE=str(self.state),
            DICOMTEACH_HUB_PORT=str(self.port),
            DICOMTEACH_HUB_API_PORT=str(free_port()),
            DICOMTEACH_HUB_PROXY_PORT=str(free_port()),
            DICOMTEACH_HUB_PREFIX=self.prefix,
            DICOMTEACH_HUB_PYTHON=str(accounts_python(self.folder)),
            DICOMTEACH_ADMIN="teacher",
            DICOMTEACH_ADMIN_PASSWORD=self.admin_password,
            DICOMTEACH_COURSE="ct101",
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
        )
        hard_linked = self.folder / "python" / "lib"
        if hard_linked.is_dir():  # its libpython, found by the servers' loader
            self.env["LD_LIBRARY_PATH"] = str(hard_linked)
        if demo:
            self.env["DICOMTEACH_HUB_DEMO"] = "1"
        self.samples = samples
        self.proc: subprocess.Popen | None = None
        self.log = self.folder / "jupyterhub.log"

    def dicomteach(self, *args: str, **env: str) -> str:
        """Run ``dicomteach ARGS`` with the hub's settings (and ``env`` over them); its output
        (raises on failure)."""
        done = subprocess.run(
            [sys.executable, "-m", "dicomteach.cli", *args],
            env=self.env | env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"dicomteach {' '.join(args)}: {done.stdout}{done.stderr}")
        return done.stdout

    def setup(self) -> str:
        return self.dicomteach("hub", "setup", *([] if self.samples else ["--no-samples"]))

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jupyterhub", "-f", str(ROOT / "jupyterhub_config.py")],
                env=self.env,
                cwd=self.folder,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the hub exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                if requests.get(f"{self.url}/hub/api", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"the hub did not answer in 120 s:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM: JupyterHub stops every server and the proxy, then exits."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        pid_file = self.state / "hub" / "jupyterhub-proxy.pid"
        if pid_file.exists():  # a hub that died at start leaves its proxy behind
            try:
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
            except (ProcessLookupError, ValueError):
                pass

    def remove(self) -> None:
        """Stop, then delete the run's system users and groups and its folder."""
        self.stop()
        for line in Path("/etc/passwd").read_text().splitlines():
            name = line.split(":", 1)[0]
            if name.startswith(self.prefix):
                subprocess.run(["pkill", "-KILL", "-u", name], check=False)
                subprocess.run(["userdel", name], check=False, capture_output=True)
        for line in Path("/etc/group").read_text().splitlines():
            name = line.split(":", 1)[0]
            if name.startswith(self.prefix):
                subprocess.run(["groupdel", name], check=False, capture_output=True)
        from dicomteach.hub import memory

        own = memory._own_group()
        if own is not None:
            for group in own[0].glob(f"dicomteach-{self.prefix}*"):
                try:
                    group.rmdir()
                except OSError:
                    pass
        shutil.rmtree(self.folder, ignore_errors=True)


class Learner(requests.Session):
    """One person's browser session on the hub, by HTTP."""

    def __init__(self, hub_url: str, username: str):
        super().__init__()
        self.hub_url = hub_url
        self.username = username

    def xsrf(self, path: str = "/hub/") -> str:
        for cookie in self.cookies:
            if cookie.name == "_xsrf" and path.startswith(cookie.path or "/"):
                return cookie.value
        return ""

    def login(self, password: str) -> requests.Response:
        """Post the login form as a browser does; the hub's answer (a refusal is a page).

        The redirect after a good login is not followed: following it would start
        the server (the hub's spawn page), which :meth:`start_server` does by the API.
        """
        self.get(f"{self.hub_url}/hub/login")
        return self.post(
            f"{self.hub_url}/hub/login",
            data={"username": self.username, "password": password, "_xsrf": self.xsrf("/hub/")},
            allow_redirects=False,
        )

    def logged_in(self) -> bool:
        answer = self.get(f"{self.hub_url}/hub/api/user", headers={"X-XSRFToken": self.xsrf()})
        return answer.status_code == 200 and answer.json().get("name") == self.username

    def start_server(self, timeout: float = 180) -> float:
        """Start this learner's server and open its Lab once (OAuth); seconds it took.

        ``spawn_seconds`` keeps the part from the request to the hub saying the
        server is ready (the load benchmark's spawn time).
        """
        began = time.monotonic()
        headers = {"X-XSRFToken": self.xsrf("/hub/")}
        answer = self.post(f"{self.hub_url}/hub/api/users/{self.username}/server", headers=headers)
        if answer.status_code not in (201, 202, 400):  # 400: already running
            raise RuntimeError(f"spawn of {self.username}: {answer.status_code} {answer.text}")
        deadline = began + timeout
        while time.monotonic() < deadline:
            model = self.get(
                f"{self.hub_url}/hub/api/users/{self.username}", headers=headers
            ).json()
            server = model.get("servers", {}).get("", {})
            if server.get("ready"):
                self.spawn_seconds = time.monotonic() - began
                break
            time.sleep(0.3)
        else:
            raise RuntimeError(f"the server of {self.username} was not ready in {timeout} s")
        lab = self.get(f"{self.hub_url}/user/{self.username}/lab")
        if lab.status_code != 200:
            raise RuntimeError(f"{self.username}'s Lab answered {lab.status_code}")
        return time.monotonic() - began

    def server_api(self, method: str, path: str, **kwargs) -> requests.Response:
        base = f"/user/{self.username}/"
        headers = {"X-XSRFToken": self.xsrf(base), **kwargs.pop("headers", {})}
        return self.request(method, f"{self.hub_url}{base}api/{path}", headers=headers, **kwargs)

    def kernel_socket(self, kernel_id: str, timeout: float = 60):
        """The websocket of one of this learner's kernels, as their browser opens it."""
        import websocket

        ws_url = self.hub_url.replace("http", "ws", 1)
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.cookies)
        return websocket.create_connection(
            f"{ws_url}/user/{self.username}/api/kernels/{kernel_id}/channels",
            header=[f"Cookie: {cookies}"],
            origin=self.hub_url,
            timeout=timeout,
        )

    def send_shell(self, ws, msg_type: str, content: dict) -> str:
        """Send a shell message on a kernel's websocket; its id."""
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "username": self.username, "session": uuid.uuid4().hex,
                  "msg_type": msg_type, "version": "5.3"}  # fmt: skip
        ws.send(json.dumps({"header": header, "parent_header": {}, "metadata": {},
                            "content": content, "channel": "shell"}))  # fmt: skip
        return msg_id

    def run(self, code: str, timeout: float = 60, keep: bool = False) -> dict[str, str]:
        """Run ``code`` in a new kernel of this learner's server: ``{"stdout", "error"}``.

        The kernel is shut down afterwards unless ``keep`` (its id is then ``"kernel"``).
        """
        kernel = self.server_api("POST", "kernels", json={"name": "python3"})
        kernel.raise_for_status()
        kernel_id = kernel.json()["id"]
        ws = self.kernel_socket(kernel_id, timeout)
        msg_id = self.send_shell(ws, "execute_request", {"code": code, "silent": False})
        out = {"stdout": "", "error": "", "kernel": kernel_id}
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                msg = json.loads(ws.recv())
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = msg["header"]["msg_type"]
                if kind == "stream":
                    out["stdout"] += msg["content"]["text"]
                elif kind == "error":
                    out["error"] = f"{msg['content']['ename']}: {msg['content']['evalue']}"
                elif kind == "status" and msg["content"]["execution_state"] == "idle":
                    break
        finally:
            ws.close()
            if not keep:
                self.server_api("DELETE", f"kernels/{kernel_id}")
        return out


def strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)
