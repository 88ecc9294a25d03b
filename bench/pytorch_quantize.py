# Run: /usr/bin/python3 bench/pytorch_quantize.py --model all   (Debian's python3-torch 1.13 and python3-onnx)
"""Peer benchmark: post-training static int8 quantization of the trained lenet5 and vgg-small with PyTorch eager mode.

The job of `shrink quantize MODEL.onnx --per-channel --calibration minmax --calib-samples 512 --data DIR
--bench-batch 1,256` done the way torch.ao.quantization does it, on the same trained weights (read from
the ONNX files of bench/train_accuracy.sh). The steps: the float module in eval mode; fuse_modules on
every conv+bn+relu, conv+bn, conv+relu and linear+relu run (BatchNorm folded into the convolution, ReLU
fused into the layer before it, as Shrink's fold-batchnorm and fused ReLUs do; lenet5 has no activation
after its convolutions, so only its fc+relu fuses); QuantStub before and DeQuantStub after the whole
network; qconfig = get_default_qconfig(engine) with the quantized engine 'onednn' where this torch has it
(else 'x86', else 'fbgemm'); prepare; calibration on the first --calib-samples training images in
batches of 64; convert. What matches Shrink: int8 weights symmetric per output channel (onednn's default
weight observer is PerChannelMinMaxObserver, qint8, per_channel_symmetric; fbgemm's and x86's are too),
uint8 asymmetric per-tensor activations (quint8, per_tensor_affine, reduce_range=False on onednn, so all
256 levels, as Shrink on VNNI), the same 512 calibration images, accuracy on the 10,000 Fashion-MNIST test
images, p50 latency at batch 1 and 256 with 2 intra-op threads (10 warm-up runs, then 50 timed runs at
batch 1 and 20 at 256, torch.no_grad). What differs:
- Activation calibration. The default qconfig observes activations with HistogramObserver, which picks
  the range minimizing the L2 quantization error over a histogram, not the plain min/max of Shrink's
  --calibration minmax. --calibration minmax swaps in MinMaxObserver (same dtype and reduce_range), whose
  scale (max − min)/255 over a range widened to hold 0 and zero point round(−min/scale) are Shrink's.
- Weight range. torch's symmetric qint8 uses [−128, 127] with scale max|w|/127.5; Shrink uses [−127, 127]
  with scale max|w|/127.
- Biases. Shrink stores int32 biases (scale = input scale × weight scale) in the ONNX file; torch keeps
  float biases in the packed weights and the kernel quantizes them when it runs.
- The logits. Eager mode quantizes everything between the stubs, so the classifier's output is quint8
  (with its own observer) until DeQuantStub; Shrink leaves the last Gemm's output in float (QGemm with a
  float output). MaxPool, Flatten and (eval-mode) Dropout run on quantized tensors in both.
- The runtime. Shrink measures its QDQ model in ONNX Runtime (QLinearConv/QGemm, MLAS kernels, graph
  optimizations); here PyTorch's eager interpreter runs one quantized op per module (oneDNN kernels).
  Latency rows compare the float module (unfused, as loaded) with the int8 one, both in eager mode.
state_dict_bytes: torch.save of each module's state_dict into memory (the float one with its BatchNorm
parameters and statistics; the int8 one with packed int8 weights, float biases, scales and zero points).
One JSON line per model goes to stdout, progress to stderr.
"""
import argparse
import os
import sys

# Parse first: the thread count must be in the environment before torch (and its BLAS) is imported.
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model", choices=["lenet5", "vgg-small", "all"], default="all")
parser.add_argument("--trained", default="out/train-accuracy")
parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
parser.add_argument("--calib-samples", type=int, default=512, help="calibrate on the first N training images")
parser.add_argument("--calibration", choices=["default", "minmax"], default="default",
                    help="activation observer: the engine's default qconfig (HistogramObserver) or MinMaxObserver, "
                         "like Shrink's --calibration minmax")
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--seed", type=int, default=0, help="seed of the random latency inputs")
parser.add_argument("--bench-batch", default="1,256", help="batch sizes of the latency comparison ('none' to skip)")
parser.add_argument("--limit-test", type=int, default=None, help="evaluate on the first N test images only (smoke tests)")
args = parser.parse_args()
os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)

import copy
import io
import json

import torch
from torch import nn
from torch.ao import quantization as tq

from fmnist_torch import evaluate, latency, load, load_trained

CALIB_BATCH = 64
FUSIBLE = [(nn.Conv2d, nn.BatchNorm2d, nn.ReLU), (nn.Conv2d, nn.BatchNorm2d), (nn.Conv2d, nn.ReLU), (nn.Linear, nn.ReLU)]


def pick_engine():
    """onednn, else x86, else fbgemm: the first this torch build supports."""
    supported = torch.backends.quantized.supported_engines
    for engine in ("onednn", "x86", "fbgemm"):
        if engine in supported:
            return engine
    sys.exit(f"no x86 quantized engine in this torch build (supported: {supported})")


