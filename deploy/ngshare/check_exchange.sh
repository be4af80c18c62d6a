#!/usr/bin/env bash
# The nbgrader loop through ngshare, on this machine, without Kubernetes: the evidence
# for docs/decisions.md, decision 34. Not part of the test suite (it installs two
# virtual environments, ~2 minutes the first time).
#
#   deploy/ngshare/check_exchange.sh [WORKDIR]      # default /tmp/dicomteach-ngshare
#
# The service runs from requirements.txt (ngshare 0.6.0 on SQLAlchemy 1.4); the
# servers' side is nbgrader 0.9.6 with ngshare_exchange 0.5.3 installed as
# binder/postBuild installs it (--no-deps: it declares jupyter_core<4.11.2, which no
# nbgrader 0.9 environment can have, and runs on jupyter_core 5). mock_hub.py answers
# ngshare's "whose token is this" in the hub's place. An instructor releases an
# assignment, alice fetches and submits it, bob may not list or read her submission,
# the instructor collects, autogrades and releases feedback, alice fetches it.
# SERVICE_REQUIREMENTS=FILE runs the service from another set (e.g. ngshare==0.6.0
# alone, which brings SQLAlchemy 2: the release then "succeeds" and stores nothing).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
WORK="${1:-/tmp/dicomteach-ngshare}"
SERVICE_REQUIREMENTS="${SERVICE_REQUIREMENTS:-$HERE/requirements.txt}"
HUB_PORT=18081
NGSHARE_PORT=18082
mkdir -p "$WORK"
quiet() { "$@" 2>&1 | grep -v "is ignored" || true; }
if [ ! -x "$WORK/service/bin/python" ]; then
    python3 -m venv "$WORK/service"
    quiet "$WORK/service/bin/pip" install -q -r "$SERVICE_REQUIREMENTS"
fi
if [ ! -x "$WORK/client/bin/python" ]; then
    python3 -m venv "$WORK/client"
    quiet "$WORK/client/bin/pip" install -q "nbgrader==0.9.6" requests
    quiet "$WORK/client/bin/pip" install -q --no-deps "ngshare-exchange==0.5.3" "rapidfuzz==3.14.6"
fi
W="$WORK/run"
rm -rf "$W"
mkdir -p "$W"
"$WORK/client/bin/python" "$HERE/mock_hub.py" "$HUB_PORT" &
HUB=$!
JUPYTERHUB_API_URL="http://127.0.0.1:$HUB_PORT/hub/api" JUPYTERHUB_API_TOKEN=service \
    JUPYTERHUB_CLIENT_ID=service-ngshare JUPYTERHUB_SERVICE_PREFIX=/services/ngshare/ \
    JUPYTERHUB_SERVICE_URL="http://127.0.0.1:$NGSHARE_PORT" \
    "$WORK/service/bin/python" -m ngshare --database "sqlite:///$W/ngshare.db" \
    --storage "$W/files" --admins admin >"$W/ngshare.log" 2>&1 &
NGSHARE=$!
trap 'kill $NGSHARE $HUB 2>/dev/null || true' EXIT
URL="http://127.0.0.1:$NGSHARE_PORT/services/ngshare"
for _ in $(seq 50); do
    curl -fs "$URL/healthz" >/dev/null 2>&1 && break
    sleep 0.2
done
export PATH="$WORK/client/bin:$PATH"
for who in admin teacher alice bob; do
    mkdir -p "$W/$who"
    cat >"$W/$who/nbgrader_config.py" <<EOC
from ngshare_exchange import configureExchange
c = get_config()
configureExchange(c, "$URL")
c.CourseDirectory.course_id = "radiology"
c.CourseDirectory.root = "$W/$who/course"
EOC
done
mkdir -p "$W/teacher/course/source/ps1"
as() { local who=$1; shift; (cd "$W/$who" && HOME="$W/$who" JUPYTERHUB_USER="$who" \
    JUPYTERHUB_API_TOKEN="tok-$who" "$@" 2>&1); }
"$WORK/client/bin/python" - "$W/teacher/course/source/ps1/ps1.ipynb" <<'EOP'
import sys
import nbformat
cell = nbformat.v4.new_code_cell("answer = None\n### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION")
cell.metadata.nbgrader = {"grade": False, "solution": True, "locked": False,
                          "grade_id": "answer", "schema_version": 3}
nb = nbformat.v4.new_notebook(cells=[cell])
nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
nbformat.write(nb, sys.argv[1])
EOP
failed=0
check() { if eval "$2"; then echo "ok    $1"; else echo "FAIL  $1"; failed=1; fi; }
as admin ngshare-course-management create_course radiology teacher >"$W/log.txt"
as teacher ngshare-course-management add_students radiology alice bob >>"$W/log.txt" || \
    { as teacher ngshare-course-management add_student radiology alice; \
      as teacher ngshare-course-management add_student radiology bob; } >>"$W/log.txt"
as teacher nbgrader generate_assignment ps1 --force >>"$W/log.txt" || true
as teacher nbgrader release_assignment ps1 >>"$W/log.txt" || true
as alice nbgrader fetch_assignment ps1 >>"$W/log.txt" || true
check "alice fetches the released assignment" "[ -f '$W/alice/ps1/ps1.ipynb' ]"
as alice nbgrader submit ps1 >>"$W/log.txt" || true
check "bob may not list the submissions" \
    "as bob nbgrader list --inbound | grep -q 'Permission denied'"
check "bob may not read alice's submission" \
    "curl -s -H 'Authorization: token tok-bob' '$URL/submission/radiology/ps1/alice' | grep -q 'Permission denied'"
check "a request without a token is sent to log in" \
    "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$URL/assignments/radiology')\" = 302 ]"
as teacher nbgrader collect ps1 >>"$W/log.txt" || true
check "the instructor collects alice's submission" \
    "[ -f '$W/teacher/course/submitted/alice/ps1/ps1.ipynb' ]"
as teacher nbgrader autograde ps1 >>"$W/log.txt" || true
as teacher nbgrader generate_feedback ps1 >>"$W/log.txt" || true
as teacher nbgrader release_feedback ps1 >>"$W/log.txt" || true
as alice nbgrader fetch_feedback ps1 >>"$W/log.txt" || true
check "alice fetches her feedback" "ls '$W/alice/ps1/feedback/'*/ps1.html >/dev/null 2>&1"
echo "(logs: $W/log.txt, $W/ngshare.log)"
exit "$failed"
