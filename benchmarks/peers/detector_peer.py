#!/usr/bin/env python3
"""The small_cpu Deformable DETR detector in PyTorch: a peer of mfx's
detector train step (bench_detector's "train step: Hungarian fwd+bwd + AdamW
update").

usage: python3 benchmarks/peers/detector_peer.py (--inputs FILE | --build DIR)
           [--threads 2] [--check-only]

The network is written from mfx's code (models/detr/, models/resnet/) and the
Deformable DETR paper's equations, on PyTorch's own operators: a half-width
ResNet-18 with frozen BatchNorm (stem and layer1 frozen too), input
projections (1x1 conv + GroupNorm), sine position embeddings plus level
embeddings, a post-norm deformable encoder and decoder whose multi-scale
deformable attention samples with torch.nn.functional.grid_sample, and the
class and box heads shared by the decoder layers. Parameters are plain
tensors named by mfx's Tree paths (= the reference's state_dict names), read
from the file `bench_detector --inputs FILE` writes, with the batch.

The check (float64, dropout off): every decoder layer's logits, boxes and
hidden states, and the Hungarian loss with its gradient w.r.t. every
trainable parameter, against mfx's float64 values in the file; each tensor
must agree to 1e-6 of its largest entry, else the run stops naming it. The
gradients are taken where bench_detector took them, with the sampling
offsets' biases moved by < 0.01 pixel ("check.model.*" in the file): at
init the encoder samples its own level exactly at pixel centres, where the
derivative of bilinear sampling jumps and depends on the rounding of the
location (on the unmoved parameters, moving those biases by -1e-9 pixel
changed PyTorch's own encoder sampling-offset gradients by 35-62 % of their
largest entry). The timed step (float32, dropout 0.1 as in training):
forward + the Hungarian criterion (run_peers.py's transcription of the
reference) + backward + torch.optim.AdamW with the parameter groups mfx's
step uses.

run_peers.py imports load_inputs, check and train_step; run alone, this
script runs the check and times the step once (median of >= 1 s of calls).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from run_peers import load_safetensors, torch_criteria  # noqa: E402
from timing import median_ms  # noqa: E402

TOLERANCE = 1e-6
PREFIX = "model."  # the parameters' names in the file: "model." + Tree path
BODY = "backbone.0.body."


# ----------------------------------------------------------------- inputs


def load_inputs(path):
    """(arrays, workload) of a `bench_detector --inputs` file."""
    arrays, meta = load_safetensors(path)
    return arrays, json.loads(meta["workload"])


def write_inputs(build, path):
    """Runs `bench_detector --inputs path` (writes and exits, no timing)."""
    bench = str(Path(build) / "benchmarks" / "bench_detector")
    subprocess.run([bench, "--no-r50", "--inputs", path], check=True, stdout=subprocess.DEVNULL)


def first_group(name, groups):
    """mfx's ParamGroup rule: the first group whose pattern occurs in the
    leaf's path applies (None: the base rate and weight decay)."""
    return next((g for g in groups if g["pattern"] in name), None)


def is_trainable(name, groups):
    # mfx lists every frozen backbone leaf (stem, layer1, all BatchNorm
    # tensors) as a group of lr scale 0 and weight decay 0.
    g = first_group(name, groups)
    return not (g and g["lr_scale"] == 0.0 and g["weight_decay"] == 0.0)


def make_params(arrays, workload, dtype, prefix=PREFIX):
    """The detector's parameters as tensors named by their Tree paths (no
    "model." prefix), trainable ones requiring gradients. With prefix
    "check.model.", the gradient check's values replace those it has."""
    import torch
    groups = workload["adamw"]["groups"]
    values = {k[len(PREFIX):]: v for k, v in arrays.items() if k.startswith(PREFIX)}
    if prefix != PREFIX:
        values.update({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)})
    return {k: torch.tensor(v, dtype=dtype, requires_grad=is_trainable(PREFIX + k, groups))
            for k, v in values.items()}


