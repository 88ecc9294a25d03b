# Run: /usr/bin/python3 bench/pytorch_e2e_resnet18.py train|peer ...   (Debian's python3-torch 1.13, python3-torchvision 0.14)
"""The PyTorch side of bench/e2e_resnet18.sh: trains torchvision's resnet18 on an image folder, and does Shrink's job on it.

`train` trains resnet18(num_classes=10) on FOLDER/train (torchvision.datasets.ImageFolder, the preprocessing of
datasets/fmnist32.yaml: ToTensor, Normalize with its mean and std on every channel; RandomCrop(32, padding=4) and
RandomHorizontalFlip on the training split, as its augment section does), SGD momentum 0.9, weight decay 5e-4,
per-step cosine annealing to 0, batch 128, seeded; saves the state_dict (OUT/float.pt), exports OUT/float.onnx with
torch.onnx.export (opset 13, dynamic batch, BatchNormalization kept as nodes) and writes the val images, preprocessed
and without labels, as OUT/val-x.npy (float32 [N,3,32,32]) for Shrink's label-free fidelity.

`peer` does to the same weights what bench/e2e_resnet18.sh has Shrink do:
1. L1-norm structured pruning of half the channels, removed physically (as Torch-Pruning does, and as Shrink does):
   channels tied by a residual Add form one group (the stem and every block's second conv of a stage, with the
   stage's 1×1 downsample), each block's first conv is a group of its own; a group's channels are ranked by the
   sum of their filters' L1 norms over its producing convs, and the smallest half removed with their BatchNorm
   entries and the consumers' input channels; fc (the classifier) keeps its outputs. Shrink's grouping is the same,
   and at these widths (64..512) its rounding to multiples of 8 changes nothing.
2. fine-tuning of the smaller model with Shrink's fine-tuning settings: SGD lr --lr, momentum 0.9, no weight decay,
   per-step cosine annealing to 0, batch 128, the training augmentation above, --epochs epochs (--fraction of the
   training split per epoch, a seeded random subset, when below 1).
3. static int8 with FX graph mode (prepare_fx/convert_fx), engine onednn (qnnpack when absent): BatchNorm folded,
   ReLU fused, per-channel symmetric int8 weights, uint8 per-tensor activations observed with MinMaxObserver
   (Shrink's --calibration minmax) on the first --calib-samples training images in folder order (what Shrink's
   --calib-data FOLDER takes).
At each stage: top-1 accuracy on FOLDER/val, and top-1 agreement with the float model (the label-free view), plus the
parameters and the bytes of torch.save(state_dict). One JSON document goes to OUT/pytorch.json and stdout; progress to stderr.
"""
import argparse
import os
import sys

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("stage", choices=["train", "peer"])
parser.add_argument("--folder", required=True, help="image folder with train/ and val/ (tools/fmnist-to-folder.cs)")
parser.add_argument("--train-folder", default=None, help="peer: fine-tune on this folder's train/ (default: --folder's)")
parser.add_argument("--out", required=True, help="folder for float.pt, float.onnx, val-x.npy, pytorch.json")
parser.add_argument("--epochs", type=float, default=1, help="train: training epochs; peer: fine-tuning epochs")
parser.add_argument("--lr", type=float, default=None, help="train: 0.05; peer: 0.01 (Shrink's fine-tuning default)")
parser.add_argument("--mean", type=float, default=0.286)
parser.add_argument("--std", type=float, default=0.353)
parser.add_argument("--calib-samples", type=int, default=512)
parser.add_argument("--limit", type=int, default=None, help="train on the first N shuffled training images per epoch (timing runs)")
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)

import copy
import io
import json
import math
import time

import numpy as np
import torch
from torch import nn

try:
    import torchvision
    from torchvision import transforms
except ImportError:
    sys.exit("torchvision not found: apt-get install python3-torchvision (Debian's 0.14, for python3-torch 1.13)")

BATCH = 128
EVAL_BATCH = 500


def log(text):
    print(text, file=sys.stderr, flush=True)


def folder(split, augment, root=None):
    normalize = [transforms.ToTensor(), transforms.Normalize([args.mean] * 3, [args.std] * 3)]
    extra = [transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip()] if augment else []
    return torchvision.datasets.ImageFolder(os.path.join(root or args.folder, split), transforms.Compose(extra + normalize))


