"""The model matrix's table and plot, from the `./nann eval --json` files trainer/model_matrix.sh
writes (one directory per trained model, one eval-efc<N>.json per graph).

    ./nann trainer matrix .nann-cache/matrix --table matrix.md --plot matrix.png
    (or, with trainer/ on PYTHONPATH: python3 -m nann_trainer matrix ...)

For each cell (data set, scorer, training, FGSM, efConstruction) it reports, from the curves of
coverage@k against the scored fraction of the corpus:
  * the least scored fraction at which each walk covers 0.99 of the exact top-k (or its best coverage);
  * margin: the least, over HNSW-retrieval's points, of nann's coverage at the same items scored
    (nann's curve, with its runs at more widths from eval-…-between.json and eval-…-at-hnsw.json
    when present, interpolated linearly in log(items)) minus HNSW-retrieval's; >= 0 means the default
    walk is at least as good at equal items scored everywhere both curves are measured;
  * the same for the default walk with the narrow descent (eval-…-narrow.json beside the cell's file),
    and which descent `./nann eval` recommends for the model (its recommendation row) with that margin;
  * the QPS of nann over HNSW-retrieval's at equal coverage (each interpolated along its curve at 0.99,
    or at the highest coverage both reach when one falls short), and nann's QPS over brute force (at
    its first point covering 0.99, or at its highest coverage).
The plot has one small panel per cell (nann with either descent, Beam- and HNSW-retrieval).
"""
import glob
import json
import math
import os
import re

TARGET = 0.99
LABELS = {"nann": "nann (batched best-first)", "narrow": "nann, narrow descent", "beam": "Beam-retrieval",
          "hnsw": "HNSW-retrieval"}


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def curve(rows, mode):
    """[(scored_fraction, coverage, qps)] of one mode, by scored fraction."""
    return sorted((r["scored_fraction"], r["coverage"], r["qps"]) for r in rows
                  if r.get("mode") == mode and "scored_fraction" in r)


def at_items(points, x):
    """Coverage of a curve at scored fraction x: linear in log(x) between points; None below the
    curve's first point; the best coverage reached beyond its last (more items never hurt)."""
    if not points or x < points[0][0]:
        return None
    if x >= points[-1][0]:
        return max(p[1] for p in points)
    for (x0, c0, _), (x1, c1, _) in zip(points, points[1:]):
        if x0 <= x <= x1:
            t = 0.0 if x1 == x0 else (math.log(x) - math.log(x0)) / (math.log(x1) - math.log(x0))
            return c0 + t * (c1 - c0)
    return None


def qps_at_coverage(points, c):
    """QPS of a curve at coverage c: interpolated between the two points around c along the curve
    (first crossing), None when the curve never reaches c."""
    prev = None
    for p in points:
        if p[1] >= c:
            if prev is None or p[1] == prev[1]:
                return p[2]
            t = (c - prev[1]) / (p[1] - prev[1])
            return math.exp(math.log(prev[2]) + t * (math.log(p[2]) - math.log(prev[2])))
        prev = p
    return None


def first_reaching(points, target=TARGET):
    for p in points:
        if p[1] >= target:
            return p
    return None


def margin(walk, hnsw):
    """The least, over HNSW-retrieval's points, of the walk's coverage at the same items minus HNSW's."""
    margins = [at_items(walk, x) - c for x, c, _ in hnsw if at_items(walk, x) is not None]
    return min(margins) if margins else None


