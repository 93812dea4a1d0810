#!/usr/bin/env bash
# Install smolopt, its test tools, the similarity extra (torch, for the story task's similarity
# part), the tune extra (transformers and peft, for weight tuning) and the mlflow extra (for
# --mlflow and its tests) into ./.venv, and Debian's Chromium for the view's browser tests
# (idempotent; run from the repository root).
#
# llama-cpp-python compiles from source (about 7 minutes on 2 cores). GGML_NATIVE is off because a
# native build on a CPU that advertises AMX emits tile instructions, and on virtual machines whose
# kernel does not enable AMX the server dies with a general protection fault on its first request.
# --no-cache-dir keeps pip from reusing a llama-cpp-python wheel built earlier with other flags.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}"
.venv/bin/python -m pip install --quiet --no-cache-dir -e ".[test,similarity,tune,mlflow]"
# The view's browser tests drive Debian's Chromium through playwright (which must not download its own).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
