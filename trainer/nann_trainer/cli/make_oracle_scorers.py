"""Writes hand-made "oracle" scorers in nann's attention contract, for diagnosing the walk.

They need no training and their score surface is known exactly, so `./nann eval` with them
separates what the graph and the data allow from what a trained model adds:

* ``kernel``: s_u(e) = logsumexp_i(-|e - h_i|^2 / tau) over the user's behaviour items h_i, the
  smoothest possible "target attention": high exactly near the items the user engaged with;
* ``l2``:     s_u(e) = -|e - mean_i h_i|^2 / tau, a plain nearest-neighbour query in L2, the
  case HNSW itself is built for.

    ./nann trainer make-oracle-scorers --out .nann-cache/models/oracle --dim 64
    ./nann eval --corpus synthetic:1000000 --dim 64 --model .nann-cache/models/oracle/kernel-tau2 \\
        --queries 100 --modes nann,hnsw --explain-misses
"""
import os

import torch
from torch import nn

from nann_trainer.export import export_model_dir


class OracleUser(nn.Module):
    """user.onnx: the behaviour items themselves are the keys; u_vec is their mean."""

    def output_names(self):
        return ["u_vec", "u_keys", "u_mask"]

    def forward(self, seq_emb, seq_mask):
        m = seq_mask.unsqueeze(-1)
        u_vec = (seq_emb * m).sum(1) / seq_mask.sum(1, keepdim=True).clamp(min=1.0)
        return u_vec, seq_emb * m, seq_mask


class OracleScore(nn.Module):
    """score.onnx: ``kernel`` or ``l2`` (see the module doc), one row per (user_idx, item_emb)."""

    def __init__(self, kind, tau):
        super().__init__()
        self.kind = kind
        self.tau = tau

    def input_names(self):
        return ["u_vec", "u_keys", "u_mask", "user_idx", "item_emb"]

    def forward(self, u_vec, u_keys, u_mask, user_idx, item_emb):
        users, seq_len, dim = u_keys.shape
        one_hot = (user_idx.unsqueeze(1) == torch.arange(users, dtype=torch.int64).unsqueeze(0)).to(torch.float32)
        keys = u_keys.reshape(users * seq_len, dim)
        dot = ((item_emb @ keys.t()).reshape(-1, users, seq_len) * one_hot.unsqueeze(2)).sum(1)   # [N, L]
        key_norm = one_hot @ (keys * keys).sum(1).reshape(users, seq_len)
        mask = one_hot @ u_mask
        d2 = (item_emb * item_emb).sum(1, keepdim=True) - 2 * dot + key_norm
        # every contract input must stay in the exported graph: the unused ones enter with weight 0
        if self.kind == "l2":
            centre = one_hot @ u_vec
            return -((item_emb - centre) ** 2).sum(1) / self.tau + 0.0 * (d2 * mask).sum(1)
        return torch.logsumexp(-d2 / self.tau + (mask - 1.0) * 1e4, dim=1) + 0.0 * (one_hot @ u_vec).sum(1)


class Oracle(nn.Module):
    def __init__(self, kind, tau):
        super().__init__()
        self.arch = "attention"
        self.user = OracleUser()
        self.score = OracleScore(kind, tau)


def add_arguments(ap):
    ap.add_argument("--out", required=True, help="parent directory; writes kernel-tau<T>/ and l2/ under it")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--seq-len", type=int, default=50)
    ap.add_argument("--tau", type=float, default=2.0)


def run(a):
    for kind, name in (("kernel", f"kernel-tau{a.tau:g}"), ("l2", "l2")):
        out = os.path.join(a.out, name)
        export_model_dir(out, Oracle(kind, a.tau), None, dim=a.dim, seq_len=a.seq_len, item_feat_dim=0,
                         version=f"oracle-{name}-d{a.dim}", extra={"weights": f"oracle scorer '{kind}', tau {a.tau:g}"})
        print(f"[oracle] wrote {out}", flush=True)
