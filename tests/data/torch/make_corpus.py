"""Write the real-graphs corpus: torchvision families as a user exports them, reduced to stay small.

For each family NAME this writes, under tests/data/torch/corpus/:

  NAME.random.onnx          torchvision's own initialisation (BatchNorm statistics 0 and 1), exported with
                            torch.onnx.export's defaults (eval mode, constant folding, so BatchNorm is folded,
                            identical initializers deduplicated and routed through Identity nodes; nothing cleaned)
  NAME.random.input.npy     float32, batch 2, seeded N(0, 1)
  NAME.random.output.npy    PyTorch's eval-mode output for that input
  NAME.realbn.onnx          the same weights with BatchNorm statistics estimated on real images: running stats
                            reset, then BN_IMAGES Fashion-MNIST training images in train mode, momentum=None
                            (a cumulative average), no grad
  NAME.realbn.input.npy     float32, batch 2: two Fashion-MNIST test images, preprocessed as below
  NAME.realbn.output.npy    PyTorch's eval-mode output for that input

and manifest.json (model, family, opset, input and output shapes, params, MACs, ops, file sizes).
Images: gray replicated to 3 channels, resized (bilinear, antialias off) to the model's input size, scaled to
[0, 1], normalised with Fashion-MNIST's mean 0.286 and std 0.353 (as datasets/fmnist32.yaml does).
Input 'input' and output 'output', dimension 0 the symbolic 'batch' axis; opset 13, 17 for the transformer.

    /usr/bin/python3 tests/data/torch/make_corpus.py              # the corpus (deterministic; --out DIR elsewhere)
    /usr/bin/python3 tests/data/torch/make_corpus.py --calib DIR  # the bench's calibration and evaluation inputs
                                                                  # (write_calibration), not checked in

Requires Debian's python3-torch 1.13, python3-torchvision 0.14, python3-onnx 1.12 and numpy.
The golden files are only made by this script.
"""
import gzip
import json
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models import efficientnet, mobilenetv3, regnet, segmentation
from torchvision.models.googlenet import BasicConv2d, Inception
from torchvision.models.squeezenet import Fire

torch.set_num_threads(2)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "corpus")
MEAN, STD = 0.286, 0.353
BN_IMAGES = 512
CALIB_IMAGES = 128
FMNIST_DIRS = ["/usr/share/datasets/fashion-mnist"]
CLASSES = 10
SEG_CLASSES = 4


# ---------------------------------------------------------------- models (torchvision's, narrowed)
def resnet18():
    """torchvision's resnet18 layout (7x7 stem, max pool, BasicBlocks [2, 2, 2, 2]), widths 8, 16, 24, 32."""
    m = torchvision.models.ResNet(torchvision.models.resnet.BasicBlock, [2, 2, 2, 2], num_classes=CLASSES)
    widths = [8, 16, 24, 32]
    return _narrow_resnet(m, widths)


def _narrow_resnet(m, widths):
    from torchvision.models.resnet import BasicBlock
    m.inplanes = widths[0]
    m.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
    m.bn1 = nn.BatchNorm2d(widths[0])
    m.layer1 = m._make_layer(BasicBlock, widths[0], 2)
    m.layer2 = m._make_layer(BasicBlock, widths[1], 2, stride=2)
    m.layer3 = m._make_layer(BasicBlock, widths[2], 2, stride=2)
    m.layer4 = m._make_layer(BasicBlock, widths[3], 2, stride=2)
    m.fc = nn.Linear(widths[3], CLASSES)
    for mod in m.modules():  # ResNet's own initialisation of the replaced layers
        if isinstance(mod, nn.Conv2d):
            nn.init.kaiming_normal_(mod.weight, mode="fan_out", nonlinearity="relu")
    return m


