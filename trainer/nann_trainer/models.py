"""The three scorer architectures of NANN paper section 5.1.3, split along nann's model contract.

Every architecture is three networks:

* ``UserNet``  (user.onnx)  user features -> user state tensors, run once per request;
* ``ScoreNet`` (score.onnx) user state rows + ``user_idx`` [N] + ``item_emb`` [N, d] -> ``score`` [N];
* ``ItemNet``  (item.onnx)  item features -> e_v, the embedding the HNSW graph is built on.

``ScoreNet`` takes a ``user_idx`` column so one call can score candidates of many users: the user
state tensors have a leading dimension U (users in the call) and row n of the batch is scored
against user ``user_idx[n]``. The selection is written as a one-hot matrix product rather than a
gather of [N, L, h] rows: for small U it costs U times a single user's matmul and never
materialises per-candidate copies of the behaviour sequence.
"""
import math

import torch
from torch import nn

ARCHS = ("two-sided", "dnn", "attention")
# Target-attention similarity: "dot" (scaled dot product of tanh keys, the paper's DIN-style
# default) or "rbf" (negative squared L2 distance between the candidate's e_v and the behaviour
# items' e_v, the metric the graph is built on; the score is the attention mass plus a bounded head).
ATTENTIONS = ("dot", "rbf")
# Bound of distance attention's scoring head (+-). Measured (docs/benchmarks.md, distance attention): 8 keeps
# the walk's coverage (0.996 synthetic, 0.990 MovieLens + 1M distractors) and recalls about as well
# as the dot-product head on MovieLens (test recall@200 0.777 vs 0.798); 2 walked slightly worse
# (0.993 / 0.979) and recalled less (0.681).
RBF_HEAD_BOUND = 8.0


def _one_hot(user_idx: torch.Tensor, users: torch.Tensor) -> torch.Tensor:
    """[N] int64 indices, [U, ...] tensor -> [N, U] float one-hot (exported as Equal + Cast)."""
    u = users.shape[0]
    return (user_idx.unsqueeze(1) == torch.arange(u, dtype=torch.int64).unsqueeze(0)).to(torch.float32)


def _mlp(sizes):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class ItemNet(nn.Module):
    """Item network: three fully connected layers from item features to e_v.

    With ``normalize`` e_v is put on the unit sphere (times ``scale``): a jointly trained item tower
    otherwise learns to push rarely-seen items to extreme norms that every user scores highly
    (measured: one such model gave every user the same ~200 items).
    """

    def __init__(self, feat_dim: int, dim: int, normalize: bool = False, scale: float = 4.0):
        super().__init__()
        self.net = _mlp([feat_dim, 2 * dim, 2 * dim, dim])
        self.normalize = normalize
        self.scale = scale

    def forward(self, item_feat):
        e = self.net(item_feat)
        if self.normalize:
            e = self.scale * e / e.norm(dim=-1, keepdim=True).clamp(min=1e-6)
        return e


def _mask_padding(logits, mask):
    """Attention logits with padding positions pushed 1e4 down, for users with any behaviour only.

    A user with none (a cold start) keeps the logits as they are: softmax is the same either way,
    and the scores do not sit near -1e4, where half precision (--precision fp16) resolves steps of 8
    and a cold-start user's items would collapse onto a few distinct scores.
    """
    has_any = mask.amax(dim=-1, keepdim=True)
    return logits + (mask - 1.0) * (1e4 * has_any)


def _masked_mean(seq_emb, seq_mask):
    total = (seq_emb * seq_mask.unsqueeze(-1)).sum(1)
    return total / seq_mask.sum(1, keepdim=True).clamp(min=1.0)


class UserNet(nn.Module):
    """Behaviour sequence (item embeddings e_v, left-aligned, with a 0/1 mask) -> user state."""

    def __init__(self, arch: str, dim: int, hidden: int, attention: str = "dot"):
        super().__init__()
        self.arch = arch
        self.attention = attention
        out = dim if arch == "two-sided" else hidden
        self.pool = _mlp([dim, hidden, out])
        if arch == "attention" and attention == "dot":
            self.keys = nn.Linear(dim, hidden)

    def output_names(self):
        if self.arch == "attention":
            return ["u_vec", "u_keys", "u_mask"]
        return ["u_vec"]

    def forward(self, seq_emb, seq_mask):
        u_vec = self.pool(_masked_mean(seq_emb, seq_mask))
        if self.arch == "attention":
            keys = seq_emb if self.attention == "rbf" else torch.tanh(self.keys(seq_emb))
            return u_vec, keys, seq_mask
        return (u_vec,)


