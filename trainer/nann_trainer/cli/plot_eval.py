"""Plots coverage (or another metric) against the scored fraction of the corpus, one line per
search mode, from the JSON lines `./nann eval --json FILE` writes (paper Fig. 4's axes).

    ./nann trainer plot-eval docs/results/eval-1m-nested-efc200-rbf.json \\
        --out docs/results/eval-1m-nested-efc200-rbf.png --title "..."
    (or, with trainer/ on PYTHONPATH: python3 -m nann_trainer plot-eval ...)

Needs matplotlib (Debian's python3-matplotlib).
"""
import json

LABELS = {"nann": "nann (batched best-first)", "beam": "Beam-retrieval", "hnsw": "HNSW-retrieval", "brute": "brute force",
          "dr": "Deep Retrieval"}


def curves(rows, metric):
    """mode -> [(scored_fraction, metric)] sorted by scored fraction; graph-check rows are left out."""
    out = {}
    for r in rows:
        if r.get("mode") in LABELS and "scored_fraction" in r:
            if not isinstance(r.get(metric), (int, float)):
                fields = sorted(k for k, v in r.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
                raise SystemExit(f"--metric {metric}: not a number in the eval rows; they have {', '.join(fields)}")
            out.setdefault(r["mode"], []).append((r["scored_fraction"], r[metric]))
    return {m: sorted(p) for m, p in out.items()}


def add_arguments(ap):
    ap.add_argument("json", help="a file written by ./nann eval --json")
    ap.add_argument("--out", required=True, help="image file (.png or .svg)")
    ap.add_argument("--metric", default="coverage", help="a JSON field: coverage, recall_retrieval, ...")
    ap.add_argument("--title", default="")


def run(a):
    with open(a.json) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    lines = curves(rows, a.metric)
    if not lines:
        raise SystemExit(f"{a.json}: no eval rows with a scored_fraction")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for mode, pts in lines.items():
        if mode == "brute":
            ax.axhline(pts[0][1], color="grey", lw=0.8, label=LABELS[mode])
            continue
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "-o" if mode == "nann" else "--s", label=LABELS[mode])
    ax.set_xscale("log")
    ax.set_xlabel("scored fraction of the corpus")
    ax.set_ylabel(a.metric.replace("_", "-") + "@k")
    ax.set_title(a.title, fontsize=9)
    ax.grid(True, which="both", lw=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print(f"wrote {a.out} ({', '.join(f'{m}: {len(p)} points' for m, p in lines.items())})")