def mobilenet_v2():
    m = torchvision.models.MobileNetV2(num_classes=CLASSES, width_mult=0.15)
    # the 1280-channel head stays 1280 below width 1; narrow it to 128 with torchvision's block
    cin = m.features[-1][0].in_channels
    m.features[-1] = torchvision.ops.Conv2dNormActivation(cin, 128, kernel_size=1, activation_layer=nn.ReLU6)
    m.classifier[1] = nn.Linear(128, CLASSES)
    nn.init.kaiming_normal_(m.features[-1][0].weight, mode="fan_out")
    nn.init.normal_(m.classifier[1].weight, 0, 0.01)
    nn.init.zeros_(m.classifier[1].bias)
    return m


def mobilenet_v3_small():
    return torchvision.models.mobilenet_v3_small(num_classes=CLASSES, width_mult=0.25, reduced_tail=True)


def efficientnet_b0():
    setting, last = efficientnet._efficientnet_conf("efficientnet_b0", width_mult=0.15, depth_mult=0.5)
    return efficientnet.EfficientNet(setting, dropout=0.2, last_channel=128, num_classes=CLASSES)


def regnet_y_400mf():
    # regnet_y_400mf is depth 16, w_0 48, w_a 27.89, w_m 2.09, group width 8, SE 0.25; here narrower and shallower
    params = regnet.BlockParams.from_init_params(depth=8, w_0=16, w_a=8.0, w_m=2.0, group_width=8, se_ratio=0.25)
    return regnet.RegNet(params, num_classes=CLASSES, stem_width=16)


def densenet121():
    """DenseNet-121's blocks (6, 12, 24, 16): growth 4 instead of 32, 16 initial features, bottleneck 2x."""
    return torchvision.models.DenseNet(growth_rate=4, block_config=(6, 12, 24, 16), num_init_features=16,
                                       bn_size=2, num_classes=CLASSES)


class GoogLeNetSmall(nn.Module):
    """torchvision's GoogLeNet (no aux heads, no input transform) with every width divided by 8."""

    def __init__(self):
        super().__init__()
        d = lambda *c: [max(1, x // 8) for x in c]
        self.conv1 = BasicConv2d(3, 8, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(8, 8, kernel_size=1)
        self.conv3 = BasicConv2d(8, 24, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(24, *d(64, 96, 128, 16, 32, 32))
        self.inception3b = Inception(32, *d(128, 128, 192, 32, 96, 64))
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = Inception(60, *d(192, 96, 208, 16, 48, 64))
        self.inception4b = Inception(64, *d(160, 112, 224, 24, 64, 64))
        self.inception4c = Inception(64, *d(128, 128, 256, 24, 64, 64))
        self.inception4d = Inception(64, *d(112, 144, 288, 32, 64, 64))
        self.inception4e = Inception(66, *d(256, 160, 320, 32, 128, 128))
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = Inception(104, *d(256, 160, 320, 32, 128, 128))
        self.inception5b = Inception(104, *d(384, 192, 384, 48, 128, 128))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=0.2)
        self.fc = nn.Linear(128, CLASSES)
        for m in self.modules():  # torchvision's init_weights
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)

    def forward(self, x):
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        for name in ("inception4a", "inception4b", "inception4c", "inception4d", "inception4e"):
            x = getattr(self, name)(x)
        x = self.inception5b(self.inception5a(self.maxpool4(x)))
        return self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))


def shufflenet_v2():
    return torchvision.models.ShuffleNetV2(stages_repeats=[4, 8, 4], stages_out_channels=[8, 16, 32, 64, 128],
                                           num_classes=CLASSES)


