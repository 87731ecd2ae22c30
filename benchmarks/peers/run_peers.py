#!/usr/bin/env python3
"""mfx against PyTorch (and JAX) on the same workloads, in one table.

usage: python3 benchmarks/peers/run_peers.py [--build build] [--venv DIR] [--jax]
           [--torch-compile] [--rounds 5] [--threads 2] [--json FILE] [--no-detector] [--quick]
           [--omp-passive] [--sizes N:M,...] [--convs]

Creates a virtual environment (default benchmarks/peers/.venv) with numpy,
scipy and CPU PyTorch (JAX too with --jax) unless it has them, and runs
itself in it. Then, for each workload:

  match-free (CAQS) loss, forward + backward: the paper's loss as mfx
      computes it (include/mfx/criteria/criteria.h, docs/design.md §6.3),
      transcribed to PyTorch, eager (and with --torch-compile under
      torch.compile, with --jax in JAX under jax.jit);
  Hungarian criterion, forward + backward: Deformable DETR's HungarianMatcher
      (scipy's linear_sum_assignment on the host) and SetCriterion (sigmoid
      focal loss, L1, GIoU) in PyTorch, written as the reference does;
  small detector train step: forward + Hungarian criterion + backward +
      AdamW of the small_cpu detector, transcribed to PyTorch in
      detector_peer.py (on the parameters and batch bench_detector --inputs
      writes);
  with --convs, that detector's convolutions one by one: bench_conv_layers
      against torch.nn.functional.conv2d and aten::convolution_backward.

The workloads' shapes, ground-truth counts and weights are read from the JSON
the mfx benchmark writes, and its inputs from the safetensors file it writes
(bench_criteria --inputs, bench_detector --inputs): the peer computes on
exactly the same numbers. Before timing, the peer's losses and gradients (and
the detector's outputs) are recomputed in float64 and compared with mfx's
float64 values; a mismatch stops the run. --sizes N:M,... runs the criteria
rows at those query counts N and GT slots M instead of the paper's size
(bench_criteria --n N --m M), one table row group per size.

Timing: float32, the same thread count for both (MFX_NUM_THREADS and
torch.set_num_threads), whole mfx benchmark runs interleaved with the peer's
timing blocks (mfx, peer, mfx, peer, ...) for --rounds rounds in one window.
Each block reports the median over >= 1 s of calls; the table shows the
median over rounds. peer/mfx > 1 means mfx is faster.
"""
import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from timing import median_ms  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
MARK = "MFX_PEERS_IN_VENV"


# ----------------------------------------------------------------- venv


def ensure_venv(args):
    """Creates the venv and installs what is missing, then re-runs this
    script with the venv's Python (once: MARK guards against a loop)."""
    if os.environ.get(MARK) == "1":
        return
    venv = Path(args.venv).resolve()
    py = venv / "bin" / "python"
    if not py.exists():
        print(f"creating {venv}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)

    def missing(mods):
        return [m for m in mods
                if subprocess.run([str(py), "-c", f"import {m}"], capture_output=True).returncode]

    pip = [str(py), "-m", "pip", "install", "--quiet"]
    if missing(["torch"]):
        # The CPU-only wheel (~200 MB) when its index is reachable, else
        # PyPI's default wheel (large: it brings CUDA libraries, unused here).
        print("installing PyTorch (CPU index first, then PyPI)", flush=True)
        r = subprocess.run(pip + ["--index-url", "https://download.pytorch.org/whl/cpu",
                                  "--timeout", "20", "--retries", "1", "torch"])
        if r.returncode:
            subprocess.run(pip + ["torch"], check=True)
    extra = ["numpy", "scipy"] + (["jax"] if args.jax else [])
    if missing(extra):
        subprocess.run(pip + extra, check=True)
    env = dict(os.environ, **{MARK: "1"})
    os.execve(str(py), [str(py), str(Path(__file__).resolve())] + sys.argv[1:], env)


# ----------------------------------------------------------------- helpers


def load_safetensors(path):
    """Reads a safetensors file with numpy only: (arrays, metadata)."""
    import numpy as np
    codes = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64,
             "U8": np.uint8, "BOOL": np.bool_}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    arrays = {}
    for name, h in header.items():
        b, e = h["data_offsets"]
        arrays[name] = np.frombuffer(data[b:e], dtype=codes[h["dtype"]]).reshape(h["shape"]).copy()
    return arrays, meta


