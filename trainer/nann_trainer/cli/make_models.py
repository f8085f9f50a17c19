"""Writes deterministic, untrained scorer model directories for tests and demos.

    ./nann trainer make-models --out models/fixtures --dim 64
    ./nann trainer make-models --out models/fixtures --dim 16 --seq-len 8 --hidden 16
    ./nann trainer make-models --out models/fixtures --dim 16 --seq-len 8 --hidden 16 --precision fp16
    (or, with trainer/ on PYTHONPATH: python3 -m nann_trainer make-models ...)

One directory per architecture (``two-sided``, ``dnn``, ``attention``, and ``attention-rbf``: the
attention architecture with distance attention) named ``<arch>-d<dim>``,
each in nann's model contract plus ``reference.json``: inputs and the PyTorch outputs for them,
which the Java tests compare ONNX Runtime against. ``--check DIR`` regenerates into a temporary
directory and verifies the reference scores in DIR match (the fixtures are reproducible).

``--undefined`` writes one more directory, ``undefined-d<dim>``: a model in the same contract that is
not defined everywhere, for the tests of what serving does with NaN. Its user network averages the
behaviour items with no floor on their count (NaN for an empty history) and its score is
``u_vec · e_v + sqrt(e_v[0])`` (NaN for every item whose first component is negative).
"""
import json
import os
import sys
import tempfile

import types

import torch
from torch import nn

from nann_trainer.export import export_model_dir
from nann_trainer.models import ItemNet, Scorer

ITEM_FEAT_DIM = 32
# (directory name, arch, attention); the seed of each is --seed plus its position here.
VARIANTS = (("two-sided", "two-sided", "dot"), ("dnn", "dnn", "dot"), ("attention", "attention", "dot"),
            ("attention-rbf", "attention", "rbf"))


def build(arch, dim, hidden, seed, attention="dot"):
    torch.manual_seed(seed)
    scorer = Scorer(arch, dim, hidden, attention)
    item_net = ItemNet(ITEM_FEAT_DIM, dim)
    # Default init gives near-constant scores; widen the weights so the score surface has structure.
    with torch.no_grad():
        for p in list(scorer.parameters()) + list(item_net.parameters()):
            if p.dim() > 1:
                p.mul_(2.0)
    return scorer.eval(), item_net.eval()


def reference(scorer, item_net, dim, seq_len, seed):
    g = torch.Generator().manual_seed(seed + 1)
    users = []
    for n in (seq_len, max(1, seq_len // 3), 0):   # a full history, a short one, a cold start
        seq_emb = torch.zeros(1, seq_len, dim)
        seq_emb[0, :n] = torch.randn(n, dim, generator=g)
        mask = torch.zeros(1, seq_len)
        mask[0, :n] = 1.0
        items = torch.randn(7, dim, generator=g)
        with torch.no_grad():
            scores = scorer(seq_emb.expand(7, -1, -1), mask.expand(7, -1), items)
        users.append({"length": n,
                      "seq_emb": seq_emb[0, :n].reshape(-1).tolist(),
                      "items": items.reshape(-1).tolist(),
                      "scores": scores.tolist()})
    feats = torch.randn(3, ITEM_FEAT_DIM, generator=g)
    with torch.no_grad():
        emb = item_net(feats)
    return {"dim": dim, "seq_len": seq_len, "users": users,
            "item_feat": feats.reshape(-1).tolist(), "item_emb": emb.reshape(-1).tolist()}


def write_all(out, dim, seq_len, hidden, seed, precision="fp32"):
    torch.set_num_threads(1)
    dirs = []
    for i, (name, arch, attention) in enumerate(VARIANTS):
        scorer, item_net = build(arch, dim, hidden, seed + i, attention)
        suffix = "" if precision == "fp32" else "-" + precision
        d = os.path.join(out, f"{name}-d{dim}{suffix}")
        export_model_dir(d, scorer, item_net, dim=dim, seq_len=seq_len, item_feat_dim=ITEM_FEAT_DIM,
                         version=f"fixture-{name}-d{dim}-s{seed}{suffix}",
                         extra={"weights": "random (untrained fixture)", "seed": seed}, precision=precision)
        with open(os.path.join(d, "reference.json"), "w") as f:
            json.dump(reference(scorer, item_net, dim, seq_len, seed), f)
        print(f"wrote {d}", flush=True)
        dirs.append(d)
    return dirs


class MeanUser(nn.Module):
    """u_vec = the mean of the behaviour embeddings, divided by their count with no floor."""

    def output_names(self):
        return ["u_vec"]

    def forward(self, seq_emb, seq_mask):
        return ((seq_emb * seq_mask.unsqueeze(-1)).sum(1) / seq_mask.sum(1, keepdim=True),)


class SqrtScore(nn.Module):
    """u_vec · e_v + sqrt(e_v[0]): undefined (NaN) where e_v[0] < 0."""

    def input_names(self):
        return ["u_vec", "user_idx", "item_emb"]

    def forward(self, u_vec, user_idx, item_emb):
        return (u_vec[user_idx] * item_emb).sum(1) + torch.sqrt(item_emb[:, 0])


def write_undefined(out, dim, seq_len):
    d = os.path.join(out, f"undefined-d{dim}")
    scorer = types.SimpleNamespace(arch="undefined", user=MeanUser().eval(), score=SqrtScore().eval())
    export_model_dir(d, scorer, None, dim=dim, seq_len=seq_len, item_feat_dim=ITEM_FEAT_DIM,
                     version=f"fixture-undefined-d{dim}",
                     extra={"weights": "none: NaN for an empty history and for items with e_v[0] < 0"})
    print(f"wrote {d}", flush=True)
    return d


def add_arguments(ap):
    ap.add_argument("--out", default="models/fixtures")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--seq-len", type=int, default=50)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--precision", choices=["fp32", "fp16"], default="fp32",
                    help="fp16: half-precision networks behind fp32 inputs/outputs (directories get a -fp16 suffix; "
                         "reference.json keeps the fp32 PyTorch scores)")
    ap.add_argument("--check", metavar="DIR", help="regenerate and compare against the fixtures in DIR")
    ap.add_argument("--undefined", action="store_true",
                    help="write only undefined-d<dim>: a model that gives NaN for an empty history and for items "
                         "with e_v[0] < 0 (tests of how serving treats NaN)")


def run(a):
    if a.undefined:
        if a.check:
            sys.exit("[make-models] --check does not check --undefined: its model has no reference scores")
        write_undefined(a.out, a.dim, a.seq_len)
        return
    if not a.check:
        write_all(a.out, a.dim, a.seq_len, a.hidden, a.seed, a.precision)
        return
    with tempfile.TemporaryDirectory() as tmp:
        for d in write_all(tmp, a.dim, a.seq_len, a.hidden, a.seed, a.precision):
            name = os.path.basename(d)
            with open(os.path.join(d, "reference.json")) as f:
                new = json.load(f)
            with open(os.path.join(a.check, name, "reference.json")) as f:
                old = json.load(f)
            for nu, ou in zip(new["users"], old["users"]):
                worst = max(abs(x - y) for x, y in zip(nu["scores"], ou["scores"]))
                if worst > 1e-4:
                    sys.exit(f"{name}: regenerated scores differ from committed fixture by {worst}")
            print(f"{name}: reproducible", flush=True)