def qconfig_for(engine):
    """The engine's default qconfig, or with --calibration minmax its activation observer replaced by a
    MinMaxObserver of the same dtype, qscheme and reduce_range."""
    qconfig = tq.get_default_qconfig(engine)
    if args.calibration == "minmax":
        default = qconfig.activation()
        qconfig = tq.QConfig(activation=tq.MinMaxObserver.with_args(
            dtype=default.dtype, qscheme=default.qscheme, reduce_range=default.reduce_range), weight=qconfig.weight)
    return qconfig


def describe(observer_factory):
    """e.g. 'PerChannelMinMaxObserver(qint8, per_channel_symmetric)'."""
    o = observer_factory()
    text = f"{type(o).__name__}({str(o.dtype).replace('torch.', '')}, {str(o.qscheme).replace('torch.', '')}"
    return text + (", reduce_range" if getattr(o, "reduce_range", False) else "") + ")"


def fuse(model):
    """Fuses, in place, every run of the Sequential's children that matches a FUSIBLE pattern (longest first).
    In eval mode fuse_modules folds BatchNorm into the convolution's weight and bias. Returns the groups."""
    children = list(model.named_children())
    groups, i = [], 0
    while i < len(children):
        for pattern in FUSIBLE:
            run = children[i:i + len(pattern)]
            if len(run) == len(pattern) and all(type(m) is t for (_, m), t in zip(run, pattern)):
                groups.append([n for n, _ in run])
                i += len(pattern)
                break
        else:
            i += 1
    if groups:
        tq.fuse_modules(model, groups, inplace=True)
    return groups


@torch.no_grad()
def quantize(float_model, engine, calib_x, name):
    """Fused, stubbed, prepared, calibrated and converted copy of float_model (left untouched)."""
    fused = copy.deepcopy(float_model).eval()
    groups = fuse(fused)
    probe = torch.from_numpy(calib_x[:64])
    assert torch.allclose(fused(probe), float_model.eval()(probe), rtol=1e-4, atol=1e-4), f"{name}: fusion changed the outputs"
    print(f"{name} fused {groups}", file=sys.stderr)
    model = nn.Sequential(tq.QuantStub(), fused, tq.DeQuantStub()).eval()
    model.qconfig = qconfig_for(engine)
    tq.prepare(model, inplace=True)
    for start in range(0, len(calib_x), CALIB_BATCH):
        model(torch.from_numpy(calib_x[start:start + CALIB_BATCH]))
    tq.convert(model, inplace=True)
    return model


def state_dict_bytes(model):
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes


def main():
    batches = [] if args.bench_batch == "none" else [int(b) for b in args.bench_batch.split(",")]
    torch.set_num_threads(args.threads)
    engine = pick_engine()
    torch.backends.quantized.engine = engine
    train_x, _ = load(args.data, "train")
    if not 0 < args.calib_samples <= len(train_x):
        parser.error(f"--calib-samples must be in [1, {len(train_x)}], got {args.calib_samples}")
    calib_x = train_x[:args.calib_samples]
    test_x, test_y = load(args.data, "t10k")
    if args.limit_test is not None:
        test_x, test_y = test_x[:args.limit_test], test_y[:args.limit_test]
    qconfig = qconfig_for(engine)
    print(f"calibration: {calib_x.shape}, test: {test_x.shape}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"engine {engine} of {torch.backends.quantized.supported_engines}, activations {describe(qconfig.activation)}, "
          f"weights {describe(qconfig.weight)}", file=sys.stderr)
    for name in ["lenet5", "vgg-small"] if args.model == "all" else [args.model]:
        path = os.path.join(args.trained, f"{name}.onnx")
        if not os.path.isfile(path):
            sys.exit(f"missing {path}: run bench/train_accuracy.sh first")
        float_model = load_trained(name, path).eval()
        float_accuracy = evaluate(float_model, test_x, test_y)
        int8_model = quantize(float_model, engine, calib_x, name)
        int8_accuracy = evaluate(int8_model, test_x, test_y)
        sizes = {"float": state_dict_bytes(float_model), "int8": state_dict_bytes(int8_model)}
        print(f"{name} accuracy: float {float_accuracy:.4f}, int8 {int8_accuracy:.4f}; state_dict bytes: "
              f"float {sizes['float']:,}, int8 {sizes['int8']:,}", file=sys.stderr)

        times_ms = {"float": {}, "int8": {}}
        for b in batches:
            for label, m in (("float", float_model), ("int8", int8_model)):
                times_ms[label][str(b)] = round(latency(m, b, args.seed), 3)
            print(f"{name} p50 latency at batch {b}: float {times_ms['float'][str(b)]} ms, "
                  f"int8 {times_ms['int8'][str(b)]} ms", file=sys.stderr)
        record = {
            "engine": engine, "model": name, "calibration": args.calibration,
            "qconfig": {"activation": describe(qconfig.activation), "weight": describe(qconfig.weight)},
            "float_accuracy": round(float_accuracy, 4), "int8_accuracy": round(int8_accuracy, 4),
            "calib_samples": len(calib_x), "test_samples": len(test_y), "threads": args.threads,
            "latency_ms": times_ms, "state_dict_bytes": sizes}
        print(json.dumps(record, separators=(",", ":")), flush=True)


if __name__ == "__main__":
    main()