def run_mfx(cmd, threads):
    """Runs an mfx benchmark with --json and returns the parsed JSON."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "out.json")
        env = dict(os.environ, MFX_NUM_THREADS=str(threads))
        subprocess.run(cmd + ["--json", out], check=True, stdout=subprocess.DEVNULL, env=env)
        with open(out) as f:
            return json.load(f)


# ------------------------------------------------ the criteria in PyTorch


def torch_criteria(workload):
    """The match-free loss and the Hungarian criterion as PyTorch functions
    of (probe dict, per-layer outputs, targets), following mfx's algebra."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from scipy.optimize import linear_sum_assignment

    cost_w = workload["cost"]
    alpha = cost_w["alpha"]
    assert cost_w["gamma"] == 2.0
    mf = workload["matchfree"]
    hu = workload["hungarian"]
    K = workload["K"]

    def xyxy(b):
        cx, cy, w, h = b.unbind(-1)
        return torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], -1)

    def safe_div(n, d):
        ok = d > 0
        return torch.where(ok, n / torch.where(ok, d, torch.ones_like(d)), torch.zeros_like(d))

    def giou_pairs(a, b):
        # a [..., P, 4], b [..., Q, 4] xyxy -> [..., P, Q], degenerate pairs 0.
        a, b = a[..., :, None, :], b[..., None, :, :]
        zero = torch.zeros((), dtype=a.dtype)
        iw = torch.maximum(torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0]), zero)
        ih = torch.maximum(torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1]), zero)
        inter = iw * ih
        union = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1]) + \
            (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]) - inter
        iou = safe_div(inter, union)
        cw = torch.maximum(torch.maximum(a[..., 2], b[..., 2]) - torch.minimum(a[..., 0], b[..., 0]), zero)
        ch = torch.maximum(torch.maximum(a[..., 3], b[..., 3]) - torch.minimum(a[..., 1], b[..., 1]), zero)
        enc = cw * ch
        return iou - safe_div(enc - union, enc)

    def focal_cost(z):
        # The matcher's class cost on logits gathered at the GT classes.
        p = z.sigmoid()
        neg = (1 - alpha) * p ** 2 * -torch.log(1 - p + 1e-8)
        pos = alpha * (1 - p) ** 2 * -torch.log(p + 1e-8)
        return pos - neg

    def sanitize(t):
        m = t["mask"]
        pad = torch.tensor([0.5, 0.5, 1.0, 1.0], dtype=t["boxes"].dtype)
        return (torch.where(m, t["labels"], torch.zeros_like(t["labels"])).long(),
                torch.where(m[..., None], t["boxes"], pad), m)

    # ---------------------------------------------------------- match-free

    def matchfree(probe, outs, t, paper_order=False):
        labels, gt, mask = sanitize(t)
        B, M = labels.shape
        dt = probe["w_q"].dtype
        W = probe["w_q"].shape[0]
        scale = 1.0 / W ** 0.5
        nb = mask.sum().to(dt).clamp(min=1)
        rows = mask[..., None]
        gt_class = torch.where(rows, F.one_hot(labels, K).float(), torch.zeros(()))

        def lin(x, name):
            return x @ probe[name + ".weight"].T + probe[name + ".bias"]

        gt_in = torch.cat([F.one_hot(labels, K).to(dt), gt], -1)
        e_gt = lin(torch.relu(lin(gt_in, "mlp_gt.0")), "mlp_gt.1") @ probe["w_q"]  # [B, M, W]
        if not paper_order:
            # mfx's order (docs/design.md §6.3): MLP_q's second layer and W_K
            # moved to the ground-truth side, the same function.
            h = e_gt @ probe["w_k"].T
            proj = h @ probe["mlp_q.1.weight"]               # [B, M, W]
            bias = h @ probe["mlp_q.1.bias"][:, None]        # [B, M, 1]
        total = 0
        for z, box, hid in outs:
            l1 = (box[:, None, :, :] - gt[:, :, None, :]).abs().sum(-1)   # [B, M, N]
            giou = giou_pairs(xyxy(gt), xyxy(box))                        # [B, M, N]
            z_gt = torch.gather(z, 2, labels[:, None, :].expand(-1, z.shape[1], -1))  # [B, N, M]
            cost = (cost_w["cls"] * focal_cost(z_gt).transpose(1, 2) + cost_w["l1"] * l1
                    - cost_w["giou"] * giou)
            cost = torch.where(rows, cost, torch.zeros(())).detach()
            q_in = torch.cat([hid, box, z.sigmoid()], -1).to(dt)
            if mf["probe_inputs_stop_gradient"]:
                q_in = q_in.detach()
            u = torch.relu(lin(q_in, "mlp_q.0"))                          # [B, N, W]
            if paper_order:
                e_q = lin(u, "mlp_q.1") @ probe["w_k"]
                scores = e_gt @ e_q.transpose(1, 2) * scale
            else:
                scores = (proj @ u.transpose(1, 2) + bias) * scale
            attn = torch.where(rows, scores.softmax(-1), torch.zeros(()))
            # Sparse correspondence (a constant).
            a = attn.detach()
            r = torch.where(a >= mf["rho"] * a.amax(-1, keepdim=True), a, torch.zeros(()))
            s = torch.where((r > 0) & (r >= mf["rho"] * r.amax(-2, keepdim=True)), r, torch.zeros(()))
            a_hat = torch.where(rows, s / (s.sum(-1, keepdim=True) + mf["eps"]), torch.zeros(()))
            selected = a_hat > 0
            l_w = (attn * cost).sum() / nb
            pos = (alpha * (1 - z_gt.sigmoid()) ** 2 * F.softplus(-z_gt)).transpose(1, 2)
            y = (selected.transpose(1, 2).float() @ gt_class) > 0                 # [B, N, K]
            neg = (1 - alpha) * z.sigmoid() ** 2 * F.softplus(z)
            loss_ce = ((a_hat * pos).sum() + torch.where(y, torch.zeros(()), neg).sum()) / nb
            loss_bbox = (a_hat * l1).sum() / nb
            loss_giou = (a_hat * (1 - giou)).sum() / nb
            l_q = mf["w_ce"] * loss_ce + mf["w_bbox"] * loss_bbox + mf["w_giou"] * loss_giou
            total = total + mf["alpha_w"] * l_w + mf["beta_q"] * l_q
        return total

    # ---------------------------------------------------------- Hungarian

    def hungarian(outs, t):
        # Targets as the reference has them: a list of per-image tensors.
        labels_p, boxes_p, mask = t["labels"], t["boxes"], t["mask"]
        tgts = [(labels_p[b][mask[b]].long(), boxes_p[b][mask[b]]) for b in range(mask.shape[0])]
        num_boxes = max(float(sum(len(l) for l, _ in tgts)), 1.0)
        tgt_ids = torch.cat([l for l, _ in tgts])
        tgt_bbox = torch.cat([b for _, b in tgts])
        sizes = [len(l) for l, _ in tgts]
        total = 0
        for z, box, _ in outs:
            B, N, _ = z.shape
            with torch.no_grad():  # HungarianMatcher.forward
                out_prob = z.flatten(0, 1).sigmoid()
                out_bbox = box.flatten(0, 1)
                neg = (1 - alpha) * out_prob ** 2 * -(1 - out_prob + 1e-8).log()
                pos = alpha * (1 - out_prob) ** 2 * -(out_prob + 1e-8).log()
                cost_class = pos[:, tgt_ids] - neg[:, tgt_ids]
                cost_bbox = torch.cdist(out_bbox, tgt_bbox, p=1)
                cost_giou = -giou_pairs(xyxy(out_bbox), xyxy(tgt_bbox))
                C = (cost_w["l1"] * cost_bbox + cost_w["cls"] * cost_class
                     + cost_w["giou"] * cost_giou).view(B, N, -1).cpu()
                idx = [linear_sum_assignment(c[i]) for i, c in enumerate(C.split(sizes, -1))]
            batch_idx = torch.cat([torch.full((len(s),), i, dtype=torch.long) for i, (s, _) in enumerate(idx)])
            src_idx = torch.cat([torch.as_tensor(s, dtype=torch.long) for s, _ in idx])
            # loss_labels: sigmoid focal loss against one-hot targets.
            target_classes_o = torch.cat([tgts[b][0][j] for b, (_, j) in enumerate(idx)])
            onehot = torch.zeros_like(z)
            onehot[batch_idx, src_idx, target_classes_o] = 1
            prob = z.sigmoid()
            ce = F.binary_cross_entropy_with_logits(z, onehot, reduction="none")
            p_t = prob * onehot + (1 - prob) * (1 - onehot)
            alpha_t = alpha * onehot + (1 - alpha) * (1 - onehot)
            loss_ce = (alpha_t * ce * (1 - p_t) ** 2).mean(1).sum() / num_boxes * N
            # loss_boxes: L1 and GIoU of the matched pairs.
            src_boxes = box[batch_idx, src_idx]
            target_boxes = torch.cat([tgts[b][1][j] for b, (_, j) in enumerate(idx)])
            loss_bbox = (src_boxes - target_boxes).abs().sum() / num_boxes
            loss_giou = (1 - torch.diag(giou_pairs(xyxy(src_boxes), xyxy(target_boxes)))).sum() / num_boxes
            total = total + hu["w_ce"] * loss_ce + hu["w_bbox"] * loss_bbox + hu["w_giou"] * loss_giou
        return total

    return matchfree, hungarian


