#!/usr/bin/env python3
"""Runs bench_ops and the same ops in numpy in one command; prints both
medians and the ratio numpy_ms / mfx_ms (> 1 means mfx is faster).

usage: python3 benchmarks/compare_numpy.py build/benchmarks/bench_ops [--json out.json]
"""
import json
import subprocess
import sys
import tempfile

import numpy as np

import timing


def median_ms(fn):
    return timing.median_ms(fn, min_seconds=0.3, min_iters=5, max_iters=2000)


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def conv2d(x, w, stride, pad):
    # The usual numpy convolution: a strided window view contracted by BLAS.
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    kh, kw = w.shape[2:]
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))
    win = win[:, :, ::stride, ::stride]
    return np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)


def numpy_cases():
    rng = np.random.default_rng(0)
    f = np.float32
    v1 = rng.standard_normal(1 << 20, dtype=f)
    v2 = rng.standard_normal(1 << 20, dtype=f)
    m1 = rng.standard_normal((1024, 1024), dtype=f)
    row = rng.standard_normal(1024, dtype=f)
    big = rng.standard_normal(1 << 22, dtype=f)
    cases = {
        "add": lambda: v1 + v2,
        "add_bcast": lambda: m1 + row,
        "mul_scalar": lambda: v1 * f(2),
        "exp": lambda: np.exp(v1),
        "tanh": lambda: np.tanh(v1),
        "add_transposed": lambda: m1.T + m1,
        "sum_all": lambda: big.sum(),
        "sum_rows": lambda: m1.sum(axis=1),
        "sum_cols": lambda: m1.sum(axis=0),
        "max_rows": lambda: m1.max(axis=1),
        "uniform": lambda: rng.random(1 << 20, dtype=np.float32),
        "dropout": lambda: np.where(rng.random(1 << 20, dtype=np.float32) < f(0.9), v1 * f(1 / 0.9), f(0)),
        "softmax_rows": lambda: softmax(m1),
    }
    for n in (256, 512, 1024):
        a = rng.standard_normal((n, n), dtype=f)
        b = rng.standard_normal((n, n), dtype=f)
        cases[f"matmul_{n}"] = (lambda a, b: lambda: a @ b)(a, b)
    for name, xs, ws, s, p in [("conv_3x3_c64", (4, 64, 56, 56), (64, 64, 3, 3), 1, 1),
                               ("conv_7x7_s2_stem", (2, 3, 224, 224), (64, 3, 7, 7), 2, 3),
                               ("conv_1x1_c256", (4, 256, 28, 28), (64, 256, 1, 1), 1, 0)]:
        x = rng.standard_normal(xs, dtype=f)
        w = rng.standard_normal(ws, dtype=f)
        cases[name] = (lambda x, w, s, p: lambda: conv2d(x, w, s, p))(x, w, s, p)
    return cases


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    bench = sys.argv[1]
    out_json = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else None
    with tempfile.NamedTemporaryFile(suffix=".json") as tmp:
        subprocess.run([bench, "--json", tmp.name], check=True, stdout=subprocess.DEVNULL)
        mfx = {r["name"]: r for r in json.load(open(tmp.name))}
    cases = numpy_cases()
    rows = []
    print(f"{'op':<18} {'shape':<44} {'mfx ms':>9} {'numpy ms':>9} {'numpy/mfx':>10}")
    for name, r in mfx.items():
        np_ms = median_ms(cases[name])
        ratio = np_ms / r["ms"]
        rows.append({"name": name, "shape": r["shape"], "mfx_ms": r["ms"], "numpy_ms": np_ms,
                     "numpy_over_mfx": ratio})
        print(f"{name:<18} {r['shape']:<44} {r['ms']:>9.3f} {np_ms:>9.3f} {ratio:>10.2f}")
    if out_json:
        with open(out_json, "w") as fh:
            json.dump({"numpy": np.__version__, "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
