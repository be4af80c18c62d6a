"""nbgrader as a course's formgrader runs it on the hub (dicomteach/hub/config.py).

The course's own nbgrader_config.py (in the folder the formgrader runs in) names
the course, its gradebook and the exchange (DICOMTEACH_EXCHANGE, the hub's). The
formgrader keeps nbgrader's default authentication: it runs as the course's
grader, whom the hub does not know as an account; the class list, not the
formgrader, puts learners in the course's hub group.
"""

c = get_config()  # noqa: F821 - nbgrader (traitlets) defines it when it reads this file

c.Exchange.path_includes_course = True