class SqueezeNet11Small(nn.Module):
    """torchvision's squeezenet1_1 (Fire modules, ceil-mode pools, conv classifier) at 1/4 of its widths."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, kernel_size=3, stride=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(16, 4, 16, 16), Fire(32, 4, 16, 16),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(32, 8, 32, 32), Fire(64, 8, 32, 32),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(64, 12, 48, 48), Fire(96, 12, 48, 48), Fire(96, 16, 64, 64), Fire(128, 16, 64, 64))
        final_conv = nn.Conv2d(128, CLASSES, kernel_size=1)
        self.classifier = nn.Sequential(nn.Dropout(p=0.5), final_conv, nn.ReLU(inplace=True),
                                        nn.AdaptiveAvgPool2d((1, 1)))
        for m in self.modules():  # torchvision's SqueezeNet initialisation
            if isinstance(m, nn.Conv2d):
                if m is final_conv:
                    nn.init.normal_(m.weight, mean=0.0, std=0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


def mnasnet():
    """torchvision's MNASNet at alpha 0.25 with fewer repeats per stack and a 128-channel head."""
    from torchvision.models.mnasnet import _BN_MOMENTUM, _get_depths, _stack
    m = torchvision.models.MNASNet(alpha=0.25, num_classes=CLASSES)
    d = _get_depths(0.25)
    stacks = [(3, 2, 3, 1), (5, 2, 3, 2), (5, 2, 6, 2), (3, 1, 6, 1), (5, 2, 6, 1), (3, 1, 6, 1)]
    for j, (k, s, e, r) in enumerate(stacks):  # torchvision's repeats are 3, 3, 3, 2, 4, 1
        m.layers[8 + j] = _stack(d[j + 1], d[j + 2], k, s, e, r, _BN_MOMENTUM)
    # MNASNet's 1280-channel head does not scale with alpha; narrow it to 128
    m.layers[14] = nn.Conv2d(d[7], 128, 1, padding=0, stride=1, bias=False)
    m.layers[15] = nn.BatchNorm2d(128, momentum=_BN_MOMENTUM)
    m.classifier[1] = nn.Linear(128, CLASSES)
    for mod in m.modules():  # MNASNet's own initialisation
        if isinstance(mod, nn.Conv2d):
            nn.init.kaiming_normal_(mod.weight, mode="fan_out", nonlinearity="relu")
    nn.init.kaiming_uniform_(m.classifier[1].weight, mode="fan_out", nonlinearity="sigmoid")
    nn.init.zeros_(m.classifier[1].bias)
    return m


def vit():
    m = torchvision.models.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=4,
                                             hidden_dim=48, mlp_dim=96, num_classes=CLASSES)
    # torchvision zeroes the head, so every output would be 0 whatever the input: nn.Linear's own initialisation
    m.heads.head.reset_parameters()
    return m


class SegmentationOut(nn.Module):
    """LR-ASPP on a narrowed, dilated MobileNetV3-Large; returns the 'out' map, not the dict."""

    def __init__(self):
        super().__init__()
        backbone = torchvision.models.mobilenet_v3_large(width_mult=0.25, dilated=True, reduced_tail=True).features
        stages = [0] + [i for i, b in enumerate(backbone) if getattr(b, "_is_cn", False)] + [len(backbone) - 1]
        low, high = stages[-4], stages[-1]
        body = torchvision.models._utils.IntermediateLayerGetter(
            backbone, return_layers={str(low): "low", str(high): "high"})
        self.net = segmentation.lraspp.LRASPP(body, backbone[low].out_channels, backbone[high].out_channels,
                                              SEG_CLASSES, inter_channels=32)

    def forward(self, x):
        return self.net(x)["out"]


# name, family, builder, input size (square), opset
MODELS = [
    ("resnet18", "ResNet-18 (BasicBlock [2,2,2,2], widths 8-32)", resnet18, 32, 13),
    ("mobilenet_v2", "MobileNetV2 (width 0.15, head 128)", mobilenet_v2, 32, 13),
    ("mobilenet_v3_small", "MobileNetV3-Small (width 0.25, reduced tail; SE, Hardswish)", mobilenet_v3_small, 32, 13),
    ("efficientnet_b0", "EfficientNet-B0 (width 0.15, depth 0.5, head 128; SE, SiLU)", efficientnet_b0, 32, 13),
    ("regnet_y_400mf", "RegNetY (depth 8, w0 16, group width 8; SE)", regnet_y_400mf, 32, 13),
    ("densenet121", "DenseNet-121 blocks (growth 4, 16 initial features)", densenet121, 32, 13),
    ("googlenet", "GoogLeNet (widths / 8, no aux heads)", GoogLeNetSmall, 32, 13),
    ("shufflenet_v2", "ShuffleNetV2 (repeats [4,8,4], channels 8-128)", shufflenet_v2, 32, 13),
    ("squeezenet1_1", "SqueezeNet 1.1 (widths / 4)", SqueezeNet11Small, 32, 13),
    ("mnasnet", "MNASNet (alpha 0.25, repeats 1-2, head 128)", mnasnet, 32, 13),
    ("vit", "VisionTransformer (32x32, patch 8, 2 layers, 4 heads, hidden 48, MLP 96)", vit, 32, 17),
    ("lraspp_mobilenet_v3", "LR-ASPP on MobileNetV3-Large (width 0.25, dilated; 4 classes)", SegmentationOut, 64, 13),
]


