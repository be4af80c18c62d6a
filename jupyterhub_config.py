"""JupyterHub for a class on one machine: run by scripts/start.sh (or `jupyterhub -f` this file).

Everything is set by dicomteach/hub/config.py from DICOMTEACH_HUB_* variables
(listed in dicomteach/hub/settings.py; docs/hub.md says what each part does):
127.0.0.1:8000, SQLite and the cookie secret in the state folder (.hub/hub,
readable by the hub only), one system user per account when run as root,
one formgrader service per installed course, idle servers culled.
`dicomteach hub setup` must have run once (scripts/start.sh does).
"""

from pathlib import Path

from dicomteach.hub import configure

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file

configure(c, Path(__file__).resolve().parent)
