#!/usr/bin/env bash
# The test command: checks the committed fixture models regenerate from the trainer, then runs every
# Java test (real ONNX models, real snapshot files, a real Kafka broker, Flink MiniClusters, a multi-process
# Flink cluster running the job jar) across
# the Maven reactor, compiles the GPU build, and lints the Dockerfile.
set -euo pipefail
cd "$(dirname "$0")"
echo "[test] trainer fixtures reproducible?"
PYTHONWARNINGS=ignore PYTHONPATH=trainer /usr/bin/python3 -m nann_trainer make-models --check models/fixtures --dim 64
PYTHONWARNINGS=ignore PYTHONPATH=trainer /usr/bin/python3 -m nann_trainer make-models --check models/fixtures --dim 16 --seq-len 8 --hidden 16
echo "[test] trainer unit tests"
PYTHONWARNINGS=ignore PYTHONPATH=trainer /usr/bin/python3 -m unittest discover -s trainer/tests
ML=../shared/data/movielens-100k
if [ -f "$ML/u.data" ]; then
  echo "[test] trainer smoke run: the three architectures (and distance attention) on MovieLens-100k, 1 epoch each (Java checks the export)"
  rm -rf .cache/trained-smoke
  for arch in two-sided dnn attention attention-rbf; do
    PYTHONWARNINGS=ignore PYTHONPATH=trainer /usr/bin/python3 -m nann_trainer train --data "$ML" --arch "${arch%-rbf}" --epochs 1 \
        $([ "$arch" = attention-rbf ] && echo --attention rbf) \
        --distractors 1000 --out ".cache/trained-smoke/$arch" | grep -E "epoch|test recall|wrote"
  done
  echo "[test] Deep Retrieval structure smoke run (1 EM epoch; Java checks the export)"
  PYTHONWARNINGS=ignore PYTHONPATH=trainer /usr/bin/python3 -m nann_trainer train-dr --run .cache/trained-smoke/attention --data "$ML" \
      --em-epochs 1 --out .cache/trained-smoke/dr | grep -E "EM epoch|wrote"
else
  echo "[test] $ML not found: trainer smoke run skipped"
fi
echo "[test] job jar (what runs on a cluster; the cluster test deploys it)"
mvn -B -ntp -q -Pjob-jar -DskipTests package -pl flink-jobs -am
echo "[test] mvn verify"
mvn -B -ntp verify
echo "[test] docs/model-contract.md's export example exports a model that ./nann check-model accepts"
rm -rf .cache/export-example && mkdir -p .cache/export-example
/usr/bin/python3 -c 'import re,sys; d=open("docs/model-contract.md").read(); sys.stdout.write(re.search(r"## Export any PyTorch model.*?```python\n(.*?)```", d, re.S).group(1))' \
    > .cache/export-example/export_mine.py
(cd .cache/export-example && PYTHONWARNINGS=ignore PYTHONPATH=../../trainer /usr/bin/python3 export_mine.py)
./nann check-model --model .cache/export-example/my-model
echo "[test] job jar (what runs on a cluster) holds no CLI, local-stack or evaluator classes"
if jar tf flink-jobs/target/nann-job.jar | grep -E "^dev/nann/(cli|local|eval)/"; then
  echo "[test] the job jar carries tool classes"; exit 1
fi
echo "[test] GPU build (-Pgpu: onnxruntime_gpu instead of onnxruntime) compiles; its scorer tests pass without a GPU"
mvn -B -ntp -q -Pgpu test -pl flink-jobs -am -Dtest=OnnxScorerTest -Dsurefire.failIfNoSpecifiedTests=false
echo "[test] Dockerfile lint (dockerfile-utils from npm)"
tools=.cache/tools
if [ ! -x "$tools/node_modules/.bin/dockerfile-utils" ] && ! command -v npm > /dev/null && [ -z "${CI:-}" ]; then
  echo "[test] skipped: no npm here (install Node.js to lint the Dockerfile; CI always does)"
else
  if [ ! -x "$tools/node_modules/.bin/dockerfile-utils" ]; then
    mkdir -p "$tools"
    npm install --prefix "$tools" --silent --no-audit --no-fund dockerfile-utils@0.16.3 > /dev/null
  fi
  "$tools/node_modules/.bin/dockerfile-utils" lint Dockerfile
fi
echo "[test] all passed"
