# Run: /usr/bin/python3 bench/pytorch_prune.py --model all   (Debian's python3-torch 1.13 and python3-onnx)
"""Peer benchmark: unstructured pruning of the trained lenet300 and lenet5 with torch.nn.utils.prune.

The job matches bench/prune_unstructured.sh on the same trained weights (read from the ONNX files):
global L1 magnitude pruning of all Conv/Linear weights (not biases) to 90 % sparsity, one-shot without
fine-tuning, and AGP (Zhu & Gupta) while fine-tuning from the dense weights: SGD lr 0.01 momentum 0.9,
per-step cosine annealing to 0, batch 128, a fresh seeded permutation per epoch, 2 intra-op threads.
Test accuracy is on the 10,000 Fashion-MNIST test images. One JSON line per model goes to stdout,
progress to stderr.
"""
import argparse
import os
import sys

# Parse first: the thread count must be in the environment before torch (and its BLAS) is imported.
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model", choices=["lenet300", "lenet5", "all"], default="all")
parser.add_argument("--trained", default="out/train-accuracy")
parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
parser.add_argument("--epochs", type=int, default=10)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)

import json

import torch
from torch import nn

from fmnist_torch import BATCH, evaluate, fine_tune, load, load_trained
from torch.nn.utils import prune

SPARSITY = 0.9
RAMP_FRACTION = 0.75  # share of the optimizer steps spent raising the sparsity, as in Shrink's AgpHook
UPDATES = 20


def weights(model):
    """The (module, "weight") pairs pruned: every Conv2d/Linear weight, no biases."""
    return [(m, "weight") for m in model if isinstance(m, (nn.Conv2d, nn.Linear))]


def prune_to(model, current, target):
    """Global L1 magnitude pruning from sparsity `current` to `target`. torch's PruningContainer applies
    `amount` to the weights not yet pruned, so the increment is taken relative to what remains."""
    amount = (target - current) / (1 - current)
    prune.global_unstructured(weights(model), pruning_method=prune.L1Unstructured, amount=amount)
    return target


def sparsity(model):
    """The fraction of zeros in the effective weights (weight_orig * mask once pruned)."""
    tensors = [getattr(m, n) for m, n in weights(model)]
    return sum((t == 0).sum().item() for t in tensors) / sum(t.numel() for t in tensors)


def agp(model, train_x, train_y, name):
    """Fine-tunes while the sparsity follows s(t) = S·(1 − (1 − t/T)³), T = 75 % of the steps. As in
    Shrink's AgpHook, the masks are recomputed after optimizer step t when t is a multiple of T/20 (integer)
    or t = T, then held at S. The pruning hooks keep pruned weights at zero in every forward pass, and
    their gradient w.r.t. weight_orig is masked. Returns the seconds of each epoch."""
    total = args.epochs * ((len(train_y) + BATCH - 1) // BATCH)
    ramp = max(1, round(total * RAMP_FRACTION))
    every = max(1, ramp // UPDATES)
    current = 0.0

    def after_step(step):
        nonlocal current
        if step <= ramp and (step % every == 0 or step == ramp):
            current = prune_to(model, current, SPARSITY * (1 - (1 - step / ramp) ** 3))
        return f"sparsity {current:.3f}"

    return fine_tune(model, train_x, train_y, args.epochs, 0.01, f"{name} agp", after_step)


def main():
    torch.set_num_threads(args.threads)
    train_x, train_y = load(args.data, "train")
    test_x, test_y = load(args.data, "t10k")
    print(f"train: {train_x.shape}, test: {test_x.shape}, torch {torch.__version__}", file=sys.stderr)
    for name in ["lenet300", "lenet5"] if args.model == "all" else [args.model]:
        path = os.path.join(args.trained, f"{name}.onnx")
        dense = evaluate(load_trained(name, path), test_x, test_y)
        print(f"{name} dense: {dense:.4f}", file=sys.stderr)

        model = load_trained(name, path)
        prune_to(model, 0.0, SPARSITY)
        oneshot = evaluate(model, test_x, test_y)
        print(f"{name} one-shot {sparsity(model):.4f}: {oneshot:.4f}", file=sys.stderr)

        torch.manual_seed(args.seed)
        model = load_trained(name, path)
        times = agp(model, train_x, train_y, name)
        print(json.dumps({
            "engine": "pytorch", "model": name, "dense_accuracy": round(dense, 4),
            "oneshot_accuracy": round(oneshot, 4), "agp_accuracy": round(evaluate(model, test_x, test_y), 4),
            "agp_sparsity": round(sparsity(model), 4), "agp_epoch_s": [round(t, 2) for t in times]},
            separators=(",", ":")), flush=True)


if __name__ == "__main__":
    main()
