"""Small torchvision exports on which static int8 used to fail: the regression models of the quantizer.

Writes, in this directory (tests/data/torch/), each with input 'input' [batch,3,32,32] and output 'logits' [batch,10]:

  quant_squeeze.onnx    torchvision Fire modules and SqueezeNet's classifier (Dropout, Conv, ReLU,
                        AdaptiveAvgPool, flatten), opset 13: the graph output is the flattened pool of a
                        ReLU'd Conv ("cycle through node 'logits_QuantizeLinear'")
  quant_inception.onnx  torchvision GoogLeNet Inception blocks (BasicConv2d = Conv+BN+ReLU, 3x3 pool branch
                        with ceil_mode) with torchvision's GoogLeNet initialisation (weights N(0, 0.01) truncated,
                        BatchNorm statistics left at 0 and 1), opset 13: the activations shrink layer by layer to
                        about 1e-7, next to the classifier's bias ("every output collapsed to about zero")
  quant_mobilenet.onnx  torchvision mobilenet_v2 (width 0.35), trained one epoch on 6,000 Fashion-MNIST
                        training images at 3x32x32 (SGD, one-cycle),
                        opset 13 (entropy calibration "wrecks" it)

and quant_fmnist.npz: 'input' (float32 [128,3,32,32], Fashion-MNIST test images 0..255 resized to 32x32,
three equal channels, normalised with mean 0.2860 and std 0.3530) and 'labels' (int64 [128]).
Weights are seeded. The golden outputs of each model on the
first 8 images are written as NAME.output.npy (float32, PyTorch eval mode).

Regenerate (from the repo root): /usr/bin/python3 tests/data/torch/make_quant_models.py [NAME…]
Needs Debian's python3-torch 1.13, python3-torchvision 0.14, python3-onnx and numpy, and the
Fashion-MNIST files of /usr/share/datasets/fashion-mnist (or FASHION_MNIST_DIR).
"""
import gzip
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models.googlenet import BasicConv2d, Inception
from torchvision.models.squeezenet import Fire

torch.set_num_threads(2)
OUT_DIR = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
MEAN, STD = 0.2860, 0.3530


def idx(name):
    with gzip.open(os.path.join(DATA_DIR, name), "rb") as f:
        data = f.read()
    if name.find("labels") >= 0:
        return np.frombuffer(data, np.uint8, offset=8).astype(np.int64)
    return np.frombuffer(data, np.uint8, offset=16).reshape(-1, 28, 28)


def images(raw):
    x = torch.from_numpy(raw.astype(np.float32) / 255.0).unsqueeze(1)
    x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
    return ((x - MEAN) / STD).repeat(1, 3, 1, 1).contiguous()


class SqueezeTiny(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(16, 8, 16, 16), Fire(32, 8, 16, 16),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(32, 16, 24, 24),
        )
        final = nn.Conv2d(48, num_classes, 1)
        self.classifier = nn.Sequential(nn.Dropout(0.5), final, nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((1, 1)))

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


class InceptionTiny(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = BasicConv2d(3, 16, kernel_size=3, stride=1, padding=1)
        self.pool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.a = Inception(16, 8, 8, 12, 4, 4, 4)      # 28 channels
        self.b = Inception(28, 12, 8, 16, 4, 8, 8)     # 44
        self.pool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.c = Inception(44, 16, 12, 24, 4, 8, 8)    # 56
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(56, num_classes)
        for m in self.modules():  # torchvision's GoogLeNet init_weights
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)

    def forward(self, x):
        x = self.pool1(self.conv1(x))
        x = self.pool2(self.b(self.a(x)))
        x = self.c(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def train(model, x, y, epochs, lr):
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=4e-5, nesterov=True)
    steps = epochs * (len(x) // 64)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    gen = torch.Generator().manual_seed(1)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x) - 63, 64):
            b = order[i:i + 64]
            opt.zero_grad()
            F.cross_entropy(model(x[b]), y[b]).backward()
            opt.step()
            sched.step()
    model.eval()


def export(model, name, test_x, test_y):
    path = os.path.join(OUT_DIR, name + ".onnx")
    torch.onnx.export(model, test_x[:2], path, opset_version=13, do_constant_folding=True,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    onnx.checker.check_model(onnx.load(path))
    with torch.no_grad():
        out = model(test_x)
        np.save(os.path.join(OUT_DIR, name + ".output.npy"), out[:8].numpy().astype(np.float32))
    acc = (out.argmax(1) == test_y).float().mean().item()
    ops = sorted({n.op_type for n in onnx.load(path).graph.node})
    print(f"{name}: {os.path.getsize(path) // 1024} KB, accuracy on the {len(test_y)} test images {acc:.3f}, ops {','.join(ops)}")


def main(names):
    torch.manual_seed(0)
    train_x, train_y = images(idx("train-images-idx3-ubyte.gz")[:12000]), torch.from_numpy(idx("train-labels-idx1-ubyte.gz")[:12000])
    test_x, test_y = images(idx("t10k-images-idx3-ubyte.gz")[:128]), torch.from_numpy(idx("t10k-labels-idx1-ubyte.gz")[:128])
    np.savez(os.path.join(OUT_DIR, "quant_fmnist.npz"), input=test_x.numpy().astype(np.float32), labels=test_y.numpy())

    if "quant_squeeze" in names:
        torch.manual_seed(1)
        export(SqueezeTiny().eval(), "quant_squeeze", test_x, test_y)
    if "quant_inception" in names:
        torch.manual_seed(2)
        export(InceptionTiny().eval(), "quant_inception", test_x, test_y)
    if "quant_mobilenet" in names:
        torch.manual_seed(3)
        mobilenet = torchvision.models.mobilenet_v2(width_mult=0.35, num_classes=10)
        train(mobilenet, train_x[:6000], train_y[:6000], epochs=1, lr=0.05)
        export(mobilenet, "quant_mobilenet", test_x, test_y)


if __name__ == "__main__":
    # All three, or the ones named: make_quant_models.py quant_inception
    main(sys.argv[1:] or ["quant_squeeze", "quant_inception", "quant_mobilenet"])
