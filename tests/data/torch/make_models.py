"""Generate small PyTorch-exported ONNX test models with golden inputs/outputs.

Creates, in this directory (tests/data/torch/):

  resnet_tiny.onnx      residual CNN (BasicBlocks, strided block w/ 1x1 downsample), opset 13, input [batch,3,32,32]
  mobilenet_tiny.onnx   torchvision MobileNetV2 (width 0.25, tiny inverted-residual setting), opset 17, input [batch,3,32,32]
  squeezenet_tiny.onnx  torchvision squeezenet Fire modules, maxpool, dropout, conv head, opset 13, input [batch,3,32,32]
  shufflenet_tiny.onnx  torchvision ShuffleNetV2 ([2,1,1], [8,16,32,64,128]), opset 17 (channel shuffle via Reshape/Transpose, chunk as Slice), input [batch,3,32,32]
  transformer_tiny.onnx 2-layer nn.TransformerEncoder (d_model=32, nhead=4, ff=64), mean over seq, Linear(32,10), opset 17
                        so LayerNorm is exported as a single LayerNormalization op; input [batch,seq,32] (seq dynamic too)
  lenet_fmnist.onnx     LeNet on [batch,1,28,28], opset 13, uses x.view(x.size(0), -1) so the graph contains a
                        Shape/Gather/Unsqueeze/Concat/Reshape chain

For every model NAME also writes NAME.input.npy (float32, batch 2, seeded N(0,1)) and
NAME.output.npy (float32 output of the PyTorch model in eval mode on that input).
All models: random (seeded) weights, eval mode, input named 'input', output named 'output',
dynamic batch axis 'batch', do_constant_folding=True. Each exported file is checked with
onnx.checker.check_model and its distinct op types are printed.

Regenerate (from the repo root, /work/main):

    /usr/bin/python3 tests/data/torch/make_models.py

Requires Debian's python3-torch (1.13), python3-torchvision (0.14), python3-onnx, numpy.
Golden files must only be produced by this script.
"""
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torchvision
from torchvision.models.squeezenet import Fire

torch.set_num_threads(2)
OUT_DIR = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------- models
class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + idt)


class ResNetTiny(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True))
        self.layer1 = BasicBlock(16, 16, 1)
        self.layer2 = BasicBlock(16, 32, 2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(32, num_classes)

    def forward(self, x):
        x = self.layer2(self.layer1(self.stem(x)))
        return self.fc(self.flatten(self.pool(x)))


class SqueezeNetTiny(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=1, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(16, 8, 16, 16),
            Fire(32, 8, 16, 16),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(32, 16, 32, 32),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(p=0.5), nn.Conv2d(64, num_classes, 1), nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d((1, 1)))

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


class TransformerTiny(nn.Module):
    def __init__(self, d_model=32, num_classes=10):
        super().__init__()
        layer = nn.TransformerEncoderLayer(d_model=d_model, nhead=4, dim_feedforward=64,
                                           dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.fc = nn.Linear(d_model, num_classes)

    def forward(self, x):
        return self.fc(self.encoder(x).mean(dim=1))


class LeNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.pool = nn.MaxPool2d(2)
        self.relu = nn.ReLU()
        self.fc1 = nn.Linear(256, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x)))
        x = x.view(x.size(0), -1)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)


def mobilenet_tiny():
    # t (expansion), c (channels), n (repeats), s (stride)
    setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 2, 2]]
    m = torchvision.models.MobileNetV2(num_classes=10, width_mult=0.25,
                                       inverted_residual_setting=setting)
    # torchvision inits the classifier with N(0, 0.01) -> tiny logits; use default Linear init instead
    m.classifier[1].reset_parameters()
    return m


def shufflenet_tiny():
    return torchvision.models.ShuffleNetV2(stages_repeats=[2, 1, 1],
                                           stages_out_channels=[8, 16, 32, 64, 128], num_classes=10)


# name, family, builder, input shape (batch 2), opset, extra dynamic axes on input
MODELS = [
    ("resnet_tiny", "ResNet (BasicBlock)", ResNetTiny, (2, 3, 32, 32), 13, {}),
    ("mobilenet_tiny", "MobileNetV2", mobilenet_tiny, (2, 3, 32, 32), 17, {}),
    ("squeezenet_tiny", "SqueezeNet (Fire)", SqueezeNetTiny, (2, 3, 32, 32), 13, {}),
    ("shufflenet_tiny", "ShuffleNetV2", shufflenet_tiny, (2, 3, 32, 32), 17, {}),
    ("transformer_tiny", "Transformer encoder", TransformerTiny, (2, 8, 32), 17, {1: "seq"}),
    ("lenet_fmnist", "LeNet", LeNet, (2, 1, 28, 28), 13, {}),
]


def randomize_bn(model, gen):
    """Give BatchNorm layers non-trivial running stats/affine params so folding is exercised."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=gen) * 0.5 + 0.75)
                m.weight.copy_(torch.rand(n, generator=gen) * 0.5 + 0.75)
                m.bias.copy_(torch.randn(n, generator=gen) * 0.1)


def dims(value_info):
    return [d.dim_param if d.dim_param else d.dim_value for d in value_info.type.tensor_type.shape.dim]


def main():
    rows = []
    for i, (name, family, build, shape, opset, extra_axes) in enumerate(MODELS):
        torch.manual_seed(1234 + i)
        np.random.seed(1234 + i)
        gen = torch.Generator().manual_seed(4321 + i)
        model = build()
        randomize_bn(model, gen)
        model.eval()

        x = np.random.standard_normal(shape).astype(np.float32)
        xt = torch.from_numpy(x)
        with torch.no_grad():
            y = model(xt).numpy().astype(np.float32)

        path = os.path.join(OUT_DIR, name + ".onnx")
        in_axes = {0: "batch", **extra_axes}
        torch.onnx.export(model, xt, path, opset_version=opset, do_constant_folding=True,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": in_axes, "output": {0: "batch"}})
        np.save(os.path.join(OUT_DIR, name + ".input.npy"), x)
        np.save(os.path.join(OUT_DIR, name + ".output.npy"), y)

        m = onnx.load(path)
        onnx.checker.check_model(m)
        ops = sorted({n.op_type for n in m.graph.node})
        got_opset = max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
        in_dims, out_dims = dims(m.graph.input[0]), dims(m.graph.output[0])
        assert in_dims[0] == "batch" and out_dims[0] == "batch", (in_dims, out_dims)
        params = sum(p.numel() for p in model.parameters())
        size = os.path.getsize(path)
        print(f"{name}: opset {got_opset}, {size} bytes, {params} params, input {in_dims}, output {out_dims}")
        print(f"  ops: {', '.join(ops)}")
        rows.append((name, family, got_opset, ops, params, size, in_dims, out_dims))

    total = sum(r[5] for r in rows)
    print(f"total onnx size: {total} bytes")
    return rows


if __name__ == "__main__":
    main()
