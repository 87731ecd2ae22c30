#!/usr/bin/env python3
"""The experiment behind the paper's Table 1, on the synthetic set: trains the
small preset with the Hungarian and with the match-free criterion under the
same budget and seeds (train_coco's defaults unless --epochs is given), then
prints (and writes as markdown, OUT/table.md) the COCO metrics of the last
evaluation and the mean training step time of each run, and draws both runs'
curves into OUT/ap.png, OUT/ap50.png and OUT/loss.png (examples/plot_metrics).

    python3 scripts/compare_criteria.py [--epochs N] [--seed S] [--out DIR]
"""
import argparse
import json
import pathlib
import statistics
import subprocess
import sys

root = pathlib.Path(__file__).resolve().parent.parent


def last_eval(metrics):
    rows = [json.loads(l) for l in open(metrics) if l.strip()]
    evals = [r for r in rows if "AP" in r]
    steps = [r["step_seconds"] for r in rows if "step_seconds" in r]
    return (evals[-1] if evals else {}), (statistics.mean(steps) if steps else float("nan"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="compare_out")
    ap.add_argument("--binary", default=str(root / "build/examples/train_coco"))
    ap.add_argument("--plotter", default=str(root / "build/examples/plot_metrics"))
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    data = out / "synthetic"
    rows = []
    for criterion in ("hungarian", "matchfree"):
        run = out / criterion
        cmd = [args.binary, "--criterion", criterion, "--seed", str(args.seed), "--out", str(run)]
        if args.epochs is not None:
            cmd += ["--epochs", str(args.epochs)]
        # Both runs train on the same generated set.
        if data.exists():
            cmd += ["--data", str(data)]
        subprocess.run(cmd, check=True)
        if not data.exists() and (run / "synthetic").exists():
            (run / "synthetic").rename(data)
        ev, step = last_eval(run / "metrics.jsonl")
        rows.append((criterion, ev, step))
    names = ["AP", "AP50", "AP75", "APs", "APm", "APl"]
    lines = ["| criterion | " + " | ".join(names) + " | step s |",
             "|---|" + "---:|" * (len(names) + 1)]
    for criterion, ev, step in rows:
        lines.append(f"| {criterion} | " + " | ".join(f"{100 * ev.get(n, float('nan')):.1f}"
                                                      for n in names) + f" | {step:.3f} |")
    table = "\n".join(lines)
    print(table)
    (out / "table.md").write_text(table + "\n")
    runs = [f"{c}={out / c / 'metrics.jsonl'}" for c, _, _ in rows]
    for y, x, name in (("AP", "epoch", "ap.png"), ("AP50", "epoch", "ap50.png"),
                       ("loss", "step", "loss.png")):
        subprocess.run([args.plotter, "--y", y, "--x", x, "--title", f"{y}: hungarian vs matchfree",
                        "--out", str(out / name)] + runs, check=True)


if __name__ == "__main__":
    sys.exit(main())