def summarize(rows, narrow_rows=(), extra_walk=()):
    """extra_walk: the default walk's runs at more widths (see extra_walk_rows): they join its curve
    for the coverage figures, while QPS ratios use only the main run's rows, timed side by side."""
    timed, beam, hnsw = curve(rows, "nann"), curve(rows, "beam"), curve(rows, "hnsw")
    nann = sorted(timed + curve(extra_walk, "nann"))
    narrow = curve(narrow_rows, "nann")
    brute = [r for r in rows if r.get("mode") == "brute"]
    out = {"nann": nann, "beam": beam, "hnsw": hnsw, "narrow": narrow}
    out["margin"] = margin(nann, hnsw)
    out["margin_narrow"] = margin(narrow, hnsw) if narrow else None
    picked = [r.get("recommended_descent") for r in narrow_rows if r.get("mode") == "recommendation"]
    out["eval_descent"] = picked[0] if picked else None
    # QPS at equal coverage: at 0.99, or at the highest coverage both walks reach when one falls short
    ref = min([TARGET] + [max(p[1] for p in c) for c in (timed, hnsw) if c]) if timed and hnsw else None
    qn = qps_at_coverage(timed, ref) if ref is not None else None
    qh = qps_at_coverage(hnsw, ref) if ref is not None else None
    out["qps_vs_hnsw"] = qn / qh if qn and qh else None
    out["qps_ref_coverage"] = ref
    n99 = first_reaching(timed)
    # at the first point covering 0.99, or, short of that, at the walk's highest coverage
    at = n99 if n99 else max(timed, key=lambda p: (p[1], -p[0])) if timed else None
    out["qps_vs_brute"] = at[2] / brute[0]["qps"] if brute and at else None
    rec = [r for r in rows if r.get("mode") == "recommendation"]
    out["recommendation"] = rec[0] if rec else None
    return out


def cell_name(path):
    """(data, arch, training, fgsm, efC) from .../<set>-<arch>-e<N>-eps<ε>/eval[-d<distractors>]-efc<C>.json;
    MovieLens cells are labelled with their distractor count (ml+1M, ml+100k)."""
    run = os.path.basename(os.path.dirname(path))
    m = re.match(r"(ml|synthetic)-(.+)-e(\d+)-eps([0-9.]+)$", run)
    f = re.search(r"eval(?:-d(\d+))?-efc(\d+)\.json$", os.path.basename(path))
    efc = f.group(2)
    data = m.group(1) if m else run
    if f.group(1):
        n = int(f.group(1))
        data += "+" + (f"{n // 1000000}M" if n % 1000000 == 0 else f"{n // 1000}k")
    elif data == "synthetic":
        data = "synthetic 1M"
    if not m:
        return (data, "", "", "", efc)
    return (data, m.group(2), m.group(3), m.group(4), efc)


def fmt_reach(points):
    p = first_reaching(points)
    if p:
        return f"{100 * p[0]:.2f}%"
    best = max(points, key=lambda q: q[1]) if points else None
    return f"— ({best[1]:.3f})" if best else "—"


