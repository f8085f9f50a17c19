"""Makes the demo's catalog and model from MovieLens-100k (committed under demo/).

    ./nann trainer make-demo --movielens ../shared/data/movielens-100k --out demo
    (or, with trainer/ on PYTHONPATH: python3 -m nann_trainer make-demo ...)

Writes
  demo/catalog/items.f32   item embeddings e_v (1,682 x 16, little-endian float32, row i = ids[i])
  demo/catalog/items.tsv   item id, title (row order of items.f32)
  demo/events.tsv.gz       every rating as a user event: user, item, timestamp (time order)
  demo/model/              an attention scorer in nann's model contract (model.json, user.onnx, score.onnx)

e_v comes from a truncated SVD of the items' positive-PMI co-occurrence matrix (items rated by the
same user within a window of 10 ratings), normalised; deterministic, no training. The scorer
(target attention over the behaviour sequence) is then trained with NCE against the unigram noise
distribution (19 negatives) to predict each rating from the ones before it, for a few epochs. The
last rating of every user is held out and reported as recall@50 next to popularity's.
Bad rows are counted, reported and skipped.
"""
import gzip
import os
import time

import numpy as np
import torch

from nann_trainer import DEFAULT_MOVIELENS
from nann_trainer.batches import batches, shuffled_batches
from nann_trainer.export import export_model_dir
from nann_trainer.models import Scorer
from nann_trainer.nce import nce_loss


def read_movielens(path):
    titles, bad = {}, 0
    with open(os.path.join(path, "u.item"), encoding="latin-1") as f:
        for line in f:
            parts = line.rstrip("\n").split("|")
            try:
                titles[int(parts[0])] = parts[1]
            except (ValueError, IndexError):
                bad += 1
    rows = []
    with open(os.path.join(path, "u.data")) as f:
        for line in f:
            parts = line.split()
            try:
                u, i, _r, t = (int(x) for x in parts[:4])
                if i not in titles:
                    raise ValueError("unknown item")
                rows.append((u, i, t))
            except (ValueError, IndexError):
                bad += 1
    rows.sort(key=lambda r: (r[2], r[0], r[1]))
    return titles, rows, bad


def item_embeddings(seqs, ids, index, dim, window=10):
    n = len(ids)
    co = np.zeros((n, n), dtype=np.float64)
    for s in seqs.values():
        rows = [index[i] for i in s]
        for a in range(len(rows)):
            for b in range(a + 1, min(len(rows), a + 1 + window)):
                co[rows[a], rows[b]] += 1
                co[rows[b], rows[a]] += 1
    total = co.sum()
    p = co.sum(axis=1, keepdims=True) + 1e-9
    pmi = np.log(np.maximum(co * total / (p @ p.T), 1e-12))
    ppmi = np.maximum(pmi, 0)
    u, s, _vt = np.linalg.svd(ppmi, hermitian=True)
    emb = u[:, :dim] * np.sqrt(s[:dim])
    emb /= np.linalg.norm(emb, axis=1, keepdims=True) + 1e-9
    # fix the sign of each component so the result does not depend on the LAPACK build
    emb *= np.sign(emb[np.argmax(np.abs(emb), axis=0), np.arange(dim)])
    return emb.astype(np.float32)


def add_arguments(ap):
    ap.add_argument("--movielens", default=DEFAULT_MOVIELENS)
    ap.add_argument("--out", default="demo")
    ap.add_argument("--dim", type=int, default=16)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--negatives", type=int, default=19)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=7)