def loader(dataset, shuffle, samples=None):
    """Batches of 128 in a fresh seeded order per epoch (the first `samples` of it when given)."""
    if samples is not None and samples < len(dataset):
        sampler = torch.utils.data.RandomSampler(dataset, num_samples=samples)
        return torch.utils.data.DataLoader(dataset, BATCH, sampler=sampler, num_workers=0)
    return torch.utils.data.DataLoader(dataset, BATCH if shuffle else EVAL_BATCH, shuffle=shuffle, num_workers=0)


def train(model, epochs, lr, weight_decay, label, samples=None, root=None):
    """SGD momentum 0.9, per-step cosine to 0 over every step; `epochs` may be fractional (the last epoch shorter).
    Returns the seconds per epoch."""
    data = folder("train", augment=True, root=root)
    per_epoch = samples or len(data)
    whole, part = int(epochs), epochs - int(epochs)
    sizes = [per_epoch] * whole + ([max(BATCH, int(round(part * per_epoch)))] if part > 0 else [])
    total = sum(math.ceil(s / BATCH) for s in sizes)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total), eta_min=0)
    times = []
    for epoch, size in enumerate(sizes):
        model.train()
        start, seen, loss_sum = time.perf_counter(), 0, 0.0
        for x, y in loader(data, True, size if size < len(data) else None):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            scheduler.step()
            seen += len(y)
            loss_sum += loss.item() * len(y)
            if seen // BATCH % 20 == 0:
                log(f"{label} epoch {epoch + 1}: {seen}/{size} images, loss {loss_sum / seen:.4f}, {time.perf_counter() - start:.0f} s")
        times.append(time.perf_counter() - start)
        log(f"{label} epoch {epoch + 1}/{len(sizes)}: {seen} images, loss {loss_sum / seen:.4f}, {times[-1]:.1f} s")
    return times


@torch.no_grad()
def predictions(model):
    model.eval()
    preds, labels = [], []
    for x, y in loader(folder("val", augment=False), False):
        preds.append(model(x).argmax(1))
        labels.append(y)
    return torch.cat(preds), torch.cat(labels)


def size_bytes(model):
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes


def parameters(model):
    return sum(p.numel() for p in model.parameters())


def export(model, path):
    model.eval()
    torch.onnx.export(model, torch.zeros(1, 3, 32, 32), path, opset_version=13, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)


def write_val_inputs(path):
    batches = [x.numpy() for x, _ in loader(folder("val", augment=False), False)]
    np.save(path, np.concatenate(batches).astype(np.float32))


def stage_train():
    torch.manual_seed(args.seed)
    model = torchvision.models.resnet18(num_classes=10)
    lr = args.lr if args.lr is not None else 0.05
    times = train(model, args.epochs, lr, 5e-4, "train", args.limit)
    torch.save(model.state_dict(), os.path.join(args.out, "float.pt"))
    export(model, os.path.join(args.out, "float.onnx"))
    write_val_inputs(os.path.join(args.out, "val-x.npy"))
    preds, labels = predictions(model)
    result = {"epochs": args.epochs, "lr": lr, "epoch_s": [round(t, 1) for t in times],
              "accuracy": round((preds == labels).float().mean().item(), 4)}
    log(f"trained: {result}")
    print(json.dumps(result), flush=True)


# --- structured pruning with physical removal -------------------------------------------------------------------

def resnet_groups(model):
    """The channel groups of torchvision's resnet18, written out: the stem with layer1's stream, each later
    stage's stream (its downsample and every block's conv2), and every block's inner channels."""
    groups = []
    stream, readers = [(model.conv1, model.bn1)], []
    for stage in (model.layer1, model.layer2, model.layer3, model.layer4):
        blocks = list(stage)
        if blocks[0].downsample is not None:  # the previous stream ends here: read by this block's conv1 and downsample
            readers += [blocks[0].conv1, blocks[0].downsample[0]]
            groups.append((stream, readers))
            stream, readers = [(blocks[0].downsample[0], blocks[0].downsample[1])], []
        else:
            readers.append(blocks[0].conv1)
        for b, block in enumerate(blocks):
            groups.append(([(block.conv1, block.bn1)], [block.conv2]))
            stream.append((block.conv2, block.bn2))
            if b > 0:
                readers.append(block.conv1)
    groups.append((stream, readers + [model.fc]))
    return groups


