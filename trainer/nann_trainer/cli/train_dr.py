"""Deep Retrieval structure model trained with EM on a nann training run's split and item embeddings.

    ./nann trainer train-dr --run runs/ml-attention-eps0 --out runs/dr-ml \\
        --depth 3 --width 16 --paths-per-item 3 --alpha 1e-4 --em-epochs 6
    (or, with trainer/ on PYTHONPATH: python3 -m nann_trainer train-dr ...)

The user embedding is the mean of the user's behaviour e_v (the run's item tower output, read from
RUN/corpus), so DR and NANN see the same users. EM (DR paper §3): the E-step trains the layer MLPs
and path embeddings on the multi-path objective for the current item→paths mapping; the M-step runs
a beam search for every training pair, keeps each item's top-S paths by a streaming score with decay
η, and re-assigns J paths per item by penalised coordinate descent (f(|c|) = |c|^4/4, weight α).
Reports per epoch the loss, recall of the held-out item among the items of the top-B paths, the
share of the catalog those items are, and the path-size distribution.

Writes OUT/dr.json (structure, settings, results), OUT/paths.tsv (item id → its J paths) and
OUT/layer_<d>.onnx (inputs ``user`` [N, du] and, from layer 1, ``prefix`` [N, d] int64; output
``logp`` [N, K]) with OUT/reference.json (PyTorch outputs for a round-trip check).
"""
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn

from nann_trainer import DEFAULT_MOVIELENS
from nann_trainer.batches import batches, shuffled_batches
from nann_trainer.data import read_interactions, split
from nann_trainer.dr import (StreamingPathScores, StructureModel, assign_paths, beam_search_batch,
                             multi_path_loss, penalized_objective, shape_problem, trained_paths)
from nann_trainer.export import onnx_export


def user_vectors(emb, histories):
    out = np.zeros((len(histories), emb.shape[1]), dtype=np.float32)
    for r, hist in enumerate(histories):
        if hist:
            out[r] = emb[hist].mean(axis=0)
    return torch.from_numpy(out)


def path_index(assignment, n_items):
    """Items of every path: {path tuple: [item rows]}."""
    index = {}
    for v in range(n_items):
        for c in assignment[v]:
            index.setdefault(c, []).append(v)
    return index


def evaluate(model, users, truths, index, beam, n_items):
    paths, _lp = beam_search_batch(model, users, beam)
    hits, gathered = 0, 0
    for r in range(users.shape[0]):
        items = set()
        for c in paths[r].tolist():
            items.update(index.get(tuple(c), ()))
        hits += int(truths[r] in items)
        gathered += len(items)
    return hits / len(truths), gathered / len(truths) / n_items


def size_report(assignment):
    sizes = {}
    for paths in assignment.values():
        for c in paths:
            sizes[c] = sizes.get(c, 0) + 1
    v = sorted(sizes.values(), reverse=True)
    return {"non_empty_paths": len(v), "largest_path": v[0] if v else 0,
            "mean_path_size": float(np.mean(v)) if v else 0.0, "top10_sizes": v[:10]}


class Layer(nn.Module):
    """One layer as an ONNX graph: user (and the path prefix) -> log p over the layer's K nodes."""

    def __init__(self, model, d):
        super().__init__()
        self.model, self.d = model, d

    def forward(self, user, prefix=None):
        if self.d == 0:
            prefix = torch.zeros(user.shape[0], 0, dtype=torch.int64)
        return self.model.layer_logprobs(self.d, user, prefix)


def add_arguments(ap):
    ap.add_argument("--run", required=True, help="a `nann_trainer train` output directory (its corpus gives e_v)")
    ap.add_argument("--data", help="the interaction log the run was trained on (default: the one its train.json names)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--paths-per-item", type=int, default=3)
    ap.add_argument("--beam", type=int, default=20, help="B at evaluation")
    ap.add_argument("--top-s", type=int, default=10, help="S paths kept per item in the M-step")
    ap.add_argument("--decay", type=float, default=0.999, help="η of the streaming score")
    ap.add_argument("--alpha", type=float, default=1e-4, help="size penalty weight (0: none)")
    ap.add_argument("--em-epochs", type=int, default=6)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=7)


