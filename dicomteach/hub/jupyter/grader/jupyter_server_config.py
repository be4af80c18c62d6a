"""The largest file this server takes through the contents API, and the largest request body
(DICOMTEACH_UPLOAD_LIMIT, set by the hub: dicomteach/hub/contents.py)."""

from dicomteach.hub.contents import configure_server

c = get_config()  # noqa: F821 - Jupyter Server (traitlets) defines it when it reads this file

configure_server(c)
