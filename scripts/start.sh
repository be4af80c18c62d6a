#!/usr/bin/env bash
# The main job on its embedded default: the lessons in JupyterLab on 127.0.0.1.
# (Once the hub is wired in, this will start it with the sample course instead.)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="$PWD/.venv"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
STAMP="$VENV/.dicomteach-lab-installed"
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
    echo "==> installing dicomteach[lab] into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
    "$VENV/bin/python" -m pip install -q -e ".[lab]" 2>&1 | grep -v "is ignored" || true
    touch "$STAMP"
fi
# JupyterLab as shipped to a class (no news pop-up, kernels start without a dialog):
# a wheel install puts this file there itself; an editable install does not.
install -D -m 644 jupyter-config/lab-settings/dicomteach.json \
    "$VENV/share/jupyter/lab/settings/overrides.d/dicomteach.json"
ROOT_FLAG=()
[ "$(id -u)" = 0 ] && ROOT_FLAG=(--allow-root)
exec "$VENV/bin/jupyter" lab "${ROOT_FLAG[@]}" --no-browser --ServerApp.ip=127.0.0.1 \
    --port="${PORT:-8888}" --ServerApp.root_dir="$PWD/notebooks" "$@"
