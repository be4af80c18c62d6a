"""Voilà inside the Binder or Kubernetes image's server: /voila/render/<notebook>.

binder/postBuild installs this among the image's Jupyter configuration. The
template is dicomteach's offline one (dicomteach/apps.py), which postBuild copies
where Voilà looks for templates.
"""

from dicomteach.apps import _DENY, TEMPLATE
from dicomteach.voila_app import give_xsrf_cookie

c = get_config()  # noqa: F821 - Voilà (traitlets) defines it when it reads this file

c.VoilaConfiguration.template = TEMPLATE
c.VoilaConfiguration.extension_denylist = list(_DENY)
c.VoilaConfiguration.progressive_rendering = True
c.VoilaConfiguration.strip_sources = True
c.VoilaConfiguration.prelaunch_hook = give_xsrf_cookie
