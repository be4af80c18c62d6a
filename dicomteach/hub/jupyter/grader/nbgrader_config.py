"""nbgrader as a course's formgrader runs it on the hub (dicomteach/hub/config.py).

The course's own nbgrader_config.py (in the folder the formgrader runs in) names
the course and its gradebook; this adds the hub: one exchange for every course,
courses and learners from the hub's groups.
"""

c = get_config()  # noqa: F821 - nbgrader (traitlets) defines it when it reads this file

c.Exchange.path_includes_course = True
c.Authenticator.plugin_class = "nbgrader.auth.JupyterHubAuthPlugin"
