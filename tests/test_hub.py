"""The classroom hub, started for real from jupyterhub_config.py and used by HTTP.

One hub for the module (``tests/hubclient.py``): ``dicomteach hub setup``, a class
list read by ``dicomteach hub roster``, JupyterHub with its proxy on free ports.
Learners log in through the login form, start their servers and run code in
their own kernels; what the operating system refuses them is checked from
inside those kernels. The last test restarts the hub. Needs root (system
users); the demo-mode test runs without.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import pwd
import re
import shutil
import signal
import stat
import time
from pathlib import Path

import pytest
import requests

from dicomteach.hub.config import DEMO_NOTICE
from dicomteach.hub.roster import RosterError, read_csv
from hubclient import Hub, Learner

pytest.importorskip("jupyterhub")
pytest.importorskip("nativeauthenticator")

ROOT = Path(__file__).resolve().parents[1]
needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="one system user per account needs root (demo mode is tested)"
)
CLASS = """username,name,role,course
alice,Alice Martin,learner,ct101
bob,Bob Okafor,learner,ct101
dave,Dave Lee,learner,ct101
irene,Irene Adler,instructor,ct101
frank,Frank Bauer,instructor,cb
carol,Carol Ito,learner,cb
"""
UPLOAD_LIMIT = 4 * 2**20


def _hello_notebook() -> dict:
    """An nbgrader source notebook: one answer cell and one autograder cell worth 2 points."""

    def cell(grade_id: str, source: str, **flags) -> dict:
        nbgrader = {"grade": False, "solution": False, "locked": False, "grade_id": grade_id,
                    "schema_version": 3, **flags}  # fmt: skip
        return {"cell_type": "code", "id": grade_id, "execution_count": None, "outputs": [],
                "metadata": {"nbgrader": nbgrader}, "source": source}  # fmt: skip

    return {
        "cells": [
            cell("answer", "### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION", solution=True),
            cell("check", "assert answer == 42", grade=True, locked=True, points=2),
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }  # fmt: skip


def _second_course(folder: Path) -> Path:
    """A tiny copy of graders/: its nbgrader configuration and one assignment, ``hello``."""
    (folder / "source" / "hello").mkdir(parents=True)
    shutil.copyfile(ROOT / "graders" / "nbgrader_config.py", folder / "nbgrader_config.py")
    (folder / "source" / "hello" / "hello.ipynb").write_text(json.dumps(_hello_notebook()))
    return folder


@pytest.fixture(scope="module")
def hub():
    if not (ROOT / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        pytest.skip("configurable-http-proxy missing: npm ci (scripts/test.sh runs it)")
    if os.geteuid() != 0:
        pytest.skip("needs root")
    running = Hub()
    try:
        running.setup()
        # a second course on the same hub, installed as an operator would
        course = _second_course(running.folder / "cb-source")
        running.dicomteach(
            "hub", "setup", "--no-samples", "--course-folder", str(course), DICOMTEACH_COURSE="cb"
        )
        running.env["DICOMTEACH_HUB_UPLOAD_LIMIT"] = f"{UPLOAD_LIMIT}"
        roster = running.folder / "class.csv"
        roster.write_text(CLASS)
        printed = running.dicomteach("hub", "roster", str(roster))
        running.passwords = dict(re.findall(r"^(\w+)\t(\S+)$", printed, re.MULTILINE))
        running.start()
        yield running
    finally:
        running.remove()


@pytest.fixture(scope="module")
def alice(hub):
    learner = Learner(hub.url, "alice")
    learner.login(hub.passwords["alice"])
    learner.start_server()
    return learner


@pytest.fixture(scope="module")
def bob(hub):
    learner = Learner(hub.url, "bob")
    learner.login(hub.passwords["bob"])
    learner.start_server()
    learner.server_api(
        "PUT",
        "contents/private.txt",
        json={"type": "file", "format": "text", "content": "bob's notes"},
    )
    return learner


def _person(hub, username: str) -> Learner:
    """``username`` logged in to the hub (server not started)."""
    person = Learner(hub.url, username)
    person.login(hub.passwords.get(username) or hub.admin_password)
    assert person.logged_in(), username
    return person


def _service(person: Learner, course: str, method: str, path: str, **kwargs):
    """A request to course ``course``'s service (its formgrader), as ``person``."""
    base = f"/services/{course}/"
    headers = {"X-XSRFToken": person.xsrf(base)}
    return person.request(method, f"{person.hub_url}{base}{path}", headers=headers, **kwargs)


