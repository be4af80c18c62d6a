"""JupyterHub for a class on one machine: local spawner, SQLite, no external service.

Nothing starts it yet: scripts/start.sh serves the lessons with plain JupyterLab
until the hub is wired in (see README). Values here: bind to 127.0.0.1, explicit
ports, SQLite in the project folder, servers open JupyterLab on the lessons; as
root, single-user servers need --allow-root or they exit.
"""

import os
from pathlib import Path

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file

here = Path(__file__).resolve().parent
state = Path(os.environ.get("DICOMTEACH_HUB_STATE", here / ".hub"))
state.mkdir(parents=True, exist_ok=True)

c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = int(os.environ.get("DICOMTEACH_HUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = str(here / "notebooks")
if os.geteuid() == 0:
    c.Spawner.args = ["--allow-root"]
