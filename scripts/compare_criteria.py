#!/usr/bin/env python3
"""The paper's Tables 1, 3 and 4 on the synthetic set: trains every
configuration of the chosen tables with several seeds on the same generated
data and budget, then writes the tables (mean ± sd over the seeds of the last
evaluation's COCO metrics, the collapse metrics of match-free runs and the
mean step time) as markdown and draws AP per epoch (examples/plot_metrics).

    python3 scripts/compare_criteria.py --out runs/compare --seeds 0 1 2 \\
        --tables 1 3 4 -- --preset scratch --epochs 6

Arguments after "--" go to every train_coco run (preset, budget, ...).
Table 1: Hungarian, the paper-exact match-free loss and each variant.
Tables 3 (alpha_w in {0.5, 1, 2}) and 4 (normalisation sum / max / none)
vary the variant given by --best. Runs are resumable: a finished run (its
metrics hold the last epoch's evaluation) is read, not retrained, and an
interrupted one continues from its checkpoint (--resume auto).
With --results FILE, the block between "<!-- compare:begin -->" and
"<!-- compare:end -->" in FILE is replaced by the tables and the plots go
next to FILE in figures/.
"""
import argparse
import json
import pathlib
import re
import shlex
import statistics
import subprocess
import sys

root = pathlib.Path(__file__).resolve().parent.parent

PAPER = []
COSINE = ["--probe-logits", "cosine"]
SINKHORN = COSINE + ["--probe-attention", "sinkhorn"]
GREEDY = SINKHORN + ["--selection", "greedy"]
TABLE1 = [
    ("hungarian", "Hungarian", ["--criterion", "hungarian"]),
    ("paper", "match-free, paper", ["--criterion", "matchfree"] + PAPER),
    ("cosine", "+ cosine logits", ["--criterion", "matchfree"] + COSINE),
    ("sinkhorn", "+ cosine + Sinkhorn", ["--criterion", "matchfree"] + SINKHORN),
    ("greedy", "+ cosine + Sinkhorn + greedy", ["--criterion", "matchfree"] + GREEDY),
]
METRICS = ["AP", "AP50", "AP75", "APs", "APm", "APl"]
COLLAPSE = [("collapse_shared_query_fraction", "shared"),
            ("collapse_top_query_mode_fraction", "same top"),
            ("collapse_saturated_row_fraction", "saturated")]


def table_configs(table, best):
    if table == 1:
        return TABLE1
    base = ["--criterion", "matchfree"] + best
    # The defaults (alpha_w 1, sum) add no flag, so Tables 3 and 4 share that run.
    if table == 3:
        return [(f"alpha{a}", f"alpha_w {a}", base + ([] if a == "1" else ["--alpha-w", a]))
                for a in ("0.5", "1", "2")]
    return [(f"norm_{n}", f"normalisation {n}", base + ([] if n == "sum" else ["--normalization", n]))
            for n in ("sum", "max", "none")]


def read_rows(path):
    if not path.exists():
        return []
    return [json.loads(l) for l in open(path) if l.strip()]


def finished(run, epochs):
    evals = [r for r in read_rows(run / "metrics.jsonl") if "AP" in r]
    return bool(evals) and evals[-1].get("epoch") == epochs


def summary(run):
    rows = read_rows(run / "metrics.jsonl")
    evals = [r for r in rows if "AP" in r]
    steps = [r["step_seconds"] for r in rows if "step_seconds" in r]
    out = dict(evals[-1]) if evals else {}
    out["step_seconds"] = statistics.mean(steps) if steps else float("nan")
    out["best_AP"] = max((r["AP"] for r in evals), default=float("nan"))
    return out


def mean_sd(values, scale):
    # COCOeval reports -1 for an area range without objects.
    values = [scale * v for v in values if v == v and v >= 0]
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def epochs_of(train_args):
    args = json.loads((train_args / "args.json").read_text())
    return args["epochs"]


