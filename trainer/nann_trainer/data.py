"""Interaction logs -> behaviour sequences and the paper's split (NANN §5.1.1).

Reads MovieLens-100k (a directory with ``u.data`` and ``u.item``) or any interaction file of the
same shape: one row per interaction, ``user item rating-or-event timestamp`` separated by tabs,
commas, ``::`` or spaces, with an optional header; item attributes optionally from a second file
(``item<TAB>year<TAB>genre|genre|...``). Bad rows are counted, reported and skipped, never fatal.

Split: users with fewer than ``min_len`` behaviours are dropped; validation and test users are drawn
at random (seeded); for them the ⌈l_u/2⌉-th behaviour is the ground truth, predicted from the
behaviours before it, and nothing of theirs is trained on. Training users contribute every
behaviour b_{k+1} predicted from the ones before it.
"""
import math
import os
import re
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Interactions:
    """What was read: time-ordered behaviour sequences (item ids) per user, item attributes, bad rows."""
    sequences: dict            # user -> [item id, ...] oldest first
    item_ids: np.ndarray       # every item id known (catalog order)
    attributes: np.ndarray     # [items, A] float32 attributes per item (genres, scaled year), A may be 0
    attribute_names: list
    bad_rows: int = 0
    bad_examples: list = field(default_factory=list)

    @property
    def interactions(self):
        return sum(len(s) for s in self.sequences.values())


@dataclass
class Split:
    """Training examples and held-out users. Items are catalog rows (indices into item_ids)."""
    train_users: list
    val: list                  # [(user, history rows, truth row)]
    test: list
    train_examples: list       # [(history rows, target row)], history capped at seq_len
    dropped_users: int


def _split_line(line):
    line = line.strip()
    if "::" in line:
        return line.split("::")
    if "\t" in line:
        return line.split("\t")
    if "," in line:
        return line.split(",")
    return line.split()


INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1


def read_interactions(path, items_path=None, max_bad_examples=5):
    """Reads a MovieLens-100k directory or an interaction file; returns :class:`Interactions`."""
    if os.path.isdir(path):
        if items_path:
            raise ValueError("--items applies to --data FILE; a MovieLens-100k directory brings its own u.item")
        return _read_movielens(path, max_bad_examples)
    rows, bad, examples = [], 0, []
    # utf-8-sig: a spreadsheet's "CSV UTF-8" starts with a byte-order mark, which int() would refuse
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            parts = _split_line(line)
            try:
                if len(parts) < 4:
                    raise ValueError(f"{len(parts)} fields, need user, item, rating/event, timestamp")
                u, i, t = int(parts[0]), int(parts[1]), float(parts[3])
                if not math.isfinite(t):
                    raise ValueError("timestamp is not finite")
                if not (INT64_MIN <= u <= INT64_MAX and INT64_MIN <= i <= INT64_MAX):
                    raise ValueError("a user or item id outside the 64-bit signed range nann serves")
                rows.append((u, i, t))
            except ValueError as e:
                if n == 1 and not parts[0].strip().lstrip("-").isdigit():
                    continue          # a header
                bad += 1
                if len(examples) < max_bad_examples:
                    examples.append(f"line {n}: {e}")
    attrs, names = {}, []
    if items_path:
        attrs, names, b2, ex2 = _read_item_file(items_path, max_bad_examples)
        bad += b2
        examples += ex2
    item_ids = np.array(sorted({i for _u, i, _t in rows} | set(attrs)), dtype=np.int64)
    return _build(rows, item_ids, attrs, names, bad, examples)


def _read_item_file(path, max_bad_examples):
    raw, genres, bad, examples = {}, set(), 0, []
    with open(path, encoding="utf-8-sig", errors="replace") as f:   # as read_interactions: a BOM is no id
        for n, line in enumerate(f, 1):
            parts = line.rstrip("\n").split("\t")
            try:
                item = int(parts[0])
                if not INT64_MIN <= item <= INT64_MAX:
                    raise ValueError("an item id outside the 64-bit signed range nann serves")
                year = float(parts[1]) if len(parts) > 1 and parts[1] else float("nan")
                gs = [g for g in parts[2].split("|") if g] if len(parts) > 2 else []
                raw[item] = (year, gs)
                genres.update(gs)
            except (ValueError, IndexError) as e:
                bad += 1
                if len(examples) < max_bad_examples:
                    examples.append(f"{os.path.basename(path)} line {n}: {e}")
    names = sorted(genres)
    return _encode_attributes(raw, names), names + ["year"], bad, examples