# ------------------------------------------------------------ JAX (jit)


def jax_matchfree(workload):
    """The match-free loss in JAX (the mfx order of products), for jax.jit."""
    import jax
    import jax.numpy as jnp

    cost_w, mf, K = workload["cost"], workload["matchfree"], workload["K"]
    alpha = cost_w["alpha"]

    def xyxy(b):
        cx, cy, w, h = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
        return jnp.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], -1)

    def safe_div(n, d):
        ok = d > 0
        return jnp.where(ok, n / jnp.where(ok, d, 1), 0)

    def giou_pairs(a, b):
        a, b = a[..., :, None, :], b[..., None, :, :]
        iw = jnp.maximum(jnp.minimum(a[..., 2], b[..., 2]) - jnp.maximum(a[..., 0], b[..., 0]), 0)
        ih = jnp.maximum(jnp.minimum(a[..., 3], b[..., 3]) - jnp.maximum(a[..., 1], b[..., 1]), 0)
        inter = iw * ih
        union = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1]) + \
            (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]) - inter
        cw = jnp.maximum(jnp.maximum(a[..., 2], b[..., 2]) - jnp.minimum(a[..., 0], b[..., 0]), 0)
        ch = jnp.maximum(jnp.maximum(a[..., 3], b[..., 3]) - jnp.minimum(a[..., 1], b[..., 1]), 0)
        enc = cw * ch
        return safe_div(inter, union) - safe_div(enc - union, enc)

    sg = jax.lax.stop_gradient

    def loss(probe, outs, labels, boxes, mask):
        labels = jnp.where(mask, labels, 0)
        gt = jnp.where(mask[..., None], boxes, jnp.array([0.5, 0.5, 1.0, 1.0], boxes.dtype))
        dt = probe["w_q"].dtype
        W = probe["w_q"].shape[0]
        nb = jnp.maximum(mask.sum().astype(dt), 1)
        rows = mask[..., None]
        onehot = jax.nn.one_hot(labels, K, dtype=dt)
        gt_class = jnp.where(rows, onehot, 0)

        def lin(x, name):
            return x @ probe[name + ".weight"].T + probe[name + ".bias"]

        e_gt = lin(jax.nn.relu(lin(jnp.concatenate([onehot, gt], -1), "mlp_gt.0")), "mlp_gt.1") @ probe["w_q"]
        h = e_gt @ probe["w_k"].T
        proj = h @ probe["mlp_q.1.weight"]
        bias = h @ probe["mlp_q.1.bias"][:, None]
        total = 0.0
        for z, box, hid in outs:
            l1 = jnp.abs(box[:, None, :, :] - gt[:, :, None, :]).sum(-1)
            giou = giou_pairs(xyxy(gt), xyxy(box))
            z_gt = jnp.take_along_axis(z, jnp.broadcast_to(labels[:, None, :], (z.shape[0], z.shape[1], labels.shape[1])), 2)
            p = jax.nn.sigmoid(z_gt)
            fc = alpha * (1 - p) ** 2 * -jnp.log(p + 1e-8) - (1 - alpha) * p ** 2 * -jnp.log(1 - p + 1e-8)
            cost = sg(jnp.where(rows, cost_w["cls"] * jnp.swapaxes(fc, 1, 2) + cost_w["l1"] * l1
                                - cost_w["giou"] * giou, 0))
            q_in = jnp.concatenate([hid, box, jax.nn.sigmoid(z)], -1).astype(dt)
            if mf["probe_inputs_stop_gradient"]:
                q_in = sg(q_in)
            u = jax.nn.relu(lin(q_in, "mlp_q.0"))
            scores = (proj @ jnp.swapaxes(u, 1, 2) + bias) / W ** 0.5
            attn = jnp.where(rows, jax.nn.softmax(scores, -1), 0)
            a = sg(attn)
            r = jnp.where(a >= mf["rho"] * a.max(-1, keepdims=True), a, 0)
            s = jnp.where((r > 0) & (r >= mf["rho"] * r.max(-2, keepdims=True)), r, 0)
            a_hat = sg(jnp.where(rows, s / (s.sum(-1, keepdims=True) + mf["eps"]), 0))
            y = (jnp.swapaxes((a_hat > 0).astype(jnp.float32), 1, 2) @ gt_class.astype(jnp.float32)) > 0
            pos = jnp.swapaxes(alpha * (1 - jax.nn.sigmoid(z_gt)) ** 2 * jax.nn.softplus(-z_gt), 1, 2)
            neg = (1 - alpha) * jax.nn.sigmoid(z) ** 2 * jax.nn.softplus(z)
            loss_ce = ((a_hat * pos).sum() + jnp.where(y, 0, neg).sum()) / nb
            l_q = mf["w_ce"] * loss_ce + mf["w_bbox"] * (a_hat * l1).sum() / nb + \
                mf["w_giou"] * (a_hat * (1 - giou)).sum() / nb
            total = total + mf["alpha_w"] * (attn * cost).sum() / nb + mf["beta_q"] * l_q
        return total

    return jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))