def run(a):
    torch.manual_seed(a.seed)
    torch.set_num_threads(2)
    rng = np.random.default_rng(a.seed)

    titles, rows, bad = read_movielens(a.movielens)
    print(f"[demo] {len(rows)} ratings of {len(titles)} items read, {bad} bad rows skipped", flush=True)
    ids = np.array(sorted(titles), dtype=np.int64)
    index = {int(i): r for r, i in enumerate(ids)}
    seqs = {}
    for u, i, _t in rows:
        seqs.setdefault(u, []).append(i)
    train_seqs = {u: s[:-1] for u, s in seqs.items()}      # the last rating of each user is held out
    emb = item_embeddings(train_seqs, ids, index, a.dim)
    print(f"[demo] item embeddings: {emb.shape[0]} x {emb.shape[1]} (PPMI + SVD)", flush=True)

    L = a.seq_len
    examples = []
    for u, s in train_seqs.items():
        r = [index[i] for i in s]
        for t in range(1, len(r)):
            examples.append((r[max(0, t - L):t], r[t]))
    # training ratings only: the held-out last ratings would leak into the noise and the popularity baseline
    counts = np.bincount([index[i] for s in train_seqs.values() for i in s],
                         minlength=len(ids)).astype(np.float64) + 1
    noise = counts / counts.sum()
    log_noise = torch.from_numpy(np.log(noise).astype(np.float32))
    items = torch.from_numpy(emb)
    model = Scorer("attention", a.dim, a.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    print(f"[demo] training the attention scorer on {len(examples)} next-item examples", flush=True)
    for epoch in range(a.epochs):
        t0, total, steps = time.time(), 0.0, 0
        for idx in shuffled_batches(len(examples), a.batch, rng):
            B = len(idx)
            seq = np.zeros((B, L), dtype=np.int64)
            mask = np.zeros((B, L), dtype=np.float32)
            cand = np.empty((B, 1 + a.negatives), dtype=np.int64)
            for r, e in enumerate(idx):
                beh, nxt = examples[e]
                seq[r, :len(beh)] = beh
                mask[r, :len(beh)] = 1
                cand[r, 0] = nxt
            cand[:, 1:] = rng.choice(len(ids), size=(B, a.negatives), p=noise)
            m = torch.from_numpy(mask)
            state = model.user(items[torch.from_numpy(seq)] * m.unsqueeze(-1), m)
            c = torch.from_numpy(cand)
            scores = model.score.score_grid(state, items[c])
            loss = nce_loss(scores, log_noise[c], a.negatives)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
            steps += 1
        print(f"[demo] epoch {epoch + 1}/{a.epochs}: nce {total / steps:.4f} ({time.time() - t0:.0f} s)", flush=True)
    model.eval()

    # held-out check: the last rating of each user among the top 50 of all items
    with torch.no_grad():
        hits, pop_hits, top_pop = 0, 0, set(np.argsort(-counts)[:50].tolist())
        users = sorted(seqs)
        for sl in batches(len(users), 256):
            batch = users[sl]
            seq = np.zeros((len(batch), L), dtype=np.int64)
            mask = np.zeros((len(batch), L), dtype=np.float32)
            for r, u in enumerate(batch):
                beh = [index[i] for i in train_seqs[u]][-L:]
                seq[r, :len(beh)] = beh
                mask[r, :len(beh)] = 1
            m = torch.from_numpy(mask)
            state = model.user(items[torch.from_numpy(seq)] * m.unsqueeze(-1), m)
            all_scores = model.score.score_grid(state, items.unsqueeze(0).expand(len(batch), -1, -1))
            top = torch.topk(all_scores, 50, dim=1).indices.numpy()
            for r, u in enumerate(batch):
                target = index[seqs[u][-1]]
                hits += int(target in set(top[r].tolist()))
                pop_hits += int(target in top_pop)
    print(f"[demo] held-out last rating, recall@50: scorer {hits / len(users):.3f}, "
          f"popularity {pop_hits / len(users):.3f} ({len(users)} users)", flush=True)

    cat = os.path.join(a.out, "catalog")
    os.makedirs(cat, exist_ok=True)
    emb.astype("<f4").tofile(os.path.join(cat, "items.f32"))
    with open(os.path.join(cat, "items.tsv"), "w", encoding="utf-8") as f:
        for i in ids:
            f.write(f"{i}\t{titles[int(i)]}\n")
    with gzip.GzipFile(os.path.join(a.out, "events.tsv.gz"), "wb", mtime=0) as f:
        f.write("".join(f"{u}\t{i}\t{t}\n" for u, i, t in rows).encode())
    export_model_dir(os.path.join(a.out, "model"), model, None, dim=a.dim, seq_len=L, item_feat_dim=0,
                     version=f"demo-movielens-attention-d{a.dim}-s{a.seed}",
                     extra={"weights": f"trained {a.epochs} epochs NCE on MovieLens-100k (nann_trainer make-demo)",
                            "recall_at_50_heldout": round(hits / len(users), 4),
                            "popularity_recall_at_50_heldout": round(pop_hits / len(users), 4)})
    print(f"[demo] wrote {cat}, {a.out}/events.tsv.gz and {a.out}/model", flush=True)