def keep_count(channels, sparsity=0.5, multiple=8):
    """Shrink's allocation: round(S·C) removed, the kept count rounded up to a multiple of 8."""
    kept = channels - int(round(sparsity * channels))
    return min(channels, max(multiple, int(math.ceil(kept / multiple)) * multiple))


@torch.no_grad()
def cut_output(conv, bn, keep):
    conv.weight = nn.Parameter(conv.weight[keep].clone())
    conv.out_channels = len(keep)
    for name in ("weight", "bias"):
        setattr(bn, name, nn.Parameter(getattr(bn, name)[keep].clone()))
    bn.running_mean, bn.running_var = bn.running_mean[keep].clone(), bn.running_var[keep].clone()
    bn.num_features = len(keep)


@torch.no_grad()
def cut_input(module, keep):
    if isinstance(module, nn.Linear):
        module.weight = nn.Parameter(module.weight[:, keep].clone())
        module.in_features = len(keep)
    else:
        module.weight = nn.Parameter(module.weight[:, keep].clone())
        module.in_channels = len(keep)


def prune_half(model):
    """L1-norm structured pruning of half of every group's channels, removed from the modules. Every group is
    scored on the unpruned weights first (as Shrink does), then cut."""
    groups = resnet_groups(model)
    keeps = []
    for producers, _ in groups:
        scores = sum(conv.weight.detach().abs().sum(dim=(1, 2, 3)) for conv, _ in producers)
        keeps.append(torch.sort(torch.topk(scores, keep_count(len(scores))).indices).values)
    for (producers, readers), keep in zip(groups, keeps):
        for conv, bn in producers:
            cut_output(conv, bn, keep)
        for reader in readers:
            cut_input(reader, keep)
    return model


# --- FX static int8 -------------------------------------------------------------------------------------------

def quantize_fx(model):
    """FX static int8 with MinMaxObserver on the first --calib-samples training images (bench/fx_int8.py)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from fx_int8 import quantize_fx as fx

    calib = torch.utils.data.Subset(folder("train", augment=False), range(args.calib_samples))
    batches = [x for x, _ in torch.utils.data.DataLoader(calib, 64)]
    return fx(model, batches, "minmax", example=torch.zeros(1, 3, 32, 32))


def stage_peer():
    torch.manual_seed(args.seed)
    float_model = torchvision.models.resnet18(num_classes=10)
    float_model.load_state_dict(torch.load(os.path.join(args.out, "float.pt")))
    reference, labels = predictions(float_model)
    rows = []

    def record(stage, model, seconds=None, preds=None, **extra):
        preds = predictions(model)[0] if preds is None else preds
        row = {"stage": stage, "accuracy": round((preds == labels).float().mean().item(), 4),
               "agreement": round((preds == reference).float().mean().item(), 4),
               "parameters": parameters(model) or None, "state_dict_bytes": size_bytes(model), **extra}
        if seconds is not None:
            row["seconds"] = round(seconds, 1)
        rows.append(row)
        log(f"pytorch {stage}: {row}")

    record("float", float_model, preds=reference)
    start = time.perf_counter()
    pruned = prune_half(copy.deepcopy(float_model))
    record("pruned", pruned, time.perf_counter() - start)
    lr = args.lr if args.lr is not None else 0.01
    times = train(pruned, args.epochs, lr, 0.0, "fine-tune", root=args.train_folder)
    record("fine-tuned", pruned, sum(times), epochs=args.epochs, lr=lr)
    start = time.perf_counter()
    quantized, engine = quantize_fx(pruned)
    record("int8", quantized, time.perf_counter() - start, engine=engine, calib_samples=args.calib_samples)
    result = {"engine": "pytorch", "torch": torch.__version__, "torchvision": torchvision.__version__,
              "threads": torch.get_num_threads(), "stages": rows}
    with open(os.path.join(args.out, "pytorch.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    stage_train() if args.stage == "train" else stage_peer()
