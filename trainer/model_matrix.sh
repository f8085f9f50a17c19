#!/usr/bin/env bash
# The model matrix: for every scorer the trainer makes (two-sided, dnn, attention with the dot head,
# attention with distance attention), briefly and fully trained, FGSM off and on, on MovieLens-100k
# + 1M GMM distractors (nann_trainer train, then nann_trainer distract) and on the 1M synthetic nested
# corpus (nann_trainer train-synthetic), each index built at efConstruction 40 and 200: ./nann eval
# measures the default walk (nann: the serving default, search.descent=auto, and again with the narrow descent), Beam-retrieval
# (beam) and HNSW-retrieval (hnsw) at five budgets each against the exact top-200 (the default walk
# also at five widths between them, and at the widths where it scores HNSW-retrieval's items, for
# the comparison at equal items), then nann_trainer matrix writes the table and the plot.
# Finished cells are skipped when re-run, so it can be stopped and resumed.
#
#   trainer/model_matrix.sh [--out DIR] [--sets "ml synthetic"] [--archs "two-sided dnn attention attention-rbf"]
#                           [--efc "40 200"] [--distractors 1000000] [--queries 100] [--cells "e2-eps0 ..."]
#
# Cells are named <arch>-e<epochs>-eps<fgsm ε>: MovieLens brief e2, full e10, FGSM ε 0.01 (train's
# default); synthetic brief e1, full e4, FGSM ε 0.3. Whole matrix with the defaults: several hours on
# the 2-core machine (the 1M synthetic cells dominate: corpus ~2 min, index 2 min at efConstruction 40
# and ~10 min at 200, training ~5-20 min a model).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=.nann-cache/matrix; SETS="ml synthetic"; ARCHS="two-sided dnn attention attention-rbf"; EFC="40 200"
DISTRACTORS=1000000; QUERIES=100; CELLS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$2; shift 2;;
    --sets) SETS=$2; shift 2;;
    --archs) ARCHS=$2; shift 2;;
    --efc) EFC=$2; shift 2;;
    --distractors) DISTRACTORS=$2; shift 2;;
    --queries) QUERIES=$2; shift 2;;
    --cells) CELLS=$2; shift 2;;
    *) echo "unknown option $1 (see the header of $0)"; exit 2;;
  esac
done
export PYTHONWARNINGS=ignore
NANN=${NANN:-./nann}
trainer() { PYTHONPATH=trainer /usr/bin/python3 -m nann_trainer "$@"; }   # the trainer package's commands
mkdir -p "$OUT"
log() { echo "[matrix $(date +%T)] $*"; }

walk_eval() {   # corpus spec, model dir, efConstruction, json out, widths, what (for the log), more eval options
  if [ ! -f "$4" ]; then
    log "eval $1 efC $3, $6 -> $4"
    $NANN eval --corpus "$1" --model "$2" --ef-construction "$3" --k 200 --queries "$QUERIES" \
        --modes nann --width "$5" --budget 100000 "${@:7}" --json "$4.tmp" > "$4.txt" 2> "$4.log"
    mv "$4.tmp" "$4"
  fi
}

evaluate() {   # corpus spec, model dir, efConstruction, json out
  if [ ! -f "$4" ]; then
    log "eval $1 efC $3 -> $4"
    $NANN eval --corpus "$1" --model "$2" --ef-construction "$3" --k 200 --queries "$QUERIES" \
        --modes nann,beam,hnsw,brute --width 200,400,800,1600,3200 --budget 100000 \
        --ef "25,50,200;50,100,200;100,200,400;200,400,800;400,800,1600" --steps 1,1,3 \
        --hnsw-ef 200,400,800,1600,3200 --json "$4.tmp" > "$4.txt" 2> "$4.log"
    mv "$4.tmp" "$4"
  fi
  # the default walk with the narrow descent; its recommendation row says which descent pays here
  walk_eval "$1" "$2" "$3" "${4%.json}-narrow.json" 200,400,800,1600,3200 "narrow descent" --descent narrow
  # the default walk again at widths between the five: HNSW-retrieval's points fall between the walk's
  # (the walk scores more items at the same width), and a chord across a concave curve understates it
  walk_eval "$1" "$2" "$3" "${4%.json}-between.json" 250,300,600,1200,2400 "widths between"
  # and at the widths where it scores about HNSW-retrieval's items at each of its points (just below)
  local at_hnsw="${4%.json}-at-hnsw.json" widths
  if [ ! -f "$at_hnsw" ]; then
    widths=$(trainer matrix --widths-at-hnsw "$4")
    [ -z "$widths" ] || walk_eval "$1" "$2" "$3" "$at_hnsw" "$widths" "widths at HNSW-retrieval's items ($widths)"
  fi
}

for set in $SETS; do
  if [ "$set" = ml ]; then
    default_cells="e2-eps0 e2-eps0.01 e10-eps0 e10-eps0.01"
  else
    default_cells="e1-eps0 e1-eps0.3 e4-eps0 e4-eps0.3"
    corpus=.nann-cache/corpus-1m-nested
    if [ ! -f "$corpus/corpus.json" ]; then
      log "synthetic nested corpus, 1M x 64"
      $NANN corpus --items 1000000 --dim 64 --users 50000 --nested --out "$corpus"
    fi
  fi
  for arch in $ARCHS; do
    for cell in ${CELLS:-$default_cells}; do
      epochs=${cell%%-eps*}; epochs=${epochs#e}; eps=${cell#*-eps}
      run="$OUT/$set-$arch-$cell"
      base=${arch%-rbf}; att=dot; [ "$arch" = attention-rbf ] && att=rbf
      if [ ! -f "$run/model/model.json" ]; then
        mkdir -p "$run"
        log "train $run"
        if [ "$set" = ml ]; then
          trainer train --arch "$base" --attention "$att" --epochs "$epochs" --fgsm-eps "$eps" \
              --distractors 0 --out "$run" > "$run.log" 2>&1
        else
          trainer train-synthetic --corpus "$corpus" --arch "$base" --attention "$att" \
              --epochs "$epochs" --eps "$eps" --out "$run/model" > "$run.log" 2>&1
        fi
      fi
      for efc in $EFC; do
        if [ "$set" = ml ]; then
          # the trained run's real items and test users among $DISTRACTORS look-alike items
          [ -f "$run/corpus-d$DISTRACTORS/corpus.json" ] || trainer distract \
              --corpus "$run/corpus" --distractors "$DISTRACTORS" --out "$run/corpus-d$DISTRACTORS" > /dev/null
          evaluate "dir:$run/corpus-d$DISTRACTORS" "$run/model" "$efc" "$run/eval-d$DISTRACTORS-efc$efc.json"
        else
          evaluate "synthetic-nested:1000000" "$run/model" "$efc" "$run/eval-efc$efc.json"
        fi
      done
    done
  done
done
trainer matrix "$OUT" --table "$OUT/matrix.md" --plot "$OUT/matrix.png"