def _assignments(person: Learner, action: str = "", **data):
    """nbgrader's assignment list in ``person``'s own server (what Lab's Assignment List asks)."""
    base = f"/user/{person.username}/"
    url = f"{person.hub_url}{base}assignments{'/' + action if action else ''}"
    if not action:
        return person.get(url, params={"course_id": "", **data}).json()  # "": all of theirs
    return person.post(url, data=data, headers={"X-XSRFToken": person.xsrf(base)}).json()


@pytest.fixture(scope="module")
def graded(hub):
    """Course cb's ``hello``: released by frank, handed in by carol, autograded: her score."""
    frank = _person(hub, "frank")
    assert _service(frank, "cb", "GET", "formgrader").status_code == 200
    for step in ("assign", "release"):
        done = _service(frank, "cb", "POST", f"formgrader/api/assignment/hello/{step}").json()
        assert done["success"], done
    carol = _person(hub, "carol")
    carol.start_server()
    # nbgrader answers a fetch with the list, whether it fetched or not: the file tells
    _assignments(carol, "fetch", course_id="cb", assignment_id="hello")
    path = "contents/cb/hello/hello.ipynb"
    notebook = carol.server_api("GET", path).json()["content"]
    notebook["cells"][0]["source"] = "answer = 42"
    assert carol.server_api("PUT", path, json={"type": "notebook", "content": notebook}).ok
    assert _assignments(carol, "submit", course_id="cb", assignment_id="hello")["success"]
    assert _service(frank, "cb", "POST", "formgrader/api/assignment/hello/collect").json()[
        "success"
    ]
    done = _service(frank, "cb", "POST", "formgrader/api/submission/hello/carol/autograde")
    assert done.json()["success"], done.text[-2000:]
    return _service(frank, "cb", "GET", "formgrader/api/submission/hello/carol").json()


def test_a_class_list_with_a_bad_row_is_refused_whole(tmp_path):
    path = tmp_path / "class.csv"
    path.write_text(CLASS + "Root!,Mallory,learner,ct101\n")
    with pytest.raises(RosterError, match=r"class.csv: row 8: username 'root!' must be"):
        read_csv(path)
    path.write_text("username,name\nada,Ada\n")
    with pytest.raises(RosterError, match="missing: course, role"):
        read_csv(path)


@needs_root
def test_the_state_folder_is_the_hubs_and_the_course_its_instructors(hub):
    private = hub.state / "hub"
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    for secret in ("jupyterhub.sqlite", "jupyterhub_cookie_secret", "roster.json"):
        assert stat.S_IMODE((private / secret).stat().st_mode) == 0o600, secret
    course = hub.state / "courses" / "ct101"
    assert stat.S_IMODE(course.stat().st_mode) == 0o2770
    assert (course / "references" / "ct-nodule" / "nodule.yaml").exists()
    inbound = hub.state / "exchange" / "ct101" / "inbound"
    assert stat.S_IMODE(inbound.stat().st_mode) == 0o2733
    # passwords are kept as bcrypt hashes only, the first instructor's included
    kept = (private / "roster.json").read_text()
    assert hub.admin_password not in kept and hub.passwords["alice"] not in kept
    assert kept.count('"$2b$') == 7


@needs_root
def test_class_list_accounts_log_in_and_get_their_own_server(hub, alice):
    assert alice.logged_in()
    who = alice.run("import os, pwd; print(pwd.getpwuid(os.getuid()).pw_name, os.getcwd())")
    user, home = who["stdout"].split()
    assert user == f"{hub.prefix}alice" and home == str(hub.state / "homes" / user)
    assert stat.S_IMODE(Path(home).stat().st_mode) == 0o700
    # the lessons were copied into the home on the first start
    lessons = alice.server_api("GET", "contents/lessons").json()["content"]
    assert {"01-what-a-study-is.ipynb", "05-delineating-a-tumour.ipynb"} <= {
        f["name"] for f in lessons
    }