# ---------------------------------------------------------------- data
def read_idx(name):
    for d in FMNIST_DIRS:
        for path in (os.path.join(d, name), os.path.join(d, name + ".gz")):
            if os.path.exists(path):
                with (gzip.open(path) if path.endswith(".gz") else open(path, "rb")) as f:
                    raw = f.read()
                ndim = raw[3]
                shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
                return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)
    sys.exit(f"make_corpus: no Fashion-MNIST '{name}' in {FMNIST_DIRS}")


def preprocess(images, size):
    """uint8 [n, 28, 28] -> float32 [n, 3, size, size]: gray to 3 channels, bilinear resize, mean/std."""
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    if size != x.shape[-1]:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    x = (x - MEAN) / STD
    return x.repeat(1, 3, 1, 1).contiguous()


def estimate_bn(model, images):
    """Reset every BatchNorm's running statistics and estimate them on images (cumulative average)."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    model.train()
    with torch.no_grad():
        for i in range(0, len(images), 64):
            model(images[i:i + 64])
    model.eval()


# ---------------------------------------------------------------- export and manifest
def count_macs(model, x):
    macs = [0]

    def hook(mod, inp, out):
        if isinstance(mod, nn.Conv2d):
            k = mod.weight.shape[1] * mod.weight.shape[2] * mod.weight.shape[3]
            macs[0] += out.numel() // out.shape[0] * k
        elif isinstance(mod, nn.Linear):
            macs[0] += out.numel() // out.shape[0] * mod.in_features
        elif isinstance(mod, nn.MultiheadAttention):
            seq, d = out[0].shape[1], out[0].shape[2]  # batch_first in VisionTransformer; called with keywords
            macs[0] += 3 * seq * d * d + 2 * seq * seq * d + seq * d * d

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear, nn.MultiheadAttention))]
    with torch.no_grad():
        model(x[:1])
    for h in handles:
        h.remove()
    return macs[0]


def dims(value_info):
    return [d.dim_param if d.dim_param else d.dim_value for d in value_info.type.tensor_type.shape.dim]


def export(model, x, stem, opset):
    xt = torch.from_numpy(x)
    with torch.no_grad():
        y = model(xt).numpy().astype(np.float32)
    path = os.path.join(OUT_DIR, stem + ".onnx")
    torch.onnx.export(model, xt, path, opset_version=opset, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    np.save(os.path.join(OUT_DIR, stem + ".input.npy"), x)
    np.save(os.path.join(OUT_DIR, stem + ".output.npy"), y)
    m = onnx.load(path)
    onnx.checker.check_model(m)
    assert dims(m.graph.input[0])[0] == "batch" and dims(m.graph.output[0])[0] == "batch"
    identities = sum(1 for n in m.graph.node if n.op_type == "Identity")
    # torchvision's initialisation with BatchNorm statistics 0 and 1 can shrink the signal to nothing in deep
    # networks: then every sample gets the same output, which the manifest says
    varies = bool(np.abs(y - y[:1]).max() > 1e-4 * max(1e-12, np.abs(y).max()))
    return m, os.path.getsize(path), identities, list(y.shape), varies


def build(i, builder, size):
    torch.manual_seed(1000 + i)
    model = builder()
    model.eval()
    rng = np.random.default_rng(2000 + i)
    x_random = rng.standard_normal((2, 3, size, size)).astype(np.float32)
    return model, x_random


def make_one(i, entry, train_images, test_images):
    name, family, builder, size, opset = entry
    model, x_random = build(i, builder, size)
    m, random_size, random_ids, out_shape, random_varies = export(model, x_random, name + ".random", opset)
    estimate_bn(model, preprocess(train_images[:BN_IMAGES], size))
    x_real = preprocess(test_images[:2], size).numpy()
    _, realbn_size, realbn_ids, _, realbn_varies = export(model, x_real, name + ".realbn", opset)
    row = {
        "model": name, "family": family, "opset": opset,
        "input": ["batch", 3, size, size], "output": ["batch"] + out_shape[1:],
        "params": sum(p.numel() for p in model.parameters()),
        "macs": count_macs(model, torch.from_numpy(x_random)),
        "ops": sorted({n.op_type for n in m.graph.node}),
        "nodes": len(m.graph.node),
        "random": {"file": name + ".random.onnx", "bytes": random_size, "identity_nodes": random_ids,
                   "output_depends_on_input": random_varies},
        "realbn": {"file": name + ".realbn.onnx", "bytes": realbn_size, "identity_nodes": realbn_ids,
                   "output_depends_on_input": realbn_varies},
    }
    print(f"{name}: {row['params']:,} params, {row['macs']:,} MACs, {row['nodes']} nodes, "
          f"{random_size + realbn_size:,} bytes, Identity {random_ids}/{realbn_ids}", flush=True)
    return row


def write_calibration(out_dir):
    """For the bench: CALIB_IMAGES samples to calibrate on and as many others to measure fidelity on, per input size:
    Fashion-MNIST test images preprocessed as the realbn inputs (fmnistS.calib.npy, fmnistS.eval.npy) and seeded
    N(0, 1) inputs like the random form's (randomS.calib.npy, randomS.eval.npy)."""
    os.makedirs(out_dir, exist_ok=True)
    images = read_idx("t10k-images-idx3-ubyte")
    for size in sorted({e[3] for e in MODELS}):
        rng = np.random.default_rng(size)
        sets = {
            "fmnist%d.calib" % size: preprocess(images[1000:1000 + CALIB_IMAGES], size).numpy(),
            "fmnist%d.eval" % size: preprocess(images[2000:2000 + CALIB_IMAGES], size).numpy(),
            "random%d.calib" % size: rng.standard_normal((CALIB_IMAGES, 3, size, size)).astype(np.float32),
            "random%d.eval" % size: rng.standard_normal((CALIB_IMAGES, 3, size, size)).astype(np.float32),
        }
        for stem, x in sets.items():
            np.save(os.path.join(out_dir, stem + ".npy"), x)
            print(os.path.join(out_dir, stem + ".npy"))


