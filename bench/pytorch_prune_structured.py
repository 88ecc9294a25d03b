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
import statistics
import time

import onnx
import torch
from onnx import numpy_helper
from torch import nn

from fmnist_torch import evaluate, load
from torch.nn.utils import prune

BATCH = 128
LR = 0.01


class BasicBlock(nn.Module):
    """ModelZoo.BasicBlock: conv-BN-ReLU, conv-BN, plus the shortcut (1×1 conv-BN when the shape changes), ReLU.
    Modules are registered in the order the ONNX graph has their nodes."""

    def __init__(self, in_width, width, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_width, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.shortcut = nn.Sequential(nn.Conv2d(in_width, width, 1, stride, bias=False), nn.BatchNorm2d(width)) \
            if stride != 1 or in_width != width else nn.Identity()

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + self.shortcut(x))


def build(name):
    """ModelZoo's vgg-small ([32,32,M,64,64,M,128,128,M] 3×3 conv-BN-ReLU without conv bias, fc 256, ReLU,
    dropout 0.3, fc 10) and resnet-small (ResNet-20 style: stem conv 16, 3 stages of 3 basic blocks of
    widths 16/32/64 with stride 2 at the first block of stages 2 and 3, 1×1 projection shortcuts, global
    average pool, fc 10). The weights come from the ONNX file."""
    if name == "vgg-small":
        layers, in_width = [], 1
        for width in (32, 64, 128):
            for _ in range(2):
                layers += [nn.Conv2d(in_width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
                in_width = width
            layers.append(nn.MaxPool2d(2, 2))
        return nn.Sequential(*layers, nn.Flatten(), nn.Linear(128 * 3 * 3, 256), nn.ReLU(), nn.Dropout(0.3),
                             nn.Linear(256, 10))
    layers, in_width = [nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU()], 16
    for width, stride in ((16, 1), (32, 2), (64, 2)):
        for block in range(3):
            layers.append(BasicBlock(in_width, width, stride if block == 0 else 1))
            in_width = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def load_trained(name, path):
    """The torch module with the ONNX model's initializers. The graph's Conv, BatchNormalization and Gemm
    nodes, in order, pair with the module's Conv2d, BatchNorm2d and Linear layers in registration order:
    Conv input[1] is the weight (input[2] the bias, absent here); BatchNormalization inputs 1-4 are γ, β,
    running mean and variance, and its epsilon and momentum attributes carry over (ONNX's momentum is the
    running statistics' weight, torch's the batch's: 1 − 0.9); Gemm input[1] is [out,in] with transB=1
    like nn.Linear's weight, else transposed. Shapes and the Conv strides/pads are checked."""
    graph = onnx.load(path).graph
    tensors = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    kinds = {"Conv": nn.Conv2d, "BatchNormalization": nn.BatchNorm2d, "Gemm": nn.Linear}
    nodes = [n for n in graph.node if n.op_type in kinds]
    model = build(name)
    layers = [m for m in model.modules() if isinstance(m, tuple(kinds.values()))]
    assert len(nodes) == len(layers), f"{path}: {len(nodes)} Conv/BatchNormalization/Gemm nodes for {len(layers)} layers"

    def copy_into(param, source, transpose=False):
        value = torch.from_numpy(tensors[source].copy())
        value = value.t() if transpose else value
        assert value.shape == param.shape, f"{source}: {tuple(value.shape)} for {tuple(param.shape)}"
        param.copy_(value)

    with torch.no_grad():
        for node, layer in zip(nodes, layers):
            assert isinstance(layer, kinds[node.op_type]), f"{node.name or node.output[0]}: {node.op_type} for {type(layer).__name__}"
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            if node.op_type == "Conv":
                assert list(attrs.get("strides", [1, 1])) == list(layer.stride), f"{node.output[0]}: strides {attrs.get('strides')}"
                assert list(attrs.get("pads", [0] * 4)) == list(layer.padding) * 2, f"{node.output[0]}: pads {attrs.get('pads')}"
                assert attrs.get("group", 1) == layer.groups
                copy_into(layer.weight, node.input[1])
                assert (len(node.input) > 2 and node.input[2] != "") == (layer.bias is not None), f"{node.output[0]}: bias"
                if layer.bias is not None:
                    copy_into(layer.bias, node.input[2])
            elif node.op_type == "BatchNormalization":
                for target, source in zip((layer.weight, layer.bias, layer.running_mean, layer.running_var), node.input[1:5]):
                    copy_into(target, source)
                layer.eps = attrs.get("epsilon", 1e-5)
                layer.momentum = 1 - attrs.get("momentum", 0.9)
            else:
                assert attrs.get("alpha", 1.0) == 1.0 and attrs.get("beta", 1.0) == 1.0 and attrs.get("transA", 0) == 0
                copy_into(layer.weight, node.input[1], transpose=attrs.get("transB", 0) == 0)
                copy_into(layer.bias, node.input[2])
    # The Dropout ratio is an initializer (opset 12+): keep the module's in step with it.
    dropouts = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    for node, layer in zip([n for n in graph.node if n.op_type == "Dropout"], dropouts):
        if len(node.input) > 1 and node.input[1] in tensors:
            layer.p = float(tensors[node.input[1]])
    return model


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
    total = args.epochs * ((len(train_y) + BATCH - 1) // BATCH)
    # Pruning renamed weight to weight_orig but kept the same Parameter, which the optimizer updates.
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total), eta_min=0)
    times = []
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(train_y)).numpy()
        start_time = time.perf_counter()
        for start in range(0, len(train_y), BATCH):
            index = order[start:start + BATCH]
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(torch.from_numpy(train_x[index])), torch.from_numpy(train_y[index]))
            loss.backward()
            optimizer.step()
            scheduler.step()
        times.append(time.perf_counter() - start_time)
        print(f"{name} fine-tune epoch {epoch + 1}/{args.epochs}: loss {loss.item():.4f}, {times[-1]:.1f} s", file=sys.stderr)
    return times


@torch.no_grad()
def latency(model, batch, seed):
    """p50 milliseconds of an eager forward pass in eval mode: 10 warm-up runs, then 50 timed runs at
    batch 1 and 20 at larger batches."""
    model.eval()
    x = torch.rand(batch, 1, 28, 28, generator=torch.Generator().manual_seed(seed))
    runs = 50 if batch == 1 else 20
    for _ in range(10):
        model(x)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        model(x)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


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