class ScoreNet(nn.Module):
    """Scores candidates: user state rows selected by ``user_idx`` against ``item_emb``.

    With ``attention="rbf"`` the keys are the behaviour items' e_v themselves, the attention logits
    are ``-gamma * |e_v - e_i|^2`` and the score is the attention mass ``logsumexp_i`` plus a bias
    plus a head bounded to +-``head_bound`` (default ``RBF_HEAD_BOUND``). Far from every behaviour
    item the distance term dominates, so there the score falls with the L2 distance the graph is built on (the items the
    walk meets on the upper layers are ranked in the graph's own metric); near them the head
    reorders freely. A learned projection inside the distance was tried first and walks worse:
    its metric is no longer the graph's.
    """

    def __init__(self, arch: str, dim: int, hidden: int, attention: str = "dot", head_bound: float = RBF_HEAD_BOUND):
        super().__init__()
        self.arch = arch
        self.hidden = hidden
        self.attention = attention
        self.head_bound = head_bound
        self.key_width = dim if attention == "rbf" else hidden
        if arch != "two-sided":
            self.query = nn.Linear(dim, hidden)
            width = 3 * hidden + (0 if arch == "dnn" else dim if attention == "rbf" else hidden)
            self.head = _mlp([width, 128, 64, 1])
        if arch == "attention" and attention == "rbf":
            self.log_gamma = nn.Parameter(torch.zeros(()))
            self.bias = nn.Parameter(torch.zeros(()))

    def input_names(self):
        if self.arch == "attention":
            return ["u_vec", "u_keys", "u_mask", "user_idx", "item_emb"]
        return ["u_vec", "user_idx", "item_emb"]

    def forward(self, *args):
        if self.arch == "attention":
            u_vec, u_keys, u_mask, user_idx, item_emb = args
        else:
            u_vec, user_idx, item_emb = args
        one_hot = _one_hot(user_idx, u_vec)                      # [N, U]
        uv = one_hot @ u_vec                                     # [N, h] (or [N, d])
        if self.arch == "two-sided":
            return (uv * item_emb).sum(1)
        q = self.query(item_emb)                                 # [N, h]
        if self.arch == "dnn":
            return self._head(uv, None, q)
        users, seq_len = u_keys.shape[0], u_keys.shape[1]
        keys = u_keys.reshape(users * seq_len, self.key_width)   # [U*L, h] (rbf: [U*L, d])
        probe = item_emb if self.attention == "rbf" else q
        dots = (probe @ keys.t()).reshape(-1, users, seq_len)    # [N, U, L]
        sel = one_hot.unsqueeze(2)                               # [N, U, 1]
        dots = (dots * sel).sum(1)                               # [N, L]
        mask = one_hot @ u_mask                                  # [N, L]
        if self.attention == "rbf":
            key_sq = one_hot @ (u_keys * u_keys).sum(2)          # [N, L]
            logits = self._rbf_logits(dots, (item_emb * item_emb).sum(1, keepdim=True), key_sq)
        else:
            logits = dots / math.sqrt(self.hidden)
        logits = _mask_padding(logits, mask)
        att = torch.softmax(logits, dim=1)
        ctx = (att.unsqueeze(1) * sel).reshape(-1, users * seq_len) @ keys  # [N, h]
        return self._combine(logits, self._head(uv, ctx, q))

    def _rbf_logits(self, dots, q_sq, key_sq):
        """-gamma * |q - k|^2 from q.k, |q|^2 and |k|^2 (clamped: rounding can make it slightly negative)."""
        return -torch.exp(self.log_gamma) * (q_sq - 2.0 * dots + key_sq).clamp(min=0.0)

    def _combine(self, masked_logits, head):
        if self.attention != "rbf":
            return head
        mass = torch.logsumexp(masked_logits, dim=-1)
        return mass + self.bias + self.head_bound * torch.tanh(head / self.head_bound)

    def _head(self, uv, ctx, q):
        parts = [uv, q, uv * q] if ctx is None else [uv, ctx, q, uv * q]
        return self.head(torch.cat(parts, -1)).squeeze(-1)

    def score_grid(self, state, item_emb):
        """Training path, same function as ``forward``: user state [B, ...], candidates [B, C, d] -> [B, C]."""
        u_vec = state[0]
        uv = u_vec.unsqueeze(1).expand(-1, item_emb.shape[1], -1)          # [B, C, h]
        if self.arch == "two-sided":
            return (uv * item_emb).sum(-1)
        q = self.query(item_emb)                                           # [B, C, h]
        if self.arch == "dnn":
            return self._head(uv, None, q)
        _, u_keys, u_mask = state
        if self.attention == "rbf":
            dots = torch.einsum("bcd,bld->bcl", item_emb, u_keys)
            logits = self._rbf_logits(dots, (item_emb * item_emb).sum(-1, keepdim=True),
                                      (u_keys * u_keys).sum(-1).unsqueeze(1))
        else:
            logits = torch.einsum("bch,blh->bcl", q, u_keys) / math.sqrt(self.hidden)
        logits = _mask_padding(logits, u_mask.unsqueeze(1))
        att = torch.softmax(logits, dim=-1)
        ctx = torch.einsum("bcl,blh->bch", att, u_keys)
        return self._combine(logits, self._head(uv, ctx, q))


class Scorer(nn.Module):
    """Whole model for training: behaviour sequence + candidate e_v -> score (one user per row)."""

    def __init__(self, arch: str, dim: int, hidden: int, attention: str = "dot", head_bound: float = RBF_HEAD_BOUND):
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"unknown arch {arch!r}; expected one of {ARCHS}")
        if attention not in ATTENTIONS:
            raise ValueError(f"unknown attention {attention!r}; expected one of {ATTENTIONS}")
        if arch == "attention" and attention == "rbf" and not 0 < head_bound <= 60000:
            # finite, and within fp16's range (65504) so that --precision fp16 can hold it
            raise ValueError(f"--rbf-head-bound must be in (0, 60000], got {head_bound}")
        self.arch = arch
        self.attention = attention if arch == "attention" else None   # other archs have no attention
        self.user = UserNet(arch, dim, hidden, self.attention or "dot")
        self.score = ScoreNet(arch, dim, hidden, self.attention or "dot", head_bound)

    @property
    def variant(self) -> str:
        """Model-version tag of the attention variant: ``-rbf<bound>`` for distance attention, else empty."""
        return f"-rbf{self.score.head_bound:g}" if self.attention == "rbf" else ""

    def forward(self, seq_emb, seq_mask, item_emb):
        state = self.user(seq_emb, seq_mask)
        idx = torch.arange(item_emb.shape[0], dtype=torch.int64)
        return self.score(*state, idx, item_emb)