def run_one(args, name, flags, seed, data):
    run = pathlib.Path(args.out) / "runs" / f"{name}_s{seed}"
    cmd = [args.binary, *flags, "--seed", str(seed), "--out", str(run), "--resume", "auto",
           *args.train_args]
    if data.exists():
        cmd += ["--data", str(data)]
    if (run / "args.json").exists() and finished(run, epochs_of(run)):
        return run
    print("$", shlex.join(cmd), flush=True)
    with open(run.parent / f"{run.name}.log", "a") as log:
        subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)
    # Every later run trains on the set the first one generated.
    if not data.exists() and (run / "synthetic").exists():
        (run / "synthetic").rename(data)
    return run


def markdown(table, configs, runs):
    head = ["configuration"] + METRICS + ["best AP", "step s"]
    has_collapse = any("collapse_shared_query_fraction" in s for rs in runs.values() for s in rs)
    if has_collapse:
        head += [c[1] for c in COLLAPSE]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for name, label, _ in configs:
        s = runs[name]
        cells = [mean_sd([r.get(m, float("nan")) for r in s], 100) for m in METRICS]
        cells.append(mean_sd([r["best_AP"] for r in s], 100))
        steps = [r["step_seconds"] for r in s]
        cells.append(f"{statistics.mean(steps):.3f}")
        if has_collapse:
            for key, _ in COLLAPSE:
                vals = [r[key] for r in s if key in r]
                cells.append(f"{statistics.mean(vals):.2f}" if vals else "–")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="compare_out")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--tables", type=int, nargs="+", default=[1, 3, 4], choices=[1, 3, 4])
    ap.add_argument("--best", default="--probe-logits cosine --probe-attention sinkhorn",
                    help="match-free variant flags of Tables 3 and 4")
    ap.add_argument("--results", help="markdown file whose compare block is replaced")
    ap.add_argument("--binary", default=str(root / "build/examples/train_coco"))
    ap.add_argument("--plotter", default=str(root / "build/examples/plot_metrics"))
    ap.add_argument("train_args", nargs="*", help="after --: passed to every train_coco run")
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    data = out / "synthetic"
    best = shlex.split(args.best)
    sections = [f"Runs: `train_coco {shlex.join(args.train_args)}` on one generated set, "
                f"seeds {', '.join(map(str, args.seeds))}; mean ± sd of the last evaluation "
                "(percent), mean step time, collapse metrics of the last evaluation."]
    figures = pathlib.Path(args.results).parent / "figures" if args.results else out
    figures.mkdir(parents=True, exist_ok=True)
    done = set()
    for table in args.tables:
        configs = table_configs(table, best)
        runs = {}
        for name, _, flags in configs:
            # Identical flags (Table 1's variant, Table 3's alpha_w 1, Table 4's
            # sum) are one run, trained once.
            key = tuple(flags)
            alias = next((n for n, f in done if f == key),
                         next((n for n, _, f in TABLE1 if tuple(f) == key), name))
            runs[name] = [summary(run_one(args, alias, flags, s, data)) for s in args.seeds]
            done.add((alias, key))
        md = markdown(table, configs, runs)
        print(f"\nTable {table}\n{md}\n", flush=True)
        (out / f"table{table}.md").write_text(md + "\n")
        png = figures / f"compare_table{table}_ap.png"
        labelled = []
        for name, label, flags in configs:
            alias = next(n for n, f in done if f == tuple(flags))
            labelled.append(f"{label}={out / 'runs' / f'{alias}_s{args.seeds[0]}' / 'metrics.jsonl'}")
        subprocess.run([args.plotter, "--y", "AP", "--x", "epoch", "--title",
                        f"Table {table}: validation AP per epoch (seed {args.seeds[0]})",
                        "--out", str(png)] + labelled, check=True)
        rel = png.relative_to(pathlib.Path(args.results).parent) if args.results else png
        sections.append(f"**Table {table}**\n\n{md}\n\n![Table {table} AP per epoch]({rel})")
    if args.results:
        path = pathlib.Path(args.results)
        text = path.read_text()
        block = "<!-- compare:begin -->\n" + "\n\n".join(sections) + "\n<!-- compare:end -->"
        new, n = re.subn(r"<!-- compare:begin -->.*?<!-- compare:end -->", lambda _: block, text,
                         flags=re.S)
        if n != 1:
            sys.exit(f"{path}: needs one '<!-- compare:begin -->' ... '<!-- compare:end -->' block")
        path.write_text(new)


if __name__ == "__main__":
    sys.exit(main())
