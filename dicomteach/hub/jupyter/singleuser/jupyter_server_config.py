"""Each account's server on the hub.

- The largest file it takes through the contents API, and the largest request
  body (DICOMTEACH_UPLOAD_LIMIT, set by the hub: dicomteach/hub/contents.py).
- The kernels Voilà starts for an app's page take only the page's widgets'
  messages, as Voilà on its own allows (dicomteach/hub/appkernels.py).
"""

from dicomteach.hub.contents import configure_server

c = get_config()  # noqa: F821 - Jupyter Server (traitlets) defines it when it reads this file

configure_server(c)
c.ServerApp.kernel_manager_class = "dicomteach.hub.appkernels.AppKernelManager"
c.ServerApp.kernel_websocket_connection_class = "dicomteach.hub.appkernels.AppKernelConnection"
