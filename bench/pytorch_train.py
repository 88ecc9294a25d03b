# Run: /usr/bin/python3 bench/pytorch_train.py --model all --epochs 3   (Debian's python3-torch 1.13)
"""Peer benchmark: how fast plain PyTorch trains lenet300 and lenet5 on full Fashion-MNIST.

The job matches bench/TorchSharpBaseline: batch 128 (last partial batch kept), SGD lr 0.01 momentum 0.9,
mean cross-entropy, a fresh seeded permutation per epoch, 2 intra-op threads. Each epoch's training loop
is timed (data already in memory); test accuracy is taken after the last epoch. One JSON line per model
goes to stdout, progress to stderr.
"""
import argparse
import os
import sys

# Parse first: the thread count must be in the environment before torch (and its BLAS) is imported.
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model", choices=["lenet300", "lenet5", "all"], default="all")
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)

import json
import statistics
import time

import torch
from torch import nn

from fmnist_torch import build, evaluate, load

BATCH = 128


def train_epoch(model, optimizer, images, labels):
    """One epoch over a fresh permutation: per batch, gather the rows into a contiguous buffer, make a
    tensor of it, then forward, loss, backward, step. Returns the wall-clock seconds."""
    model.train()
    order = torch.randperm(len(labels)).numpy()
    start_time = time.perf_counter()
    for start in range(0, len(labels), BATCH):
        index = order[start:start + BATCH]
        x = torch.from_numpy(images[index])  # fancy indexing gathers into a new contiguous array
        y = torch.from_numpy(labels[index])
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start_time


def main():
    torch.set_num_threads(args.threads)
    train_x, train_y = load(args.data, "train")
    test_x, test_y = load(args.data, "t10k")
    print(f"train: {train_x.shape}, test: {test_x.shape}, torch {torch.__version__}", file=sys.stderr)
    for name in ["lenet300", "lenet5"] if args.model == "all" else [args.model]:
        torch.manual_seed(args.seed)
        model = build(name)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        times = []
        for epoch in range(args.epochs):
            times.append(train_epoch(model, optimizer, train_x, train_y))
            print(f"{name} epoch {epoch + 1}: {times[-1]:.3f} s", file=sys.stderr)
        accuracy = evaluate(model, test_x, test_y)
        print(json.dumps({
            "engine": "pytorch", "model": name, "batch": BATCH, "threads": args.threads,
            "epochs": [round(t, 3) for t in times], "median_s": round(statistics.median(times), 3),
            "test_accuracy": round(accuracy, 4)}, separators=(",", ":")), flush=True)


if __name__ == "__main__":
    main()
