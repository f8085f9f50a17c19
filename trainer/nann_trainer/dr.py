"""Deep Retrieval's structure model (DR paper §2–3): D layers of K nodes, J paths per item, EM.

* :class:`StructureModel` — layer d is an MLP over the user embedding and the embeddings of the
  path's first d nodes, with a K-way softmax; p(c|u) is the product over layers (Eq. 1).
* :func:`beam_search` — the top-B paths for a user, layer by layer (§2.2, Alg. 1).
* :func:`multi_path_loss` — −mean log Σ_j p(π_j(v)|u), the multi-path structure objective.
* :class:`StreamingPathScores` — the M-step's streaming top-S estimate of s[v, c] with decay η
  (§3, "Remark on estimating s[v, c] with streaming training").
* :func:`assign_paths` — the M-step's penalised coordinate descent (Alg. 2) with f(|c|) = |c|^4/4.
"""
import math

import torch
from torch import nn


def f_size(n):
    """The size penalty f(|c|) = |c|^4 / 4."""
    return n ** 4 / 4.0


class StructureModel(nn.Module):
    def __init__(self, user_dim, depth=3, width=16, emb=16, hidden=64):
        super().__init__()
        self.depth, self.width = depth, width
        self.path_emb = nn.ModuleList([nn.Embedding(width, emb) for _ in range(depth - 1)])
        self.layers = nn.ModuleList([
            nn.Sequential(nn.Linear(user_dim + d * emb, hidden), nn.ReLU(), nn.Linear(hidden, width))
            for d in range(depth)])

    def layer_logprobs(self, d, user, prefix):
        """log p(c_d | u, c_<d): user [N, du], prefix [N, d] int64 -> [N, K]."""
        parts = [user] + [self.path_emb[i](prefix[:, i]) for i in range(d)]
        return torch.log_softmax(self.layers[d](torch.cat(parts, dim=1)), dim=1)

    def path_logprob(self, user, paths):
        """log p(c | u) for paths [N, D] -> [N]."""
        total = user.new_zeros(user.shape[0])
        for d in range(self.depth):
            lp = self.layer_logprobs(d, user, paths[:, :d])
            total = total + lp.gather(1, paths[:, d:d + 1]).squeeze(1)
        return total


@torch.no_grad()
def beam_search(model, user, beam):
    """Top-``beam`` paths of one user (user [du]): returns (paths [B', D] int64, log p [B'])."""
    u = user.unsqueeze(0)
    paths = torch.zeros(1, 0, dtype=torch.int64)
    scores = torch.zeros(1)
    for d in range(model.depth):
        lp = model.layer_logprobs(d, u.expand(paths.shape[0], -1), paths)      # [B, K]
        total = (scores.unsqueeze(1) + lp).reshape(-1)                         # [B*K]
        top = torch.topk(total, min(beam, total.numel()))
        parent = torch.div(top.indices, model.width, rounding_mode="floor")
        node = top.indices % model.width
        paths = torch.cat([paths[parent], node.unsqueeze(1)], dim=1)
        scores = top.values
    return paths, scores


@torch.no_grad()
def beam_search_batch(model, users, beam):
    """:func:`beam_search` for many users at once: users [N, du] -> (paths [N, B, D], log p [N, B])."""
    n = users.shape[0]
    paths = torch.zeros(n, 1, 0, dtype=torch.int64)
    scores = torch.zeros(n, 1)
    for d in range(model.depth):
        b = paths.shape[1]
        lp = model.layer_logprobs(d, users.repeat_interleave(b, dim=0), paths.reshape(n * b, d)).reshape(n, b, -1)
        total = (scores.unsqueeze(2) + lp).reshape(n, -1)
        top = torch.topk(total, min(beam, total.shape[1]), dim=1)
        parent = torch.div(top.indices, model.width, rounding_mode="floor")
        node = top.indices % model.width
        paths = torch.cat([paths.gather(1, parent.unsqueeze(2).expand(-1, -1, d)), node.unsqueeze(2)], dim=2)
        scores = top.values
    return paths, scores