# ------------------------------------------------------------ the workloads


def criteria_rows(args, results, checks, size=None):
    """The criteria rows at the benchmark's size, or at size = (N, M)."""
    import numpy as np
    import torch

    bench = str(Path(args.build) / "benchmarks" / "bench_criteria")
    quick = ["--quick"] if args.quick else []
    if size:
        quick += ["--n", str(size[0]), "--m", str(size[1])]
    with tempfile.TemporaryDirectory() as d:
        inputs = os.path.join(d, "inputs.safetensors")
        env = dict(os.environ, MFX_NUM_THREADS=str(args.threads))
        subprocess.run([bench, "--peer", "--inputs", inputs] + quick, check=True,
                       stdout=subprocess.DEVNULL, env=env)
        arrays, meta = load_safetensors(inputs)
    workload = json.loads(meta["workload"])
    L = workload["layers"]
    matchfree, hungarian = torch_criteria(workload)

    def as_torch(dtype, grad):
        probe = {k[len("probe."):]: torch.tensor(v, dtype=dtype, requires_grad=grad)
                 for k, v in arrays.items() if k.startswith("probe.")}
        outs = [tuple(torch.tensor(arrays[f"outputs.{n}_{l}"], dtype=dtype, requires_grad=grad)
                      for n in ("logits", "boxes", "hidden")) for l in range(L)]
        t = {"labels": torch.tensor(arrays["targets.labels"]),
             "boxes": torch.tensor(arrays["targets.boxes"], dtype=dtype),
             "mask": torch.tensor(arrays["targets.mask"])}
        return probe, outs, t

    # ---- the check, float64: losses and every gradient against mfx's.
    def rel(a, b):
        # Relative to the largest entry, at least 1e-6: the gradient of the
        # probe's last bias is zero up to rounding (softmax is shift-invariant).
        return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-6))

    probe, outs, t = as_torch(torch.float64, True)
    flat_outs = [x for o in outs for x in o]
    names = [f"{n}_{l}" for l in range(L) for n in ("logits", "boxes", "hidden")]
    worst = {}
    for crit in ("matchfree", "hungarian"):
        if crit == "matchfree":
            loss = matchfree(probe, outs, t)
            wrt = list(probe.values()) + flat_outs
            wrt_names = [f"grad_probe.{k}" for k in probe] + [f"grad_outputs.{n}" for n in names]
        else:
            loss = hungarian(outs, t)
            wrt, wrt_names = flat_outs, [f"grad_outputs.{n}" for n in names]
        grads = torch.autograd.grad(loss, wrt, allow_unused=True)
        want = float(arrays[f"f64.{crit}.loss"])
        loss = loss.detach()
        c = {"mfx_f64": want, "peer_f64": float(loss), "loss_rel_diff": abs(float(loss) - want) / abs(want),
             "mfx_f32": float(arrays[f"f32.{crit}.loss"])}
        g_worst = 0.0
        for g, n in zip(grads, wrt_names):
            key = f"f64.{crit}.{n}"
            if key not in arrays:  # the hidden states' gradients (zero) are not written
                continue
            g_worst = max(g_worst, rel(g.numpy(), arrays[key]))
        c["grad_max_rel_diff"] = g_worst
        checks[crit] = c
        print(f"check {crit:<9} float64 loss: mfx {want:.12g}, PyTorch {float(loss):.12g} "
              f"(rel. diff {c['loss_rel_diff']:.1e}); gradients: max rel. diff {g_worst:.1e}", flush=True)
        worst[crit] = max(c["loss_rel_diff"], g_worst)
    if args.jax:
        import jax
        jax.config.update("jax_enable_x64", True)
        f64 = jax_matchfree(workload)
        jprobe = {k: jax.numpy.asarray(v.detach().numpy()) for k, v in probe.items()}
        jouts = [tuple(jax.numpy.asarray(x.detach().numpy()) for x in o) for o in outs]
        jl, (gp, go) = f64(jprobe, jouts, jax.numpy.asarray(t["labels"].numpy()),
                           jax.numpy.asarray(t["boxes"].numpy()), jax.numpy.asarray(t["mask"].numpy()))
        want = float(arrays["f64.matchfree.loss"])
        g_worst = max([rel(np.asarray(gp[k]), arrays[f"f64.matchfree.grad_probe.{k}"]) for k in gp] +
                      [rel(np.asarray(go[l][i]), arrays[f"f64.matchfree.grad_outputs.{n}_{l}"])
                       for l in range(L) for i, n in enumerate(("logits", "boxes"))])
        checks["matchfree_jax"] = {"peer_f64": float(jl), "loss_rel_diff": abs(float(jl) - want) / abs(want),
                                   "grad_max_rel_diff": g_worst}
        print(f"check matchfree float64 loss: JAX {float(jl):.12g} (rel. diff "
              f"{checks['matchfree_jax']['loss_rel_diff']:.1e}); gradients: max rel. diff {g_worst:.1e}",
              flush=True)
        worst["matchfree_jax"] = max(checks["matchfree_jax"]["loss_rel_diff"], g_worst)
        jax.config.update("jax_enable_x64", False)
    bad = {k: v for k, v in worst.items() if not v < 1e-6}
    if bad:
        sys.exit(f"the peer does not compute what mfx computes: {bad}")

    # ---- timing, float32, interleaved whole runs.
    probe, outs, t = as_torch(torch.float32, True)
    flat_outs = [x for o in outs for x in o]
    mf_wrt = list(probe.values()) + flat_outs

    def torch_matchfree(paper_order=False):
        def run():
            loss = matchfree(probe, outs, t, paper_order)
            torch.autograd.grad(loss, mf_wrt, allow_unused=True)
        return run

    def torch_hungarian():
        loss = hungarian(outs, t)
        torch.autograd.grad(loss, flat_outs, allow_unused=True)

    jax_run = None
    if args.jax:
        import jax
        f32 = jax_matchfree(workload)
        jp = {k: jax.numpy.asarray(v.detach().numpy()) for k, v in probe.items()}
        jo = [tuple(jax.numpy.asarray(x.detach().numpy()) for x in o) for o in outs]
        jt = [jax.numpy.asarray(t[k].numpy()) for k in ("labels", "boxes", "mask")]

        def jax_run():
            jax.block_until_ready(f32(jp, jo, *jt))
        t0 = time.perf_counter()
        jax_run()
        print(f"JAX first call (trace + compile + run): {(time.perf_counter() - t0) * 1e3:.0f} ms", flush=True)

    compiled_run = None
    if args.torch_compile:
        cmf = torch.compile(lambda p, o, tt: matchfree(p, o, tt))

        def compiled_run():
            loss = cmf(probe, outs, t)
            torch.autograd.grad(loss, mf_wrt, allow_unused=True)
            return loss
        t0 = time.perf_counter()
        got = float(compiled_run().detach())
        first = (time.perf_counter() - t0) * 1e3
        want = float(matchfree(probe, outs, t).detach())
        checks["matchfree_torch_compile_f32"] = {"compiled": got, "eager": want,
                                                 "rel_diff": abs(got - want) / abs(want)}
        print(f"torch.compile first call (trace + compile + run): {first:.0f} ms; float32 loss "
              f"{got:.7g} (eager {want:.7g})", flush=True)
        if not abs(got - want) <= 1e-4 * abs(want):
            sys.exit("torch.compile's loss differs from PyTorch eager's")

    samples = {k: [] for k in ("mfx_eager", "mfx_jit", "mfx_hungarian", "torch_matchfree",
                               "torch_matchfree_paper_order", "torch_matchfree_compiled",
                               "torch_hungarian", "jax_matchfree")}
    for r in range(args.rounds):
        m = run_mfx([bench, "--peer"] + quick, args.threads)
        samples["mfx_eager"].append(m["eager_ms"])
        samples["mfx_jit"].append(m["jit_ms"])
        samples["mfx_hungarian"].append(m["hungarian_ms"])
        samples["torch_matchfree"].append(median_ms(torch_matchfree()))
        samples["torch_matchfree_paper_order"].append(median_ms(torch_matchfree(True)))
        if compiled_run:
            samples["torch_matchfree_compiled"].append(median_ms(compiled_run))
        samples["torch_hungarian"].append(median_ms(torch_hungarian))
        if jax_run:
            samples["jax_matchfree"].append(median_ms(jax_run))
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(
            f"{k} {v[-1]:.1f}" for k, v in samples.items() if v), flush=True)
    med = {k: statistics.median(v) for k, v in samples.items() if v}
    shape = (f"{L} layers, B={workload['B']} N={workload['N']} K={workload['K']} "
             f"D={workload['D']} M={workload['M_bucket']} (GTs {sum(workload['gt_counts'])})")
    mf_name = f"match-free loss fwd+bwd, {shape}"
    hu_name = f"Hungarian criterion fwd+bwd, {shape}"
    results += [
        {"workload": mf_name, "mfx": "eager", "peer": "PyTorch eager",
         "mfx_ms": med["mfx_eager"], "peer_ms": med["torch_matchfree"]},
        {"workload": mf_name, "mfx": "jit", "peer": "PyTorch eager",
         "mfx_ms": med["mfx_jit"], "peer_ms": med["torch_matchfree"]},
        {"workload": mf_name, "mfx": "eager", "peer": "PyTorch eager, paper's product order",
         "mfx_ms": med["mfx_eager"], "peer_ms": med["torch_matchfree_paper_order"]},
    ]
    if "torch_matchfree_compiled" in med:
        results.append({"workload": mf_name, "mfx": "jit", "peer": "torch.compile (inductor)",
                        "mfx_ms": med["mfx_jit"], "peer_ms": med["torch_matchfree_compiled"]})
    if "jax_matchfree" in med:
        results.append({"workload": mf_name, "mfx": "jit", "peer": "JAX jit",
                        "mfx_ms": med["mfx_jit"], "peer_ms": med["jax_matchfree"]})
    results.append({"workload": hu_name, "mfx": "eager", "peer": "PyTorch + scipy",
                    "mfx_ms": med["mfx_hungarian"], "peer_ms": med["torch_hungarian"]})
    return workload, samples