def _encode_attributes(raw, genre_names):
    """item -> [genre one-hots..., year scaled to about [-1, 1] (0 when unknown)]."""
    years = [y for y, _g in raw.values() if not math.isnan(y)]
    mid = float(np.median(years)) if years else 0.0
    spread = float(np.std(years)) if len(years) > 1 else 1.0
    col = {g: k for k, g in enumerate(genre_names)}
    out = {}
    for item, (year, gs) in raw.items():
        v = np.zeros(len(genre_names) + 1, dtype=np.float32)
        for g in gs:
            v[col[g]] = 1.0
        v[-1] = 0.0 if math.isnan(year) else (year - mid) / max(spread, 1e-6) / 3
        out[item] = v
    return out


def _read_movielens(path, max_bad_examples):
    bad, examples = 0, []
    genre_names = []
    gpath = os.path.join(path, "u.genre")
    if os.path.exists(gpath):
        with open(gpath, encoding="latin-1") as f:
            genre_names = [ln.split("|")[0] for ln in f if "|" in ln]
    raw = {}
    with open(os.path.join(path, "u.item"), encoding="latin-1") as f:
        for n, line in enumerate(f, 1):
            parts = line.rstrip("\n").split("|")
            try:
                item = int(parts[0])
                m = re.search(r"(\d{4})", parts[2])
                year = float(m.group(1)) if m else float("nan")
                flags = [int(x) for x in parts[5:5 + 19]]
                gs = [genre_names[k] if k < len(genre_names) else f"g{k}" for k, x in enumerate(flags) if x]
                raw[item] = (year, gs)
            except (ValueError, IndexError) as e:
                bad += 1
                if len(examples) < max_bad_examples:
                    examples.append(f"u.item line {n}: {e}")
    names = genre_names or sorted({g for _y, gs in raw.values() for g in gs})
    attrs = _encode_attributes(raw, names)
    rows = []
    with open(os.path.join(path, "u.data")) as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            try:
                u, i, _r, t = (int(x) for x in parts[:4])
                if i not in raw:
                    raise ValueError(f"item {i} is not in u.item")
                rows.append((u, i, t))
            except (ValueError, IndexError) as e:
                bad += 1
                if len(examples) < max_bad_examples:
                    examples.append(f"u.data line {n}: {e}")
    item_ids = np.array(sorted(raw), dtype=np.int64)
    return _build(rows, item_ids, attrs, names + ["year"], bad, examples)


def _build(rows, item_ids, attrs, names, bad, examples):
    rows.sort(key=lambda r: (r[2], r[0], r[1]))      # by time; ties broken deterministically
    seqs = {}
    for u, i, _t in rows:
        seqs.setdefault(u, []).append(i)
    width = len(next(iter(attrs.values()))) if attrs else 0
    a = np.zeros((len(item_ids), width), dtype=np.float32)
    for r, i in enumerate(item_ids):
        if int(i) in attrs:
            a[r] = attrs[int(i)]
    return Interactions(seqs, item_ids, a, names if width else [], bad, examples)


def split(data, seq_len=20, val_users=0.1, test_users=0.1, min_len=10, seed=7):
    """The paper's split (module doc). Fractions of the kept users, or counts when >= 1."""
    row = {int(i): r for r, i in enumerate(data.item_ids)}
    users = sorted(u for u, s in data.sequences.items() if len(s) >= min_len)
    dropped = len(data.sequences) - len(users)
    rng = np.random.default_rng(seed)
    order = [users[k] for k in rng.permutation(len(users))]
    nv = int(val_users) if val_users >= 1 else int(round(val_users * len(users)))
    nt = int(test_users) if test_users >= 1 else int(round(test_users * len(users)))
    val_u, test_u, train_u = order[:nv], order[nv:nv + nt], sorted(order[nv + nt:])

    def held_out(us):
        out = []
        for u in sorted(us):
            s = [row[i] for i in data.sequences[u]]
            k = math.ceil(len(s) / 2) - 1          # the ⌈l/2⌉-th behaviour, 0-based
            out.append((u, s[max(0, k - seq_len):k], s[k]))
        return out

    examples = []
    for u in train_u:
        s = [row[i] for i in data.sequences[u]]
        for k in range(1, len(s)):
            examples.append((s[max(0, k - seq_len):k], s[k]))
    return Split(train_u, held_out(val_u), held_out(test_u), examples, dropped)