@needs_root
def test_a_learner_is_refused_on_another_learners_server(hub, alice, bob):
    for path in ("/user/bob/lab", "/user/bob/api/contents/private.txt"):
        answer = alice.get(f"{hub.url}{path}", allow_redirects=True)
        assert answer.status_code in (403, 404), (path, answer.status_code)
        assert "bob's notes" not in answer.text


@needs_root
def test_a_learner_cannot_read_another_home_nor_the_course_from_their_own_kernel(hub, alice, bob):
    bob_home = hub.state / "homes" / f"{hub.prefix}bob"
    course = hub.state / "courses" / "ct101"
    for code in (
        f"print(open({str(bob_home / 'private.txt')!r}).read())",
        f"print(open({str(course / 'references' / 'ct-nodule' / 'nodule.yaml')!r}).read())",
        f"import os; print(os.listdir({str(course)!r}))",
        # the course folder the hub's course was copied from holds the same references
        f"print(open({str(ROOT / 'graders' / 'references' / 'ct-nodule' / 'nodule.yaml')!r}).read())",
        f"print(open({str(hub.state / 'hub' / 'jupyterhub_cookie_secret')!r}).read())",
    ):
        result = alice.run(code)
        assert result["error"].startswith("PermissionError"), (code, result)
        assert result["stdout"] == ""
    # while their own home and the shared sample cache are theirs to read
    assert alice.run("import os; print(sorted(os.listdir('.')))")["error"] == ""


@needs_root
def test_each_server_runs_in_a_memory_group_with_the_limit(hub, alice):
    from dicomteach.hub import memory

    if memory._own_group() is None:
        pytest.skip("no memory control group here")
    code = "print(open('/proc/self/cgroup').read())"
    groups = alice.run(code)["stdout"]
    assert f"dicomteach-{hub.prefix}alice" in groups  # the kernel too, not only the server
    folder, limit_file = memory._own_group()
    limit = (folder / f"dicomteach-{hub.prefix}alice" / limit_file).read_text().strip()
    assert int(limit) == 2 * 1024**3


def test_servers_start_without_the_iri_checker_a_third_of_a_start_went_on(hub, alice):
    # the server that runs alice's kernel runs our command (dicomteach/hub/singleuser.py), forked
    # from the server factory that imported it (dicomteach/hub/factory.py)
    code = "import os; print(open(f'/proc/{os.getppid()}/cmdline').read().replace(chr(0), ' '))"
    assert "--entry=dicomteach.hub.singleuser:main" in alice.run(code)["stdout"]
    # and under it, jsonschema has no "iri" checker: rfc3987_syntax's grammar is never built
    # (jupyterhub-singleuser itself stood in for by a stub that reports what it would find)
    probe = (
        "import sys, types\n"
        "s = types.ModuleType('jupyterhub.singleuser')\n"
        "s.main = lambda: print('iri' in __import__('jsonschema').FormatChecker.checkers,"
        " sys.modules.get('rfc3987_syntax') is not None)\n"
        "sys.modules['jupyterhub.singleuser'] = s\n"
        "from dicomteach.hub.singleuser import main\nmain()\n"
    )
    import subprocess
    import sys

    ran = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert ran.stdout.split() == ["False", "False"]
    plain = probe.replace("from dicomteach.hub.singleuser import main\nmain()", "s.main()")
    ran = subprocess.run([sys.executable, "-c", plain], capture_output=True, text=True, check=True)
    assert ran.stdout.split() == ["True", "True"], "the checker is there without our command"


def _server_pid(learner: Learner) -> int:
    """The process id of ``learner``'s server: their kernel's parent."""
    return int(learner.run("import os; print(os.getppid())")["stdout"])


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def _memory_holds(pid: int, needle: bytes) -> bool:
    """Whether any readable memory of process ``pid`` holds ``needle`` (read as root)."""
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            span, perms = line.split()[:2]
            if not perms.startswith("r"):
                continue
            start, end = (int(x, 16) for x in span.split("-"))
            try:
                mem.seek(start)
                if needle in mem.read(end - start):
                    return True
            except (OSError, ValueError, OverflowError):
                continue
    return False