def detector_rows(args, results, checks):
    """The small detector's train step: mfx's bench_detector against the
    PyTorch transcription of detector_peer.py, on the parameters and batch
    bench_detector --inputs writes, after detector_peer's float64 check
    (forward outputs, Hungarian loss and gradients; a mismatch stops the run)."""
    import detector_peer  # here: it imports this module's criteria

    bench = str(Path(args.build) / "benchmarks" / "bench_detector")
    cmd = [bench, "--no-r50"] + (["--quick"] if args.quick else [])
    with tempfile.TemporaryDirectory() as d:
        inputs = os.path.join(d, "detector_inputs.safetensors")
        env = dict(os.environ, MFX_NUM_THREADS=str(args.threads))
        subprocess.run(cmd + ["--inputs", inputs], check=True, stdout=subprocess.DEVNULL, env=env)
        arrays, workload = detector_peer.load_inputs(inputs)
    diffs = detector_peer.check(arrays, workload)
    checks["detector"] = {
        "outputs_max_rel_diff": max(v for k, v in diffs.items() if k.startswith("f64.outputs.")),
        "loss_rel_diff": diffs["f64.hungarian.loss"],
        "grad_max_rel_diff": max(v for k, v in diffs.items() if k.startswith("f64.hungarian.grad.")),
        "per_tensor": diffs}
    step = detector_peer.train_step(arrays, workload)
    samples = {"mfx": [], "torch": []}
    for i in range(args.rounds):
        m = run_mfx(cmd, args.threads)
        row = next(r for r in m["rows"] if r["mode"] == "eager" and r["what"].startswith("train step"))
        samples["mfx"].append(row["ms"])
        samples["torch"].append(median_ms(step))
        print(f"round {i + 1}/{args.rounds}: detector step mfx {samples['mfx'][-1]:.1f}, "
              f"PyTorch {samples['torch'][-1]:.1f}", flush=True)
    results.append({"workload": f"detector train step (Hungarian, AdamW), {row['config']}, "
                                f"{workload.get('trainable_params', '?')} params",
                    "mfx": "eager", "peer": "PyTorch eager",
                    "mfx_ms": statistics.median(samples["mfx"]),
                    "peer_ms": statistics.median(samples["torch"])})
    return workload, samples


