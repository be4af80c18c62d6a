#!/usr/bin/env bash
# The whole test suite from a fresh clone: creates .venv when missing, installs
# the project with its test extras and the system tools the tests use, runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
VENV="$ROOT/.venv"

need_apt=()
command -v dcmdump >/dev/null 2>&1 || need_apt+=(dcmtk)
command -v dciodvfy >/dev/null 2>&1 || need_apt+=(dicom3tools)
# tests/test_rtstruct_plastimatch.py exchanges RTSTRUCTs with another reader and writer
command -v plastimatch >/dev/null 2>&1 || need_apt+=(plastimatch)
# tests/browser drive Debian's Chromium (never `playwright install`: it downloads)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "==> installing system packages: ${need_apt[*]}"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
    else
        echo "==> note: ${need_apt[*]} missing and cannot be installed here; tests that need them are skipped"
    fi
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "==> creating $VENV"
    python3 -m venv "$VENV"
fi
STAMP="$VENV/.dicomteach-installed"
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
    echo "==> installing dicomteach[test] into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
    # PyTorch (the ai-train extra: tests/test_ai.py trains the nodule model a few steps) as
    # its CPU build: PyPI's Linux wheel is the CUDA one, with GBs of nvidia-* wheels no test
    # uses. From PyTorch's CPU index, or a CPU wheel among this machine's find-links; the
    # machine's pip configuration files are left out for this one step, as they may add an
    # index that serves PyPI's CUDA build. The test extra then keeps it and adds what it needs.
    if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
        echo "==> installing PyTorch's CPU build"
        if ! PIP_CONFIG_FILE=/dev/null "$VENV/bin/python" -m pip install -q --no-deps \
            --retries 1 --timeout 30 --index-url https://download.pytorch.org/whl/cpu \
            "torch>=2.6,<2.15" >"$VENV/torch-install.log" 2>&1; then
            echo "==> note: no CPU build of PyTorch reached ($VENV/torch-install.log); pip takes PyPI's"
        fi
    fi
    "$VENV/bin/python" -m pip install -q -e ".[test]" 2>&1 | grep -v "is ignored" || true
    # TotalSegmentator and nnU-Net (tests/test_ai_totalsegmentator.py) without what they declare:
    # PyTorch's CUDA build (through timm and torchvision), VTK, dipy, fury and GDCM, which a run
    # from a NIfTI in memory never imports; the ai-totalseg extra above holds what it does import
    # (docs/decisions.md, decision 46)
    "$VENV/bin/python" -m pip install -q --no-deps "TotalSegmentator==2.18.0" "nnunetv2==2.8.1" \
        "dynamic-network-architectures==0.4.4" "dicom2nifti==2.6.2" 2>&1 \
        | grep -v -e "is ignored" -e "which is not installed" -e "resolver does not currently" || true
    "$VENV/bin/python" -c "import dicomteach, pydicom, pytest, onnxruntime" 
    touch "$STAMP"
fi
# JupyterLab as shipped to a class (no news pop-up, kernels start without a dialog):
# a wheel install puts this file there itself; an editable install does not.
install -D -m 644 jupyter-config/lab-settings/dicomteach.json \
    "$VENV/share/jupyter/lab/settings/overrides.d/dicomteach.json"

# The widgets' ES modules are type-checked (tests/test_style.py) by the TypeScript pinned in
# package-lock.json (with Yjs's own types: static/vendor/yjs.d.ts), the vendored Yjs is
# checked against a rebuild by esbuild (tests/test_live_widgets.py), and the hub's tests run
# its proxy (configurable-http-proxy) from there: installed when missing or when the lock
# file changed.
if command -v npm >/dev/null 2>&1; then
    if [ ! -x node_modules/.bin/tsc ] || [ ! -x node_modules/.bin/configurable-http-proxy ] \
        || [ package-lock.json -nt node_modules/.package-lock.json ]; then
        echo "==> installing the pinned TypeScript, Yjs, esbuild and the hub's proxy (npm ci)"
        npm ci --no-audit --no-fund --loglevel=error
    fi
else
    echo "==> note: npm missing; the type check of widgets/static is skipped"
fi

echo "==> running the test suite"
# Two workers (pytest-xdist), one test module at a time each, so a module's servers and
# fixtures are set up once: most tests wait on a server, a kernel or Chromium, and on two
# cores the suite takes about half the time it takes in one process. DICOMTEACH_TEST_WORKERS=0
# runs it in one process. The slowest tests are listed at the end: the suite must stay
# under 20 minutes on two cores.
exec "$VENV/bin/python" -m pytest -n "${DICOMTEACH_TEST_WORKERS:-2}" --dist loadfile \
    --durations=30 "$@"
