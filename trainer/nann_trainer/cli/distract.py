"""Rewrites a trained run's evaluation corpus with another number of distractors.

    ./nann trainer distract --corpus runs/ml-attention-eps0.1/corpus --distractors 100000 \\
        --out runs-100k/ml-attention-eps0.1/corpus
    (or, with trainer/ on PYTHONPATH: python3 -m nann_trainer distract ...)

The real items' e_v (the first ``real_items`` rows) and the test users are kept; the distractors
are sampled again from a Gaussian mixture fitted to the real rows (nann_trainer.distractors), so
the same trained model can be evaluated among 0 to 1M look-alike items without retraining.
"""
import json
import os
import shutil
import sys

import numpy as np

from nann_trainer.distractors import with_distractors


def add_arguments(ap):
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--distractors", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--components", type=int, default=16)
    ap.add_argument("--seed", type=int, default=7)


def run(a):
    if not os.path.isfile(os.path.join(a.corpus, "corpus.json")):
        sys.exit(f"[distract] {a.corpus} is not a corpus directory (no corpus.json): ./nann trainer train writes one")
    if os.path.exists(a.out) and os.path.samefile(a.out, a.corpus):
        sys.exit("[distract] --out is --corpus: write the larger corpus to another directory (its files would be "
                 "overwritten while read)")
    with open(os.path.join(a.corpus, "corpus.json")) as f:
        meta = json.load(f)
    dim, real = meta["dim"], meta["real_items"]
    emb = np.fromfile(os.path.join(a.corpus, "items.f32"), dtype="<f4", count=real * dim).reshape(real, dim)
    ids = np.fromfile(os.path.join(a.corpus, "ids.i64"), dtype="<i8", count=real)
    try:
        items, all_ids = with_distractors(emb, ids, a.distractors, a.components, a.seed,
                                          log=lambda s: print(s, flush=True))
    except ValueError as e:
        sys.exit(f"[distract] {e}")
    os.makedirs(a.out, exist_ok=True)
    items.astype("<f4").tofile(os.path.join(a.out, "items.f32"))
    all_ids.astype("<i8").tofile(os.path.join(a.out, "ids.i64"))
    shutil.copy(os.path.join(a.corpus, "users.tsv"), os.path.join(a.out, "users.tsv"))
    name = meta["name"].replace(f"+{meta['distractors']}-distractors", f"+{a.distractors}-distractors")
    meta.update({"name": name, "items": int(len(all_ids)), "distractors": a.distractors})
    with open(os.path.join(a.out, "corpus.json"), "w") as f:
        json.dump(meta, f, indent=2)
    print(f"wrote {a.out}: {len(all_ids)} items ({real} real)", flush=True)