@torch.no_grad()
def all_paths(model, user):
    """Every one of the K^D paths with its log p(c|u), by enumeration (tests, tiny structures)."""
    k, dpt = model.width, model.depth
    idx = torch.arange(k ** dpt)
    paths = torch.stack([(idx // (k ** (dpt - 1 - d))) % k for d in range(dpt)], dim=1)
    return paths, model.path_logprob(user.unsqueeze(0).expand(paths.shape[0], -1), paths)


def multi_path_loss(model, user, item_paths):
    """−mean_i log Σ_j p(π_j(y_i) | x_i): user [N, du], item_paths [N, J, D] int64."""
    n, j, dpt = item_paths.shape
    lp = model.path_logprob(user.repeat_interleave(j, dim=0), item_paths.reshape(n * j, dpt)).reshape(n, j)
    return -torch.logsumexp(lp, dim=1).mean()


class StreamingPathScores:
    """Per item, the top-S paths by accumulated score s[v, c] = Σ_i p(c | x_i), updated in a stream."""

    def __init__(self, top_s=10, decay=0.999):
        self.top_s, self.decay = top_s, decay
        self.scores = {}          # item -> {path tuple: score}

    def update(self, item, new):
        """Merges one training instance's top paths ``new`` ({path: p(c|x)}) into item's list."""
        old = self.scores.get(item, {})
        floor = min(old.values()) if old else 0.0
        merged = {}
        for c in set(old) | set(new):
            if c in old and c in new:
                merged[c] = self.decay * old[c] + new[c]
            elif c in new:
                merged[c] = self.decay * floor + new[c]
            else:
                merged[c] = self.decay * old[c]
        best = sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))[:self.top_s]
        self.scores[item] = dict(best)


MAX_PATH_CODES = 2 ** 63   # serving names a path by its base-K code in a signed 64-bit integer


def shape_problem(depth, width, paths_per_item):
    """Why a structure of this shape cannot be served (None when it can): K^D path codes must fit a
    signed 64-bit integer, or they wrap and distinct paths collide."""
    if depth < 1 or width < 2 or paths_per_item < 1:
        return f"needs --depth >= 1, --width >= 2 and --paths-per-item >= 1 (got {depth}, {width}, {paths_per_item})"
    if width ** depth >= MAX_PATH_CODES:
        return (f"K^D = {width}^{depth} paths do not fit serving's 64-bit path codes (K^D must stay below 2^63): "
                f"lower --depth or --width")
    return None


def trained_paths(assignment, counts, item_ids):
    """paths.tsv's lines: only items that were a training target. Any other item still holds the random
    paths it started with; left out, index-sync gives it the paths of its nearest trained item."""
    return [f"{int(item_ids[v])}\t" + ",".join(".".join(map(str, c)) for c in paths) + "\n"
            for v, paths in sorted(assignment.items()) if counts.get(v, 0) > 0]


def penalized_objective(scores, counts, assignment, alpha):
    """Σ_v N_v log Σ_j s[v, π_j(v)] − α Σ_c f(|c|) (paths without a score count 0)."""
    sizes = {}
    total = 0.0
    for v, paths in assignment.items():
        s = sum(scores.get(v, {}).get(c, 0.0) for c in paths)
        total += counts.get(v, 0) * math.log(max(s, 1e-30))
        for c in paths:
            sizes[c] = sizes.get(c, 0) + 1
    return total - alpha * sum(f_size(n) for n in sizes.values())


def _item_value(cand, n_v, paths, sizes, alpha):
    """Item v's part of the penalised objective for ``paths``, the other items' sizes fixed."""
    s = sum(cand.get(c, 0.0) for c in paths)
    return n_v * math.log(max(s, 1e-30)) - alpha * sum(f_size(sizes.get(c, 0) + 1) - f_size(sizes.get(c, 0))
                                                         for c in paths)


def assign_paths(scores, counts, assignment, paths_per_item, alpha, iterations=3):
    """Penalised coordinate descent (DR Alg. 2): each item in turn re-chooses its J paths greedily,
    the others fixed, by the incremental gain N_v (log(partial + s) − log(partial)) − α(f(|c|+1) − f(|c|)).
    Returns the new assignment {item: [path, ...]} (items without candidates keep theirs)."""
    assignment = {v: list(p) for v, p in assignment.items()}
    sizes = {}
    for paths in assignment.values():
        for c in paths:
            sizes[c] = sizes.get(c, 0) + 1
    for _ in range(iterations):
        for v in sorted(assignment):
            cand = scores.get(v)
            if not cand:
                continue
            for c in assignment[v]:
                sizes[c] -= 1
            chosen, partial = [], 0.0
            n_v = counts.get(v, 0)
            for _j in range(paths_per_item):
                best, best_gain = None, -math.inf
                for c, s in cand.items():
                    if c in chosen:
                        continue
                    grow = n_v * (math.log(partial + s) - (math.log(partial) if partial > 0 else 0.0))
                    gain = grow - alpha * (f_size(sizes.get(c, 0) + 1) - f_size(sizes.get(c, 0)))
                    if gain > best_gain:
                        best, best_gain = c, gain
                if best is None:
                    break
                chosen.append(best)
                partial += cand[best]
                sizes[best] = sizes.get(best, 0) + 1
            if len(chosen) < len(assignment[v]):          # too few candidates: keep old paths to fill J
                for c in assignment[v]:
                    if c not in chosen and len(chosen) < paths_per_item:
                        chosen.append(c)
                        sizes[c] = sizes.get(c, 0) + 1
            # greedy is not optimal for J > 1: keep the old paths when they are worth more, so every
            # coordinate step (and the whole M-step) can only raise the penalised objective
            for c in chosen:
                sizes[c] -= 1
            if _item_value(cand, n_v, assignment[v], sizes, alpha) > _item_value(cand, n_v, chosen, sizes, alpha):
                chosen = assignment[v]
            for c in chosen:
                sizes[c] = sizes.get(c, 0) + 1
            assignment[v] = chosen
    return assignment
