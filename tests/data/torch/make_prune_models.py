"""Export small torchvision models, as torch.onnx.export writes them, for the structured-pruning tests.

Creates, in this directory (tests/data/torch/), prune_NAME.onnx with prune_NAME.input.npy (float32, batch 2,
seeded N(0,1)) and prune_NAME.output.npy (the PyTorch eval-mode output on it):

  prune_resnet        torchvision BasicBlocks (16-32-64), default BatchNorm statistics: the folded biases are all
                      zero, and the exporter deduplicates them into shared initializers
  prune_densenet      torchvision DenseNet (growth 8, blocks (2, 2, 2), 16 initial features, bn_size 2): chains of
                      Concat, BatchNorm → ReLU → Conv after them (not folded), transitions with AvgPool
  prune_mobilenet_v3  torchvision mobilenet_v3_small (width 0.25): squeeze-excitation with HardSigmoid, HardSwish,
                      depthwise convolutions; default BatchNorm statistics (deduplicated zero biases)
  prune_efficientnet  torchvision EfficientNet-B0's configuration at width 0.25, depth 0.25: squeeze-excitation
                      with Sigmoid, SiLU (Sigmoid · Mul), depthwise convolutions
  prune_googlenet     torchvision GoogLeNet's Inception and BasicConv2d modules at small widths: four branches
                      (1×1, 1×1 → 3×3, 1×1 → 3×3, MaxPool → 1×1) concatenated
  prune_regnet        torchvision RegNet blocks (AnyStage, ResBottleneckBlock) at small widths: grouped 3×3
                      convolutions with group width 8 and squeeze-excitation (ReLU, Sigmoid)

All: random seeded weights, eval mode, opset 17, input 'input' [batch, 3, 32, 32], output 'output' [batch, 10],
do_constant_folding=True (BatchNorm after a convolution folds into it). Each file is checked with
onnx.checker.check_model and its op types are printed.

Regenerate (from the repository root):

    /usr/bin/python3 tests/data/torch/make_prune_models.py

Requires Debian's python3-torch (1.13), python3-torchvision (0.14), python3-onnx, numpy.
Golden files must only be produced by this script.
"""
import os

import numpy as np
import onnx
import torch
import torch.nn as nn
import torchvision
from torchvision.models.efficientnet import EfficientNet, _efficientnet_conf
from torchvision.models.googlenet import BasicConv2d, Inception
from torchvision.models.regnet import BlockParams, RegNet
from torchvision.models.resnet import BasicBlock

from make_models import randomize_bn  # same directory: one definition of the BatchNorm statistics the tests fold

torch.set_num_threads(2)
OUT_DIR = os.path.dirname(os.path.abspath(__file__))


class ResNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True))
        down = lambda cin, cout: nn.Sequential(nn.Conv2d(cin, cout, 1, 2, bias=False), nn.BatchNorm2d(cout))
        self.layers = nn.Sequential(BasicBlock(16, 16), BasicBlock(16, 16), BasicBlock(16, 32, 2, down(16, 32)),
                                    BasicBlock(32, 64, 2, down(32, 64)))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.layers(self.stem(x))), 1))


class GoogLeNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = BasicConv2d(3, 16, kernel_size=3, padding=1)
        self.a = Inception(16, 8, 8, 16, 4, 8, 8)  # 8 + 16 + 8 + 8 = 40
        self.pool = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.b = Inception(40, 16, 16, 24, 8, 8, 8)  # 16 + 24 + 8 + 8 = 56
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(56, num_classes)

    def forward(self, x):
        x = self.b(self.pool(self.a(self.stem(x))))
        return self.fc(torch.flatten(self.gap(x), 1))


def densenet():
    return torchvision.models.DenseNet(growth_rate=8, block_config=(2, 2, 2), num_init_features=16, bn_size=2, num_classes=10)


def mobilenet_v3():
    return torchvision.models.mobilenet_v3_small(num_classes=10, width_mult=0.25)


def efficientnet():
    setting, last = _efficientnet_conf("efficientnet_b0", width_mult=0.25, depth_mult=0.25)
    return EfficientNet(setting, dropout=0.2, num_classes=10, last_channel=last)


def regnet():
    params = BlockParams(depths=[1, 2], widths=[16, 32], group_widths=[8, 8], bottleneck_multipliers=[1.0, 1.0],
                         strides=[2, 2], se_ratio=0.25)
    return RegNet(params, num_classes=10, stem_width=16)


# name, builder, realistic BatchNorm (True: random statistics; False: PyTorch's defaults, so folded biases are zero)
MODELS = [
    ("prune_resnet", ResNet, False),
    ("prune_densenet", densenet, True),
    ("prune_mobilenet_v3", mobilenet_v3, False),
    ("prune_efficientnet", efficientnet, True),
    ("prune_googlenet", GoogLeNet, True),
    ("prune_regnet", regnet, True),
]


def classifier_init(model):
    # torchvision inits some classifiers with N(0, 0.01): tiny logits. Use the default Linear init instead.
    for m in model.modules():
        if isinstance(m, nn.Linear):
            m.reset_parameters()


def main():
    total = 0
    for i, (name, build, realistic) in enumerate(MODELS):
        torch.manual_seed(2024 + i)
        np.random.seed(2024 + i)
        model = build()
        classifier_init(model)
        if realistic:
            randomize_bn(model, torch.Generator().manual_seed(4242 + i))
        model.eval()
        x = np.random.standard_normal((2, 3, 32, 32)).astype(np.float32)
        xt = torch.from_numpy(x)
        with torch.no_grad():
            y = model(xt).numpy().astype(np.float32)
        path = os.path.join(OUT_DIR, name + ".onnx")
        torch.onnx.export(model, xt, path, opset_version=17, do_constant_folding=True,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
        np.save(os.path.join(OUT_DIR, name + ".input.npy"), x)
        np.save(os.path.join(OUT_DIR, name + ".output.npy"), y)
        m = onnx.load(path)
        onnx.checker.check_model(m)
        ops = sorted({n.op_type for n in m.graph.node})
        uses = {}
        for n in m.graph.node:
            for v in n.input:
                uses[v] = uses.get(v, 0) + 1
        shared = sum(1 for t in m.graph.initializer if uses.get(t.name, 0) > 1)
        identities = sum(1 for n in m.graph.node if n.op_type == "Identity")
        size = os.path.getsize(path)
        total += size
        params = sum(p.numel() for p in model.parameters())
        print(f"{name}: {size} bytes, {params} params, {shared} shared initializers, {identities} Identity nodes")
        print(f"  ops: {', '.join(ops)}")
    print(f"total onnx size: {total} bytes")


if __name__ == "__main__":
    main()
