#!/usr/bin/env bash
# Trains the three architectures with and without FGSM on MovieLens-100k, evaluates each with
# ./nann eval over the real items plus 1M GMM distractors (and again with 100k), and writes the
# tables and plots (docs/results/trainer/1m, docs/results/trainer/100k). About 75 minutes on the
# 2-core machine with the defaults; finished steps are skipped when re-run.
#
#   trainer/run_tables.sh [--epochs 10] [--distractors 1000000] [--small 100000] [--eps 0.1] [--runs runs]
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=10; DISTRACTORS=1000000; SMALL=100000; EPS=0.1; RUNS=runs; ARCHS="two-sided dnn attention"
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) EPOCHS=$2; shift 2;;
    --distractors) DISTRACTORS=$2; shift 2;;
    --small) SMALL=$2; shift 2;;
    --eps) EPS=$2; shift 2;;
    --runs) RUNS=$2; shift 2;;
    --archs) ARCHS=$2; shift 2;;
    *) echo "unknown option $1"; exit 2;;
  esac
done
export PYTHONWARNINGS=ignore
NANN=${NANN:-./nann}
trainer() { PYTHONPATH=trainer /usr/bin/python3 -m nann_trainer "$@"; }   # the trainer package's commands
evaluate() {   # corpus dir, model dir, json out
  $NANN eval --corpus "dir:$1" --model "$2" --modes nann,hnsw,brute --k 200 --queries 1000 \
      --ef "25,50,200;50,100,200;100,200,400;200,400,800;400,800,1600" --steps "1,1,3" \
      --hnsw-ef 200,400,800,1600,3200 --build-threads 2 --json "$3"
}
for arch in $ARCHS; do
  for eps in 0 "$EPS"; do
    out="$RUNS/ml-$arch-eps$eps"
    if [ ! -f "$out/train.json" ]; then
      trainer train --arch "$arch" --fgsm-eps "$eps" --epochs "$EPOCHS" \
          --distractors "$DISTRACTORS" --out "$out"
    fi
    [ -f "$out/eval.json" ] || evaluate "$out/corpus" "$out/model" "$out/eval.json"
    if [ ! -f "$out/eval-small.json" ]; then
      trainer distract --corpus "$out/corpus" --distractors "$SMALL" --out "$out/corpus-small"
      evaluate "$out/corpus-small" "$out/model" "$out/eval-small.json"
    fi
  done
done
trainer tables --runs "$RUNS" --eval eval.json --out docs/results/trainer/1m
trainer tables --runs "$RUNS" --eval eval-small.json --out docs/results/trainer/100k
