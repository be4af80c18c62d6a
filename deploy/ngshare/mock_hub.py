"""Stands in for JupyterHub's ``GET /hub/api/user`` in check_exchange.sh.

ngshare asks the hub who a request's token belongs to; here the token
``tok-NAME`` belongs to NAME, and ``admin`` is the hub's admin. Loopback only.
"""

import json
import sys

from tornado.ioloop import IOLoop
from tornado.web import Application, RequestHandler


class User(RequestHandler):
    def get(self):
        token = self.request.headers.get("Authorization", "").removeprefix("token ")
        if not token.startswith("tok-"):
            self.set_status(403)
            return
        name = token.removeprefix("tok-")
        self.write(json.dumps({"kind": "user", "name": name, "admin": name == "admin"}))


if __name__ == "__main__":
    Application([(r"/hub/api/user", User)]).listen(int(sys.argv[1]), "127.0.0.1")
    IOLoop.current().start()
