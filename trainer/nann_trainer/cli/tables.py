"""Tables and plots from trainer/run_tables.sh's runs (train.json + eval.json per run).

    ./nann trainer tables --runs runs --out docs/results/trainer
    (or, with trainer/ on PYTHONPATH: python3 -m nann_trainer tables ...)

Writes OUT/tables.md (paper Table 3's shape, Fig. 4's and Fig. 7's data), OUT/fig4_*.png and
OUT/fig7_flatness.png (matplotlib, Debian's python3-matplotlib), and copies each run's JSON into
OUT/runs/ so the figures can be checked without re-running.
"""
import glob
import json
import os
import shutil

ARCH_ORDER = ["two-sided", "dnn", "attention"]
DEFAULT_PARAMS = "ef=[100, 200, 400] T=[1, 1, 3]"


def load(runs, eval_name):
    out = []
    for d in sorted(glob.glob(os.path.join(runs, "ml-*"))):
        tj, ej = os.path.join(d, "train.json"), os.path.join(d, eval_name)
        if not (os.path.exists(tj) and os.path.exists(ej)):
            continue
        with open(tj) as f:
            train = json.load(f)
        with open(ej) as f:
            evals = [json.loads(line) for line in f if line.strip()]
        out.append((os.path.basename(d), train, evals))
    out.sort(key=lambda r: (ARCH_ORDER.index(r[1]["arch"]), r[1]["fgsm_eps"]))
    return out


def row(evals, mode, params=None):
    for e in evals:
        if e["mode"] == mode and (params is None or e["params"] == params):
            return e
    return None


def add_arguments(ap):
    ap.add_argument("--runs", default="runs")
    ap.add_argument("--out", default="docs/results/trainer")
    ap.add_argument("--eval", default="eval.json", help="which eval file of each run to tabulate")


def run(a):
    runs = load(a.runs, a.eval)
    if not runs:
        raise SystemExit(f"no finished runs (train.json + eval.json) under {a.runs}")
    for name, _t, evals in runs:
        if row(evals, "brute") is None:
            raise SystemExit(f"{name}/{a.eval} has no brute-force row: the tables measure every mode against it "
                             f"(run ./nann eval with mode brute, as the default --modes does)")
    os.makedirs(os.path.join(a.out, "runs"), exist_ok=True)
    for name, _t, _e in runs:
        for f in ("train.json", a.eval):
            shutil.copy(os.path.join(a.runs, name, f), os.path.join(a.out, "runs", f"{name}.{f}"))
    items = row(runs[0][2], "brute")["items"]
    md = []
    md.append(f"**Table 3 shape** (M = 200, {items:,} items = MovieLens-100k's 1,682 + distractors, "
              f"{row(runs[0][2], 'brute')['queries']} test users, Beam-retrieval at defaults {DEFAULT_PARAMS}):\n")
    md.append("| model | FGSM ε | recall-all@200 | recall-retrieval@200 | recall-Δ@200 | coverage@200 | scored fraction "
              "| test recall@200 (real items only) |")
    md.append("|---|---|---|---|---|---|---|---|")
    for name, t, e in runs:
        n = row(e, "nann", DEFAULT_PARAMS)
        md.append(f"| {t['arch']} | {t['fgsm_eps']:g} | {n['recall_all']:.4f} | {n['recall_retrieval']:.4f} | "
                  f"{n['recall_delta']:.4f} | {n['coverage']:.4f} | {n['scored_fraction']:.5f} | "
                  f"{t['test_recall@200']:.3f} |")
    md.append("\n**Fig. 4 shape** (coverage and recall-retrieval@200 vs scored fraction, every budget):\n")
    md.append("| model | FGSM ε | mode | params | scored fraction | coverage@200 | recall-retrieval@200 |")
    md.append("|---|---|---|---|---|---|---|")
    for name, t, e in runs:
        for r in e:
            if r["mode"] in ("nann", "hnsw"):
                md.append(f"| {t['arch']} | {t['fgsm_eps']:g} | {r['mode']} | {r['params']} | "
                          f"{r['scored_fraction']:.5f} | {r['coverage']:.4f} | {r['recall_retrieval']:.4f} |")
    md.append("\n**Fig. 7 shape** (mean |s_u(e_v) − s_u(e_v + Δ)|, Δ random signs × ε, test users × 50 random items):\n")
    eps = list(runs[0][1]["flatness_probe"].keys())
    md.append("| model | FGSM ε | " + " | ".join(f"Δ ε={x}" for x in eps) + " |")
    md.append("|---|---|" + "---|" * len(eps))
    for name, t, _e in runs:
        md.append(f"| {t['arch']} | {t['fgsm_eps']:g} | " + " | ".join(f"{t['flatness_probe'][x]:.4f}" for x in eps) + " |")
    md.append("\n**Training** (per run: epochs, final NCE loss, validation recall@200 per epoch, seconds):\n")
    md.append("| run | epochs | final NCE | final L_AUX | val recall@200 by epoch | seconds |")
    md.append("|---|---|---|---|---|---|")
    for name, t, _e in runs:
        h = t["history"]
        md.append(f"| {name} | {t['epochs']} | {h[-1]['nce']:.4f} | {h[-1]['aux']:.5f} | "
                  + " ".join(f"{x['val_recall@200']:.2f}" for x in h) + f" | {t['seconds']:.0f} |")
    with open(os.path.join(a.out, "tables.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print(f"wrote {a.out}/tables.md")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed (apt-get install python3-matplotlib): plots skipped")
        return
    for metric, label in (("coverage", "coverage@200"), ("recall_retrieval", "recall-retrieval@200")):
        fig, axes = plt.subplots(1, len({t["arch"] for _n, t, _e in runs}), figsize=(13, 4), squeeze=False)
        archs = [x for x in ARCH_ORDER if any(t["arch"] == x for _n, t, _e in runs)]
        for ax, arch in zip(axes[0], archs):
            for _n, t, e in runs:
                if t["arch"] != arch:
                    continue
                for mode, style in (("nann", "-o"), ("hnsw", "--s")):
                    pts = sorted((r["scored_fraction"], r[metric]) for r in e if r["mode"] == mode)
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], style,
                            label=f"{'Beam' if mode == 'nann' else 'HNSW'}-retrieval, ε={t['fgsm_eps']:g}")
                if metric == "recall_retrieval":
                    ax.axhline(row(e, "brute")["recall_all"], color="grey", lw=0.8)
            ax.set_xscale("log")
            ax.set_xlabel("scored fraction of the corpus")
            ax.set_ylabel(label)
            ax.set_title(arch)
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(a.out, f"fig4_{metric}.png"), dpi=110)
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    for _n, t, _e in runs:
        xs = [float(x) for x in t["flatness_probe"]]
        ax.plot(xs, list(t["flatness_probe"].values()), "-o" if t["fgsm_eps"] > 0 else "--s",
                label=f"{t['arch']}, ε={t['fgsm_eps']:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("ε of random Δ (max-norm)")
    ax.set_ylabel("mean |s(e_v) − s(e_v + Δ)|")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(a.out, "fig7_flatness.png"), dpi=110)
    plt.close(fig)
    print(f"wrote {a.out}/fig4_coverage.png, fig4_recall_retrieval.png, fig7_flatness.png")
