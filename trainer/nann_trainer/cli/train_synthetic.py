"""Briefly trains a scorer on a synthetic corpus written by `./nann corpus`, with NCE (+ FGSM).

    ./nann corpus --items 1000000 --dim 64 --users 50000 --out .nann-cache/corpus-1m
    ./nann trainer train-synthetic --corpus .nann-cache/corpus-1m --arch attention \\
        --out .nann-cache/models/attention-trained-1m
    (or, with trainer/ on PYTHONPATH: python3 -m nann_trainer train-synthetic ...)

Item embeddings are the corpus's (fixed); the user network and scoring network learn which items
a user engages with next. The result is a model directory in nann's contract (no item.onnx).
"""
import json
import os
import sys
import time

import numpy as np
import torch

from nann_trainer.batches import shuffled_batches
from nann_trainer.export import export_model_dir
from nann_trainer.models import ATTENTIONS, RBF_HEAD_BOUND, ItemNet, Scorer
from nann_trainer.nce import fgsm_flatness, nce_loss


def load(corpus_dir):
    with open(os.path.join(corpus_dir, "corpus.json")) as f:
        meta = json.load(f)
    items = np.fromfile(os.path.join(corpus_dir, "items.f32"), dtype="<f4").reshape(meta["items"], meta["dim"])
    users = []
    with open(os.path.join(corpus_dir, "users.txt")) as f:
        for line in f:
            b, t = line.split("|")
            users.append(([int(x) for x in b.split()], [int(x) for x in t.split()]))
    return meta, torch.from_numpy(items), users


def add_arguments(ap):
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--arch", default="attention", choices=["two-sided", "dnn", "attention"])
    ap.add_argument("--attention", default="dot", choices=list(ATTENTIONS),
                    help="target-attention similarity of the attention arch: dot (default) or rbf "
                         "(negative squared distance, score = attention mass + bounded head)")
    ap.add_argument("--rbf-head-bound", type=float, default=RBF_HEAD_BOUND,
                    help="with --attention rbf: bound of the scoring MLP's output (+-)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--negatives", type=int, default=19)
    ap.add_argument("--eps", type=float, default=0.0, help="FGSM ε (0 turns the flatness task off)")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--seq-len", type=int, default=50)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--item-net", action="store_true",
                    help="learn e_v = item network(corpus vector) jointly, as NANN does; exports item.onnx")


def run(a):
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(a.seed)
    meta, items, users = load(a.corpus)
    n, d = items.shape
    print(f"[train] {a.arch} ({a.attention}): {n} items x {d}, {len(users)} users, eps={a.eps}", flush=True)
    try:
        model = Scorer(a.arch, d, a.hidden, a.attention, a.rbf_head_bound)
    except ValueError as e:
        sys.exit(f"[train-synthetic] {e}")
    item_net = ItemNet(d, d, normalize=True) if a.item_net else None
    params = list(model.parameters()) + (list(item_net.parameters()) if item_net else [])
    opt = torch.optim.Adam(params, lr=a.lr)
    embed = item_net if item_net else (lambda x: x)
    noise_log_prob = -np.log(n)            # uniform noise distribution q(v) = 1/|V|
    L = a.seq_len
    for epoch in range(a.epochs):
        t0, total, steps = time.time(), 0.0, 0
        for idx in shuffled_batches(len(users), a.batch, rng):
            B = len(idx)
            seq = np.zeros((B, L), dtype=np.int64)
            mask = np.zeros((B, L), dtype=np.float32)
            cand = np.empty((B, 1 + a.negatives), dtype=np.int64)
            for r, u in enumerate(idx):
                beh, truth = users[u]
                beh = beh[-L:]
                seq[r, :len(beh)] = beh
                mask[r, :len(beh)] = 1
                cand[r, 0] = truth[rng.integers(len(truth))]
            cand[:, 1:] = rng.integers(0, n, size=(B, a.negatives))
            seq_emb = embed(items[torch.from_numpy(seq)]) * torch.from_numpy(mask).unsqueeze(-1)
            cand_emb = embed(items[torch.from_numpy(cand)])
            state = model.user(seq_emb, torch.from_numpy(mask))
            scores = model.score.score_grid(state, cand_emb)
            nlp = torch.full_like(scores, noise_log_prob)
            loss = nce_loss(scores, nlp, a.negatives)
            aux = fgsm_flatness(lambda e: model.score.score_grid(state, e), cand_emb, scores, a.eps)
            opt.zero_grad()
            (loss + aux).backward()
            opt.step()
            total += loss.item()
            steps += 1
        print(f"[train] epoch {epoch + 1}/{a.epochs}: nce {total / steps:.4f} ({time.time() - t0:.0f} s)", flush=True)
    model.eval()
    if item_net:
        item_net.eval()
    export_model_dir(a.out, model, item_net, dim=d, seq_len=L, item_feat_dim=d if item_net else 0,
                     version=f"synthetic-{a.arch}{model.variant}"
                             f"{'-itemnet' if item_net else ''}-eps{a.eps}-s{a.seed}",
                     extra={"weights": f"trained {a.epochs} epochs NCE on {meta['name']}", "eps": a.eps})
    print(f"[train] wrote {a.out}", flush=True)
