"""The classroom: JupyterHub on one machine, serving the lessons and the nbgrader courses.

``jupyterhub_config.py`` at the repository root calls :func:`configure`; the
``dicomteach hub`` command (``commands/hub.py``) prepares the state folder, installs
a course and reads a class list. The layer sits above ``course`` and imports what
it needs from below; nothing in the library imports it (docs/architecture.md).

- :mod:`dicomteach.hub.state`: the state folder and who may read each part of it;
- :mod:`dicomteach.hub.roster`: the class list (CSV) and the accounts it makes;
- :mod:`dicomteach.hub.system`: one system user per hub account, one group per course;
- :mod:`dicomteach.hub.course`: a course installed for the hub (folder, exchange, gradebook);
- :mod:`dicomteach.hub.memory`: a memory limit per learner (a cgroup);
- :mod:`dicomteach.hub.auth`, :mod:`dicomteach.hub.spawner`: the authenticator and spawner;
- :mod:`dicomteach.hub.config`: the hub's configuration, from those pieces.
"""

from __future__ import annotations

from dicomteach.hub.config import configure

__all__ = ["configure"]