@needs_root
def test_servers_are_forked_as_their_own_users_and_never_hold_another_learners_token(
    hub, alice, bob
):
    # both servers come from the one server factory, which runs as the hub does (root)...
    servers = {name: _server_pid(who) for name, who in (("alice", alice), ("bob", bob))}
    parents = {name: int(_status(pid)["PPid"]) for name, pid in servers.items()}
    assert parents["alice"] == parents["bob"]
    factory_cmd = Path(f"/proc/{parents['alice']}/cmdline").read_bytes().split(b"\0")
    assert b"dicomteach.hub.factory" in factory_cmd
    # ... while each server runs as its learner, with only its learner's groups
    for name, pid in servers.items():
        wanted = pwd.getpwnam(f"{hub.prefix}{name}")
        assert _status(pid)["Uid"].split()[0] == str(wanted.pw_uid), name
        assert set(_status(pid)["Groups"].split()) == {
            str(g) for g in os.getgrouplist(wanted.pw_name, wanted.pw_gid)
        }, name
    # the factory never reads a request (its fork does): a server forked after alice's does
    # not carry her API token in its memory, nor does the factory
    token = alice.run("import os; print(os.environ['JUPYTERHUB_API_TOKEN'])")["stdout"].strip()
    assert len(token) >= 32
    assert _memory_holds(servers["alice"], token.encode())  # the search finds a token held
    assert not _memory_holds(parents["alice"], token.encode())
    assert not _memory_holds(servers["bob"], token.encode())


@needs_root
def test_a_dead_server_factory_is_started_again_and_the_class_goes_on(hub, alice):
    before = int(_status(_server_pid(alice))["PPid"])
    os.kill(before, signal.SIGKILL)
    headers = {"X-XSRFToken": alice.xsrf("/hub/")}
    stopped = alice.delete(f"{hub.url}/hub/api/users/alice/server", headers=headers)
    assert stopped.status_code in (202, 204), stopped.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        model = alice.get(f"{hub.url}/hub/api/users/alice", headers=headers).json()
        if not model.get("servers"):
            break
        time.sleep(0.3)
    alice.start_server()
    after = int(_status(_server_pid(alice))["PPid"])
    assert after != before
    assert b"dicomteach.hub.factory" in Path(f"/proc/{after}/cmdline").read_bytes()


