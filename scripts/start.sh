#!/usr/bin/env bash
# The main command: the classroom hub for a class on this machine (docs/hub.md).
#
#   scripts/start.sh          JupyterHub on http://127.0.0.1:8000 with the lessons and the course
#   scripts/start.sh --lab    one person's JupyterLab on the lessons (writing lessons), no hub
#
# Installs what is missing (.venv with dicomteach[hub], the pinned proxy from package-lock.json),
# writes the sample studies, installs the course (graders/) and the first instructor, starts
# the hub and prints the address and how to log in. Ctrl-C stops the hub, every learner's
# server and the proxy; starting again keeps accounts, submissions and grades (.hub/).
# Settings: DICOMTEACH_HUB_* variables (dicomteach/hub/settings.py), e.g.
#   DICOMTEACH_HUB_PORT=8080 DICOMTEACH_ADMIN=ada scripts/start.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="$PWD/.venv"

install_python() {  # $1: the extra, $2: the stamp file
    if [ ! -x "$VENV/bin/python" ]; then
        # the accounts' servers run this venv's Python: made from the system's, which every
        # user can run (a Python under /root could not be)
        PY=python3
        [ -x /usr/bin/python3 ] && PY=/usr/bin/python3
        "$PY" -m venv "$VENV"
    fi
    if [ ! -f "$2" ] || [ pyproject.toml -nt "$2" ]; then
        echo "==> installing dicomteach[$1] into $VENV"
        "$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
        "$VENV/bin/python" -m pip install -q -e ".[$1]" 2>&1 | grep -v "is ignored" || true
        touch "$2"
    fi
    # JupyterLab as shipped to a class (no news pop-up, kernels start without a dialog):
    # a wheel install puts this file there itself; an editable install does not.
    install -D -m 644 jupyter-config/lab-settings/dicomteach.json \
        "$VENV/share/jupyter/lab/settings/overrides.d/dicomteach.json"
}

if [ "${1:-}" = "--lab" ]; then
    shift
    install_python lab "$VENV/.dicomteach-lab-installed"
    ROOT_FLAG=()
    [ "$(id -u)" = 0 ] && ROOT_FLAG=(--allow-root)
    exec "$VENV/bin/jupyter" lab "${ROOT_FLAG[@]}" --no-browser --ServerApp.ip=127.0.0.1 \
        --port="${PORT:-8888}" --ServerApp.root_dir="$PWD/notebooks" "$@"
fi

install_python hub "$VENV/.dicomteach-hub-installed"
if [ ! -x node_modules/.bin/configurable-http-proxy ] \
    || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    command -v npm >/dev/null 2>&1 || { echo "start.sh: npm is needed for the hub's proxy (apt-get install npm)" >&2; exit 2; }
    echo "==> installing the hub's proxy (configurable-http-proxy, pinned in package-lock.json)"
    npm ci --no-audit --no-fund --loglevel=error
fi

echo "==> preparing the hub: state folder, sample studies (first time: a minute or two), course"
"$VENV/bin/dicomteach" hub setup

IP="${DICOMTEACH_HUB_IP:-127.0.0.1}"
echo "==> the hub: http://$IP:${DICOMTEACH_HUB_PORT:-8000}/  (Ctrl-C stops it and every server)"
echo "    log in as ${DICOMTEACH_ADMIN:-instructor} (the password printed above the first time,"
echo "    or DICOMTEACH_ADMIN_PASSWORD); accounts for a class: $VENV/bin/dicomteach hub roster class.csv"
# exec: Ctrl-C reaches JupyterHub itself, which stops the servers and the proxy before it exits
exec "$VENV/bin/jupyterhub" -f jupyterhub_config.py "$@"
