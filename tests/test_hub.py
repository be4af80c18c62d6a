"""The classroom hub, started for real from jupyterhub_config.py and used by HTTP.

One hub for the module (``tests/hubclient.py``): ``dicomteach hub setup``, a class
list read by ``dicomteach hub roster``, JupyterHub with its proxy on free ports.
Learners log in through the login form, start their servers and run code in
their own kernels; what the operating system refuses them is checked from
inside those kernels. The last test restarts the hub. Needs root (system
users); the demo-mode test runs without.
"""

from __future__ import annotations

import http.client
import os
import re
import stat
from pathlib import Path

import pytest

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
"""


@pytest.fixture(scope="module")
def hub():
    if not (ROOT / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        pytest.skip("configurable-http-proxy missing: npm ci (scripts/test.sh runs it)")
    if os.geteuid() != 0:
        pytest.skip("needs root")
    running = Hub()
    try:
        running.setup()
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


def test_a_class_list_with_a_bad_row_is_refused_whole(tmp_path):
    path = tmp_path / "class.csv"
    path.write_text(CLASS + "Root!,Mallory,learner,ct101\n")
    with pytest.raises(RosterError, match=r"class.csv: row 5: username 'root!' must be"):
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
    assert kept.count('"$2b$') == 4


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
def test_a_restarted_hub_keeps_accounts_and_files(hub, alice):
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
