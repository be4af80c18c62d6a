"""The hub's configuration: :func:`configure` fills JupyterHub's ``c`` from :class:`HubSettings`.

``jupyterhub_config.py`` calls it. What it sets, and why, is docs/hub.md; the
choices behind it are docs/decisions.md, decision 33. In short:

- the proxy (configurable-http-proxy, pinned in ``package.json``) and the hub
  listen on 127.0.0.1; the database, cookie secret and class list lie in the
  state folder's ``hub/`` (0700, files 0600);
- :class:`~dicomteach.hub.auth.ClassroomAuthenticator` (sign-up with approval,
  the class list's accounts, lock-out after 5 wrong passwords) and
  :class:`~dicomteach.hub.spawner.ClassroomSpawner` (a system user per account);
- one hub-managed service per installed course: its formgrader and authoring
  app, a Jupyter server running as the course's grader in the course folder,
  open to the hub group ``formgrade-<course>``; learners of ``nbgrader-<course>``
  fetch and submit through the exchange in the state folder;
- the live-session service (``dicomteach/live``, ``/services/live/``), open to every
  course's groups; it decides itself who may do what in a session (docs/live.md);
- jupyterhub-idle-culler stops servers idle for ``DICOMTEACH_HUB_IDLE`` seconds.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Any

from dicomteach.hub import system
from dicomteach.hub.roster import USERNAME_PATTERN, Roster
from dicomteach.hub.settings import HubSettings

__all__ = ["DEMO_NOTICE", "configure", "lessons"]

HERE = Path(__file__).resolve().parent
DEMO_NOTICE = (
    "Demo mode: every account's server runs as the same system user, so learners can read "
    "each other's files and the course's answer keys. Run the hub as root for a class."
)
"""What every page says when the hub cannot give each account a system user of its own."""


def _free_port(ip: str) -> int:
    with socket.socket() as probe:
        probe.bind((ip, 0))
        return probe.getsockname()[1]


def lessons(folder: Path) -> list[dict[str, str]]:
    """The lessons the home page lists: ``{"file", "title"}`` for each notebook of ``folder``.

    >>> [l["title"] for l in lessons(Path("notebooks"))][:1]
    ['01 what a study is']
    """
    return [
        {"file": p.name, "title": p.stem.replace("-", " ")}
        for p in sorted(Path(folder).glob("*.ipynb"))
    ]


def _environment(settings: HubSettings, config_dir: Path) -> dict[str, str]:
    """What every server the hub starts finds in its environment."""
    from dicomteach.apps import SHARE

    bins = dict.fromkeys([str(settings.python.parent), str(Path(sys.executable).parent)])
    env = {
        "PATH": os.pathsep.join([*bins, "/usr/local/bin", "/usr/bin", "/bin"]),
        "DICOMTEACH_CACHE": str(settings.state.cache),
        "DICOMTEACH_EXCHANGE": str(settings.state.exchange),
        "JUPYTER_CONFIG_PATH": str(config_dir),
        "JUPYTER_PATH": str(SHARE),
        # read by the servers' jupyter_server_config.py (dicomteach/hub/contents.py)
        "DICOMTEACH_UPLOAD_LIMIT": str(settings.upload_limit),
    }
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


def _singleuser(settings: HubSettings) -> list[str]:
    """The command of a server the hub starts: by the interpreter, so no script's first line
    needs to point at a Python every account may run; our module, which starts it lighter
    (dicomteach/hub/singleuser.py)."""
    return [str(settings.python), "-m", "dicomteach.hub.singleuser"]


def _course_service(settings: HubSettings, course: str) -> dict[str, Any]:
    """The hub-managed service of one course: its formgrader and authoring app."""
    from dicomteach.course.author_app import COURSE_ENV

    folder = settings.state.course(course)
    env = _environment(settings, HERE / "jupyter" / "grader")
    env |= {"DICOMTEACH_COURSE": course, COURSE_ENV: str(folder)}
    command = [*_singleuser(settings), "--ServerApp.default_url=/formgrader"]
    command.append(f"--ServerApp.root_dir={folder}")
    service: dict[str, Any] = {
        "name": course,
        "url": f"http://127.0.0.1:{_free_port('127.0.0.1')}",
        "command": command,
        "cwd": str(folder),
        "environment": env,
        "oauth_no_confirm": True,
    }
    if settings.isolated:
        grader = system.grader_user(settings.prefix, course)
        service["user"] = grader
        env["HOME"] = str(settings.state.home(grader))
    else:
        env["HOME"] = str(folder)
        if os.geteuid() == 0:
            command.append("--allow-root")
    return service


def _live_service(settings: HubSettings) -> dict[str, Any]:
    """The live-session service: run by the hub as its own user, sessions in ``live/``."""
    env = {
        "PATH": os.pathsep.join(
            [str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]
        ),
        "DICOMTEACH_LIVE_STATE": str(settings.state.live),
        "DICOMTEACH_HUB_STATE": str(settings.state.root),
        "DICOMTEACH_CACHE": str(settings.state.cache),
    }
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return {
        "name": "live",
        "url": f"http://127.0.0.1:{_free_port('127.0.0.1')}",
        "command": [sys.executable, "-m", "dicomteach.live"],
        "environment": env,
        "oauth_no_confirm": True,
    }


def installed_courses(settings: HubSettings) -> list[str]:
    """The courses installed in the state folder (each holds ``nbgrader_config.py``)."""
    if not settings.state.courses.is_dir():
        return []
    return sorted(p.parent.name for p in settings.state.courses.glob("*/nbgrader_config.py"))


def configure(c: Any, project: Path, env: dict[str, str] | None = None) -> HubSettings:
    """Fill JupyterHub's configuration ``c`` for the project folder ``project``."""
    import nativeauthenticator

    from dicomteach.hub.install import course_owner

    settings = HubSettings.from_environment(project, env)
    state = settings.state.prepare()
    roster = Roster(state.roster)
    courses = installed_courses(settings)
    for course in courses:
        course_owner(settings, course)  # its grader and group exist after a move or restore

    c.JupyterHub.ip = settings.ip
    c.JupyterHub.port = settings.port
    c.JupyterHub.hub_ip = "127.0.0.1"
    c.JupyterHub.hub_port = settings.api_port
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings.proxy_port}"
    proxy = settings.project / "node_modules" / ".bin" / "configurable-http-proxy"
    if proxy.exists():
        c.ConfigurableHTTPProxy.command = [str(proxy)]
    c.ConfigurableHTTPProxy.pid_file = str(state.private / "jupyterhub-proxy.pid")
    c.JupyterHub.db_url = f"sqlite:///{state.database}"
    c.JupyterHub.cookie_secret_file = str(state.cookie_secret)
    # Ctrl-C stops every server and the proxy; their state is in the database
    c.JupyterHub.cleanup_servers = True
    c.JupyterHub.cleanup_proxy = True

    c.JupyterHub.authenticator_class = "dicomteach.hub.auth.ClassroomAuthenticator"
    c.ClassroomAuthenticator.roster_file = str(state.roster)
    c.Authenticator.admin_users = {n for n, a in roster.accounts.items() if a.admin}
    # who may log in is NativeAuthenticator's: approved sign-ups and the class list
    c.Authenticator.allow_all = True
    c.Authenticator.username_pattern = USERNAME_PATTERN
    c.NativeAuthenticator.enable_signup = True
    c.NativeAuthenticator.open_signup = False
    c.NativeAuthenticator.allowed_failed_logins = 5
    c.NativeAuthenticator.seconds_before_next_try = 600
    c.NativeAuthenticator.minimum_password_length = 10
    c.NativeAuthenticator.check_common_password = True

    c.JupyterHub.spawner_class = "dicomteach.hub.spawner.ClassroomSpawner"
    c.ClassroomSpawner.state_folder = str(state.root)
    c.ClassroomSpawner.lessons_folder = str(settings.project / "notebooks")
    c.ClassroomSpawner.user_prefix = settings.prefix
    c.ClassroomSpawner.isolated = settings.isolated
    c.Spawner.cmd = _singleuser(settings)
    c.Spawner.default_url = "/lab"
    live = _live_service(settings)
    c.Spawner.environment = {
        **_environment(settings, HERE / "jupyter" / "singleuser"),
        # where a widget's kernel asks the live service (dicomteach/widgets/live.py)
        "DICOMTEACH_LIVE_URL": live["url"],
    }
    c.Spawner.mem_limit = settings.mem_limit or None
    c.Spawner.start_timeout = 120
    c.Spawner.http_timeout = 90
    if not settings.isolated and os.geteuid() == 0:
        c.Spawner.args = ["--allow-root"]

    templates = Path(nativeauthenticator.__file__).parent / "templates"
    c.JupyterHub.template_paths = [str(HERE / "templates"), str(templates)]
    c.JupyterHub.template_vars = {"dicomteach_lessons": lessons(settings.project / "notebooks")}
    if not settings.isolated:
        c.JupyterHub.template_vars["announcement"] = DEMO_NOTICE

    groups: dict[str, dict[str, list[str]]] = {}
    roles: list[dict[str, Any]] = [
        {
            # each server's own token: report activity, read its owner's groups (nbgrader's
            # course list), list the courses' services, and ask the live service as its
            # owner (a widget's go_live and join, dicomteach/widgets/live.py); no more.
            # A token holds only what its owner holds of these (a learner: no read:services)
            "name": "server",
            "scopes": [
                "users:activity!user",
                "access:servers!server",
                "read:users:name!user",
                "read:users:groups!user",
                "list:services",
                "read:services",
                "access:services!service=live",
            ],
        },
        {
            "name": "idle-culler",
            "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
            "services": ["idle-culler"],
        },
    ]
    services: list[dict[str, Any]] = [
        {
            "name": "idle-culler",
            "command": [
                sys.executable,
                "-m",
                "jupyterhub_idle_culler",
                f"--timeout={settings.idle_seconds}",
                f"--cull-every={max(60, settings.idle_seconds // 6)}",
            ],
        }
    ]
    services.append(live)
    for course in sorted(set(courses) | set(roster.courses())):
        groups[f"nbgrader-{course}"] = {"users": roster.members(course, "learner")}
        groups[f"formgrade-{course}"] = {"users": roster.members(course, "instructor")}
        if course not in courses:
            continue
        services.append(_course_service(settings, course))
        roles.append(
            {
                "name": f"formgrade-{course}",
                "groups": [f"formgrade-{course}"],
                "scopes": [f"access:services!service={course}"],
            }
        )
    # every course's members may open the live service; which session, and what they may do
    # in it, the service decides from their groups (docs/live.md)
    roles.append(
        {"name": "live", "groups": sorted(groups), "scopes": ["access:services!service=live"]}
    )
    c.JupyterHub.load_groups = groups
    c.JupyterHub.load_roles = roles
    c.JupyterHub.services = services
    return settings
