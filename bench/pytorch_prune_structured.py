# Run: /usr/bin/python3 bench/pytorch_prune_structured.py --model all   (Debian's python3-torch 1.13 and python3-onnx)
"""Peer benchmark: L1-norm filter pruning of the trained vgg-small and resnet-small with torch.nn.utils.prune.

The job of bench/prune_structured.sh (`shrink prune --method l1-filter --sparsity S --finetune-epochs E
--lr 0.01`) done the way torch.nn.utils.prune does it, on the same trained weights (read from the ONNX
files of bench/train_accuracy.sh). What matches Shrink: the channels ranked by the L1 norm of their
filters, the fraction S of them pruned in every Conv2d and in every Linear but the classifier (torch
rounds S·C to the nearest integer, as Shrink does; Shrink then rounds the kept count up to a multiple
of 8, which at the default S = 0.5 and widths 16..256 changes nothing); one-shot, then fine-tuning of
the pruned model with SGD lr 0.01 momentum 0.9, per-step cosine annealing to 0, batch 128, a fresh
seeded permutation per epoch, BatchNorm and Dropout in training mode, 2 intra-op threads; test accuracy
on the 10,000 Fashion-MNIST test images; eager latency at batch 1 and 256 of the dense model against
the pruned one. What differs:
- PyTorch prunes each layer on its own (prune.ln_structured(module, "weight", amount=S, n=1, dim=0)).
  Shrink prunes channel groups: channels that a residual Add ties (resnet-small's stem and the second
  convolution of each identity block, or a projection shortcut and its block) are ranked by their
  summed L1 norm and removed together. Here each producer zeroes its own choice of filters, so a
  channel of the residual stream stays alive while any producer still writes it.
- Only the weight is masked. The BatchNorm after a pruned filter (and a pruned Linear's bias) is left
  alone, so a pruned channel carries a constant (ReLU of the BatchNorm shift) rather than zero, and
  fine-tuning may still train that shift; Shrink removes the channel, its BatchNorm entries and the
  consumers' input channels.
- Masks only, no physical removal: the weights keep their shapes, and PyTorch runs the same dense
  kernels. The latency rows measure the masked model after prune.remove (the zeros made permanent, no
  forward pre-hooks) against the dense model, to show that the masks by themselves buy no speed; Shrink
  measures a smaller dense model in ONNX Runtime.
One JSON line per model goes to stdout, progress to stderr. params_* count the parameters and the
BatchNorm running statistics, as Shrink counts float initializers (less the Dropout ratio scalar).
"""
import argparse
import os
import sys

# Parse first: the thread count must be in the environment before torch (and its BLAS) is imported.
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model", choices=["vgg-small", "resnet-small", "all"], default="all")
parser.add_argument("--trained", default="out/train-accuracy")
parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
parser.add_argument("--sparsity", type=float, default=0.5, help="fraction of each layer's filters to prune")
parser.add_argument("--epochs", type=int, default=8)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--limit", type=int, default=None, help="train on the first N training images only (smoke tests)")
parser.add_argument("--bench-batch", default="1,256", help="batch sizes of the latency comparison ('none' to skip)")
args = parser.parse_args()
os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)

import copy
import json

import torch
from torch import nn

from fmnist_torch import evaluate, fine_tune, latency, load, load_trained
from torch.nn.utils import prune

LR = 0.01


def prunable(model):
    """Every Conv2d and every Linear but the last (the classifier, whose outputs are the logits)."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return [m for m in model.modules() if isinstance(m, nn.Conv2d) or (isinstance(m, nn.Linear) and m is not linears[-1])]


def prune_filters(model, amount):
    """Per-layer L1-norm filter pruning: a mask over each weight's output channels (dim 0)."""
    for module in prunable(model):
        prune.ln_structured(module, "weight", amount=amount, n=1, dim=0)


def finalize(model):
    """Makes the masks permanent: weight = weight_orig · mask as a plain parameter, the hooks gone."""
    for module in prunable(model):
        if prune.is_pruned(module):
            prune.remove(module, "weight")
    return model


def counts(model):
    """(elements, non-zeros) of the effective parameters and BatchNorm running statistics."""
    tensors = [t for t in model.state_dict().values() if t.is_floating_point()]
    return sum(t.numel() for t in tensors), sum(int((t != 0).sum()) for t in tensors)


def finetune(model, train_x, train_y, name):
    """Fine-tunes with the masks held: the pruning hooks recompute weight = weight_orig · mask in every
    forward pass, so the pruned filters stay zero and their gradient w.r.t. weight_orig is masked.
    Returns the seconds of each epoch."""
    return fine_tune(model, train_x, train_y, args.epochs, LR, f"{name} fine-tune")


def main():
    if not 0 <= args.sparsity < 1:
        parser.error(f"--sparsity must be in [0, 1), got {args.sparsity}")
    batches = [] if args.bench_batch == "none" else [int(b) for b in args.bench_batch.split(",")]
    torch.set_num_threads(args.threads)
    train_x, train_y = load(args.data, "train")
    if args.limit is not None:
        train_x, train_y = train_x[:args.limit], train_y[:args.limit]
    test_x, test_y = load(args.data, "t10k")
    print(f"train: {train_x.shape}, test: {test_x.shape}, torch {torch.__version__}, {torch.get_num_threads()} threads",
          file=sys.stderr)
    for name in ["vgg-small", "resnet-small"] if args.model == "all" else [args.model]:
        path = os.path.join(args.trained, f"{name}.onnx")
        if not os.path.isfile(path):
            sys.exit(f"missing {path}: run bench/train_accuracy.sh first")
        dense_model = load_trained(name, path)
        dense = evaluate(dense_model, test_x, test_y)
        params_dense, _ = counts(dense_model)
        print(f"{name} dense: {dense:.4f}, {params_dense:,} parameters", file=sys.stderr)

        torch.manual_seed(args.seed)
        model = load_trained(name, path)
        prune_filters(model, args.sparsity)
        before = evaluate(model, test_x, test_y)
        print(f"{name} pruned {args.sparsity} of each layer's filters: {before:.4f} before fine-tuning", file=sys.stderr)
        times = finetune(model, train_x, train_y, name)
        finetuned = evaluate(model, test_x, test_y)
        masked = finalize(copy.deepcopy(model))
        with torch.no_grad():  # prune.remove changes nothing the model computes
            probe = torch.from_numpy(test_x[:256])
            assert torch.equal(masked.eval()(probe), model.eval()(probe)), f"{name}: prune.remove changed the outputs"
        _, nonzero = counts(masked)
        print(f"{name} fine-tuned: {finetuned:.4f}, {nonzero:,} of {params_dense:,} parameters non-zero", file=sys.stderr)

        times_ms = {"dense": {}, "masked": {}}
        for b in batches:
            for label, m in (("dense", dense_model), ("masked", masked)):
                times_ms[label][str(b)] = round(latency(m, b, args.seed), 3)
            print(f"{name} p50 latency at batch {b}: dense {times_ms['dense'][str(b)]} ms, "
                  f"masked {times_ms['masked'][str(b)]} ms", file=sys.stderr)
        print(json.dumps({
            "engine": "pytorch", "model": name, "sparsity": args.sparsity, "dense_accuracy": round(dense, 4),
            "pruned_accuracy_before_finetune": round(before, 4), "finetuned_accuracy": round(finetuned, 4),
            "params_dense": params_dense, "params_nonzero_after": nonzero, "latency_ms": times_ms,
            "epoch_s": [round(t, 2) for t in times]}, separators=(",", ":")), flush=True)


if __name__ == "__main__":
    main()
