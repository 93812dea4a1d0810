#!/usr/bin/env bash
# Install smolopt, its test tools and the similarity extra (torch, for the story task's similarity
# part and its tests) into ./.venv (idempotent; run from the repository root).
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
.venv/bin/python -m pip install --quiet --no-cache-dir -e ".[test,similarity]"