def make_batch(arrays, dtype):
    import torch
    images = torch.tensor(arrays["batch.images"], dtype=dtype)
    mask = torch.tensor(arrays["batch.mask"])
    targets = {"labels": torch.tensor(arrays["targets.labels"]),
               "boxes": torch.tensor(arrays["targets.boxes"], dtype=dtype),
               "mask": torch.tensor(arrays["targets.mask"])}
    return images, mask, targets


# ----------------------------------------------------------------- the network


class Detector:
    """Deformable DETR (single-scale queries, no box refinement, no two
    stage) over a dict of parameters; `train` turns dropout on."""

    def __init__(self, params, workload):
        cfg = workload["detector_config"]
        self.p = params
        self.detr = cfg["detr"]
        self.backbone = cfg["backbone"]
        if self.backbone["depth"] != "r18" or self.backbone.get("norm", "frozen_batch_norm") != \
                "frozen_batch_norm" or self.detr["two_stage"]:
            raise SystemExit(f"detector_peer: only the small_cpu layout is written here, got {cfg}")
        if self.detr["num_feature_levels"] != len(self.detr["backbone_channels"]):
            raise SystemExit("detector_peer: extra (stride-2 conv) feature levels are not written here")

    # ---- backbone: ResNet-18 (BasicBlocks), frozen BatchNorm

    def frozen_bn(self, x, name):
        import torch
        p = self.p
        # DETR's FrozenBatchNorm2d, folded into one scale and shift as mfx
        # does (eps 1e-5).
        scale = p[name + ".weight"] * torch.rsqrt(p[name + ".running_var"] + 1e-5)
        shift = p[name + ".bias"] - p[name + ".running_mean"] * scale
        return x * scale[None, :, None, None] + shift[None, :, None, None]

    def basic_block(self, x, prefix, stride):
        import torch.nn.functional as F
        p = self.p
        y = F.relu(self.frozen_bn(F.conv2d(x, p[prefix + ".conv1.weight"], stride=stride, padding=1),
                                  prefix + ".bn1"))
        y = self.frozen_bn(F.conv2d(y, p[prefix + ".conv2.weight"], padding=1), prefix + ".bn2")
        if prefix + ".downsample.0.weight" in p:
            x = self.frozen_bn(F.conv2d(x, p[prefix + ".downsample.0.weight"], stride=stride),
                               prefix + ".downsample.1")
        return F.relu(y + x)

    def resnet(self, x):
        """C3, C4, C5 (outputs of layer2..4)."""
        import torch.nn.functional as F
        p = {k[len(BODY):]: v for k, v in self.p.items() if k.startswith(BODY)}
        stem = self.frozen_bn(F.conv2d(x, p["conv1.weight"], stride=2, padding=3), BODY + "bn1")
        h = F.max_pool2d(F.relu(stem), 3, stride=2, padding=1)
        feats = []
        for layer in range(1, 5):
            for i in range(2):  # ResNet-18: two blocks per layer
                stride = 2 if layer > 1 and i == 0 else 1
                h = self.basic_block(h, f"{BODY}layer{layer}.{i}", stride)
            if layer >= 2:
                feats.append(h)
        return feats

    # ---- position and masks

    @staticmethod
    def sine_embedding(mask, num_pos_feats, temperature=10000.0, scale=2 * 3.141592653589793):
        """PositionEmbeddingSine (normalised), float32 like the reference
        and mfx; [B, 2F, H, W], the y half first."""
        import numpy as np
        import torch
        not_mask = (~mask).float()
        y = not_mask.cumsum(1)
        x = not_mask.cumsum(2)
        y = (y - 0.5) / (y[:, -1:, :] + 1e-6) * scale
        x = (x - 0.5) / (x[:, :, -1:] + 1e-6) * scale
        # dim_t[2k] = dim_t[2k+1] = T^(2k/F), rounded to float32 as mfx does.
        half = num_pos_feats // 2
        exps = np.arange(half, dtype=np.float32) * np.float32(2) / np.float32(num_pos_feats)
        dim_t = torch.from_numpy(np.power(np.float32(temperature), exps).astype(np.float32))

        def encode(e):
            a = e[..., None] / dim_t
            return torch.stack([a.sin(), a.cos()], -1).flatten(-2)  # sin, cos interleaved

        return torch.cat([encode(y), encode(x)], 3).permute(0, 3, 1, 2)

    @staticmethod
    def valid_ratios(mask, dtype):
        """(valid width / W, valid height / H) of one level's mask: [B, 2]."""
        import torch
        _, h, w = mask.shape
        valid_h = (~mask[:, :, 0]).sum(1).to(dtype) / h
        valid_w = (~mask[:, 0, :]).sum(1).to(dtype) / w
        return torch.stack([valid_w, valid_h], -1)

    @staticmethod
    def encoder_reference_points(shapes, ratios):
        """Pixel centres of every level, normalised by the valid size, then
        multiplied by every level's valid ratios: [B, S, L, 2]."""
        import torch
        refs = []
        for l, (h, w) in enumerate(shapes):
            ys, xs = torch.meshgrid(torch.arange(h, dtype=ratios.dtype) + 0.5,
                                    torch.arange(w, dtype=ratios.dtype) + 0.5, indexing="ij")
            ref_x = xs.reshape(-1)[None] / (ratios[:, None, l, 0] * w)
            ref_y = ys.reshape(-1)[None] / (ratios[:, None, l, 1] * h)
            refs.append(torch.stack([ref_x, ref_y], -1))
        ref = torch.cat(refs, 1)
        return ref[:, :, None] * ratios[:, None]

    # ---- attention

    def linear(self, x, name):
        import torch.nn.functional as F
        return F.linear(x, self.p[name + ".weight"], self.p[name + ".bias"])

    def ms_deform_attn(self, prefix, query, ref, value_in, shapes, padding):
        """MSDeformAttn with 2-d reference points [B, Q, L, 2]: sampling
        locations ref + offset / (W_l, H_l), a softmax over levels x points
        per head, bilinear sampling (grid_sample, zero outside, pixel
        centres at (i + 0.5) / size: align_corners=False)."""
        import torch
        import torch.nn.functional as F
        B, Q, d = query.shape
        S = value_in.shape[1]
        nh = self.detr["nheads"]
        L = len(shapes)
        dh = d // nh
        value = self.linear(value_in, prefix + ".value_proj")
        value = value.masked_fill(padding[..., None], 0.0).view(B, S, nh, dh)
        offsets = self.linear(query, prefix + ".sampling_offsets")
        P = offsets.shape[-1] // (nh * L * 2)
        offsets = offsets.view(B, Q, nh, L, P, 2)
        weights = self.linear(query, prefix + ".attention_weights").view(B, Q, nh, L * P)
        weights = weights.softmax(-1).view(B, Q, nh, L, P)
        normaliser = torch.tensor([[w, h] for h, w in shapes], dtype=query.dtype)
        loc = ref[:, :, None, :, None, :] + offsets / normaliser[None, None, None, :, None, :]
        grids = 2 * loc - 1
        sampled = []
        for l, v in enumerate(value.split([h * w for h, w in shapes], dim=1)):
            h, w = shapes[l]
            v = v.flatten(2).transpose(1, 2).reshape(B * nh, dh, h, w)
            g = grids[:, :, :, l].transpose(1, 2).flatten(0, 1)  # [B nh, Q, P, 2]
            sampled.append(F.grid_sample(v, g, mode="bilinear", padding_mode="zeros",
                                         align_corners=False))  # [B nh, dh, Q, P]
        a = weights.transpose(1, 2).reshape(B * nh, 1, Q, L * P)
        out = (torch.stack(sampled, -2).flatten(-2) * a).sum(-1).view(B, nh * dh, Q).transpose(1, 2)
        return self.linear(out, prefix + ".output_proj")

    def self_attention(self, prefix, qk, v, train):
        """torch.nn.MultiheadAttention's functional form, batch first."""
        import torch.nn.functional as F
        p = self.p
        out, _ = F.multi_head_attention_forward(
            qk.transpose(0, 1), qk.transpose(0, 1), v.transpose(0, 1), qk.shape[-1],
            self.detr["nheads"], p[prefix + ".in_proj_weight"], p[prefix + ".in_proj_bias"],
            None, None, False, self.detr["dropout"], p[prefix + ".out_proj.weight"],
            p[prefix + ".out_proj.bias"], training=train, need_weights=False)
        return out.transpose(0, 1)

    # ---- layers

    def layer_norm(self, x, name):
        import torch.nn.functional as F
        return F.layer_norm(x, x.shape[-1:], self.p[name + ".weight"], self.p[name + ".bias"], 1e-5)

    def drop(self, x, train):
        import torch.nn.functional as F
        return F.dropout(x, self.detr["dropout"], train)

    def ffn(self, x, prefix, train):
        import torch.nn.functional as F
        h = self.drop(F.relu(self.linear(x, prefix + ".linear1")), train)
        return self.linear(h, prefix + ".linear2")

    def encoder_layer(self, prefix, src, pos, ref, shapes, padding, train):
        attn = self.ms_deform_attn(prefix + ".self_attn", src + pos, ref, src, shapes, padding)
        x = self.layer_norm(src + self.drop(attn, train), prefix + ".norm1")
        return self.layer_norm(x + self.drop(self.ffn(x, prefix, train), train), prefix + ".norm2")

    def decoder_layer(self, prefix, tgt, query_pos, ref, memory, shapes, padding, train):
        qk = tgt + query_pos
        t = self.layer_norm(tgt + self.drop(self.self_attention(prefix + ".self_attn", qk, tgt, train),
                                            train), prefix + ".norm2")
        cross = self.ms_deform_attn(prefix + ".cross_attn", t + query_pos, ref, memory, shapes, padding)
        t = self.layer_norm(t + self.drop(cross, train), prefix + ".norm1")
        return self.layer_norm(t + self.drop(self.ffn(t, prefix, train), train), prefix + ".norm3")

    # ---- the whole detector

    def input_proj(self, x, level):
        import torch.nn.functional as F
        p, name = self.p, f"input_proj.{level}"
        y = F.conv2d(x, p[name + ".0.weight"], p[name + ".0.bias"])
        return F.group_norm(y, self.detr["gn_groups"], p[name + ".1.weight"], p[name + ".1.bias"], 1e-5)

    def __call__(self, images, mask, train=False):
        """Per decoder layer: (logits [B, Q, K], boxes [B, Q, 4], hidden [B, Q, d])."""
        import torch
        import torch.nn.functional as F
        d = self.detr["d_model"]
        dtype = images.dtype
        level_embed = self.p["transformer.level_embed"]
        srcs, pads, poss, ratios, shapes = [], [], [], [], []
        for l, f in enumerate(self.resnet(images)):
            src = self.input_proj(f, l)
            B, _, h, w = src.shape
            m = F.interpolate(mask[:, None].float(), size=(h, w)).bool()[:, 0]  # nearest
            pos = self.sine_embedding(m, d // 2).to(dtype)
            shapes.append((h, w))
            srcs.append(src.flatten(2).transpose(1, 2))
            pads.append(m.flatten(1))
            poss.append(pos.flatten(2).transpose(1, 2) + level_embed[l])
            ratios.append(self.valid_ratios(m, dtype))
        src, padding, pos = torch.cat(srcs, 1), torch.cat(pads, 1), torch.cat(poss, 1)
        ratios = torch.stack(ratios, 1)  # [B, L, 2]
        enc_ref = self.encoder_reference_points(shapes, ratios)
        memory = src
        for i in range(self.detr["enc_layers"]):
            memory = self.encoder_layer(f"transformer.encoder.layers.{i}", memory, pos, enc_ref,
                                        shapes, padding, train)
        query_embed = self.p["query_embed.weight"]
        B = images.shape[0]
        query_pos = query_embed[:, :d].expand(B, -1, -1)
        tgt = query_embed[:, d:].expand(B, -1, -1)
        ref = self.linear(query_pos, "transformer.reference_points").sigmoid()
        ref_offset = F.pad(inverse_sigmoid(ref), (0, 2))  # [logit(ref), 0, 0]
        dec_ref = ref[:, :, None] * ratios[:, None]
        outs, h = [], tgt
        for i in range(self.detr["dec_layers"]):
            h = self.decoder_layer(f"transformer.decoder.layers.{i}", h, query_pos, dec_ref, memory,
                                   shapes, padding, train)
            logits = self.linear(h, "class_embed")
            box = F.relu(self.linear(h, "bbox_embed.layers.0"))
            box = F.relu(self.linear(box, "bbox_embed.layers.1"))
            box = self.linear(box, "bbox_embed.layers.2")
            outs.append((logits, (box + ref_offset).sigmoid(), h))
        return outs


def inverse_sigmoid(x, eps=1e-5):
    x = x.clamp(0, 1)
    return (x.clamp(min=eps) / (1 - x).clamp(min=eps)).log()


# ----------------------------------------------------------------- check


def rel_diff(got, want):
    """max |got - want| relative to want's largest entry (at least 1e-30, so
    that an all-zero tensor must be matched by zeros)."""
    import numpy as np
    return float(np.max(np.abs(got - want)) / max(float(np.max(np.abs(want))), 1e-30))


def check(arrays, workload, tolerance=TOLERANCE, verbose=True):
    """Float64, dropout off: forward outputs, Hungarian loss and gradients
    against mfx's. Returns {tensor name: rel. diff}; exits non-zero naming
    every tensor over `tolerance`."""
    import torch
    params = make_params(arrays, workload, torch.float64)
    # The same trainable set as mfx's (its count is the PyTorch sense).
    n_trainable = sum(v.numel() for v in params.values() if v.requires_grad)
    if n_trainable != workload["trainable_params"]:
        sys.exit(f"detector_peer: {n_trainable} trainable parameters, mfx trains "
                 f"{workload['trainable_params']}")
    images, mask, targets = make_batch(arrays, torch.float64)
    net = Detector(params, workload)
    _, hungarian = torch_criteria(workload)
    outs = net(images, mask, train=False)
    diffs = {}
    for l, (z, box, hid) in enumerate(outs):
        for name, t in (("logits", z), ("boxes", box), ("hidden", hid)):
            key = f"f64.outputs.{name}_{l}"
            diffs[key] = rel_diff(t.detach().numpy(), arrays[key])
    # The gradients on the parameters bench_detector moved off whole-pixel
    # sampling offsets (where bilinear sampling's derivative has a kink).
    params = make_params(arrays, workload, torch.float64, "check." + PREFIX)
    loss = hungarian(Detector(params, workload)(images, mask, train=False), targets)
    trainable = {k: v for k, v in params.items() if v.requires_grad}
    grads = torch.autograd.grad(loss, list(trainable.values()))
    want = float(arrays["f64.hungarian.loss"])
    loss = float(loss.detach())
    diffs["f64.hungarian.loss"] = abs(loss - want) / abs(want)
    for (k, _), g in zip(trainable.items(), grads):
        key = f"f64.hungarian.grad.{PREFIX}{k}"
        diffs[key] = rel_diff(g.numpy(), arrays[key])
    # Frozen leaves: mfx's gradient must be zero (the peer computes none);
    # measured as its largest absolute entry.
    frozen = {f"f64.hungarian.grad.{PREFIX}{k}": 0.0 for k, v in params.items() if not v.requires_grad}
    frozen = {k: float(abs(arrays[k]).max()) for k in frozen}
    diffs.update(frozen)
    if verbose:
        fwd = {k: v for k, v in diffs.items() if k.startswith("f64.outputs.")}
        for k, v in fwd.items():
            print(f"check {k:<28} max rel. diff {v:.1e}", flush=True)
        g = {k: v for k, v in diffs.items() if k.startswith("f64.hungarian.grad.")}
        worst = max(g, key=g.get)
        print(f"check Hungarian loss, float64: mfx {want:.12g}, PyTorch {loss:.12g} "
              f"(rel. diff {diffs['f64.hungarian.loss']:.1e}); gradients of {len(trainable)} "
              f"trainable tensors ({n_trainable} parameters): max rel. diff {g[worst]:.1e} "
              f"({worst[len('f64.hungarian.grad.'):]}); mfx's gradients of the "
              f"{len(frozen)} frozen tensors: max |g| {max(frozen.values()):.1e}", flush=True)
    bad = {k: v for k, v in diffs.items() if not v <= tolerance}
    if bad:
        lines = "\n".join(f"  {k}: {v:.3e}" for k, v in sorted(bad.items(), key=lambda kv: -kv[1]))
        sys.exit(f"detector_peer: the PyTorch detector does not compute what mfx computes "
                 f"(relative to each tensor's largest entry, tolerance {tolerance:g}):\n{lines}")
    return diffs


# ----------------------------------------------------------------- timing


def train_step(arrays, workload):
    """A float32 train step as bench_detector's: forward with dropout,
    the Hungarian criterion, backward, AdamW (lr, weight decay and the
    parameter groups of mfx's detector_adamw_config; frozen leaves are not
    given to the optimiser, as in the reference). Returns a no-argument
    callable that runs one step."""
    import torch
    params = make_params(arrays, workload, torch.float32)
    images, mask, targets = make_batch(arrays, torch.float32)
    net = Detector(params, workload)
    _, hungarian = torch_criteria(workload)
    opt_cfg = workload["adamw"]
    lr, wd = opt_cfg["lr"], opt_cfg["weight_decay"]
    by_setting = {}
    for k, v in params.items():
        if not v.requires_grad:
            continue
        g = first_group(PREFIX + k, opt_cfg["groups"])
        scale = g["lr_scale"] if g else 1.0
        decay = g["weight_decay"] if g and g["weight_decay"] is not None else wd
        by_setting.setdefault((lr * scale, decay), []).append(v)
    groups = [{"params": ps, "lr": l, "weight_decay": w} for (l, w), ps in by_setting.items()]
    opt = torch.optim.AdamW(groups, lr=lr, betas=(opt_cfg["beta1"], opt_cfg["beta2"]),
                            eps=opt_cfg["eps"], weight_decay=wd)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = hungarian(net(images, mask, train=True), targets)
        loss.backward()
        opt.step()
        return loss

    return step


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--inputs", help="a file written by bench_detector --inputs")
    src.add_argument("--build", help="mfx build directory: run its bench_detector --inputs")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--check-only", action="store_true", help="skip the timing")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see run_peers.py
    import torch
    torch.set_num_threads(args.threads)
    if args.inputs:
        arrays, workload = load_inputs(args.inputs)
    else:
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "detector_inputs.safetensors")
            write_inputs(args.build, path)
            arrays, workload = load_inputs(path)
    check(arrays, workload)
    if not args.check_only:
        print(f"PyTorch {torch.__version__}, {args.threads} threads: train step "
              f"{median_ms(train_step(arrays, workload)):.1f} ms (median)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
