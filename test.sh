#!/usr/bin/env bash
# The test command: checks the committed fixture models regenerate from the trainer, then runs every
# Java test (real ONNX models, real snapshot files) across the Maven reactor.
set -euo pipefail
cd "$(dirname "$0")"
echo "[test] trainer fixtures reproducible?"
PYTHONWARNINGS=ignore /usr/bin/python3 trainer/make_models.py --check models/fixtures --dim 64
PYTHONWARNINGS=ignore /usr/bin/python3 trainer/make_models.py --check models/fixtures --dim 16 --seq-len 8 --hidden 16
echo "[test] mvn verify"
mvn -B -ntp verify