def _run_async(coroutine):
    """asyncio.run in a thread of its own: a browser test earlier in the run may leave a running
    event loop in this one (Playwright's), where asyncio.run refuses to start."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _node_runs_while_a_server_starts(tmp_path: Path, code: str, config: Path | None) -> list[str]:
    """What Node.js and npm were asked while a Jupyter server started (stand-ins on PATH log it)."""
    import socket
    import subprocess
    import sys
    import time

    bin_dir, log = tmp_path / "bin", tmp_path / "node.log"
    bin_dir.mkdir(exist_ok=True)
    log.write_text("")
    for name in ("node", "npm"):
        tool = bin_dir / name
        tool.write_text(f'#!/bin/sh\necho "{name} $*" >> {log}\necho "{{}}"\n')
        tool.chmod(0o755)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "JUPYTER_CONFIG_DIR": str(tmp_path / "user-config"),
        "DICOMTEACH_EXCHANGE": str(tmp_path / "exchange"),
        "DICOMTEACH_UPLOAD_LIMIT": "0",
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    if config is not None:
        env["JUPYTER_CONFIG_PATH"] = str(config)
    argv = ["jupyter-server", "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--allow-root"]
    script = f"import sys\n{code}\nsys.argv = {argv!r}\n"
    script += "from jupyter_server.serverapp import main\nmain()\n"
    server = subprocess.Popen(
        [sys.executable, "-c", script], env=env, cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert server.poll() is None, "the server stopped as it started"
            try:
                requests.get(f"http://127.0.0.1:{port}/api", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not answer within 60 s")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return log.read_text().splitlines()


def test_a_learners_server_starts_without_running_node_or_npm(tmp_path):
    # jupyterlab asks yarn (Node.js) for its registry and jupyter-lsp asks npm for its prefix at
    # every start: a class's thirty starts paid for both (dicomteach/hub/singleuser.py)
    plain = _node_runs_while_a_server_starts(tmp_path, "", None)
    assert any(run.startswith("node ") and "config" in run for run in plain), plain
    assert "npm prefix -g" in plain, plain
    ours = _node_runs_while_a_server_starts(
        tmp_path,
        "from dicomteach.hub.singleuser import lighten\nlighten()",
        Path(__file__).parents[1] / "dicomteach" / "hub" / "jupyter" / "singleuser",
    )
    assert ours == []


@needs_root
def test_five_wrong_passwords_lock_the_account_out(hub):
    dave = Learner(hub.url, "dave")
    for _ in range(5):
        page = dave.login("not-the-password")
        assert "Invalid username or password" in page.text and not dave.logged_in()
    dave.login(hub.passwords["dave"])  # the right password, too late
    assert not dave.logged_in()
    assert "login refused: dave is locked out after 5 failed logins" in hub.log.read_text()
    # another account is not locked
    other = Learner(hub.url, "bob")
    other.login(hub.passwords["bob"])
    assert other.logged_in()


@needs_root
def test_a_forged_cookie_and_dot_dot_paths_are_refused(hub, alice):
    forged = Learner(hub.url, "alice")
    forged.cookies.set(
        "jupyterhub-hub-login",
        "2|1:0|10:1700000000|20:jupyterhub-hub-login|44:YWxpY2U=|" + "0" * 64,
        path="/hub/",
    )
    answer = forged.get(f"{hub.url}/hub/api/user")
    assert answer.status_code == 403
    assert forged.get(f"{hub.url}/hub/home").url.startswith(f"{hub.url}/hub/login")
    # `..` sent as is (a browser or requests would fold it first)
    cookies = "; ".join(f"{c.name}={c.value}" for c in alice.cookies)
    for path in (
        "/user/alice/files/../../bob/files/private.txt",
        "/user/alice/api/contents/..%2f..%2fdtt/private.txt",
        "/user/alice/files/../../../../../etc/passwd",
    ):
        connection = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=30)
        connection.request("GET", path, headers={"Cookie": cookies})
        response = connection.getresponse()
        body = response.read().decode(errors="replace")
        connection.close()
        assert response.status in (302, 400, 403, 404), (path, response.status)
        assert "bob's notes" not in body and "root:x:0" not in body
    assert alice.logged_in()  # nothing lost


@needs_root
def test_a_lesson_opens_as_an_app_without_its_code(hub, alice):
    notebook = {
        "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                   "source": "hidden_marker = 6 * 7\nprint('answer', hidden_marker)"}],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }  # fmt: skip
    alice.server_api(
        "PUT", "contents/lessons/app.ipynb", json={"type": "notebook", "content": notebook}
    )
    page = alice.get(f"{hub.url}/user/alice/voila/render/lessons/app.ipynb")
    assert page.status_code == 200 and "voila.js" in page.text
    # the code stays in the server; our offline template asks nothing of a CDN
    assert "hidden_marker" not in page.text and "fontawesome" not in page.text
    home = alice.get(f"{hub.url}/hub/home").text
    assert "/user/alice/voila/render/lessons/01-what-a-study-is.ipynb" in home


@needs_root
def test_a_learner_signs_up_and_logs_in_once_an_instructor_approves(hub):
    erin = Learner(hub.url, "erin")
    erin.get(f"{hub.url}/hub/signup")
    signed = erin.post(
        f"{hub.url}/hub/signup",
        data={
            "username": "erin",
            "signup_password": "cT-window-400",
            "signup_password_confirmation": "cT-window-400",
            "_xsrf": erin.xsrf(),
        },
    )
    assert signed.status_code == 200
    page = erin.login("cT-window-400")
    assert "has not been authorized" in page.text and not erin.logged_in()
    teacher = Learner(hub.url, "teacher")
    teacher.login(hub.admin_password)
    assert teacher.logged_in()
    teacher.get(f"{hub.url}/hub/authorize/erin")
    erin.login("cT-window-400")
    assert erin.logged_in()


@needs_root
def test_an_oversized_upload_is_refused_and_nothing_is_lost(hub, alice):
    def put(path: str, data: bytes, **model):
        content = base64.b64encode(data).decode()
        model = {"type": "file", "format": "base64", "content": content, **model}
        return alice.server_api("PUT", f"contents/{path}", json=model)

    assert put("scan.dcm", b"DICM first version").status_code in (200, 201)
    # one request, over the limit: refused whole, the file of that name as it was
    refused = put("scan.dcm", bytes(UPLOAD_LIMIT + 1))
    assert refused.status_code == 413
    assert f"over the limit of {UPLOAD_LIMIT} bytes" in refused.json()["message"]
    kept = alice.server_api("GET", "contents/scan.dcm", params={"format": "base64"}).json()
    assert base64.b64decode(kept["content"]) == b"DICM first version"
    # in 1 MiB pieces, as JupyterLab sends a large file: the piece that passes the limit is
    # refused, what came before stays
    piece = bytes(2**20)
    answers = [put("series.zip", piece, chunk=n).status_code for n in (1, 2, 3, 4)]
    assert all(status in (200, 201) for status in answers), answers
    assert put("series.zip", piece, chunk=-1).status_code == 413
    size = alice.server_api("GET", "contents/series.zip", params={"content": 0}).json()["size"]
    assert size == UPLOAD_LIMIT
    assert "upload refused: series.zip would be 5242880 bytes" in hub.log.read_text()
    # a body far over what one request may carry is cut off before the server reads it all
    try:
        status = alice.server_api(
            "PUT", "contents/huge.bin", data=b"x" * (24 * 2**20), timeout=60
        ).status_code
    except requests.ConnectionError:
        status = None
    assert status is None or status >= 400
    assert "Content-Length too long" in hub.log.read_text()
    names = {f["name"] for f in alice.server_api("GET", "contents").json()["content"]}
    assert {"scan.dcm", "series.zip", "lessons"} <= names and "huge.bin" not in names


@needs_root
def test_two_courses_on_one_hub_keep_their_instructors_and_learners_apart(hub, graded, alice):
    irene, frank = _person(hub, "irene"), _person(hub, "frank")
    assert _service(irene, "ct101", "GET", "formgrader").status_code == 200
    # each instructor is refused the other course's formgrader (nbgrader #1936, #998)
    assert _service(irene, "cb", "GET", "formgrader").status_code == 403
    assert _service(frank, "ct101", "GET", "formgrader").status_code == 403
    assert _service(irene, "cb", "GET", "formgrader/api/submission/hello/carol").status_code == 403
    for step in ("assign", "release"):
        done = _service(irene, "ct101", "POST", f"formgrader/api/assignment/ct-nodule/{step}")
        assert done.json()["success"], done.text[-2000:]
    # carol (course cb) sees cb's hello only, alice (ct101) ct-nodule only
    carol = _person(hub, "carol")
    carol.start_server()
    listed = [(a["course_id"], a["assignment_id"]) for a in _assignments(carol)["value"]]
    assert ("cb", "hello") in listed and not any(c == "ct101" for c, _ in listed), listed
    assert _assignments(carol, course_id="ct101")["value"] == []
    _assignments(carol, "fetch", course_id="ct101", assignment_id="ct-nodule")
    assert carol.server_api("GET", "contents/ct101").status_code == 404
    assert "You do not have access to this course" in hub.log.read_text()
    listed = [(a["course_id"], a["assignment_id"]) for a in _assignments(alice)["value"]]
    assert ("ct101", "ct-nodule") in listed and not any(c == "cb" for c, _ in listed), listed


@needs_root
def test_the_authoring_app_opens_for_an_instructor_and_is_refused_to_a_learner(hub, alice):
    link = "/services/ct101/voila/render/authoring/author.ipynb"
    irene = _person(hub, "irene")
    assert link in irene.get(f"{hub.url}/hub/home").text
    page = irene.get(f"{hub.url}{link}")
    assert page.status_code == 200 and "voila.js" in page.text
    assert link not in alice.get(f"{hub.url}/hub/home").text
    assert alice.get(f"{hub.url}{link}").status_code == 403


@needs_root
def test_a_restarted_hub_keeps_accounts_files_and_grades(hub, alice, graded):
    assert graded["score"] == 2.0 and graded["max_score"] == 2.0, graded
    alice.server_api(
        "PUT", "contents/kept.txt", json={"type": "file", "format": "text", "content": "my outline"}
    )
    hub.stop()
    hub.start()
    again = Learner(hub.url, "alice")
    again.login(hub.passwords["alice"])
    assert again.logged_in()
    again.start_server()
    assert again.server_api("GET", "contents/kept.txt").json()["content"] == "my outline"
    # the grade is the course's (its gradebook), not the hub's: still there for its instructor
    frank = _person(hub, "frank")
    after = _service(frank, "cb", "GET", "formgrader/api/submission/hello/carol").json()
    assert (after["score"], after["autograded"]) == (2.0, True), after


def test_demo_mode_says_so_on_the_login_page():
    if not (ROOT / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        pytest.skip("configurable-http-proxy missing: npm ci (scripts/test.sh runs it)")
    demo = Hub(demo=True)
    try:
        demo.setup()
        demo.start()
        page = Learner(demo.url, "x").get(f"{demo.url}/hub/login").text
        assert DEMO_NOTICE.split(":")[0] in page and "learners can read each other" in page
    finally:
        demo.remove()


ENTRY = """
import json, os, sys, time

