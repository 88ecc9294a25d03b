# Run: /usr/bin/python3 bench/pytorch_quantize_real.py data|train|fx ...   (Debian's python3-torch 1.13, python3-torchvision 0.14)
"""The PyTorch side of bench/quantize_real.sh: trained torchvision models on Fashion-MNIST at 3x32x32, and PyTorch's int8 of them.

`data --out DIR` writes what both sides read, preprocessed once (as datasets/fmnist32.yaml: gray replicated to 3
channels, resized 28 -> 32 bilinear without antialias, scaled to [0, 1], normalised with mean 0.286 and std 0.353 —
tests/data/torch/make_corpus.py's preprocess): DIR/test.npz (the 10,000 test images as 'input', float32 [N,3,32,32],
and their 'labels', int64) and DIR/calib.npy (the first 128 training images, float32).

`train --model M --out DIR` trains torchvision's M (resnet18, mobilenet_v2 or efficientnet_b0; num_classes=10, full
width, torchvision's own initialisation) on the 60,000 training images: SGD momentum 0.9 (nesterov), weight decay
5e-4 (none on BatchNorm and biases), lr --lr with per-step cosine annealing to 0, batch 128, random horizontal flip,
seeded; --epochs epochs (fractional: a seeded random part of the training set; on 2 shared cores a full epoch takes
12-50 minutes, so quantize_real.sh trains a fraction of one); --limit N images per epoch for a timing run. Saves DIR/M.pt (skipped when it exists: the models are cached) and exports DIR/M.onnx
(opset 13, dynamic batch; constant folding, so BatchNorm is folded as torch.onnx.export does by default).

`fx --model M --out DIR` loads DIR/M.pt and reports, on DIR/test.npz, the float accuracy and PyTorch's FX graph mode
int8 (bench/fx_int8.py: onednn, per-channel int8 weights, uint8 activations) calibrated on DIR/calib.npy with its
default HistogramObserver and with MinMaxObserver: accuracy, and the output cosine to the float model (each image's
logits, averaged, as Shrink's fidelity computes it). One JSON line to stdout; progress to stderr.
"""
import argparse
import os
import sys

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("stage", choices=["data", "train", "fx"])
parser.add_argument("--model", choices=["resnet18", "mobilenet_v2", "efficientnet_b0"])
parser.add_argument("--out", required=True)
parser.add_argument("--fmnist", default="/usr/share/datasets/fashion-mnist")
parser.add_argument("--epochs", type=float, default=3)
parser.add_argument("--lr", type=float, default=0.05)
parser.add_argument("--limit", type=int, default=None, help="train on N images per epoch (timing runs; nothing saved)")
parser.add_argument("--calib-samples", type=int, default=128)
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)

import json
import math
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "data", "torch"))
import make_corpus  # noqa: E402  (read_idx, preprocess: the corpus's Fashion-MNIST preprocessing)
from fx_int8 import quantize_fx  # noqa: E402

BATCH = 128


def log(text):
    print(text, file=sys.stderr, flush=True)


def images(split):
    make_corpus.FMNIST_DIRS = [args.fmnist]
    prefix = "train" if split == "train" else "t10k"
    x = make_corpus.read_idx(f"{prefix}-images-idx3-ubyte")
    y = make_corpus.read_idx(f"{prefix}-labels-idx1-ubyte").astype(np.int64)
    return x, y


def preprocess(raw):
    return torch.cat([make_corpus.preprocess(raw[i:i + 2000], 32) for i in range(0, len(raw), 2000)])


def build(name):
    return getattr(torchvision.models, name)(num_classes=10)


def stage_data():
    x, y = images("test")
    np.savez(os.path.join(args.out, "test.npz"), input=preprocess(x).numpy(), labels=y)
    train_x, _ = images("train")
    np.save(os.path.join(args.out, "calib.npy"), preprocess(train_x[:args.calib_samples]).numpy())
    log(f"wrote {args.out}/test.npz ({len(y)} images) and calib.npy ({args.calib_samples})")


def stage_train():
    path = os.path.join(args.out, args.model + ".pt")
    if os.path.exists(path) and args.limit is None:
        log(f"{path} exists: kept")
        return
    torch.manual_seed(args.seed)
    model = build(args.model)
    raw, labels = images("train")
    x_all, y_all = preprocess(raw), torch.from_numpy(labels)
    per_epoch = args.limit or len(y_all)
    sizes = [per_epoch] * int(args.epochs) + ([int(round((args.epochs % 1) * per_epoch))] if args.epochs % 1 else [])
    steps = sum(math.ceil(s / BATCH) for s in sizes)
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    rest = [p for n, p in model.named_parameters() if p.ndim <= 1]
    optimizer = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4}, {"params": rest, "weight_decay": 0}],
                                lr=args.lr, momentum=0.9, nesterov=True)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, steps), eta_min=0)
    generator = torch.Generator().manual_seed(args.seed)
    for epoch, size in enumerate(sizes):
        model.train()
        start, seen, loss_sum = time.perf_counter(), 0, 0.0
        order = torch.randperm(len(y_all), generator=generator)[:size]
        for i in range(0, size, BATCH):
            idx = order[i:i + BATCH]
            x, y = x_all[idx], y_all[idx]
            flip = torch.rand(len(idx), generator=generator) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            scheduler.step()
            seen += len(idx)
            loss_sum += loss.item() * len(idx)
            if (i // BATCH) % 50 == 0:
                log(f"{args.model} epoch {epoch + 1}: {seen}/{size}, loss {loss_sum / seen:.4f}, {time.perf_counter() - start:.0f} s")
        log(f"{args.model} epoch {epoch + 1}/{len(sizes)}: loss {loss_sum / seen:.4f}, {time.perf_counter() - start:.1f} s")
    if args.limit is not None:
        return
    model.eval()
    torch.save(model.state_dict(), path)
    torch.onnx.export(model, torch.zeros(1, 3, 32, 32), os.path.join(args.out, args.model + ".onnx"), opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    log(f"saved {path} and {args.model}.onnx")


@torch.no_grad()
def logits(model, x):
    model.eval()
    return torch.cat([model(x[i:i + 500]) for i in range(0, len(x), 500)])


def stage_fx():
    model = build(args.model)
    model.load_state_dict(torch.load(os.path.join(args.out, args.model + ".pt")))
    model.eval()
    test = np.load(os.path.join(args.out, "test.npz"))
    x, y = torch.from_numpy(test["input"]), torch.from_numpy(test["labels"])
    calib = torch.from_numpy(np.load(os.path.join(args.out, "calib.npy")))
    reference = logits(model, x)
    accuracy = lambda out: round((out.argmax(1) == y).float().mean().item() * 100, 2)
    result = {"model": args.model, "torch": torch.__version__, "float": accuracy(reference)}
    for observer in ("histogram", "minmax"):
        start = time.perf_counter()
        quantized, engine = quantize_fx(model, calib.split(64), observer)
        out = logits(quantized, x)
        cosine = F.cosine_similarity(out.flatten(1), reference.flatten(1), dim=1).mean().item()
        result[observer] = {"accuracy": accuracy(out), "cosine": round(cosine, 4), "engine": engine,
                            "seconds": round(time.perf_counter() - start, 1)}
        log(f"{args.model} FX int8 {observer}: {result[observer]}")
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    {"data": stage_data, "train": stage_train, "fx": stage_fx}[args.stage]()
