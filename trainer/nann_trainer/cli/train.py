"""Reference trainer: interaction logs -> a model directory nann serves, plus an evaluation corpus.

    ./nann trainer train --data ../shared/data/movielens-100k --arch attention \\
        --fgsm-eps 1e-2 --epochs 12 --distractors 1000000 --out runs/ml-attention-fgsm
    (or, with trainer/ on PYTHONPATH: python3 -m nann_trainer train ...)

Trains one of the three scorer architectures of NANN §5.1.3 (two-sided, dnn, attention) with NCE
against the unigram noise distribution plus the FGSM flatness task L_AUX (§3.1.3, §3.4, Eq. 3-5;
``--fgsm-eps 0`` turns it off), Adam. Items: a shared embedding layer (``--emb`` = 16) for item ids,
concatenated with the item attributes (genres, year), through the item network (three fully
connected layers) to e_v; the behaviour sequence is embedded by the same tower. Seeded and
deterministic on the CPU; loss and validation recall printed per epoch.

Writes to ``--out``:
  model/           nann's model contract (model.json, user.onnx, score.onnx, item.onnx) and
                   reference.json (PyTorch scores for fixed inputs; the Java tests compare ORT to them)
  corpus/          what ``./nann eval --corpus dir:OUT/corpus`` reads: items.f32 (e_v, real items
                   then ``--distractors`` items sampled from a Gaussian mixture fitted to the real e_v),
                   ids.i64, users.tsv (test users: history, ground truth), corpus.json
  id-names.tsv     where the log's ids are not all integers: kind, the 64-bit id served, the text it
                   hashes (nann_trainer.ids)
  train.json       split sizes, bad rows, loss and validation recall per epoch, test recall over the
                   real items, and the flatness probe (mean |s_u(e_v) - s_u(e_v + Δ)| for random Δ
                   with max-norm ε, growing ε; Fig. 7's shape)
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
from nann_trainer.distractors import with_distractors
from nann_trainer.export import export_model_dir
from nann_trainer.models import ARCHS, ATTENTIONS, RBF_HEAD_BOUND, ItemNet, Scorer
from nann_trainer.nce import fgsm_flatness, nce_loss

PROBE_EPS = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1)


class ItemTower(nn.Module):
    """Shared embedding layer for item ids, concatenated with attributes, through the item network."""

    def __init__(self, items, attributes, emb, dim):
        super().__init__()
        self.ids = nn.Embedding(items, emb)
        nn.init.normal_(self.ids.weight, std=0.1)
        self.register_buffer("attributes", torch.from_numpy(attributes))
        self.net = ItemNet(emb + attributes.shape[1], dim, normalize=True)

    def features(self):
        """[items, emb + A]: the item network's input for every catalog row (item.onnx's item_feat)."""
        return torch.cat([self.ids.weight, self.attributes], dim=1)

    def forward(self):
        return self.net(self.features())


# the item network's input is the run's own learned id embedding (+ attributes): only the run's corpus
# (RUN/corpus, its e_v) evaluates the model; ./nann eval refuses to build e_v from other features
ITEM_INPUT_LEARNED = "learned id embedding + attributes (evaluate on the run's corpus: --corpus dir:RUN/corpus)"


def training_batches(examples, seq_len, size, rng):
    """One epoch of (seq, mask, target) tensors, the examples shuffled by ``rng``."""
    for idx in shuffled_batches(len(examples), size, rng):
        seq = np.zeros((len(idx), seq_len), dtype=np.int64)
        mask = np.zeros((len(idx), seq_len), dtype=np.float32)
        target = np.empty(len(idx), dtype=np.int64)
        for r, e in enumerate(idx):
            hist, nxt = examples[e]
            seq[r, :len(hist)] = hist
            mask[r, :len(hist)] = 1
            target[r] = nxt
        yield torch.from_numpy(seq), torch.from_numpy(mask), torch.from_numpy(target)


def held_out_batch(users, seq_len):
    seq = np.zeros((len(users), seq_len), dtype=np.int64)
    mask = np.zeros((len(users), seq_len), dtype=np.float32)
    for r, (_u, hist, _t) in enumerate(users):
        seq[r, :len(hist)] = hist
        mask[r, :len(hist)] = 1
    return torch.from_numpy(seq), torch.from_numpy(mask), np.array([t for _u, _h, t in users])


def user_state(scorer, emb, seq, mask):
    return scorer.user(emb[seq] * mask.unsqueeze(-1), mask)


@torch.no_grad()
def score_every_item(scorer, state, emb, n_users, chunk_cells):
    """[users, items] scores, the items in chunks: score_grid's intermediates are users x items x hidden,
    which for a large catalogue would not fit in memory at once."""
    chunk = max(1, chunk_cells // n_users)
    return torch.cat([scorer.score.score_grid(state, emb[c:c + chunk].unsqueeze(0).expand(n_users, -1, -1))
                      for c in range(0, emb.shape[0], chunk)], dim=1)


@torch.no_grad()
def recall_at(scorer, emb, users, seq_len, ms, chunk_cells=2_000_000):
    """recall@M over the real items for held-out users (one ground-truth item each)."""
    if not users:
        return {m: 0.0 for m in ms}
    seq, mask, truth = held_out_batch(users, seq_len)
    hits = {m: 0 for m in ms}
    # the [users, items] score matrix stays within ~200 MB whatever the catalogue
    for sl in batches(len(users), max(1, min(128, 50_000_000 // emb.shape[0]))):
        state = user_state(scorer, emb, seq[sl], mask[sl])
        scores = score_every_item(scorer, state, emb, seq[sl].shape[0], chunk_cells)
        truth_score = scores.gather(1, torch.from_numpy(truth[sl]).unsqueeze(1))
        # items tied with the truth rank ahead of it, and a NaN score is no hit: a collapsed or broken
        # model must not report perfect recall
        rank = (scores >= truth_score).sum(1) - 1
        rank = torch.where(torch.isnan(truth_score.squeeze(1)), scores.shape[1], rank).numpy()
        for m in ms:
            hits[m] += int((rank < m).sum())
    return {m: hits[m] / len(users) for m in ms}


@torch.no_grad()
def flatness_probe(scorer, emb, users, seq_len, seed, items_per_user=50):
    """Mean |s_u(e_v) - s_u(e_v + Δ)| over test users and random items, Δ uniform signs times ε."""
    g = torch.Generator().manual_seed(seed)
    seq, mask, _truth = held_out_batch(users, seq_len)
    state = user_state(scorer, emb, seq, mask)
    rows = torch.randint(0, emb.shape[0], (len(users), items_per_user), generator=g)
    cand = emb[rows]
    base = scorer.score.score_grid(state, cand)
    out = {}
    for eps in PROBE_EPS:
        delta = eps * (torch.randint(0, 2, cand.shape, generator=g).float() * 2 - 1)
        out[str(eps)] = float((scorer.score.score_grid(state, cand + delta) - base).abs().mean())
    return out


def reference(scorer, tower, emb, users, seq_len, dim, rng):
    """Inputs and PyTorch outputs the Java round-trip test feeds through ONNX Runtime."""
    out = []
    for _u, hist, _t in users[:2]:
        n = len(hist)
        seq_emb = torch.zeros(1, seq_len, dim)
        seq_emb[0, :n] = emb[torch.tensor(hist, dtype=torch.int64)]   # an empty history too (--min-len 1 or 2)
        mask = torch.zeros(1, seq_len)
        mask[0, :n] = 1
        c = min(7, emb.shape[0])   # a catalogue of fewer than 7 items
        items = emb[torch.from_numpy(rng.choice(emb.shape[0], size=c, replace=False))]
        with torch.no_grad():
            scores = scorer(seq_emb.expand(c, -1, -1), mask.expand(c, -1), items)
        out.append({"length": n, "seq_emb": seq_emb[0, :n].reshape(-1).tolist(),
                    "items": items.reshape(-1).tolist(), "scores": scores.tolist()})
    feats = tower.features()[:3].detach()
    with torch.no_grad():
        item_emb = tower.net(feats)
    return {"dim": dim, "seq_len": seq_len, "users": out,
            "item_feat": feats.reshape(-1).tolist(), "item_emb": item_emb.reshape(-1).tolist()}


def add_arguments(ap):
    ap.add_argument("--data", default=DEFAULT_MOVIELENS,
                    help="MovieLens-100k directory, or an interaction log: a user, an item and a time per row "
                         "(columns from a header naming them, else user item [rating/event] time); ids may be "
                         "any text (non-integers are hashed to 64 bits, as NannIds.of in the client does), "
                         "times numbers or ISO-8601 dates")
    ap.add_argument("--columns", metavar="USER,ITEM,TIME",
                    help="for --data FILE: the user, item and time columns, as header names or 1-based numbers, "
                         "where the header or the layout is not recognised")
    ap.add_argument("--items", help="item attribute file for --data FILE: item<TAB>year<TAB>genre|genre")
    ap.add_argument("--arch", choices=ARCHS, default="attention")
    ap.add_argument("--attention", choices=ATTENTIONS, default="dot",
                    help="target-attention similarity of --arch attention: dot (default) or rbf "
                         "(negative squared distance between e_v's, score = attention mass + bounded head)")
    ap.add_argument("--rbf-head-bound", type=float, default=RBF_HEAD_BOUND,
                    help="with --attention rbf: the scoring MLP's output is bounded to +-this (larger: more "
                         "freedom for the model, less of the distance ordering the walk relies on)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--version", help="the model's version in model.json; serving only moves to a version that "
                    "sorts after the current one (natural order: m-9 < m-10), so give each retrain a later one, e.g. "
                    "my-model-2 after my-model-1. Default: <arch>[-rbf<bound>]-d<dim>-eps<ε>-s<seed>")
    ap.add_argument("--emb", type=int, default=16, help="shared embedding layer width (paper: 16)")
    ap.add_argument("--dim", type=int, default=16, help="d of e_v (the index's dimension)")
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=20, help="L, behaviours the user network sees")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--negatives", type=int, default=19, help="noise samples per positive (paper: 19)")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--fgsm-eps", type=float, default=1e-2, help="ε of the FGSM perturbation; 0 turns L_AUX off")
    ap.add_argument("--aux-weight", type=float, default=1.0, help="weight of L_AUX in the loss")
    ap.add_argument("--min-len", type=int, default=10, help="users with fewer behaviours are dropped")
    ap.add_argument("--val-users", type=float, default=0.1)
    ap.add_argument("--test-users", type=float, default=0.1)
    ap.add_argument("--distractors", type=int, default=0, help="synthetic items added to the eval corpus")
    ap.add_argument("--gmm-components", type=int, default=16)
    ap.add_argument("--precision", choices=["fp32", "fp16"], default="fp32")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)


def check_numbers(a):
    """Refuses, before any reading or training, numbers the run would fail on only after its epochs."""
    if a.distractors < 0 or a.gmm_components < 1:
        sys.exit(f"[train] --distractors must be 0 or more and --gmm-components 1 or more "
                 f"(got {a.distractors}, {a.gmm_components})")
    if a.dim < 1 or a.hidden < 1 or a.seq_len < 1:
        sys.exit(f"[train] --dim, --hidden and --seq-len must be 1 or more (got {a.dim}, {a.hidden}, {a.seq_len})")
    if a.threads < 1 or a.batch < 1 or a.epochs < 0:
        sys.exit(f"[train] --threads and --batch must be 1 or more, --epochs 0 or more "
                 f"(got {a.threads}, {a.batch}, {a.epochs})")


def run(a):
    check_numbers(a)
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(a.seed)
    t_start = time.time()

    try:
        data = read_interactions(a.data, a.items, columns=a.columns)
    except ValueError as e:
        sys.exit(f"[train] {e}")
    print(f"[train] {data.interactions} interactions of {len(data.sequences)} users on {len(data.item_ids)} items; "
          f"{data.bad_rows} bad rows skipped" + (f"; {data.layout}" if data.layout else ""), flush=True)
    for w in data.warnings:
        print(f"[train] warning: {w}", flush=True)
    for e in data.bad_examples:
        print(f"[train]   bad row: {e}", flush=True)
    hashed = {kind: names for kind, names in data.hashed_ids.items() if names}
    stale_names = os.path.join(a.out, "id-names.tsv")
    if not hashed and os.path.exists(stale_names):
        os.remove(stale_names)   # an earlier run's into the same --out would label these ids wrongly
    if hashed:
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "id-names.tsv"), "w", encoding="utf-8") as f:
            for kind, names in hashed.items():
                for v, text in sorted(names.items()):
                    f.write(f"{kind}\t{v}\t{text}\n")
        print("[train] " + " and ".join(f"{len(n)} {k} ids" for k, n in hashed.items())
              + f" are not integers: each is served as a 64-bit hash of its text (NannIds.of(text) in the client "
              f"computes it; {a.out}/id-names.tsv maps them back)", flush=True)
    sp = split(data, a.seq_len, a.val_users, a.test_users, a.min_len, a.seed)
    print(f"[train] split: {len(sp.train_users)} training users ({len(sp.train_examples)} next-item examples), "
          f"{len(sp.val)} validation, {len(sp.test)} test users; {sp.dropped_users} users under {a.min_len} "
          f"behaviours dropped", flush=True)
    if not sp.train_examples or not sp.test:
        sys.exit("[train] not enough data for a split: need training examples and test users")

    n_items = len(data.item_ids)
    targets = np.array([t for _h, t in sp.train_examples])
    counts = np.bincount(targets, minlength=n_items).astype(np.float64) + 1.0
    noise = counts / counts.sum()
    log_noise = torch.from_numpy(np.log(noise).astype(np.float32))
    tower = ItemTower(n_items, data.attributes, a.emb, a.dim)
    try:
        scorer = Scorer(a.arch, a.dim, a.hidden, a.attention, a.rbf_head_bound)
    except ValueError as e:
        sys.exit(f"[train] {e}")
    params = list(tower.parameters()) + list(scorer.parameters())
    opt = torch.optim.Adam(params, lr=a.lr)
    history = []
    for epoch in range(a.epochs):
        t0, tot_nce, tot_aux, steps = time.time(), 0.0, 0.0, 0
        tower.train()
        scorer.train()
        for seq, mask, target in training_batches(sp.train_examples, a.seq_len, a.batch, rng):
            emb = tower()
            cand = torch.from_numpy(np.concatenate(
                [target.numpy()[:, None], rng.choice(n_items, size=(len(target), a.negatives), p=noise)], axis=1))
            state = user_state(scorer, emb, seq, mask)

            def score_fn(cand_emb, state=state):
                return scorer.score.score_grid(state, cand_emb)

            cand_emb = emb[cand]
            scores = score_fn(cand_emb)
            loss_nce = nce_loss(scores, log_noise[cand], a.negatives)
            loss_aux = fgsm_flatness(score_fn, cand_emb, scores, a.fgsm_eps)
            loss = loss_nce + a.aux_weight * loss_aux
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot_nce += loss_nce.item()
            tot_aux += float(loss_aux)
            steps += 1
        tower.eval()
        scorer.eval()
        with torch.no_grad():
            emb = tower()
        val = recall_at(scorer, emb, sp.val, a.seq_len, (50, 200))
        row = {"epoch": epoch + 1, "nce": tot_nce / steps, "aux": tot_aux / steps,
               "val_recall@50": val[50], "val_recall@200": val[200], "seconds": round(time.time() - t0, 1)}
        history.append(row)
        print(f"[train] epoch {epoch + 1}/{a.epochs}: nce {row['nce']:.4f}  aux {row['aux']:.5f}  "
              f"val recall@50 {val[50]:.3f} @200 {val[200]:.3f}  ({row['seconds']:.0f} s)", flush=True)

    with torch.no_grad():
        emb = tower()
    test = recall_at(scorer, emb, sp.test, a.seq_len, (50, 200))
    probe = flatness_probe(scorer, emb, sp.test, a.seq_len, a.seed)
    print(f"[train] test recall over the {n_items} real items: @50 {test[50]:.3f} @200 {test[200]:.3f}", flush=True)
    print("[train] flatness probe, mean |s(e_v) - s(e_v + Δ)| by ε: "
          + ", ".join(f"{k}: {v:.4f}" for k, v in probe.items()), flush=True)

    version = a.version or f"{a.arch}{scorer.variant}-d{a.dim}-eps{a.fgsm_eps:g}-s{a.seed}"
    model_dir = os.path.join(a.out, "model")
    export_model_dir(model_dir, scorer, tower.net, dim=a.dim, seq_len=a.seq_len,
                     item_feat_dim=a.emb + data.attributes.shape[1], version=version, precision=a.precision,
                     extra={"weights": f"nann_trainer train: {a.epochs} epochs NCE"
                                       + (f" + FGSM eps={a.fgsm_eps:g}" if a.fgsm_eps > 0 else "")
                                       + f" on {os.path.basename(os.path.normpath(a.data))}",
                            "seed": a.seed, "item_input": ITEM_INPUT_LEARNED})
    with open(os.path.join(model_dir, "reference.json"), "w") as f:
        json.dump(reference(scorer, tower, emb, sp.test, a.seq_len, a.dim, rng), f)

    corpus_dir = os.path.join(a.out, "corpus")
    os.makedirs(corpus_dir, exist_ok=True)
    try:
        items, ids = with_distractors(emb.numpy(), data.item_ids, a.distractors, a.gmm_components, a.seed,
                                      log=lambda s: print(s, flush=True))
    except ValueError as e:
        sys.exit(f"[train] the model is written, the corpus is not: {e}")
    items.astype("<f4").tofile(os.path.join(corpus_dir, "items.f32"))
    ids.astype("<i8").tofile(os.path.join(corpus_dir, "ids.i64"))
    with open(os.path.join(corpus_dir, "users.tsv"), "w") as f:
        for u, hist, truth in sp.test:
            f.write(f"{u}\t{','.join(str(int(data.item_ids[r])) for r in hist)}\t{int(data.item_ids[truth])}\n")
    meta = {"name": f"{os.path.basename(os.path.normpath(a.data))}+{a.distractors}-distractors:{version}",
            "dim": a.dim, "items": int(len(ids)), "real_items": int(n_items), "distractors": a.distractors,
            "test_users": len(sp.test)}
    with open(os.path.join(corpus_dir, "corpus.json"), "w") as f:
        json.dump(meta, f, indent=2)

    summary = {"arch": a.arch, "attention": scorer.attention,
               "rbf_head_bound": scorer.score.head_bound if scorer.attention == "rbf" else None,
               "fgsm_eps": a.fgsm_eps, "seed": a.seed, "epochs": a.epochs, "version": version,
               "data": os.path.abspath(a.data), "item_attributes": a.items and os.path.abspath(a.items),
               "columns": a.columns,
               "split": {"seq_len": a.seq_len, "val_users": a.val_users, "test_users": a.test_users,
                         "min_len": a.min_len},
               "hashed_ids": {k: len(n) for k, n in data.hashed_ids.items()},
               "interactions": data.interactions, "bad_rows": data.bad_rows, "items": n_items,
               "train_users": len(sp.train_users), "train_examples": len(sp.train_examples),
               "val_users": len(sp.val), "test_users": len(sp.test), "dropped_users": sp.dropped_users,
               "history": history, "test_recall@50": test[50], "test_recall@200": test[200],
               "flatness_probe": probe, "seconds": round(time.time() - t_start, 1)}
    with open(os.path.join(a.out, "train.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(f"[train] wrote {model_dir}, {corpus_dir} ({len(ids)} items) and {a.out}/train.json "
          f"in {time.time() - t_start:.0f} s", flush=True)
