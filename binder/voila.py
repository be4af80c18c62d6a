"""Voilà inside the Binder or Kubernetes image's server: /voila/render/<notebook>.

binder/postBuild installs this among the image's Jupyter configuration. The
template is dicomteach's offline one (dicomteach/apps.py), which postBuild copies
where Voilà looks for templates.
"""

from dicomteach.apps import configure_voila

configure_voila(get_config())  # noqa: F821 - Voilà (traitlets) defines it when it reads this file
