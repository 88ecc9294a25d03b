"""What the PyTorch peer benchmarks share: Fashion-MNIST from IDX files, the zoo's models (the two LeNets,
vgg-small, resnet-small), loading trained weights from Shrink's ONNX files, evaluation, eager latency.

Imported by bench/pytorch_train.py, bench/pytorch_prune.py, bench/pytorch_prune_structured.py,
bench/pytorch_quantize.py and bench/pytorch_distill.py (run them with /usr/bin/python3, which has Debian's python3-torch and
python3-onnx; they set the thread count before this module imports torch).
"""
import gzip
import os
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn

EVAL_BATCH = 1000
BATCH = 128  # training batch of every peer


def read_idx(path):
    """An IDX gz file as a numpy array: big-endian header (magic, dims), then unsigned bytes."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = np.frombuffer(raw, ">u4", ndim, 4).astype(int)
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load(data_dir, split):
    """Images as float32 [N,1,28,28] in [0,1] and labels as int64."""
    images = read_idx(os.path.join(data_dir, f"{split}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, f"{split}-labels-idx1-ubyte.gz"))
    return (images.astype(np.float32) / 255).reshape(-1, 1, 28, 28), labels.astype(np.int64)


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
    """A fresh module (default init) of the zoo's model `name`:
    - lenet300 is an MLP; lenet5 is Caffe's LeNet (no activation after the convolutions).
    - vgg-small is ModelZoo's [32,32,M,64,64,M,128,128,M] 3×3 conv-BN-ReLU without conv bias, fc 256,
      ReLU, dropout 0.3, fc 10; resnet-small is ResNet-20 style: stem conv 16, 3 stages of 3 basic blocks
      of widths 16/32/64 with stride 2 at the first block of stages 2 and 3, 1×1 projection shortcuts,
      global average pool, fc 10. Trained weights come from the ONNX file (load_trained)."""
    if name == "lenet300":
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 300), nn.ReLU(),
            nn.Linear(300, 100), nn.ReLU(),
            nn.Linear(100, 10))
    if name == "lenet5":
        return nn.Sequential(
            nn.Conv2d(1, 20, 5), nn.MaxPool2d(2, 2),
            nn.Conv2d(20, 50, 5), nn.MaxPool2d(2, 2),
            nn.Flatten(),
            nn.Linear(800, 500), nn.ReLU(),
            nn.Linear(500, 10))
    if name == "vgg-small":
        layers, in_width = [], 1
        for width in (32, 64, 128):
            for _ in range(2):
                layers += [nn.Conv2d(in_width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
                in_width = width
            layers.append(nn.MaxPool2d(2, 2))
        return nn.Sequential(*layers, nn.Flatten(), nn.Linear(128 * 3 * 3, 256), nn.ReLU(), nn.Dropout(0.3),
                             nn.Linear(256, 10))
    assert name == "resnet-small", f"unknown model {name}"
    layers, in_width = [nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU()], 16
    for width, stride in ((16, 1), (32, 2), (64, 2)):
        for block in range(3):
            layers.append(BasicBlock(in_width, width, stride if block == 0 else 1))
            in_width = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def load_trained(name, path):
    """The torch module with the ONNX model's initializers. The graph's Conv, BatchNormalization and Gemm
    nodes, in order, pair with the module's Conv2d, BatchNorm2d and Linear layers in registration order:
    Conv input[1] is the weight (input[2] the bias, present in lenet5 only); BatchNormalization inputs 1-4 are γ, β,
    running mean and variance, and its epsilon and momentum attributes carry over (ONNX's momentum is the
    running statistics' weight, torch's the batch's: 1 − 0.9); Gemm input[1] is [out,in] with transB=1
    like nn.Linear's weight, else transposed. Shapes and the Conv strides/pads are checked."""
    import onnx  # here, not at the top: pytorch_train.py imports this module without needing onnx
    from onnx import numpy_helper

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


@torch.no_grad()
def evaluate(model, images, labels):
    """Fraction of the test set classified correctly, in batches of 1000."""
    model.eval()
    correct = 0
    for start in range(0, len(labels), EVAL_BATCH):
        x = torch.from_numpy(images[start:start + EVAL_BATCH])
        y = torch.from_numpy(labels[start:start + EVAL_BATCH])
        correct += (model(x).argmax(1) == y).sum().item()
    return correct / len(labels)


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


def fine_tune(model, train_x, train_y, epochs, lr, label, after_step=None, loss_fn=None):
    """Trains as Shrink's fine-tuning does: SGD with momentum 0.9 and per-step cosine annealing to 0,
    batch 128, a fresh torch.randperm order per epoch (seed torch before calling). after_step(step) runs
    after every optimizer step and may return a status for the epoch's line. loss_fn(logits, y, index), given
    the batch's logits, labels and row indices in the training set, returns its loss (default: mean
    cross-entropy; bench/pytorch_distill.py passes the distillation loss). Pruning hooks, where present,
    keep pruned weights at zero in every forward pass (pruning renames weight to weight_orig but keeps the
    Parameter the optimizer holds). Prints one line per epoch to stderr; returns the seconds of each epoch."""
    total = epochs * ((len(train_y) + BATCH - 1) // BATCH)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total), eta_min=0)
    step, status, times = 0, "", []
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(train_y)).numpy()
        start_time = time.perf_counter()
        for start in range(0, len(train_y), BATCH):
            index = order[start:start + BATCH]
            optimizer.zero_grad()
            logits, y = model(torch.from_numpy(train_x[index])), torch.from_numpy(train_y[index])
            loss = nn.functional.cross_entropy(logits, y) if loss_fn is None else loss_fn(logits, y, index)
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
            if after_step is not None:
                status = after_step(step) or status
        times.append(time.perf_counter() - start_time)
        print(f"{label} epoch {epoch + 1}/{epochs}: loss {loss.item():.4f}{', ' + status if status else ''}, {times[-1]:.1f} s",
              file=sys.stderr)
    return times