def main(argv):
    global OUT_DIR
    if len(argv) == 2 and argv[0] == "--calib":
        write_calibration(argv[1])
        return
    if len(argv) >= 2 and argv[0] == "--out":  # elsewhere, e.g. to check that a rerun writes the same bytes
        OUT_DIR, argv = argv[1], argv[2:]
    known = [e[0] for e in MODELS]
    if any(a not in known for a in argv):
        sys.exit(f"usage: make_corpus.py [--out DIR] [NAME...] | --calib DIR; NAME is one of {', '.join(known)}")
    os.makedirs(OUT_DIR, exist_ok=True)
    train_images = read_idx("train-images-idx3-ubyte")
    test_images = read_idx("t10k-images-idx3-ubyte")
    path = os.path.join(OUT_DIR, "manifest.json")
    # with names, only those are written again (each model's seeds depend on its place in MODELS, not on the others)
    old = {r["model"]: r for r in json.load(open(path))["models"]} if argv and os.path.exists(path) else {}
    rows = [make_one(i, e, train_images, test_images) if not argv or e[0] in argv else old[e[0]]
            for i, e in enumerate(MODELS)]
    manifest = {"bn_images": BN_IMAGES, "mean": MEAN, "std": STD, "models": rows}
    with open(path, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    total = sum(r["random"]["bytes"] + r["realbn"]["bytes"] for r in rows)
    print(f"total onnx size: {total:,} bytes")


if __name__ == "__main__":
    main(sys.argv[1:])