def conv_rows(args, results):
    """The small detector's convolutions one by one (bench_conv_layers: forward,
    input and weight gradients where training computes them) against
    torch.nn.functional.conv2d and aten::convolution_backward with the
    matching output mask, on random inputs of the same shapes. Rows: the
    totals per op and overall; the per-layer medians go to the JSON."""
    import torch
    bench = str(Path(args.build) / "benchmarks" / "bench_conv_layers")
    cmd = [bench] + (["--quick"] if args.quick else [])

    def torch_call(r):
        x, w = torch.randn(r["x"]), torch.randn(r["w"])
        s, p = [r["stride"]] * 2, [r["padding"]] * 2
        if r["op"] == "forward":
            return lambda: torch.nn.functional.conv2d(x, w, stride=s, padding=p)
        ct = torch.randn(torch.nn.functional.conv2d(x, w, stride=s, padding=p).shape)
        mask = [r["op"] == "input_grad", r["op"] == "weight_grad", False]
        return lambda: torch.ops.aten.convolution_backward(ct, x, w, None, s, p, [1, 1], False,
                                                           [0, 0], 1, mask)

    layers = {}
    for i in range(args.rounds):
        m = run_mfx(cmd, args.threads)
        for r in m["rows"]:
            e = layers.setdefault((r["layer"], r["op"]), {"row": r, "mfx": [], "torch": []})
            e["mfx"].append(r["ms"])
            e["torch"].append(median_ms(torch_call(r), min_seconds=0.05 if args.quick else 0.3))
        print(f"round {i + 1}/{args.rounds}: convolutions mfx {m['total_ms']:.1f} ms", flush=True)
    per_layer = []
    for (layer, op), e in layers.items():
        per_layer.append({"layer": layer, "op": op, "x": e["row"]["x"], "w": e["row"]["w"],
                          "stride": e["row"]["stride"], "mfx_ms": statistics.median(e["mfx"]),
                          "peer_ms": statistics.median(e["torch"])})
    config = f"B={m['batch']} {m['size']}x{m['size']}"
    for op in ["forward", "input_grad", "weight_grad", None]:
        rows = [r for r in per_layer if op is None or r["op"] == op]
        what = op.replace("_", " ") + "s" if op else "all of them"
        results.append({"workload": f"small_cpu detector convolutions ({config}): {what}",
                        "mfx": "eager", "peer": "PyTorch eager",
                        "mfx_ms": sum(r["mfx_ms"] for r in rows),
                        "peer_ms": sum(r["peer_ms"] for r in rows)})
    return per_layer


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=str(REPO / "build"), help="mfx build directory")
    ap.add_argument("--venv", default=str(HERE / ".venv"), help="virtual environment to use or create")
    ap.add_argument("--jax", action="store_true", help="also JAX (jit) for the match-free loss")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median over them)")
    ap.add_argument("--threads", type=int, default=2, help="threads for mfx and the peers")
    ap.add_argument("--json", help="write the table and all samples here")
    ap.add_argument("--torch-compile", action="store_true",
                    help="also torch.compile for the match-free loss (minutes to compile)")
    ap.add_argument("--no-detector", action="store_true", help="skip the detector train step")
    ap.add_argument("--convs", action="store_true",
                    help="also the detector's convolutions one by one (bench_conv_layers)")
    ap.add_argument("--omp-passive", action="store_true",
                    help="OMP_WAIT_POLICY=PASSIVE for PyTorch (sleeping threads; for a loaded machine)")
    ap.add_argument("--quick", action="store_true", help="the benchmarks' small sizes (a smoke test)")
    ap.add_argument("--sizes", help="criteria at these N:M sizes instead (comma-separated, e.g. "
                    "100:8,300:32,900:64,2700:128; N queries, M GT slots)")
    args = ap.parse_args()
    sizes = []
    if args.sizes:
        try:
            sizes = [tuple(int(v) for v in s.split(":")) for s in args.sizes.split(",")]
        except ValueError:
            sizes = [()]
        if not sizes or any(len(s) != 2 or min(s) < 1 for s in sizes):
            ap.error(f"--sizes: expected N:M pairs of positive integers, got {args.sizes!r}")
    ensure_venv(args)

    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    if args.omp_passive:
        # PyTorch's OpenMP threads spin while they wait by default (as mfx's
        # pool does for 100 us): fastest on an idle machine, but on one with
        # other work that made the peer 20-40x slower here.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import numpy
    import scipy
    import torch
    torch.set_num_threads(args.threads)
    # mfx's BLAS kernels follow OPENBLAS_CORETYPE when it is set (a set
    # without AVX-512 halves its matmul speed on a CPU with it); the peers
    # bring their own BLAS.
    versions = {"OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "unset"),
                "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "unset"),
                "python": sys.version.split()[0], "numpy": numpy.__version__,
                "scipy": scipy.__version__, "torch": torch.__version__}
    if args.jax:
        import jax
        versions["jax"] = jax.__version__
    print("peers: " + ", ".join(f"{k} {v}" for k, v in versions.items()), flush=True)

    results, checks = [], {}
    if sizes:
        crit_workload, crit_samples = [], []
        for size in sizes:
            c = {}
            w, smp = criteria_rows(args, results, c, size)
            crit_workload.append(w)
            crit_samples.append(smp)
            checks[f"N={size[0]} M={size[1]}"] = c
    else:
        crit_workload, crit_samples = criteria_rows(args, results, checks)
    det_workload, det_samples = ({}, [])
    if not args.no_detector:
        det_workload, det_samples = detector_rows(args, results, checks)
    conv_layers = conv_rows(args, results) if args.convs else []

    print()
    print(f"{'workload':<92} | {'mfx':<5} | {'mfx ms':>8} | {'peer':<36} | {'peer ms':>8} | peer/mfx")
    for r in results:
        r["peer_over_mfx"] = r["peer_ms"] / r["mfx_ms"] if r["peer_ms"] else None
        peer_ms = f"{r['peer_ms']:8.1f}" if r["peer_ms"] else f"{'-':>8}"
        ratio = f"{r['peer_over_mfx']:8.2f}" if r["peer_ms"] else f"{'-':>8}"
        print(f"{r['workload']:<92} | {r['mfx']:<5} | {r['mfx_ms']:8.1f} | {r['peer']:<36} | {peer_ms} | {ratio}")
    if args.json:
        out = {"versions": versions, "threads": args.threads, "rounds": args.rounds,
               "rows": results, "checks": checks,
               "criteria": {"workload": crit_workload, "samples_ms": crit_samples},
               "detector": {"workload": det_workload, "samples_ms": det_samples},
               "conv_layers": conv_layers,
               "cpu_count": os.cpu_count(), "load_average": os.getloadavg()}
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
