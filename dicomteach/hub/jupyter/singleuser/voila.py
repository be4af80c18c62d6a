"""Voilà inside each account's server on the hub: /user/<name>/voila/render/<notebook>.

Our offline template, the extensions Voilà must not load, the page's kernel shut
down when the page closes (dicomteach/apps.py, dicomteach/voila_app.py).
"""

from dicomteach.apps import _DENY, TEMPLATE
from dicomteach.voila_app import give_xsrf_cookie

c = get_config()  # noqa: F821 - Voilà (traitlets) defines it when it reads this file

c.VoilaConfiguration.template = TEMPLATE
c.VoilaConfiguration.extension_denylist = list(_DENY)
c.VoilaConfiguration.progressive_rendering = True
c.VoilaConfiguration.strip_sources = True
c.VoilaConfiguration.prelaunch_hook = give_xsrf_cookie