def table(cells):
    lines = ["| data | scorer | epochs | FGSM ε | efC | nann ≥0.99 at | HNSW ≥0.99 at | beam ≥0.99 at | margin at equal items | "
             "narrow descent: ≥0.99 at, margin | eval picks (its margin) | "
             "QPS nann/HNSW at equal coverage | QPS nann/brute (at 0.99, else at its best coverage) | both ≤2%: nann holds |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for key, s in cells:
        data, arch, ep, eps, efc = key
        h = first_reaching(s["hnsw"])
        n = first_reaching(s["nann"])
        bar = "n/a" if not (h and h[0] <= 0.02) else ("yes" if n and n[0] <= 0.02 else "NO")
        margin = "—" if s["margin"] is None else f"{s['margin']:+.4f}"
        narrow = "—" if s["margin_narrow"] is None else f"{fmt_reach(s['narrow'])}, {s['margin_narrow']:+.4f}"
        pick = s["eval_descent"]
        picked_margin = s["margin_narrow"] if pick == "narrow" else s["margin"]
        picks = "—" if pick is None or picked_margin is None else f"{pick} ({picked_margin:+.4f})"
        qh = "—" if s["qps_vs_hnsw"] is None else f"{s['qps_vs_hnsw']:.1f}× (at {s['qps_ref_coverage']:.3f})"
        qb = "—" if s["qps_vs_brute"] is None else f"{s['qps_vs_brute']:.0f}×"
        lines.append(f"| {data} | {arch} | {ep} | {eps} | {efc} | {fmt_reach(s['nann'])} | {fmt_reach(s['hnsw'])} | "
                     f"{fmt_reach(s['beam'])} | {margin} | {narrow} | {picks} | {qh} | {qb} | {bar} |")
    return "\n".join(lines) + "\n"


def plot(cells, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    n = len(cells)
    cols = 4
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
    for ax, (key, s) in zip(axes.flat, cells):
        for mode, style in (("nann", "-o"), ("narrow", "-.x"), ("hnsw", "--s"), ("beam", ":^")):
            pts = s[mode]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], style, ms=3, label=LABELS[mode])
        ax.axhline(TARGET, color="grey", lw=0.6)
        ax.set_xscale("log")
        ax.set_title(" ".join(f"{k}" for k in (key[0], key[1], "e" + key[2], "eps" + key[3], "efC" + key[4])),
                     fontsize=8)
        ax.set_ylim(max(0.0, min([p[1] for m in ("nann", "hnsw") for p in s[m]] + [0.9]) - 0.02), 1.005)
        ax.tick_params(labelsize=7)
        ax.grid(True, which="both", lw=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.supxlabel("scored fraction of the corpus")
    fig.supylabel("coverage@200")
    fig.tight_layout()
    fig.savefig(out, dpi=100)


def narrow_file(path):
    """The same cell's default walk with the narrow descent (trainer/model_matrix.sh writes it beside)."""
    return path[:-len(".json")] + "-narrow.json"


def between_file(path):
    """The same cell's default walk at the widths between the main run's (written beside it)."""
    return path[:-len(".json")] + "-between.json"


def at_hnsw_file(path):
    """The same cell's default walk at the widths where it scores HNSW-retrieval's items (beside it)."""
    return path[:-len(".json")] + "-at-hnsw.json"


def load_if(path):
    return load(path) if os.path.exists(path) else ()


def extra_walk_rows(path):
    """The default walk's runs beside a cell's main file: more points on its coverage curve."""
    return list(load_if(between_file(path))) + list(load_if(at_hnsw_file(path)))


def width_of(row):
    m = re.search(r"\bW=(\d+)", row.get("params", ""))
    return int(m.group(1)) if m else None


def widths_at_hnsw(rows, shrink=0.99):
    """Widths at which the default walk should score about as many items as HNSW-retrieval at each of
    its points: W interpolated in log-log between the walk's two runs around that many items, times
    shrink (so the walk lands at or just below HNSW-retrieval's items). Points below the walk's
    smallest run or above its largest are left out."""
    walk = sorted((r["scored_per_query"], width_of(r)) for r in rows
                  if r.get("mode") == "nann" and width_of(r) and r.get("scored_per_query"))
    out = []
    for h in sorted(r["scored_per_query"] for r in rows if r.get("mode") == "hnsw" and r.get("scored_per_query")):
        for (x0, w0), (x1, w1) in zip(walk, walk[1:]):
            if x0 <= h <= x1 and x1 > x0:
                t = (math.log(h) - math.log(x0)) / (math.log(x1) - math.log(x0))
                w = int(math.exp(math.log(w0) + t * (math.log(w1) - math.log(w0))) * shrink + 1e-6)
                if w not in out:
                    out.append(w)
                break
    return out


def add_arguments(ap):
    ap.add_argument("dir", nargs="?", help="trainer/model_matrix.sh's --out directory")
    ap.add_argument("--table", help="markdown file for the table (default: print it)")
    ap.add_argument("--plot", help="image file for the plot")
    ap.add_argument("--widths-at-hnsw", metavar="EVAL_JSON",
                    help="print, comma-separated, the widths at which the default walk scores about HNSW-retrieval's "
                         "items at each of its points in this cell's main file (and the runs beside it), and exit")


SIDE_FILES = ("-narrow.json", "-between.json", "-at-hnsw.json")


def run(a):
    if a.widths_at_hnsw:
        p = a.widths_at_hnsw
        print(",".join(str(w) for w in widths_at_hnsw(load(p) + extra_walk_rows(p))))
        return
    if not a.dir:
        raise SystemExit("matrix: give the matrix directory (or --widths-at-hnsw EVAL_JSON)")
    cells = sorted((cell_name(p), summarize(load(p), load_if(narrow_file(p)), extra_walk_rows(p)))
                   for p in glob.glob(os.path.join(a.dir, "*", "eval*efc*.json"))
                   if not p.endswith(SIDE_FILES))
    if not cells:
        raise SystemExit(f"{a.dir}: no */eval*efc*.json files")
    text = table(cells)
    if a.table:
        with open(a.table, "w") as f:
            f.write(text)
        print(f"wrote {a.table} ({len(cells)} cells)")
    else:
        print(text)
    if a.plot:
        plot(cells, a.plot)
        print(f"wrote {a.plot}")