print("an import that prints before the factory is ready")


def main():
    with open(os.environ["OUT"], "w") as out:
        json.dump({"argv": sys.argv, "env": dict(os.environ), "cwd": os.getcwd(),
                   "session": os.getsid(0) == os.getpid(), "stdin": os.isatty(0)}, out)
    time.sleep(float(os.environ.get("NAP", "0")))
    return 0
"""


def test_the_server_factory_forks_a_server_with_only_what_it_was_asked(tmp_path):
    import sys

    from dicomteach.hub import factory

    (tmp_path / "entry_for_test.py").write_text(ENTRY)
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(tmp_path), "SECRET": "factory's own"}
    maker = factory.Factory(sys.executable, env, entry="entry_for_test:main")
    try:
        asked = {"OUT": str(tmp_path / "one.json"), "NAP": "30"}
        pid = maker.start_server(["--port=1234"], asked, str(tmp_path), None)
        deadline = time.monotonic() + 30
        while not (tmp_path / "one.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        seen = json.loads((tmp_path / "one.json").read_text())
        # its environment is the request's alone: nothing of the factory's (nor the hub's)
        assert seen["env"] == asked
        assert seen["argv"][1:] == ["--port=1234"] and seen["cwd"] == str(tmp_path)
        assert seen["session"] and not seen["stdin"]
        assert factory.alive(pid) and int(_status(pid)["PPid"]) == maker.pid
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while factory.alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not factory.alive(pid)  # ended and reaped by the factory: no zombie left
    finally:
        maker.close()
    assert maker.pid is None


def test_a_server_factory_that_cannot_start_is_not_retried_at_every_start(tmp_path):
    import sys

    from dicomteach.hub import factory

    maker = factory.Factory(sys.executable, {"PATH": os.environ["PATH"]}, entry="no_such:main")
    began = time.monotonic()
    with pytest.raises(factory.FactoryError, match="did not start"):
        maker.start_server([], {}, str(tmp_path), None, timeout=20)
    with pytest.raises(factory.FactoryError, match="a moment ago"):
        maker.start_server([], {}, str(tmp_path), None, timeout=20)
    assert time.monotonic() - began < 20


def test_the_spawner_waits_for_the_servers_port_and_notices_a_death():
    # the hub checks a server as soon as start() returns: start() returns once the port answers
    import asyncio
    import socket

    from dicomteach.hub.spawner import wait_for_port

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def listen_later() -> tuple[bool, float]:
        loop = asyncio.get_running_loop()
        began = loop.time()
        server = None

        async def open_late() -> None:
            nonlocal server
            await asyncio.sleep(0.5)
            server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", port)

        opener = asyncio.create_task(open_late())
        up = await wait_for_port("127.0.0.1", port, lambda: True, timeout=20)
        waited = loop.time() - began
        await opener
        server.close()
        return up, waited

    up, waited = _run_async(listen_later())
    assert up and waited >= 0.5  # it waited for the port, not for a fixed time
    # a server process that has died is not waited for until the timeout
    dead = _run_async(wait_for_port("127.0.0.1", port, lambda: False, timeout=60))
    assert dead is False


def test_a_password_check_leaves_the_hub_answering_meanwhile():
    # bcrypt takes ~0.2 s of CPU a check; NativeAuthenticator ran it in the hub's event loop,
    # so thirty learners logging in at once stopped the hub for seconds (dicomteach/hub/auth.py)
    import asyncio

    import bcrypt
    from jupyterhub import orm
    from nativeauthenticator.orm import UserInfo

    from dicomteach.hub.auth import ClassroomAuthenticator

    db = orm.new_session_factory("sqlite:///:memory:")()
    auth = ClassroomAuthenticator(_deprecated_db_session=db, allowed_failed_logins=3)
    hashed = bcrypt.hashpw(b"a-long-password", bcrypt.gensalt())
    db.add(UserInfo(username="ada", password=hashed, is_authorized=True))
    db.commit()

    async def login(password: str) -> tuple[str | None, int]:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.005)
                ticks += 1

        ticker = asyncio.create_task(tick())
        await asyncio.sleep(0)
        who = await auth.authenticate(None, {"username": "ada", "password": password})
        ticker.cancel()
        return who, ticks

    who, ticks = _run_async(login("a-long-password"))
    assert who == "ada"
    assert ticks >= 3, "the event loop stood still while bcrypt checked the password"
    # wrong passwords still count towards the lock-out, and a locked account stays out
    for _ in range(3):
        assert _run_async(login("wrong"))[0] is None
    assert _run_async(login("a-long-password"))[0] is None


@needs_root
def test_an_apps_kernel_takes_only_its_widgets_messages(hub):
    # a Voilà page's kernel in alice's own server drops a request to run code, as Voilà on its
    # own does, and her JupyterLab kernels are untouched (dicomteach/hub/appkernels.py)
    import time

    import nbformat

    alice = _person(hub, "alice")  # logged in afresh: another test restarts the hub
    alice.start_server()

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("answer = 42")])
    put = alice.server_api(
        "PUT", "contents/app-probe.ipynb",
        json={"type": "notebook", "format": "json", "content": json.loads(nbformat.writes(notebook))},
    )  # fmt: skip
    assert put.status_code in (200, 201), put.text
    page = alice.get(f"{hub.url}/user/alice/voila/render/app-probe.ipynb")
    assert page.status_code == 200
    kernel_id = re.search(r'"kernelId"\s*:\s*"([0-9a-f-]{36})"', page.text).group(1)

    ws = alice.kernel_socket(kernel_id, timeout=60)
    try:
        ran = alice.send_shell(
            ws, "execute_request", {"code": "open('app-probe-ran', 'w').close()"}
        )
        info = alice.send_shell(ws, "kernel_info_request", {})
        replies = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the kernel answers in order: an execute came first
            msg = json.loads(ws.recv())
            parent = msg.get("parent_header", {}).get("msg_id")
            if parent in (ran, info) and msg["header"]["msg_type"].endswith("_reply"):
                replies.append(msg["header"]["msg_type"])
                if parent == info:
                    break
    finally:
        ws.close()
    assert replies == ["kernel_info_reply"]  # the widgets' kind of message still goes through
    assert alice.server_api("GET", "contents/app-probe-ran").status_code == 404
    assert f"refused a 'execute_request' message to kernel {kernel_id}" in hub.log.read_text()
    # her own kernels in JupyterLab run code as before
    assert alice.run("print(6 * 7)")["stdout"].strip() == "42"