def run_split(run_dir, run, data):
    """The training run's own split of ``data``, so that its test users stay unseen here; exits when the
    users it holds out are not the ones the run wrote to corpus/users.tsv (other data, or a run that
    predates train.json's "split" and was trained with other split settings)."""
    settings = {"seq_len": 20, "val_users": 0.1, "test_users": 0.1, "min_len": 10, **run.get("split", {})}
    sp = split(data, settings["seq_len"], settings["val_users"], settings["test_users"], settings["min_len"],
               run["seed"])
    with open(os.path.join(run_dir, "corpus", "users.tsv")) as f:
        held_out = {int(line.split("\t", 1)[0]) for line in f if line.strip()}
    if held_out != {u for u, _h, _t in sp.test}:
        sys.exit(f"[dr] the split of this data does not hold out the test users of {run_dir}/corpus/users.tsv "
                 f"(split settings {settings}): train the structure on the data the run was trained on, with "
                 f"the run's --seq-len, --min-len, --val-users and --test-users recorded in its train.json")
    sp.settings = settings
    return sp


def run(a):
    problem = shape_problem(a.depth, a.width, a.paths_per_item)
    if problem:
        sys.exit(f"[dr] {problem}")
    torch.manual_seed(a.seed)
    torch.set_num_threads(2)
    rng = np.random.default_rng(a.seed)
    t_start = time.time()

    with open(os.path.join(a.run, "train.json")) as f:
        run = json.load(f)
    with open(os.path.join(a.run, "corpus", "corpus.json")) as f:
        meta = json.load(f)
    dim, real = meta["dim"], meta["real_items"]
    emb = np.fromfile(os.path.join(a.run, "corpus", "items.f32"), dtype="<f4", count=real * dim).reshape(real, dim)
    data = read_interactions(a.data or run.get("data", DEFAULT_MOVIELENS), run.get("item_attributes"),
                             columns=run.get("columns"))
    sp = run_split(a.run, run, data)
    n_items = len(data.item_ids)
    run_ids = np.fromfile(os.path.join(a.run, "corpus", "ids.i64"), dtype="<i8", count=real)
    if n_items != real or not np.array_equal(run_ids, np.asarray(data.item_ids, dtype=np.int64)):
        sys.exit(f"[dr] the items of this data are not the catalogue of {a.run}/corpus (another log, or the same "
                 f"log re-exported): train the structure on the data the run was trained on")
    train_users = user_vectors(emb, [h for h, _t in sp.train_examples])
    train_items = np.array([t for _h, t in sp.train_examples])
    test_users = user_vectors(emb, [h for _u, h, _t in sp.test])
    test_truth = [t for _u, _h, t in sp.test]
    counts = {v: int(n) for v, n in enumerate(np.bincount(train_items, minlength=n_items)) if n > 0}
    print(f"[dr] {len(train_items)} training pairs, {len(test_truth)} test users, {n_items} items; "
          f"D={a.depth} K={a.width} J={a.paths_per_item} alpha={a.alpha:g}", flush=True)

    model = StructureModel(dim, a.depth, a.width)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    assignment = {v: [tuple(int(x) for x in rng.integers(0, a.width, a.depth)) for _ in range(a.paths_per_item)]
                  for v in range(n_items)}
    history = []
    for epoch in range(a.em_epochs):
        t0 = time.time()
        item_paths = torch.tensor([assignment[v] for v in range(n_items)], dtype=torch.int64)   # [V, J, D]
        total, steps = 0.0, 0
        for idx in shuffled_batches(len(train_items), a.batch, rng):          # E-step
            loss = multi_path_loss(model, train_users[idx], item_paths[torch.from_numpy(train_items[idx])])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
            steps += 1
        scores = StreamingPathScores(a.top_s, a.decay)         # M-step
        for sl in batches(len(train_items), 4096):
            paths, lp = beam_search_batch(model, train_users[sl], a.top_s)
            probs = lp.exp()
            for r in range(paths.shape[0]):
                v = int(train_items[sl.start + r])
                scores.update(v, {tuple(p): float(x) for p, x in zip(paths[r].tolist(), probs[r].tolist())})
        before = penalized_objective(scores.scores, counts, assignment, a.alpha)
        assignment = assign_paths(scores.scores, counts, assignment, a.paths_per_item, a.alpha)
        after = penalized_objective(scores.scores, counts, assignment, a.alpha)
        index = path_index(assignment, n_items)
        model.eval()
        recall, fraction = evaluate(model, test_users, test_truth, index, a.beam, n_items)
        model.train()
        sizes = size_report(assignment)
        row = {"epoch": epoch + 1, "loss": total / steps, "m_step_objective_before": before,
               "m_step_objective_after": after, "test_recall": recall, "gathered_fraction": fraction,
               **sizes, "seconds": round(time.time() - t0, 1)}
        history.append(row)
        print(f"[dr] EM epoch {epoch + 1}/{a.em_epochs}: loss {row['loss']:.4f}  M-step objective "
              f"{before:.1f} -> {after:.1f}  recall (B={a.beam}) {recall:.3f} gathering {fraction:.3f} of the items  "
              f"paths: {sizes['non_empty_paths']} non-empty, largest {sizes['largest_path']}  ({row['seconds']:.0f} s)",
              flush=True)

    os.makedirs(a.out, exist_ok=True)
    model.eval()
    files = []
    for d in range(a.depth):
        name = f"layer_{d}.onnx"
        args = (torch.zeros(2, dim),) if d == 0 else (torch.zeros(2, dim), torch.zeros(2, d, dtype=torch.int64))
        names = ["user"] if d == 0 else ["user", "prefix"]
        axes = {n: {0: "n"} for n in names + ["logp"]}
        onnx_export(Layer(model, d), args, os.path.join(a.out, name), names, ["logp"], axes)
        files.append(name)
    lines = trained_paths(assignment, counts, data.item_ids)
    with open(os.path.join(a.out, "paths.tsv"), "w") as f:
        f.writelines(lines)
    print(f"[dr] paths.tsv: {len(lines)} trained items; the other {n_items - len(lines)} (never a training target) "
          f"get their nearest trained item's paths when index-sync builds", flush=True)
    sweep = {}
    for b in (1, 2, 5, 10, 20, 50):
        recall, fraction = evaluate(model, test_users, test_truth, path_index(assignment, n_items), b, n_items)
        sweep[str(b)] = {"recall": recall, "gathered_fraction": fraction}
        print(f"[dr] beam {b}: recall of the held-out item among the gathered items {recall:.3f}, "
              f"gathering {fraction:.3f} of the catalog", flush=True)
    ref_users = test_users[:3]
    ref_paths, ref_lp = beam_search_batch(model, ref_users, 5)
    with open(os.path.join(a.out, "reference.json"), "w") as f:
        json.dump({"users": ref_users.tolist(), "beam": 5, "paths": ref_paths.tolist(), "logp": ref_lp.tolist()}, f)
    summary = {"format": 1, "depth": a.depth, "width": a.width, "paths_per_item": a.paths_per_item,
               "user_input": "mean of the most recent history_len behaviour items' e_v from " + os.path.normpath(a.run),
               "history_len": sp.settings["seq_len"],
               "layers": files, "alpha": a.alpha, "top_s": a.top_s, "decay": a.decay, "beam": a.beam,
               "history": history, "beam_sweep": sweep, "paths": size_report(assignment), "seconds": round(time.time() - t_start, 1)}
    with open(os.path.join(a.out, "dr.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(f"[dr] wrote {a.out} in {time.time() - t_start:.0f} s", flush=True)
