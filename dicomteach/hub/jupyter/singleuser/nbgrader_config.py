"""nbgrader as every account's own server runs it on the hub (dicomteach/hub/config.py).

The exchange is the hub's, one folder per course; a learner's courses are their
hub groups (nbgrader-<course>, formgrade-<course>); their nbgrader id is their hub
name, not the system user's (which carries the hub's prefix).
"""

import os

c = get_config()  # noqa: F821 - nbgrader (traitlets) defines it when it reads this file

c.Exchange.root = os.environ["DICOMTEACH_EXCHANGE"]
c.Exchange.path_includes_course = True
c.Authenticator.plugin_class = "nbgrader.auth.JupyterHubAuthPlugin"
c.CourseDirectory.student_id = os.environ["JUPYTERHUB_USER"]
