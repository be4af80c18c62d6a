"""Voilà inside each account's server on the hub: /user/<name>/voila/render/<notebook>.

Our offline template, the extensions Voilà must not load, the page's kernel shut
down when the page closes (dicomteach/apps.py, dicomteach/voila_app.py).
"""

from dicomteach.apps import configure_voila

configure_voila(get_config())  # noqa: F821 - Voilà (traitlets) defines it when it reads this file
